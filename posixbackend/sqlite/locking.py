"""SQLite's file locks between the connections of this process, kept in process per file.

The unix VFS keeps one record per inode for the locks its own connections hold (the POSIX
advisory locks it takes as well only matter between processes). This is that record, with
the same rules: any number of SHARED holders; one holder above SHARED (RESERVED, then
PENDING on the way to EXCLUSIVE); a PENDING holder lets no new SHARED lock in; EXCLUSIVE
only when no other connection holds SHARED. A refusal is SQLITE_BUSY, which SQLite's busy
handler retries until the connection's timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Protocol

from posixbackend.sqlite.codes import (
    BUSY,
    LOCK_EXCLUSIVE,
    LOCK_NONE,
    LOCK_PENDING,
    LOCK_SHARED,
    OK,
)


class LockRecord(Protocol):
    """What a record holds: :class:`InodeLocks`, or the C trampolines' own record type
    (posixbackend._sqlitevfs.LockRecord), on which they take and drop locks in C."""

    level: int
    shared: int
    opened: int


class InodeLocks:
    """The locks held on one file by this process's connections."""

    __slots__ = ("level", "opened", "shared")

    def __init__(self) -> None:
        self.level = LOCK_NONE
        """The strongest lock any connection holds."""
        self.shared = 0
        """How many connections hold SHARED or stronger."""
        self.opened = 0
        """How many open SQLite files refer to this record."""


class LockTable:
    """Every file's record, by file identity; a record lives while a file of it is open."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._records: dict[Hashable, LockRecord] = {}
        self.record_type: Callable[[], LockRecord] = InodeLocks
        """What a new record is: the C trampolines' type where they serve (set once, when
        the VFS is registered, before any file opens): then they alone change its
        ``level`` and ``shared``, and :meth:`lock` and :meth:`unlock` are not used."""

    def acquire_record(self, key: Hashable) -> LockRecord:
        """The record for ``key``, made on the first open of the file."""
        with self._mutex:
            record = self._records.get(key)
            if record is None:
                record = self._records[key] = self.record_type()
            record.opened += 1
            return record

    def release_record(self, key: Hashable, record: LockRecord) -> None:
        """One open file of ``key`` is gone; the last one drops the record."""
        with self._mutex:
            record.opened -= 1
            if record.opened == 0 and self._records.get(key) is record:
                del self._records[key]

    def lock(self, record: LockRecord, held: int, wanted: int) -> tuple[int, int]:
        """Take ``wanted`` for a file that holds ``held``: (result code, level now held)."""
        if held >= wanted:
            return OK, held
        with self._mutex:
            if held != record.level and (record.level >= LOCK_PENDING or wanted > LOCK_SHARED):
                return BUSY, held  # another connection is writing, or wants to
            if wanted == LOCK_SHARED:
                record.shared += 1
                if record.level == LOCK_NONE:
                    record.level = LOCK_SHARED
                return OK, LOCK_SHARED
            if wanted == LOCK_EXCLUSIVE and record.shared > 1:
                record.level = LOCK_PENDING  # readers finish; no new one starts meanwhile
                return BUSY, LOCK_PENDING
            record.level = wanted
            return OK, wanted

    def unlock(self, record: LockRecord, held: int, wanted: int) -> int:
        """Drop a file's lock from ``held`` to ``wanted`` (SHARED or NONE); the level held."""
        if held <= wanted:
            return held
        with self._mutex:
            if held > LOCK_SHARED:
                record.level = LOCK_SHARED
            if wanted == LOCK_NONE:
                record.shared -= 1
                if record.shared == 0:
                    record.level = LOCK_NONE
            return wanted


LOCKS = LockTable()
"""The process's one table (the VFS is registered once per process)."""
