"""The files SQLite opens through the VFS: a provider handle, its lock record, its backend.

A file keeps the backend it was opened on (the one that served the connect), so a
connection keeps working after its block ends and from any thread, SQLite's own included.
Files SQLite opens without a name (temporary databases and statement journals, which the
unix VFS makes in the host's temporary directory and unlinks at once) live in a private
memory file system: no one can see them there either.
"""

from __future__ import annotations

import itertools
import os
import posix
from collections.abc import Hashable
from typing import Final

import compat
from posixbackend.emulated import EmulatedBackend
from posixbackend.sqlite.locking import LOCKS, LockRecord
from vfs import MemoryFileSystem
from vfs.provider import Handle, write_all

NAMELESS_TEMP_FILES = compat.declare(
    id="sqlite.nameless_temp_files",
    function="sqlite3.connect",
    aspect="SQLite's temporary files",
    level=compat.Level.FINE,
    explanation="the temporary files SQLite opens without a name (temp databases, statement "
    "journals, sorter spill files) are kept in process memory, not in the temporary "
    "directory of the backend's file system; like native ones they are never visible",
)
_PRIVATE: Final = MemoryFileSystem()
_names = itertools.count()
_CREATE = posix.O_RDWR | posix.O_CREAT | posix.O_EXCL


class SqliteFile:
    """One file SQLite holds open, with the lock level it holds.

    Only database files are locked by SQLite (its pager locks the main, temporary and
    transient databases, never a journal), so only they share a record of the lock table
    with the other open files of the same identity; other files get a private record."""

    __slots__ = ("backend", "companions", "handle", "immutable", "key", "level", "locks", "token")

    def __init__(
        self,
        handle: Handle,
        backend: EmulatedBackend | None,
        status: os.stat_result | None,
        *,
        immutable: bool = False,
        token: str | None = None,
    ) -> None:
        self.handle = handle
        self.backend = backend
        self.immutable = immutable
        self.token = token
        """The connect call's backend token this file holds (see BackendTokens)."""
        self.companions: tuple[int, ...] = ()
        """The addresses of the journal's and WAL's names, for a main database file."""
        self.level = 0
        self.key: Hashable | None = None
        """The file's identity in the lock table; None for a file with a private record."""
        if status is None:  # a file SQLite never locks (a journal): no one to share with
            self.locks: LockRecord = LOCKS.record_type()
        else:
            self.key = _identity(handle, status)
            self.locks = LOCKS.acquire_record(self.key)

    def write(self, data: bytes, offset: int) -> None:
        """All of ``data`` at ``offset`` (ENOSPC when it does not fit)."""
        write_all(self.handle, data, offset)

    def close(self) -> None:
        """Release the locks and the handle."""
        self.level = LOCKS.unlock(self.locks, self.level, 0)
        if self.key is not None:
            LOCKS.release_record(self.key, self.locks)
        self.handle.close()


def nameless() -> SqliteFile:
    """A private temporary file (SQLite passed no name): already unlinked, as natively."""
    NAMELESS_TEMP_FILES.hit()
    name = f"/sqlite-temp-{next(_names)}"
    handle = _PRIVATE.open(name, _CREATE, 0o600)
    _PRIVATE.unlink(name)
    return SqliteFile(handle, None, None)  # unlinked: no one else can open, or lock, it


def _identity(handle: Handle, status: os.stat_result) -> Hashable:
    """What makes two handles the same file (its status: ``status``) for locking: device and
    inode, as the unix VFS keys its records (a provider that reports no inode numbers: the
    path it was opened by)."""
    if status.st_ino:
        return (status.st_dev, status.st_ino)
    return ("path", os.path.normpath(handle.path))
