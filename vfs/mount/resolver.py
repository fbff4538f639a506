"""What a Mount remembers of earlier resolutions, so that a repeated stat costs one call.

Paths are resolved by the generic walk over the namespace's nodes (:mod:`vfs.mount.nodes`):
one lookup per component, each asked of the provider mounted there. A path whose last
component named an entry directly (a plain name, no link followed, no trailing slash) is
remembered by its text (a relative one with the held directory it started from) with the
provider's canonical path of that entry (``entries``, used by stat's fast path, which still
asks the provider for a fresh status and whether the entry is still no link). Everything is
forgotten whenever a name is removed, renamed, or permissions change through the Mount; a
generation number keeps a resolution that raced with such a change out of the cache.
"""

from __future__ import annotations

import threading
from typing import Any

import compat
from vfs.mount.table import Mounted

CACHE_LIMIT = 8192
"""Remembered resolutions kept before the cache starts over."""

DIRECT_CHANGES = compat.declare(
    id="vfs.mount.direct_changes",
    function="vfs.MountFileSystem",
    aspect="changes made to a mounted provider directly",
    level=compat.Level.FINE,
    explanation="the Mount remembers how paths resolved and forgets on changes made through "
    "it; a link or rename made on a mounted provider directly (not through the Mount), or the "
    "removal of a mount point's directory there, is not seen by paths resolved before",
)


class EntryCache:
    """Namespace paths -> the provider's canonical path of the entry they name directly."""

    def __init__(self) -> None:
        self.entries: dict[str | tuple[object, str], list[Any]] = {}
        """path (or (held directory, relative path)) -> [provider's stat, provider path, mount,
        (last record, its remapped copy)]"""
        self._generation = 0
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Drop every remembered resolution (a name went away or permissions changed)."""
        with self._lock:
            self._generation += 1
            self.entries.clear()

    @property
    def generation(self) -> int:
        """Read before resolving; a resolution is cached only if it is still current after."""
        return self._generation

    def remember(
        self, path: str | tuple[object, str], mounted: Mounted, inner: str, generation: int
    ) -> None:
        """Remember that ``path`` (absolute, or (held directory, relative path)) names the
        provider's entry ``inner`` (no link followed)."""
        entry = [mounted.fs.stat, inner, mounted, (None, None)]
        with self._lock:
            if generation == self._generation:
                if len(self.entries) >= CACHE_LIMIT:
                    self.entries.clear()
                self.entries[path] = entry
