"""Source lines of virtual modules for linecache: tracebacks and ``inspect`` after the block.

linecache checks a cached file with ``os.stat``: once a block has ended, a virtual module's
path no longer stats on the host, and linecache would drop its lines. So a loaded virtual
module leaves a lazy entry (its loader's ``get_source``, read only when a line is asked for),
and ``linecache.checkcache`` -- switched -- leaves the entries of virtual modules alone while
no emulated backend serves (inside a block it checks them as usual, through the backend).
"""

from __future__ import annotations

import functools
import linecache
import threading
from collections.abc import Callable
from typing import Any, Final

from posixbackend.switch.guard import current_emulated
from posixbackend.switch.libraries import SwitchedFunction

VIRTUAL_SOURCES: Final[set[str]] = set()
"""Paths of virtual modules loaded so far (their lines come from their loaders)."""
_lock: Final = threading.Lock()
NATIVE_CHECKCACHE: Final = linecache.checkcache


def remember(path: str, get_source: Callable[[str], str | None], name: str) -> None:
    """Let linecache find ``path``'s lines through ``get_source(name)`` from now on."""
    with _lock:
        VIRTUAL_SOURCES.add(path)
    linecache.cache.setdefault(path, (functools.partial(get_source, name),))


def checkcache(filename: str | None = None) -> None:
    """``linecache.checkcache`` outside blocks: as native, but virtual modules' entries kept."""
    if filename is not None:
        if filename not in VIRTUAL_SOURCES:
            NATIVE_CHECKCACHE(filename)
        return
    for cached in list(linecache.cache):
        if cached not in VIRTUAL_SOURCES:
            NATIVE_CHECKCACHE(cached)


class _CheckCache(SwitchedFunction):
    """Switched on whether an emulated backend serves (the others' rule is the reverse)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if current_emulated() is None:
            return checkcache(*args, **kwargs)
        return NATIVE_CHECKCACHE(*args, **kwargs)


def stand_ins() -> list[tuple[Any, str, Any]]:
    """(namespace, name, stand-in) for linecache."""
    switched = _CheckCache("linecache", "checkcache", NATIVE_CHECKCACHE, NATIVE_CHECKCACHE)
    return [(linecache, "checkcache", switched)]
