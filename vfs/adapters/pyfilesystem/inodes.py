"""Inode numbers for a file system that has none: one per path, stable while the path lives.

A PyFilesystem2 FS names resources only by path. The table hands out a number the first time
a path is seen and keeps it until the name is removed (a new file at that path gets a new
number, as on Linux); a rename carries the numbers of the moved name and everything below it,
so open handles follow their file. Numbers are never reused within one table.
"""

from __future__ import annotations

import itertools
import threading


class InodeTable:
    """Path <-> inode number, thread-safe."""

    __slots__ = ("_by_ino", "_by_path", "_lock", "_numbers")

    ROOT_INO = 2
    """The root directory's number, as on ext4."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._numbers = itertools.count(self.ROOT_INO + 1)
        self._by_path: dict[str, int] = {"/": self.ROOT_INO}
        self._by_ino: dict[int, str] = {self.ROOT_INO: "/"}

    def number(self, path: str) -> int:
        """The inode number of the normalised ``path``, assigning one if it has none yet."""
        ino = self._by_path.get(path)
        if ino is not None:
            return ino
        with self._lock:
            ino = self._by_path.get(path)
            if ino is None:
                ino = next(self._numbers)
                self._by_path[path] = ino
                self._by_ino[ino] = path
            return ino

    def path_of(self, ino: int) -> str | None:
        """Where the file numbered ``ino`` lives now, or None once its name is gone."""
        return self._by_ino.get(ino)

    def forget(self, path: str) -> None:
        """``path`` (and anything below it) was removed."""
        with self._lock:
            for old in self._below(path):
                del self._by_ino[self._by_path.pop(old)]

    def move(self, src: str, dst: str) -> None:
        """``src`` was renamed to ``dst`` (replacing whatever ``dst`` was)."""
        with self._lock:
            for old in self._below(dst):
                del self._by_ino[self._by_path.pop(old)]
            for old in self._below(src):
                ino = self._by_path.pop(old)
                new = dst + old[len(src) :]
                self._by_path[new] = ino
                self._by_ino[ino] = new

    def _below(self, path: str) -> list[str]:
        """``path`` and the known paths under it (callers hold the lock)."""
        prefix = path.rstrip("/") + "/"
        return [p for p in self._by_path if p == path or p.startswith(prefix)]
