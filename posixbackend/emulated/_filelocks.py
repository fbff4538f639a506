"""The kernel's file locks, kept for every emulated process of this interpreter.

Three kinds, as Linux has them, on a file named by its identity (``st_dev``, ``st_ino``):

- POSIX record locks (``F_SETLK``, ``lockf``) belong to a process -- here an emulated backend:
  a process's own locks never conflict with each other, a new one replaces, splits or merges
  what it held over the range, and closing *any* descriptor of the file releases all of them
  (:meth:`LockTable.release_process`, called by the backend's close paths);
- open file description locks (``F_OFD_SETLK``) belong to a description and go with its last
  descriptor;
- ``flock`` locks belong to a description too, and never meet the other two kinds.

Record locks of both kinds conflict when they overlap, belong to different owners and one of
them is a write lock. A description's locks are dropped once no descriptor refers to it any
more (its ``refs`` count is zero), checked whenever the file's locks are looked at, so the
close paths need not know about them. One lock guards every table; waiters sleep on one
condition and look again after every change.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Hashable
from typing import Any, Final

import attrs

from vfs.errors import os_error

F_RDLCK: Final = 0
F_WRLCK: Final = 1
F_UNLCK: Final = 2
EOF_END: Final = 1 << 64
"""The end of a range that runs to the end of the file (and any later growth)."""

RECHECK: Final = 0.05
"""Seconds between a waiter's looks when nothing woke it: a description's locks go when its
last descriptor closes, which nobody announces (the close paths need not know about locks)."""

FileKey = tuple[int, int]


@attrs.define
class RecordLock:
    """One owner's lock on [start, end) of a file."""

    owner: Hashable
    kind: int
    start: int
    end: int
    pid: int
    """What F_GETLK reports as its holder: the process id, -1 for a description's lock."""


def _alive(owner: Any) -> bool:
    """Whether an owner still holds its locks: a process always, a description while any
    descriptor refers to it."""
    refs = getattr(owner, "refs", None)
    return refs is None or refs > 0


@attrs.define
class FileLocks:
    """The locks on one file."""

    records: list[RecordLock] = attrs.field(factory=list)
    flocks: dict[Any, int] = attrs.field(factory=dict)
    """description -> F_RDLCK (LOCK_SH) or F_WRLCK (LOCK_EX)."""

    def prune(self) -> None:
        """Drop the locks of descriptions no descriptor refers to any more."""
        if any(not _alive(lock.owner) for lock in self.records):
            self.records = [lock for lock in self.records if _alive(lock.owner)]
        for owner in [owner for owner in self.flocks if not _alive(owner)]:
            del self.flocks[owner]

    def conflict(self, owner: Hashable, kind: int, start: int, end: int) -> RecordLock | None:
        """The first lock of another owner that a ``kind`` lock on [start, end) meets; for
        F_UNLCK (what F_OFD_GETLK may ask since Linux 6.5) the owner's own first lock there."""
        if kind == F_UNLCK:
            own = [lock for lock in self.records if lock.owner is owner]
            for lock in sorted(own, key=lambda lock: lock.start):
                if lock.start < end and start < lock.end:
                    return lock
            return None
        for lock in self.records:
            if lock.owner is owner or lock.end <= start or end <= lock.start:
                continue
            if F_WRLCK in {kind, lock.kind}:
                return lock
        return None

    def replace(self, owner: Hashable, kind: int, start: int, end: int, pid: int) -> None:
        """Set ``owner``'s locks over [start, end) to ``kind`` (F_UNLCK removes them): what
        it held outside the range stays, pieces cut at its ends; neighbours of the same kind
        merge, as Linux merges them. The records stay in Linux's order (its inode's list, which
        F_GETLK walks for the first conflict): each owner's locks together, sorted by start,
        where its first lock was set (a new owner's at the end)."""
        others: list[RecordLock] = []
        mine: list[RecordLock] = []
        position = None  # where the owner's locks are among the others'
        for lock in self.records:
            if lock.owner is not owner:
                others.append(lock)
                continue
            if position is None:
                position = len(others)
            if lock.end <= start or end <= lock.start:
                mine.append(lock)
                continue
            if lock.start < start:
                mine.append(RecordLock(owner, lock.kind, lock.start, start, lock.pid))
            if end < lock.end:
                mine.append(RecordLock(owner, lock.kind, end, lock.end, lock.pid))
        if kind != F_UNLCK:
            new = RecordLock(owner, kind, start, end, pid)
            merged: list[RecordLock] = []
            for lock in mine:
                if lock.kind == kind and (lock.end == new.start or new.end == lock.start):
                    new = RecordLock(owner, kind, min(lock.start, new.start),
                                     max(lock.end, new.end), pid)  # fmt: skip
                else:
                    merged.append(lock)
            merged.append(new)
            mine = merged
        mine.sort(key=lambda lock: lock.start)
        at = len(others) if position is None else position
        self.records = [*others[:at], *mine, *others[at:]]

    @property
    def empty(self) -> bool:
        return not self.records and not self.flocks


class LockTable:
    """Every file's locks, and the condition waiters sleep on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        """Guards every file's lock lists and process_files: a conflict test and the lock it
        grants are one step, as under the kernel's flc_lock (fs/locks.c)."""
        self._changed = threading.Condition(self._lock)
        """F_SETLKW and blocking flock sleep here; every release notifies them all (each
        tests its own range again)."""
        self._files: dict[FileKey, FileLocks] = {}
        self.process_files: dict[Hashable, set[FileKey]] = {}
        """process -> the files it holds POSIX locks on; a process is here only while it
        holds one (its close paths test that, and release only then)."""

    # -- record locks ----------------------------------------------------------------------

    def set_record(
        self, key: FileKey, owner: Hashable, kind: int, span: tuple[int, int], *,
        pid: int, wait: bool, process: bool,
    ) -> None:  # fmt: skip
        """F_SETLK / F_SETLKW (and the OFD forms): EAGAIN when another owner's lock is in
        the way and ``wait`` is false, else sleep until it is gone."""
        start, end = span
        with self._changed:
            while True:
                locks = self._files.setdefault(key, FileLocks())
                locks.prune()
                if kind == F_UNLCK or locks.conflict(owner, kind, start, end) is None:
                    break
                if not wait:
                    raise os_error(errno.EAGAIN)
                self._changed.wait(RECHECK)
            locks.replace(owner, kind, start, end, pid)
            if process:
                files = self.process_files.setdefault(owner, set())
                if any(lock.owner is owner for lock in locks.records):
                    files.add(key)
                else:
                    files.discard(key)
                if not files:
                    del self.process_files[owner]
            self._forget_if_empty(key, locks)
            self._changed.notify_all()

    def get_record(
        self, key: FileKey, owner: Hashable, kind: int, start: int, end: int
    ) -> RecordLock | None:
        """F_GETLK: the lock that would stop a ``kind`` lock of ``owner``, if any."""
        with self._lock:
            locks = self._files.get(key)
            if locks is None:
                return None
            locks.prune()
            return locks.conflict(owner, kind, start, end)

    def release_process(self, process: Hashable, key: FileKey) -> None:
        """A descriptor of the file ``key`` closed in ``process``: all its POSIX locks on the
        file go."""
        with self._changed:
            files = self.process_files.get(process)
            if not files or key not in files:
                return
            files.discard(key)
            if not files:
                del self.process_files[process]
            locks = self._files.get(key)
            if locks is not None:
                locks.records = [lock for lock in locks.records if lock.owner is not process]
                self._forget_if_empty(key, locks)
            self._changed.notify_all()

    # -- flock -----------------------------------------------------------------------------

    def flock(self, key: FileKey, owner: Any, kind: int, *, wait: bool) -> None:
        """flock(2): LOCK_SH (F_RDLCK), LOCK_EX (F_WRLCK) or LOCK_UN (F_UNLCK) for the
        description ``owner``; a conversion drops the old lock first, as Linux does."""
        with self._changed:
            locks = self._files.setdefault(key, FileLocks())
            locks.prune()
            if kind == F_UNLCK:
                locks.flocks.pop(owner, None)
            else:
                if locks.flocks.get(owner) not in (None, kind):
                    del locks.flocks[owner]  # Linux lets the old lock go before waiting
                    self._changed.notify_all()
                while self._flock_conflict(locks, owner, kind):
                    if not wait:
                        self._forget_if_empty(key, locks)
                        raise os_error(errno.EWOULDBLOCK)
                    self._changed.wait(RECHECK)
                    locks = self._files.setdefault(key, FileLocks())
                    locks.prune()
                locks.flocks[owner] = kind
            self._forget_if_empty(key, locks)
            self._changed.notify_all()

    @staticmethod
    def _flock_conflict(locks: FileLocks, owner: Any, kind: int) -> bool:
        return any(
            other is not owner and F_WRLCK in {kind, held} for other, held in locks.flocks.items()
        )

    def _forget_if_empty(self, key: FileKey, locks: FileLocks) -> None:
        if locks.empty and self._files.get(key) is locks:
            del self._files[key]


LOCKS: Final = LockTable()
"""The locks of every emulated process in this interpreter (they are the kernel's)."""
