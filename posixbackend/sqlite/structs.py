"""SQLite's VFS structures and callback types, as ctypes declares them (sqlite3.h, stable ABI).

Version 2 of ``sqlite3_vfs`` (with ``xCurrentTimeInt64``) and version 1 of
``sqlite3_io_methods``: no shared-memory methods, so SQLite refuses WAL cleanly (the pragma
answers the old journal mode) rather than failing half-way.
"""

from __future__ import annotations

import ctypes

c_int, c_char_p, c_void_p, c_int64 = ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int64
INT_P = ctypes.POINTER(ctypes.c_int)
INT64_P = ctypes.POINTER(ctypes.c_int64)


class File(ctypes.Structure):
    """``sqlite3_file``: the methods (SQLite's part); the VFS knows its files by address."""

    _fields_ = (("methods", c_void_p),)


FILE_P = c_void_p
"""A ``sqlite3_file*``, given to the callbacks as its address: it names the open file."""

# sqlite3_vfs callbacks (the first argument, the sqlite3_vfs*, is never used: one VFS). File
# names SQLite hands to xOpen, xDelete and xAccess stay pointers: sqlite3_uri_parameter reads
# the connection's URI parameters stored after them.
OPEN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, FILE_P, c_int, INT_P)
DELETE = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_int)
ACCESS = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_int, INT_P)
FULL_PATHNAME = ctypes.CFUNCTYPE(c_int, c_void_p, c_char_p, c_int, c_void_p)
GET_LAST_ERROR = ctypes.CFUNCTYPE(c_int, c_void_p, c_int, c_void_p)

# sqlite3_io_methods callbacks.
CLOSE = ctypes.CFUNCTYPE(c_int, FILE_P)
READ = ctypes.CFUNCTYPE(c_int, FILE_P, c_void_p, c_int, c_int64)
WRITE = ctypes.CFUNCTYPE(c_int, FILE_P, c_void_p, c_int, c_int64)
TRUNCATE = ctypes.CFUNCTYPE(c_int, FILE_P, c_int64)
SYNC = ctypes.CFUNCTYPE(c_int, FILE_P, c_int)
FILE_SIZE = ctypes.CFUNCTYPE(c_int, FILE_P, INT64_P)
LOCK = ctypes.CFUNCTYPE(c_int, FILE_P, c_int)
CHECK_RESERVED = ctypes.CFUNCTYPE(c_int, FILE_P, INT_P)
FILE_CONTROL = ctypes.CFUNCTYPE(c_int, FILE_P, c_int, c_void_p)
FILE_INT = ctypes.CFUNCTYPE(c_int, FILE_P)


class Vfs(ctypes.Structure):
    """``sqlite3_vfs``, version 2."""

    _fields_ = (
        ("iVersion", c_int),
        ("szOsFile", c_int),
        ("mxPathname", c_int),
        ("pNext", c_void_p),
        ("zName", c_char_p),
        ("pAppData", c_void_p),
        ("xOpen", OPEN),
        ("xDelete", DELETE),
        ("xAccess", ACCESS),
        ("xFullPathname", FULL_PATHNAME),
        ("xDlOpen", c_void_p),
        ("xDlError", c_void_p),
        ("xDlSym", c_void_p),
        ("xDlClose", c_void_p),
        ("xRandomness", c_void_p),
        ("xSleep", c_void_p),
        ("xCurrentTime", c_void_p),
        ("xGetLastError", GET_LAST_ERROR),
        ("xCurrentTimeInt64", c_void_p),
    )


class IoMethods(ctypes.Structure):
    """``sqlite3_io_methods``, version 1 (no shared memory, no memory-mapped I/O)."""

    _fields_ = (
        ("iVersion", c_int),
        ("xClose", CLOSE),
        ("xRead", READ),
        ("xWrite", WRITE),
        ("xTruncate", TRUNCATE),
        ("xSync", SYNC),
        ("xFileSize", FILE_SIZE),
        ("xLock", LOCK),
        ("xUnlock", LOCK),
        ("xCheckReservedLock", CHECK_RESERVED),
        ("xFileControl", FILE_CONTROL),
        ("xSectorSize", FILE_INT),
        ("xDeviceCharacteristics", FILE_INT),
    )
