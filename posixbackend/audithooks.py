"""The library's audit hooks added so that they are called only for the events they read.

A hook added with ``sys.addaudithook`` runs as a Python call at every audit event of the
interpreter (``id()``, ``sys._getframe()``, ``compile()``...), most of which no hook of ours
reads. With the C extension ``posixbackend._audithook`` the event's name is looked up in C
first; without it (no compiler at build time, or ``POSIXBACKEND_PURE_PYTHON`` set) the hook is
added with ``sys.addaudithook`` and filters for itself, as every hook given here must: the
events it is called for are the same either way, only the cost of the others differs.
"""

from __future__ import annotations

import posix
import sys
from collections.abc import Callable, Mapping, Set
from typing import Any

try:
    from posixbackend import _audithook
except ImportError:  # built without a compiler: sys.addaudithook serves
    _audithook = None  # type: ignore[assignment]

PURE_PYTHON_SWITCH = b"POSIXBACKEND_PURE_PYTHON"
"""The environment variable that leaves every C accelerator out (see emulated/accelerator.py)."""


def filtering_in_c() -> bool:
    """Whether :func:`add_hook` adds its hooks through the C filter."""
    return _audithook is not None and posix.environ.get(PURE_PYTHON_SWITCH, b"") in (b"", b"0")


def add_hook(
    hook: Callable[[str, tuple[Any, ...]], object],
    events: Mapping[str, object] | Set[str],
    prefixes: tuple[str, ...] = (),
) -> None:
    """Add ``hook`` for good, called for the events named in ``events`` (a dict or set, read
    at each event: later additions count) and those starting with one of ``prefixes``. The
    hook must also ignore any other event itself (the Python fallback calls it for all)."""
    if filtering_in_c():
        _audithook.add_filtered_hook(hook, events, prefixes)
    else:
        sys.addaudithook(hook)
