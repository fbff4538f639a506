"""Deprecated: the process handlers are in :mod:`posixbackend.emulated.processhandlers`.

This module's name said "processes" beside ``process.py`` and ``processinfo.py``; it is kept
for one release. Each name taken from it warns (importing it alone does not, so tools that
walk the package, such as ``python -m compat.docs``, stay quiet).
"""

from __future__ import annotations

from posixbackend.emulated import processhandlers
from vfs.renamed import moved_module

__getattr__ = moved_module(__name__, processhandlers)
