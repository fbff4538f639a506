"""The file-descriptor functions of the emulated backend: open, read, write, lseek, dup...

Each mirrors its ``os`` namesake's signature and errors; the descriptor table and the open file
descriptions (``descriptions.py``) do the work. Hot paths (read, write, lseek, close) test for
a plain ``int`` first and only call the full argument converters for anything else.
"""

from __future__ import annotations

import errno
import os
import posix
from collections.abc import Callable
from typing import Any

import compat
from posixbackend.emulated.args import (
    buffer_arg,
    dir_fd_arg,
    fd_arg,
    fildes_arg,
    gid_arg,
    int_arg,
    off_t_arg,
    path_arg,
    ssize_arg,
    uid_arg,
)
from posixbackend.emulated.core import VIRTUAL_FDS, BackendCore
from posixbackend.emulated.descriptions import Description, FileDescription, is_directory
from posixbackend.emulated.fdtable import FdTable
from vfs.errors import named_error, os_error
from vfs.openflags import O_TMPFILE_BIT, check_open_flags
from vfs.provider import Handle

_CREATES = posix.O_CREAT | O_TMPFILE_BIT
_CHANGES = _CREATES | posix.O_TRUNC
"""Flags with which open can change the file system (checked for a free descriptor first)."""
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
SSIZE_MAX = OFF_T_MAX = (1 << 63) - 1
OFF_T_MIN = -(1 << 63)
SEEK_MAX = 4
"""SEEK_HOLE, the largest whence Linux knows."""
O_PATH = posix.O_PATH

DIRECTORY_SEEK_END = compat.declare(
    id="os.lseek.directory_end",
    function="os.lseek",
    aspect="SEEK_END, SEEK_DATA and SEEK_HOLE on a directory",
    level=compat.Level.FINE,
    explanation="an open directory refuses them with EINVAL on every provider, as on tmpfs; "
    "Linux's answer depends on the file system (ext4 gives the end of its hash space)",
)
_POSIX_FADV = tuple(
    getattr(posix, name, -1)
    for name in (
        "POSIX_FADV_NORMAL", "POSIX_FADV_SEQUENTIAL", "POSIX_FADV_RANDOM",
        "POSIX_FADV_NOREUSE", "POSIX_FADV_WILLNEED", "POSIX_FADV_DONTNEED",
    )
)  # fmt: skip


class FileFunctions(BackendCore):
    """os.open, os.read, os.write and the other functions on descriptors."""

    def _fd(self, fd: Any) -> Description:
        """The description for a descriptor argument (int-like; EBADF when not open)."""
        description = self._table.files.get(fd) if fd.__class__ is int else None
        if description is None:
            description = self._description(fd_arg(fd))
        return description

    # -- opening and closing -----------------------------------------------------------------

    def open(self, path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        """os.open: the lowest free descriptor, non-inheritable, for ``path``."""
        if (
            path.__class__ is str
            and path
            and dir_fd is None
            and path.isascii()  # else the converter: a name os cannot encode fails there
            and "\x00" not in path
        ):
            original: object = path
            at: object | None = None if path[0] == "/" else self._cwd
            name: str = path
        else:
            target = path_arg(path, "open")
            original = target.original
            name = ""
        if flags.__class__ is not int or not INT_MIN <= flags <= INT_MAX:
            flags = int_arg(flags)
        if mode.__class__ is not int or not INT_MIN <= mode <= INT_MAX:
            mode = int_arg(mode)
        if not name:
            dir_fd = dir_fd_arg(dir_fd)
            check_open_flags(flags, original)  # type: ignore[arg-type]  # before the path
            at, name = self._at(target, dir_fd)
        if flags & _CREATES:
            mode &= ~self._umask
        table = self._table
        if flags & _CHANGES and not table.has_free():  # before the file changes, as Linux
            raise os_error(errno.EMFILE, original)
        if self._virtual_fds_unreported:
            self._virtual_fds_unreported = False
            VIRTUAL_FDS.hit()
        try:
            handle = self._fs.open_at(at, name, flags, mode)
        except OSError as error:
            raise named_error(error, original) from None
        description = None
        try:
            description = FileDescription(handle, flags)
            return table.install(description)
        except BaseException as error:
            # EMFILE (another thread took the last descriptor meanwhile), or an interruption:
            # no descriptor stays behind, and the handle is closed with it
            if not _uninstall(table, description):
                handle.close()
            if isinstance(error, OSError):
                raise named_error(error, original) from None
            raise

    def open_handle(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        """A provider handle for ``path`` (relative to the cwd; the umask applies) with no
        descriptor: for C libraries bridged to the backend (the SQLite VFS), which keep their
        open files themselves, as they keep real descriptors natively. Errors as os.open's."""
        at = None if path[:1] == "/" else self._cwd  # relative to the held current directory
        if flags & _CREATES:
            mode &= ~self._umask
        try:
            return self._fs.open_at(at, path, flags, mode)
        except OSError as error:
            raise named_error(error, path) from None

    def delete(self, path: str) -> None:
        """Unlink ``path`` (a str, relative to the cwd) for C libraries bridged to the backend
        (the SQLite VFS deletes its journals): os.unlink without its argument conversion."""
        at = None if path[:1] == "/" else self._cwd
        try:
            self._fs.unlink_at(at, path)
        except OSError as error:
            raise named_error(error, path) from None

    def probe(self, path: str) -> os.stat_result | None:
        """The status of ``path`` (relative to the cwd), or None where os.stat would fail: a
        C library's existence check (the SQLite VFS looks for a journal before each
        statement) without the error os.stat would build for its caller."""
        at = None if path[:1] == "/" else self._cwd
        return self._fs.probe_at(at, path)

    def watch(self, path: str) -> Callable[[], object] | None:
        """A cheap token of an absolute path's status (see :meth:`vfs.FileSystem.watch`):
        the import finder asks it before each import instead of :meth:`probe` while its
        answer stays the same. None where the file system cannot tell, and for a relative
        path (the cwd may move meanwhile)."""
        if path[:1] != "/":
            return None
        return self._fs.watch(path)

    def close(self, fd: int) -> None:
        """os.close."""
        table = self._table
        if fd.__class__ is not int or fd not in table.files:
            fd = fd_arg(fd)  # the converter's TypeError or OverflowError, else EBADF below
        table.close(fd)

    def closerange(self, fd_low: int, fd_high: int, /) -> None:
        """os.closerange: close every open descriptor in [fd_low, fd_high); never fails.

        CPython passes ``fd_high - 1`` to close_range(2) as an unsigned int, so a high bound
        of 0 or below means no bound at all: every descriptor from ``fd_low`` up is closed."""
        low, high = fd_arg(fd_low), fd_arg(fd_high)
        self._table.close_range(low, high if high > 0 else INT_MAX + 1)

    def dup(self, fd: int, /) -> int:
        """os.dup: a new, non-inheritable descriptor sharing the description."""
        return self._table.dup(fd_arg(fd))

    def dup2(self, fd: int, fd2: int, inheritable: bool = True) -> int:
        """os.dup2: make ``fd2`` share ``fd``'s description; inheritable unless told otherwise."""
        return self._table.dup2(fd_arg(fd), fd_arg(fd2), cloexec=not inheritable)

    # -- moving data -----------------------------------------------------------------------

    def read(self, fd: int, length: int, /) -> bytes:
        """os.read: up to ``length`` bytes from the file offset."""
        description = self._files.get(fd) if fd.__class__ is int else None
        if description is None or length.__class__ is not int or not 0 <= length <= SSIZE_MAX:
            return self._read_checked(fd, length)
        return description.read(length)

    def _read_checked(self, fd: Any, length: Any) -> bytes:
        """os.read for arguments that are not plain, valid ints: CPython's order of errors."""
        description = self._files.get(fd) if fd.__class__ is int else None
        if description is None:
            fd = fd_arg(fd)  # conversion errors come first, EBADF after the length's checks
        length = ssize_arg(length)
        if length < 0:
            raise os_error(errno.EINVAL)
        if description is None:
            description = self._description(fd)
        return description.read(length)

    def write(self, fd: int, data: Any, /) -> int:
        """os.write: write at the file offset (at the end with O_APPEND)."""
        description = self._table.files.get(fd) if fd.__class__ is int else None
        if description is None:
            fd = fd_arg(fd)
        data = buffer_arg(data)
        if description is None:
            description = self._description(fd)
        return description.write(data)

    def pread(self, fd: int, length: int, offset: int, /) -> bytes:
        """os.pread: read at ``offset`` without moving the file offset."""
        fd, length, offset = fd_arg(fd), ssize_arg(length), off_t_arg(offset)
        if length < 0 or offset < 0:
            raise os_error(errno.EINVAL)
        return self._description(fd).pread(length, offset)

    def pwrite(self, fd: int, buffer: Any, offset: int, /) -> int:
        """os.pwrite: write at ``offset`` without moving the file offset."""
        fd, data, offset = fd_arg(fd), buffer_arg(buffer), off_t_arg(offset)
        if offset < 0:
            raise os_error(errno.EINVAL)
        return self._description(fd).pwrite(data, offset)

    def lseek(self, fd: int, position: int, whence: int, /) -> int:
        """os.lseek."""
        description = self._files.get(fd) if fd.__class__ is int else None
        if (
            description is None
            or position.__class__ is not int
            or whence.__class__ is not int
            or not OFF_T_MIN <= position <= OFF_T_MAX
            or not 0 <= whence <= SEEK_MAX
            or whence > os.SEEK_CUR  # SEEK_END, SEEK_DATA, SEEK_HOLE: a directory refuses them
            or description.flags & O_PATH
        ):
            return self._lseek_checked(fd, position, whence)
        return description.seek(position, whence)

    def _lseek_checked(self, fd: Any, position: Any, whence: Any) -> int:
        """os.lseek for unusual arguments and descriptors: CPython's conversions and errors,
        then Linux's: EBADF for O_PATH, EINVAL for a directory's SEEK_END/DATA/HOLE (as
        tmpfs's readdir cursor, which only moves from the start or from itself)."""
        description = self._fd(fd)
        position = off_t_arg(position)
        whence = int_arg(whence)
        if not 0 <= whence <= SEEK_MAX:  # checked before the file is asked (ESPIPE for pipes)
            raise os_error(errno.EINVAL)
        if description.flags & O_PATH:
            raise os_error(errno.EBADF)
        if whence > os.SEEK_CUR and is_directory(description):
            DIRECTORY_SEEK_END.hit(fd=fd)
            raise os_error(errno.EINVAL)
        return description.seek(position, whence)

    # -- the file behind a descriptor ------------------------------------------------------------

    def fstat(self, fd: int) -> os.stat_result:
        """os.fstat."""
        return self._view(self._fd(fd).stat())

    def ftruncate(self, fd: int, length: int, /) -> None:
        """os.ftruncate (a negative length is EINVAL before the descriptor is looked at)."""
        fd, length = fd_arg(fd), off_t_arg(length)
        if length < 0:
            raise os_error(errno.EINVAL)
        self._description(fd).truncate(length)

    def fsync(self, fd: Any) -> None:
        """os.fsync (an object with fileno() will do, as for the real one)."""
        self._description(fildes_arg(fd)).sync()

    def fdatasync(self, fd: Any) -> None:
        """os.fdatasync."""
        self._description(fildes_arg(fd)).sync()

    def posix_fallocate(self, fd: int, offset: int, length: int, /) -> None:
        """os.posix_fallocate: make sure [offset, offset+length) exists (zero-filled)."""
        description = self._fd(fd)
        offset, length = off_t_arg(offset), off_t_arg(length)
        if offset < 0 or length <= 0:
            raise os_error(errno.EINVAL)
        if description.flags & O_PATH or description.flags & 3 == posix.O_RDONLY:
            raise os_error(errno.EBADF)  # vfs_fallocate: FMODE_WRITE before the file's type
        handle = description.handle
        if handle is None:
            raise os_error(errno.ESPIPE)
        handle.allocate(offset, length)

    def posix_fadvise(self, fd: int, offset: int, length: int, advice: int, /) -> None:
        """os.posix_fadvise: checked, then nothing to do (there is no page cache here)."""
        description = self._fd(fd)
        off_t_arg(offset)
        length = off_t_arg(length)
        advice = int_arg(advice)
        if description.handle is None:
            raise os_error(errno.ESPIPE)
        if length < 0 or advice not in _POSIX_FADV:
            raise os_error(errno.EINVAL)

    def fchmod(self, fd: int, mode: int) -> None:
        """os.fchmod."""
        description = self._fd(fd)
        description.chmod(int_arg(mode))

    def fchown(self, fd: int, uid: int, gid: int) -> None:
        """os.fchown."""
        description = self._fd(fd)
        description.chown(uid_arg(uid), gid_arg(gid))

    def fchdir(self, fd: Any) -> None:
        """os.fchdir: the current directory becomes the open directory ``fd``."""
        description = self._description(fildes_arg(fd))
        handle = description.handle
        directory = None if handle is None else handle.directory()
        if directory is None:
            raise os_error(errno.ENOTDIR)
        self._chdir_to(directory, "", None)

    def fstatvfs(self, fd: int, /) -> os.statvfs_result:
        """os.fstatvfs."""
        return self._fd(fd).statvfs()

    # -- descriptor flags ------------------------------------------------------------------

    def get_inheritable(self, fd: int, /) -> bool:
        """os.get_inheritable."""
        return not self._table.is_cloexec(fd_arg(fd))

    def set_inheritable(self, fd: int, inheritable: bool, /) -> None:
        """os.set_inheritable."""
        self._table.set_cloexec(fd_arg(fd), not int_arg(inheritable))

    def get_blocking(self, fd: int, /) -> bool:
        """os.get_blocking."""
        return not self._fd(fd).nonblocking

    def set_blocking(self, fd: int, blocking: bool, /) -> None:
        """os.set_blocking."""
        description = self._fd(fd)
        flags = description.flags
        description.set_status_flags(
            flags & ~posix.O_NONBLOCK if int_arg(blocking) else flags | posix.O_NONBLOCK
        )

    def isatty(self, fd: int, /) -> bool:
        """os.isatty: False for anything that is not an open terminal."""
        description = self._table.files.get(fd_arg(fd))
        return description is not None and description.isatty()

    def device_encoding(self, fd: int) -> str | None:
        """os.device_encoding: the locale's encoding for a terminal, else None."""
        if not self.isatty(fd):
            return None
        import locale  # (a terminal's descriptor only: start-up need not import it)

        return (
            locale.getencoding()
            if hasattr(locale, "getencoding")
            else locale.getpreferredencoding(False)
        )


def _uninstall(table: FdTable, description: FileDescription | None) -> bool:
    """Close the descriptor ``description`` was installed under, if it was (an open cut
    short after the table took it); whether there was one."""
    if description is None:
        return False
    for fd, installed in list(table.files.items()):
        if installed is description:
            table.close(fd)
            return True
    return False
