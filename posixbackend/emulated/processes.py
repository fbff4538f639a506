"""Deprecated: the process handlers are in :mod:`posixbackend.emulated.processhandlers`.

This module's name said "processes" beside ``process.py`` and ``processinfo.py``; it is kept,
with a DeprecationWarning, for one release.
"""

from __future__ import annotations

import warnings

from posixbackend.emulated import processhandlers

warnings.warn(
    "posixbackend.emulated.processes is now posixbackend.emulated.processhandlers",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> object:
    """Every name of :mod:`posixbackend.emulated.processhandlers`, as before."""
    return getattr(processhandlers, name)
