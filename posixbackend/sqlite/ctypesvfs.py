"""The VFS's ctypes adaptors: SQLite's callbacks made from the plain methods of
:class:`~posixbackend.sqlite.vfs.Vfs`, for when the C trampolines (posixbackend._sqlitevfs)
are not built.

ctypes is the fallback because it needs no compiler and runs wherever ``_sqlite3`` links a
shared libsqlite3; its callbacks take the GIL themselves, which SQLite's own worker threads
need. Each call costs about 0.8 us more than a C trampoline's.
"""

from __future__ import annotations

import ctypes
import errno
from typing import Any

from posixbackend.sqlite import codes, structs
from posixbackend.sqlite.vfs import NAME, NAME_NEEDED, TOKEN, Vfs

_TOKEN = TOKEN.encode()


class CtypesVfs:
    """The ctypes structures and callbacks registered for a Vfs (kept for the process's
    life by whoever registers them)."""

    def __init__(self, vfs: Vfs, default: structs.Vfs, sqlite: ctypes.CDLL) -> None:
        self.vfs = vfs
        self._uri_parameter = sqlite.sqlite3_uri_parameter
        self._uri_parameter.argtypes = (ctypes.c_void_p, ctypes.c_char_p)
        self._uri_parameter.restype = ctypes.c_char_p
        self._uri_boolean = sqlite.sqlite3_uri_boolean
        self._uri_boolean.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int)
        self._uri_boolean.restype = ctypes.c_int
        self._companion_names: list[Any] = []
        for function in (sqlite.sqlite3_filename_journal, sqlite.sqlite3_filename_wal):
            function.argtypes, function.restype = (ctypes.c_void_p,), ctypes.c_void_p
            self._companion_names.append(function)
        self.methods = structs.IoMethods(
            1,
            structs.CLOSE(vfs.c_close),
            structs.READ(self._read),
            structs.WRITE(self._write),
            structs.TRUNCATE(vfs.c_truncate),
            structs.SYNC(vfs.c_sync),
            structs.FILE_SIZE(self._file_size),
            structs.LOCK(vfs.c_lock),
            structs.LOCK(vfs.c_unlock),
            structs.CHECK_RESERVED(self._check_reserved),
            structs.FILE_CONTROL(self._file_control),
            structs.FILE_INT(self._sector_size),
            structs.FILE_INT(vfs.c_device_characteristics),
        )
        self.methods_address = ctypes.addressof(self.methods)
        # Loading extensions, randomness, sleeping and the clock are the process's own: the
        # default (unix) VFS's C functions serve them.
        self.struct = structs.Vfs(
            iVersion=2,
            szOsFile=ctypes.sizeof(structs.File),
            mxPathname=default.mxPathname,
            zName=NAME.encode(),
            xOpen=structs.OPEN(self._open),
            xDelete=structs.DELETE(self._delete),
            xAccess=structs.ACCESS(self._access),
            xFullPathname=structs.FULL_PATHNAME(self._full_pathname),
            xDlOpen=default.xDlOpen,
            xDlError=default.xDlError,
            xDlSym=default.xDlSym,
            xDlClose=default.xDlClose,
            xRandomness=default.xRandomness,
            xSleep=default.xSleep,
            xCurrentTime=default.xCurrentTime,
            xGetLastError=structs.GET_LAST_ERROR(self._get_last_error),
            xCurrentTimeInt64=default.xCurrentTimeInt64,
        )

    def register(self, register: Any) -> None:
        """Register the VFS with the library's ``sqlite3_vfs_register``."""
        register.argtypes, register.restype = (ctypes.c_void_p, ctypes.c_int), ctypes.c_int
        result = register(ctypes.addressof(self.struct), 0)
        if result != codes.OK:
            raise OSError(errno.EIO, f"sqlite3_vfs_register failed with result {result}")

    def _open(self, _vfs: int, name: int | None, file: int, flags: int, out_flags: Any) -> int:
        struct = structs.File.from_address(file)
        struct.methods = None  # SQLite calls no xClose when xOpen fails
        if name:
            token = self._uri_parameter(name, _TOKEN)
            immutable = bool(self._uri_boolean(name, b"immutable", 0))
            companions: tuple[tuple[int, bytes], ...] = ()
            if flags & codes.OPEN_MAIN_DB:
                addresses = (companion(name) for companion in self._companion_names)
                companions = tuple(
                    (address, ctypes.string_at(address)) for address in addresses if address
                )
            result = self.vfs.c_open(
                file, ctypes.string_at(name), flags, token, immutable, companions
            )
        else:
            result = self.vfs.c_open(file, None, flags, None, False, ())
        if result < 0:
            return -result
        struct.methods = self.methods_address
        if out_flags:
            out_flags[0] = result
        return codes.OK

    def _delete(self, _vfs: int, name: int, _sync_directory: int) -> int:
        if self.vfs.knows(name):
            return self.vfs.c_delete(name, b"", None)
        token = self._uri_parameter(name, _TOKEN)
        return self.vfs.c_delete(name, ctypes.string_at(name), token)

    def _access(self, _vfs: int, name: int, flags: int, result: Any) -> int:
        found = self.vfs.c_access(name, None, flags, None)  # a journal's or WAL's, mostly
        if found == NAME_NEEDED:
            token = self._uri_parameter(name, _TOKEN)
            found = self.vfs.c_access(name, ctypes.string_at(name), flags, token)
        if found < 0:
            return -found
        result[0] = found
        return codes.OK

    def _full_pathname(self, _vfs: int, name: bytes, size: int, out: int) -> int:
        full = self.vfs.c_full_pathname(name)
        if isinstance(full, int):
            return full
        if len(full) >= size:
            return codes.CANTOPEN_FULLPATH
        ctypes.memmove(out, full + b"\0", len(full) + 1)
        return codes.OK

    def _get_last_error(self, _vfs: int, size: int, out: int) -> int:
        if size > 0:
            message = self.vfs.c_last_error()[: size - 1]
            ctypes.memmove(out, message + b"\0", len(message) + 1)
        return 0

    def _read(self, file: int, buffer: int, amount: int, offset: int) -> int:
        data = self.vfs.c_read(file, amount, offset)
        if isinstance(data, int):
            return data
        got = len(data)
        ctypes.memmove(buffer, data, got)
        if got < amount:  # SQLite wants the rest zeroed
            ctypes.memset(buffer + got, 0, amount - got)
            return codes.IOERR_SHORT_READ
        return codes.OK

    def _write(self, file: int, buffer: int, amount: int, offset: int) -> int:
        return self.vfs.c_write(file, ctypes.string_at(buffer, amount), offset)

    def _file_size(self, file: int, result: Any) -> int:
        size = self.vfs.c_file_size(file)
        if size < 0:
            return -size
        result[0] = size
        return codes.OK

    def _check_reserved(self, file: int, result: Any) -> int:
        result[0] = self.vfs.c_check_reserved(file)
        return codes.OK

    def _file_control(self, file: int, operation: int, argument: int) -> int:
        if operation == codes.FCNTL_LOCKSTATE:
            ctypes.c_int.from_address(argument).value = self.vfs.c_lock_state(file)
            return codes.OK
        if operation == codes.FCNTL_PRAGMA:  # char *[3]: error message, name, value
            pragma = (ctypes.c_char_p * 3).from_address(argument)
            return self.vfs.c_pragma(file, pragma[1], pragma[2])
        return codes.NOTFOUND  # SQLite's own handling

    def _sector_size(self, _file: int) -> int:
        return codes.SECTOR_SIZE
