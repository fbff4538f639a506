"""Directories held by canonical path, for providers whose nodes are paths.

A provider that only takes absolute paths cannot hand out its directories themselves, so an
open directory (or a cwd) of such a provider is its canonical path, moved along by every
rename made through the provider and dropped by the rmdir or rename that removes it. Changes
made to the provider behind its back are not seen (the path then names whatever is there).
"""

from __future__ import annotations

import errno
import threading
import weakref
from collections import deque
from itertools import repeat

import compat
from vfs.errors import os_error

HELD_BY_PATH = compat.declare(
    id="vfs.held_by_path",
    function="os.open",
    aspect="open directories of a provider that only takes paths",
    level=compat.Level.FINE,
    explanation="a provider that implements only the path methods (an adapter, a user "
    "provider) holds an open directory or the cwd by its canonical path, moved along by "
    "renames made through it; a rename made behind its back is not followed, and once the "
    "directory is removed every call through it fails with ENOENT (Linux still answers stat, "
    "an empty listing and '..' for it)",
)


class HeldPath:
    """One held directory: its canonical path now, or None once it was removed."""

    __slots__ = ("__weakref__", "path")

    def __init__(self, path: str) -> None:
        self.path: str | None = path

    def __repr__(self) -> str:
        return f"<HeldPath {self.path!r}>"


def _store(held: list[HeldPath], paths: list[str | None]) -> None:
    """Set each held directory's path: one call into C that stores them all (map runs
    setattr, a C function, with no point between the stores where an asynchronous exception
    could land)."""
    deque(map(setattr, held, repeat("path"), paths), maxlen=0)


class HeldPaths:
    """The directories a provider holds by path, kept where renames and removals move them."""

    __slots__ = ("_held", "_lock")

    def __init__(self) -> None:
        self._held: weakref.WeakSet[HeldPath] = weakref.WeakSet()
        self._lock = threading.Lock()

    def hold(self, path: str) -> HeldPath:
        """A new reference to the directory at the canonical ``path``."""
        held = HeldPath(path)
        with self._lock:
            self._held.add(held)
        HELD_BY_PATH.hit(path=path)
        return held

    def release(self, held: HeldPath) -> None:
        """Stop following ``held``."""
        with self._lock:
            self._held.discard(held)

    def holds(self, reference: object) -> bool:
        """Whether ``reference`` is one of the directories held here."""
        if not isinstance(reference, HeldPath):
            return False
        with self._lock:
            return reference in self._held

    def __bool__(self) -> bool:
        return bool(self._held)

    @staticmethod
    def where(held: HeldPath) -> str:
        """Where ``held`` is now; ENOENT once it was removed (as getcwd says)."""
        path = held.path
        if path is None:
            HELD_BY_PATH.hit()
            raise os_error(errno.ENOENT)
        return path

    def renamed(self, src: str, dst: str) -> None:
        """The canonical ``src`` became ``dst``: a directory held at ``dst`` was replaced, and
        those at or below ``src`` moved. The new paths are worked out first and stored in one
        C call (:func:`_store`), so an interruption moves all of them or none."""
        if src == dst:
            return
        prefix = src + "/" if src != "/" else "/"
        with self._lock:
            held = list(self._held)
            paths: list[str | None] = []
            for entry in held:
                path = entry.path
                if path == dst:
                    path = None
                elif path == src:
                    path = dst
                elif path is not None and path.startswith(prefix):
                    path = dst + path[len(src) :]
                paths.append(path)
            _store(held, paths)

    def snapshot(self) -> list[tuple[HeldPath, str | None]]:
        """Every held directory with its path now, for :meth:`restore`."""
        with self._lock:
            return [(entry, entry.path) for entry in list(self._held)]

    def restore(self, saved: list[tuple[HeldPath, str | None]]) -> None:
        """Put the paths of a :meth:`snapshot` back (a step that did not happen after all)."""
        with self._lock:
            _store([entry for entry, _ in saved], [path for _, path in saved])

    def removed(self, path: str) -> None:
        """The directory at the canonical ``path`` was removed."""
        with self._lock:
            for entry in list(self._held):
                if entry.path == path:
                    entry.path = None
