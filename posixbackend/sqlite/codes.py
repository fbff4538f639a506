"""SQLite's result codes, open flags and lock levels that the VFS speaks (sqlite3.h)."""

from __future__ import annotations

import errno
from typing import Final

OK: Final = 0
BUSY: Final = 5
READONLY: Final = 8
IOERR: Final = 10
NOTFOUND: Final = 12
FULL: Final = 13
CANTOPEN: Final = 14
IOERR_READ: Final = IOERR | 1 << 8
IOERR_SHORT_READ: Final = IOERR | 2 << 8
IOERR_WRITE: Final = IOERR | 3 << 8
IOERR_FSYNC: Final = IOERR | 4 << 8
IOERR_TRUNCATE: Final = IOERR | 6 << 8
IOERR_FSTAT: Final = IOERR | 7 << 8
IOERR_DELETE: Final = IOERR | 10 << 8
IOERR_ACCESS: Final = IOERR | 13 << 8
IOERR_CLOSE: Final = IOERR | 16 << 8
IOERR_DELETE_NOENT: Final = IOERR | 23 << 8
CANTOPEN_FULLPATH: Final = CANTOPEN | 3 << 8

OPEN_READONLY: Final = 0x1
OPEN_READWRITE: Final = 0x2
OPEN_CREATE: Final = 0x4
OPEN_DELETEONCLOSE: Final = 0x8
OPEN_EXCLUSIVE: Final = 0x10
OPEN_MAIN_DB: Final = 0x100
OPEN_TEMP_DB: Final = 0x200
OPEN_TRANSIENT_DB: Final = 0x400
OPEN_MAIN_JOURNAL: Final = 0x800
OPEN_WAL: Final = 0x80000
OPEN_SUPER_JOURNAL: Final = 0x4000

ACCESS_EXISTS: Final = 0
ACCESS_READWRITE: Final = 1

LOCK_NONE, LOCK_SHARED, LOCK_RESERVED, LOCK_PENDING, LOCK_EXCLUSIVE = range(5)

FCNTL_LOCKSTATE: Final = 1
FCNTL_PRAGMA: Final = 14
IOCAP_SAFE_APPEND: Final = 0x200
IOCAP_SEQUENTIAL: Final = 0x400
IOCAP_POWERSAFE_OVERWRITE: Final = 0x1000
IOCAP_IMMUTABLE: Final = 0x2000
SECTOR_SIZE: Final = 4096
"""SQLITE_DEFAULT_SECTOR_SIZE, what the unix VFS reports."""

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def io_error(error: BaseException, code: int) -> int:
    """The result an I/O step that failed with ``error`` gives: SQLITE_FULL when the file
    system is full (as the unix VFS answers a write that hits ENOSPC), else ``code``."""
    if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
        return FULL
    return code
