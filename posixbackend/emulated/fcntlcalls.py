"""The fcntl module on emulated descriptors: fcntl, flock, lockf and ioctl.

A descriptor number the emulated table holds is that table's descriptor: nothing reaches the
process's real descriptor that happens to have the same number. The commands Linux gives every
file are served (F_DUPFD, F_GETFD/F_SETFD, F_GETFL/F_SETFL, POSIX and open file description
record locks, F_GETPIPE_SZ, flock, lockf; ioctl FIONREAD, FIOCLEX/FIONCLEX, FIONBIO; any other
request is ENOTTY, as for a regular file) with the kernel's errors; the standard streams, real
descriptors, get the real calls. Locks live in :mod:`posixbackend.emulated._filelocks`, shared
by every emulated process of the interpreter, as the kernel's are by every process.
"""

from __future__ import annotations

import errno
import fcntl
import operator
import os
import posix
import stat
import struct
import termios
from typing import Any, Final

import compat
from posixbackend.emulated._filelocks import EOF_END, F_RDLCK, F_UNLCK, F_WRLCK, LOCKS, FileKey
from posixbackend.emulated.core import BackendCore
from posixbackend.emulated.descriptions import (
    Description,
    FileDescription,
    HostDescription,
    PipeDescription,
    file_position,
    readable,
    writable,
)
from vfs.errors import os_error

F_OFD_GETLK: Final = getattr(fcntl, "F_OFD_GETLK", 36)
F_OFD_SETLK: Final = getattr(fcntl, "F_OFD_SETLK", 37)
F_OFD_SETLKW: Final = getattr(fcntl, "F_OFD_SETLKW", 38)
F_DUPFD_CLOEXEC: Final = getattr(fcntl, "F_DUPFD_CLOEXEC", 1030)
F_GETPIPE_SZ: Final = getattr(fcntl, "F_GETPIPE_SZ", 1032)
F_NOTIFY: Final = getattr(fcntl, "F_NOTIFY", 1026)
F_SETPIPE_SZ: Final = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PIPE_MAX_SIZE: Final = 1 << 20
"""Linux's default /proc/sys/fs/pipe-max-size: the most an unprivileged F_SETPIPE_SZ gets."""
O_LARGEFILE: Final = 0o100000
"""What the kernel adds to every file opened on a 64-bit system (F_GETFL shows it)."""
OPEN_ONLY: Final = posix.O_CREAT | posix.O_EXCL | posix.O_NOCTTY | posix.O_TRUNC | posix.O_CLOEXEC
"""Flags open(2) acts on and does not keep in the description (F_GETFL never shows them)."""
SETFL_FLAGS: Final = (
    posix.O_APPEND
    | posix.O_NONBLOCK
    | getattr(posix, "O_ASYNC", 0)
    | (posix.O_DIRECT | getattr(posix, "O_NOATIME", 0))
)
FLOCK: Final = struct.Struct("hhxxxxqqi")
"""struct flock on 64-bit Linux: l_type, l_whence, l_start, l_len, l_pid (32 bytes padded)."""
FLOCK_SIZE: Final = 32
MAX_ARGUMENT: Final = 1024
"""The longest buffer argument fcntl.fcntl and fcntl.ioctl take (CPython's)."""
OFF_T_MAX: Final = (1 << 63) - 1
RECORD_COMMANDS: Final = frozenset({
    fcntl.F_GETLK, fcntl.F_SETLK, fcntl.F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW,
})  # fmt: skip
UNSUPPORTED: Final = {
    getattr(fcntl, name): name
    for name in ("F_GETOWN", "F_SETOWN", "F_GETSIG", "F_SETSIG", "F_SETLEASE", "F_GETLEASE",
                 "F_ADD_SEALS", "F_GET_SEALS", "F_GETOWN_EX",
                 "F_SETOWN_EX", "F_GET_RW_HINT", "F_SET_RW_HINT", "F_GET_FILE_RW_HINT",
                 "F_SET_FILE_RW_HINT")
    if hasattr(fcntl, name)
}  # fmt: skip

FCNTL_COMMANDS = compat.declare(
    id="emulated.fcntl.commands",
    function="fcntl.fcntl",
    aspect="fcntl commands",
    level=compat.Level.WARNING,
    explanation="on emulated descriptors, fcntl serves F_DUPFD(_CLOEXEC), F_GETFD/F_SETFD, "
    "F_GETFL/F_SETFL, the POSIX and OFD record locks, F_NOTIFY (see "
    "emulated.fcntl.notify_never_signals), F_GETPIPE_SZ and F_SETPIPE_SZ; signals, leases, "
    "owners, seals and write hints fail with EINVAL",
)
PIPE_SIZE_LIMIT = compat.declare(
    id="emulated.fcntl.pipe_max_size",
    function="fcntl.fcntl",
    aspect="F_SETPIPE_SZ beyond /proc/sys/fs/pipe-max-size",
    level=compat.Level.INFO,
    explanation="a pipe grows to at most 1 MiB (Linux's default pipe-max-size) whoever asks: "
    "the emulated process has no CAP_SYS_RESOURCE to go beyond it, so a larger size is EPERM "
    "even for root",
)
NOTIFY_NEVER_SIGNALS = compat.declare(
    id="emulated.fcntl.notify_never_signals",
    function="fcntl.fcntl",
    aspect="F_NOTIFY (dnotify) on an emulated directory",
    level=compat.Level.WARNING,
    explanation="F_NOTIFY is accepted on a directory, as Linux accepts it, but no signal is "
    "ever sent for the changes it asks about (the emulated process receives no SIGIO)",
)
NO_DEADLOCK_DETECTION = compat.declare(
    id="emulated.fcntl.no_deadlock_detection",
    function="fcntl.fcntl",
    aspect="F_SETLKW between emulated processes",
    level=compat.Level.INFO,
    explanation="a wait for a POSIX record lock held by another emulated process of the "
    "interpreter that waits in turn is not detected (Linux answers EDEADLK): both wait",
)
HOST_PROCESSES = compat.declare(
    id="emulated.fcntl.host_processes",
    function="fcntl.flock",
    aspect="locks between an emulated process and other programs",
    level=compat.Level.INFO,
    explanation="record locks and flock locks on emulated descriptors are kept by the "
    "interpreter: emulated processes see each other's, other programs on the host (and their "
    "locks on a host provider's files) are not seen",
)


def descriptor_of(value: Any) -> int:
    """What fcntl's functions take as a descriptor: an int or an object's ``fileno()``, with
    PyObject_AsFileDescriptor's errors."""
    if isinstance(value, int):
        fd = value
    else:
        method = getattr(type(value), "fileno", None)
        if method is None:
            raise TypeError("argument must be an int, or have a fileno() method.")
        fd = method(value)
        if not isinstance(fd, int):
            raise TypeError("fileno() returned a non-integer")
    if not -0x80000000 <= fd <= 0x7FFFFFFF:
        raise OverflowError("Python int too large to convert to C int")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


def _buffer_argument(arg: Any, function: str) -> bytes | None:
    """The buffer form of an argument (bytes, str or a read-only buffer), None for an int."""
    if isinstance(arg, str):
        arg = arg.encode()
    if isinstance(arg, int):
        return None
    try:
        data = bytes(memoryview(arg))
    except TypeError:
        operator.index(arg)  # an int-like one, or the TypeError CPython's "i" gives
        return None
    if len(data) > MAX_ARGUMENT:
        raise ValueError(f"{function} string arg too long")
    return data


def _flags_shown(description: Description) -> int:
    """F_GETFL: the description's file status flags and access mode, as the kernel keeps them."""
    flags = description.flags & ~OPEN_ONLY
    if not isinstance(description, PipeDescription) and not flags & posix.O_PATH:
        flags |= O_LARGEFILE
    return flags


class FcntlFunctions(BackendCore):
    """fcntl.fcntl, fcntl.flock, fcntl.lockf and fcntl.ioctl on this backend's descriptors,
    and the close paths that release a process's record locks."""

    # -- fcntl -----------------------------------------------------------------------------

    def fcntl_fcntl(self, fd: Any, cmd: Any, arg: Any = 0, /) -> Any:
        """fcntl.fcntl."""
        fd = descriptor_of(fd)
        cmd = int(cmd)
        buffer = _buffer_argument(arg, "fcntl")
        description = self._description(fd)
        if isinstance(description, HostDescription) and cmd not in _TABLE_COMMANDS:
            return fcntl.fcntl(description.fd, cmd, arg)
        if cmd in RECORD_COMMANDS:
            if buffer is None:
                raise os_error(errno.EFAULT)  # the kernel reads a struct at that address
            return self._record_lock(fd, description, cmd, buffer)
        value = 0 if buffer is not None else operator.index(arg)
        result = self._simple_command(fd, description, cmd, value)
        return buffer if buffer is not None else result

    def _simple_command(self, fd: int, description: Description, cmd: int, value: int) -> int:
        if cmd in (fcntl.F_DUPFD, F_DUPFD_CLOEXEC):
            if value < 0 or value >= self._table.limit:
                raise os_error(errno.EINVAL)
            return self._table.dup(fd, cloexec=cmd == F_DUPFD_CLOEXEC, lowest=value)
        if cmd == fcntl.F_GETFD:
            return fcntl.FD_CLOEXEC if self._table.is_cloexec(fd) else 0
        if cmd == fcntl.F_SETFD:
            self._table.set_cloexec(fd, bool(value & fcntl.FD_CLOEXEC))
            return 0
        if cmd == fcntl.F_GETFL:
            return _flags_shown(description)
        if cmd == fcntl.F_SETFL:
            return self._set_status_flags(description, value)
        if cmd == F_NOTIFY:
            if not stat.S_ISDIR(description.stat().st_mode):
                raise os_error(errno.ENOTDIR)
            NOTIFY_NEVER_SIGNALS.hit(events=hex(value))
            return 0
        if cmd in (F_GETPIPE_SZ, F_SETPIPE_SZ):
            if not isinstance(description, PipeDescription):
                raise os_error(errno.EBADF)
            pipe = description.end.pipe
            if cmd == F_GETPIPE_SZ:
                return pipe.pipe_size()
            if value < 0 or value > PIPE_MAX_SIZE:
                PIPE_SIZE_LIMIT.hit(size=value)
                raise os_error(errno.EPERM if value > PIPE_MAX_SIZE else errno.EINVAL)
            return pipe.resize(value)
        name = UNSUPPORTED.get(cmd)
        if name is not None:
            FCNTL_COMMANDS.hit(command=name)
        raise os_error(errno.EINVAL)

    def _set_status_flags(self, description: Description, value: int) -> int:
        if description.flags & posix.O_PATH:
            raise os_error(errno.EBADF)
        noatime = getattr(posix, "O_NOATIME", 0)
        if value & noatime and not description.flags & noatime:
            owner = description.stat().st_uid
            identity = self._identity
            if not identity.is_root and identity.uid != owner:
                raise os_error(errno.EPERM)
        description.set_status_flags(value, SETFL_FLAGS)
        return 0

    # -- record locks ----------------------------------------------------------------------

    def _record_lock(self, fd: int, description: Description, cmd: int, buffer: bytes) -> bytes:
        """F_GETLK, F_SETLK, F_SETLKW and their open file description forms."""
        padded = buffer.ljust(FLOCK_SIZE, b"\0")
        kind, whence, start, length, pid = FLOCK.unpack_from(padded)
        ofd = cmd in (F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW)
        if ofd and pid != 0:
            raise os_error(errno.EINVAL)
        key = file_key(description)
        low, high = lock_range(description, whence, start, length)
        owner: Any = description if ofd else self
        if cmd in (fcntl.F_GETLK, F_OFD_GETLK):
            testable = (F_RDLCK, F_WRLCK, F_UNLCK) if ofd else (F_RDLCK, F_WRLCK)
            if kind not in testable:  # F_OFD_GETLK of F_UNLCK: any lock there, even one's own
                raise os_error(errno.EINVAL)
            holder = LOCKS.get_record(key, owner, kind, low, high)
            if holder is None:
                result = FLOCK.pack(F_UNLCK, whence, start, length, pid)
            else:
                size = 0 if holder.end == EOF_END else holder.end - holder.start
                result = FLOCK.pack(holder.kind, os.SEEK_SET, holder.start, size, holder.pid)
            return (result + padded[FLOCK.size :])[: len(buffer)]
        if kind == F_RDLCK and not readable(description):
            raise os_error(errno.EBADF)
        if kind == F_WRLCK and not writable(description):
            raise os_error(errno.EBADF)
        if kind not in (F_RDLCK, F_WRLCK, F_UNLCK):
            raise os_error(errno.EINVAL)
        wait = cmd in (fcntl.F_SETLKW, F_OFD_SETLKW)
        holder_pid = -1 if ofd else posix.getpid()
        if not ofd and kind != F_UNLCK:
            self._close_through_python()
        LOCKS.set_record(key, owner, kind, (low, high), pid=holder_pid, wait=wait, process=not ofd)
        return buffer

    def _close_through_python(self) -> None:
        """From a process's first POSIX lock on, its closes go through the Python methods,
        which release its locks (the C fast close does not know them)."""
        vars(self).pop("close", None)

    # -- flock and lockf -------------------------------------------------------------------

    def fcntl_flock(self, fd: Any, operation: Any, /) -> None:
        """fcntl.flock."""
        fd = descriptor_of(fd)
        operation = int(operation)
        description = self._description(fd)
        if isinstance(description, HostDescription):
            fcntl.flock(description.fd, operation)
            return
        if description.flags & posix.O_PATH:
            raise os_error(errno.EBADF)
        kinds = {fcntl.LOCK_SH: F_RDLCK, fcntl.LOCK_EX: F_WRLCK, fcntl.LOCK_UN: F_UNLCK}
        kind = kinds.get(operation & ~fcntl.LOCK_NB)
        if kind is None:
            raise os_error(errno.EINVAL)
        wait = not operation & fcntl.LOCK_NB
        LOCKS.flock(file_key(description), description, kind, wait=wait)
        if kind != F_UNLCK:
            HOST_PROCESSES.hit(command="flock")

    def fcntl_lockf(
        self, fd: Any, cmd: Any, len: Any = 0, start: Any = 0, whence: Any = 0, /
    ) -> None:
        """fcntl.lockf: a POSIX record lock made as CPython makes it, through F_SETLK(W)."""
        fd = descriptor_of(fd)
        code = int(cmd)
        if code == fcntl.LOCK_UN:
            kind = F_UNLCK
        elif code & fcntl.LOCK_SH:
            kind = F_RDLCK
        elif code & fcntl.LOCK_EX:
            kind = F_WRLCK
        else:
            raise ValueError("unrecognized lockf argument")
        command = fcntl.F_SETLK if code & fcntl.LOCK_NB else fcntl.F_SETLKW
        description = self._description(fd)
        if isinstance(description, HostDescription):
            fcntl.lockf(description.fd, cmd, len, start, whence)
            return
        request = FLOCK.pack(kind, int(whence), int(start), int(len), 0)
        self._record_lock(fd, description, command, request)

    # -- ioctl -----------------------------------------------------------------------------

    def fcntl_ioctl(self, fd: Any, request: Any, arg: Any = 0, mutate_flag: bool = True, /) -> Any:
        """fcntl.ioctl: FIONREAD, FIOCLEX, FIONCLEX, FIONBIO; ENOTTY for the rest."""
        fd = descriptor_of(fd)
        code = int(request) & 0xFFFFFFFF
        description = self._description(fd)
        if isinstance(description, HostDescription):
            return fcntl.ioctl(description.fd, request, arg, mutate_flag)
        mutable = bool(mutate_flag) and (
            isinstance(arg, bytearray) or (isinstance(arg, memoryview) and not arg.readonly)
        )
        buffer = None if mutable else _buffer_argument(arg, "ioctl")
        if code in {termios.FIOCLEX, termios.FIONCLEX}:
            self._table.set_cloexec(fd, code == termios.FIOCLEX)
            return buffer if buffer is not None else 0
        if code not in (termios.FIONREAD, termios.FIONBIO):
            raise os_error(errno.ENOTTY)
        if not mutable and buffer is None:
            raise os_error(errno.EFAULT)  # an int is an address to the kernel
        data = bytes(memoryview(arg)) if mutable else buffer
        assert data is not None
        if len(data) < 4:
            data = data.ljust(4, b"\0")  # CPython passes a 1024-byte copy: the rest is zero
        if code == termios.FIONBIO:
            (on,) = struct.unpack_from("i", data)
            nonblocking = description.flags | posix.O_NONBLOCK
            description.flags = nonblocking if on else description.flags & ~posix.O_NONBLOCK
            out = data
        else:
            out = struct.pack("i", _bytes_ready(description)) + data[4:]
        if mutable:
            view = memoryview(arg).cast("B")
            view[: min(len(view), 4)] = out[: min(len(view), 4)]
            return 0
        return out[: len(buffer or b"")]

    # -- closing ---------------------------------------------------------------------------

    def close(self, fd: int) -> None:
        """os.close, releasing the process's record locks on the file when it holds any."""
        if self not in LOCKS.process_files:
            super().close(fd)  # type: ignore[misc]
            return
        key = _key_or_none(self._table.files.get(fd))
        super().close(fd)  # type: ignore[misc]
        if key is not None:
            LOCKS.release_process(self, key)

    def dup2(self, fd: int, fd2: int, inheritable: bool = True) -> int:
        """os.dup2, releasing the record locks of the file ``fd2`` referred to."""
        if self not in LOCKS.process_files:
            return super().dup2(fd, fd2, inheritable)  # type: ignore[misc, no-any-return]
        key = _key_or_none(self._table.files.get(fd2) if isinstance(fd2, int) else None)
        result: int = super().dup2(fd, fd2, inheritable)  # type: ignore[misc]
        if key is not None and fd != fd2:
            LOCKS.release_process(self, key)
        return result

    def closerange(self, fd_low: int, fd_high: int, /) -> None:
        """os.closerange, releasing the record locks of every file closed."""
        if self not in LOCKS.process_files:
            super().closerange(fd_low, fd_high)  # type: ignore[misc]
            return
        keys = {
            _key_or_none(description)
            for fd, description in list(self._table.files.items())
            if isinstance(fd_low, int) and isinstance(fd_high, int) and fd_low <= fd < fd_high
        }
        super().closerange(fd_low, fd_high)  # type: ignore[misc]
        for key in keys - {None}:
            assert key is not None
            LOCKS.release_process(self, key)


_TABLE_COMMANDS: Final = frozenset({fcntl.F_DUPFD, F_DUPFD_CLOEXEC, fcntl.F_GETFD, fcntl.F_SETFD})
"""Commands on the descriptor itself, which the emulated table keeps even for real ones."""


def file_key(description: Description) -> FileKey:
    """The identity locks are kept under: the file's device and inode (every kind of open
    file has one, as every Linux file has an inode)."""
    try:
        st = description.stat()
    except NotImplementedError:
        raise os_error(errno.EINVAL) from None
    return (st.st_dev, st.st_ino)


def _key_or_none(description: Description | None) -> FileKey | None:
    if description is None or isinstance(description, HostDescription):
        return None
    try:
        return file_key(description)
    except OSError:
        return None


def lock_range(description: Description, whence: int, start: int, length: int) -> tuple[int, int]:
    """flock_to_posix_lock: [low, high) of a struct flock's start, length and whence."""
    if whence == os.SEEK_SET:
        base = 0
    elif whence == os.SEEK_CUR:
        base = file_position(description)
    elif whence == os.SEEK_END:
        base = description.stat().st_size
    else:
        raise os_error(errno.EINVAL)
    if start > OFF_T_MAX - base:
        raise os_error(errno.EOVERFLOW)
    low = base + start
    if low < 0:
        raise os_error(errno.EINVAL)
    if length > 0:
        if length - 1 > OFF_T_MAX - low:
            raise os_error(errno.EOVERFLOW)
        return low, low + length
    if length == 0:
        return low, EOF_END
    if low + length < 0:
        raise os_error(errno.EINVAL)
    return low + length, low


def _bytes_ready(description: Description) -> int:
    """FIONREAD: bytes a read would get now (a pipe's buffer, a file's size past the offset)."""
    if isinstance(description, PipeDescription):
        return int(description.end.available())
    if isinstance(description, FileDescription):
        st = description.stat()
        if (st.st_mode & 0o170000) != 0o100000:
            raise os_error(errno.ENOTTY)
        return max(st.st_size - file_position(description), 0)
    raise os_error(errno.ENOTTY)
