"""Deprecated: the process handlers are in :mod:`posixbackend.emulated.processhandlers`.

This module's name said "processes" beside ``process.py`` and ``processinfo.py``; it is kept
for one release. Each name taken from it warns (importing it alone does not, so tools that
walk the package, such as ``python -m compat.docs``, stay quiet).
"""

from __future__ import annotations

import warnings

from posixbackend.emulated import processhandlers


def __getattr__(name: str) -> object:
    """Every name of :mod:`posixbackend.emulated.processhandlers`, with a DeprecationWarning."""
    value = getattr(processhandlers, name)  # AttributeError for a name it does not have
    warnings.warn(
        f"posixbackend.emulated.processes.{name} is now in posixbackend.emulated.processhandlers",
        DeprecationWarning,
        stacklevel=2,
    )
    return value
