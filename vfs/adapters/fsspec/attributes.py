"""What POSIX keeps about a file that an fsspec store may not: inode, mode, owner, times.

The adapter keeps these per store key for its own lifetime: an inode number given the first
time a key is seen (so it is stable while the adapter lives and follows the file through a
rename), and whatever chmod, chown and utime set, or the adapter's own writes changed. Fields
left None fall back to what the store's ``info()`` reports, then to defaults.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from time import time_ns

import attrs


@attrs.define(slots=True)
class Attributes:
    """The adapter's record of one file or directory."""

    ino: int
    seen: int
    """When the adapter first saw the key (ns): the time of last resort."""
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    atime: int | None = None
    mtime: int | None = None
    ctime: int | None = None
    unlinked: bool = False

    def modified(self, now: int | None = None) -> None:
        """Content changed: mtime and ctime move."""
        self.mtime = self.ctime = time_ns() if now is None else now

    def changed(self, now: int | None = None) -> None:
        """Status changed: ctime moves."""
        self.ctime = time_ns() if now is None else now


class AttributeTable:
    """Attributes by store key; the caller holds the adapter's lock."""

    def __init__(self) -> None:
        self._by_key: dict[str, Attributes] = {}
        self._inodes = itertools.count(2)

    def get(self, key: str) -> Attributes:
        """The record of ``key``, made (with a new inode number) the first time it is asked."""
        record = self._by_key.get(key)
        if record is None:
            record = self._by_key[key] = Attributes(next(self._inodes), time_ns())
        return record

    def fresh(self, key: str) -> Attributes:
        """A new record for a key just created (a new file, a new inode number)."""
        record = self._by_key[key] = Attributes(next(self._inodes), time_ns())
        return record

    def drop(self, key: str) -> Attributes | None:
        """Forget ``key`` (removed); return its record, marked unlinked, if there was one."""
        record = self._by_key.pop(key, None)
        if record is not None:
            record.unlinked = True
        return record

    def move(self, old: str, new: str) -> None:
        """A rename: ``old`` and everything below it now live under ``new``."""
        self.drop(new)
        prefix = old + "/"
        for key in [k for k in self._by_key if k == old or k.startswith(prefix)]:
            self._by_key[new + key[len(old) :]] = self._by_key.pop(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key)
