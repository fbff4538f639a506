"""Open file descriptions: what a file descriptor of the emulated backend refers to.

As in Linux (and gVisor), several descriptors may share one description (``dup``): one file
offset, one set of status flags. A description over a provider handle keeps the offset itself
(providers' handles are offset-free channels); a pipe end or a host stream has no offset.
"""

from __future__ import annotations

import errno
import os
import posix
import stat
import threading

from posixbackend.emulated.hostfcntl import host_fcntl
from posixbackend.emulated.pipes import PipeReader, PipeWriter
from vfs import Handle
from vfs.errors import os_error

O_ACCMODE = 3
STATUS_FLAGS = posix.O_APPEND | posix.O_NONBLOCK | getattr(posix, "O_ASYNC", 0) | posix.O_DIRECT
"""The flags F_SETFL may change after open (O_NOATIME aside)."""
_gates_lock = threading.Lock()
SEEK_DATA = getattr(os, "SEEK_DATA", 3)
SEEK_HOLE = getattr(os, "SEEK_HOLE", 4)
OFF_T_MAX = (1 << 63) - 1


class Description:
    """One open file description; subclasses say how data moves through it.

    ``refs`` counts the descriptors sharing it: the underlying object is released when the last
    one closes. ``flags`` holds the open flags (access mode and status flags).
    """

    __slots__ = ("flags", "refs")

    def __init__(self, flags: int) -> None:
        self.flags = flags
        self.refs = 1

    # -- the operations every kind of file answers ------------------------------------------

    def read(self, n: int) -> bytes:
        raise os_error(errno.EINVAL)

    def write(self, data: bytes) -> int:
        raise os_error(errno.EINVAL)

    def read_nowait(self, n: int) -> bytes:
        """A read that fails with EAGAIN rather than wait (RWF_NOWAIT); files never wait."""
        return self.read(n)

    def write_nowait(self, data: bytes) -> int:
        """A write that fails with EAGAIN rather than wait (RWF_NOWAIT)."""
        return self.write(data)

    def pread(self, n: int, offset: int) -> bytes:
        raise os_error(errno.ESPIPE)

    def pwrite(self, data: bytes, offset: int) -> int:
        raise os_error(errno.ESPIPE)

    def seek(self, position: int, whence: int) -> int:
        raise os_error(errno.ESPIPE)

    def truncate(self, length: int) -> None:
        raise os_error(errno.EINVAL)

    def sync(self) -> None:
        """fsync: nothing to flush unless a subclass says otherwise."""

    def stat(self) -> os.stat_result:
        raise NotImplementedError(f"{type(self).__name__} does not define stat()")

    def release(self) -> None:
        """The last descriptor closed: release the underlying object."""

    def chmod(self, mode: int) -> None:
        """fchmod."""
        raise os_error(errno.EINVAL)

    def chown(self, uid: int, gid: int) -> None:
        """fchown."""
        raise os_error(errno.EINVAL)

    def utime(self, ns: tuple[int, int] | None) -> None:
        """futimens."""
        raise os_error(errno.EINVAL)

    def statvfs(self) -> os.statvfs_result:
        """fstatvfs."""
        raise os_error(errno.EINVAL)

    def isatty(self) -> bool:
        return False

    @property
    def handle(self) -> Handle | None:
        """The provider handle behind this description, if it is a provider's file."""
        return None

    @property
    def nonblocking(self) -> bool:
        return bool(self.flags & posix.O_NONBLOCK)

    def set_status_flags(self, flags: int) -> None:
        """F_SETFL: replace the changeable status flags, keep the rest."""
        self.flags = (self.flags & ~STATUS_FLAGS) | (flags & STATUS_FLAGS)


class FileDescription(Description):
    """A provider's file or directory, with the file offset kept here.

    The offset lives in a one-slot list, ``cell``, that doubles as its lock (Linux's
    f_pos_lock): whoever pops the value owns the offset until it appends the new one, so
    read/write/lseek on a shared description are atomic with respect to it, and O_APPEND writes
    go to the end in one step of the provider. ``list.pop`` and ``list.append`` are atomic, and
    far cheaper than a lock's acquire and release; a thread that finds the cell empty waits on
    ``_gate`` until the owner puts the offset back.
    """

    __slots__ = ("_gate", "_handle", "_waiting", "cell")

    def __init__(self, handle: Handle, flags: int) -> None:  # the base's work, inline: hot
        self.flags = flags
        self.refs = 1
        self._handle = handle
        self.cell = [0]
        self._waiting = 0
        self._gate: threading.Condition | None = None

    @property
    def handle(self) -> Handle:
        return self._handle

    # -- the offset ------------------------------------------------------------------------

    def take(self) -> int:
        """Take the offset (and with it the right to move it); :meth:`put` must follow."""
        try:
            return self.cell.pop()
        except IndexError:
            return self._wait_for_offset()

    def put(self, offset: int) -> None:
        """Give back the offset taken with :meth:`take`, set to ``offset``."""
        self.cell.append(offset)
        if self._waiting:
            self._wake_one()

    def _wait_for_offset(self) -> int:
        """The contended case of :meth:`take`: sleep until the owner gives the offset back."""
        with _gates_lock:
            if self._gate is None:
                self._gate = threading.Condition(threading.Lock())
            gate = self._gate
        with gate:
            self._waiting += 1
            try:
                while True:
                    try:
                        return self.cell.pop()
                    except IndexError:
                        gate.wait()
            finally:
                self._waiting -= 1

    def _wake_one(self) -> None:
        gate = self._gate
        if gate is not None:
            with gate:
                gate.notify()

    @property
    def offset(self) -> int:
        """The current offset (waits for a read or write in progress to finish)."""
        offset = self.take()
        self.put(offset)
        return offset

    # -- data --------------------------------------------------------------------------------

    # read, write and seek inline take() and put(): they are the hot paths

    def read(self, n: int) -> bytes:
        cell = self.cell
        try:
            offset = cell.pop()
        except IndexError:
            offset = self._wait_for_offset()
        try:
            data = self._handle.pread(n, offset)
            offset += len(data)
        finally:
            cell.append(offset)
            if self._waiting:
                self._wake_one()
        return data

    def write(self, data: bytes) -> int:
        cell = self.cell
        try:
            offset = cell.pop()
        except IndexError:
            offset = self._wait_for_offset()
        try:
            if self.flags & posix.O_APPEND and data:  # nothing written: the offset stays
                offset = self._handle.append(data)
                return len(data)
            written = self._handle.pwrite(data, offset)
            offset += written
        finally:
            cell.append(offset)
            if self._waiting:
                self._wake_one()
        return written

    def pread(self, n: int, offset: int) -> bytes:
        if offset < 0:
            raise os_error(errno.EINVAL)
        return self._handle.pread(n, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        if offset < 0:
            raise os_error(errno.EINVAL)
        return self._handle.pwrite(data, offset)

    def seek(self, position: int, whence: int) -> int:
        cell = self.cell  # a racing read or write sees the offset before or after, whole
        try:
            offset = cell.pop()
        except IndexError:
            offset = self._wait_for_offset()
        try:
            if whence == 0 and 0 <= position <= OFF_T_MAX:  # SEEK_SET, the common case
                offset = position
                return offset
            if whence == os.SEEK_SET:
                target = position
            elif whence == os.SEEK_CUR:
                target = offset + position
            elif whence == os.SEEK_END:
                target = self._handle.size() + position
            elif whence in (SEEK_DATA, SEEK_HOLE):
                target = self._handle.seek_data(position, whence)
            else:
                raise os_error(errno.EINVAL)
            if target < 0:
                raise os_error(errno.EINVAL)
            if target > OFF_T_MAX:
                raise os_error(errno.EOVERFLOW)
            offset = target
            return target
        finally:
            cell.append(offset)
            if self._waiting:
                self._wake_one()

    def truncate(self, length: int) -> None:
        self._handle.truncate(length)

    def sync(self) -> None:
        self._handle.sync()

    def stat(self) -> os.stat_result:
        return self._handle.stat()

    def chmod(self, mode: int) -> None:
        self._handle.chmod(mode)

    def chown(self, uid: int, gid: int) -> None:
        self._handle.chown(uid, gid)

    def utime(self, ns: tuple[int, int] | None) -> None:
        self._handle.utime(ns)

    def statvfs(self) -> os.statvfs_result:
        return self._handle.statvfs()

    def release(self) -> None:
        self._handle.close()


class PipeDescription(Description):
    """One end of an in-memory pipe: no offset (ESPIPE), blocking unless O_NONBLOCK."""

    __slots__ = ("end",)

    def __init__(self, end: PipeReader | PipeWriter, flags: int) -> None:
        super().__init__(flags)
        self.end = end

    def read(self, n: int) -> bytes:
        end = self.end
        if not isinstance(end, PipeReader):
            raise os_error(errno.EBADF)
        return end.read(n, nonblocking=bool(self.flags & posix.O_NONBLOCK))

    def write(self, data: bytes) -> int:
        end = self.end
        if not isinstance(end, PipeWriter):
            raise os_error(errno.EBADF)
        return end.write(data, nonblocking=bool(self.flags & posix.O_NONBLOCK))

    def read_nowait(self, n: int) -> bytes:
        end = self.end
        if not isinstance(end, PipeReader):
            raise os_error(errno.EBADF)
        return end.read(n, nonblocking=True)

    def write_nowait(self, data: bytes) -> int:
        end = self.end
        if not isinstance(end, PipeWriter):
            raise os_error(errno.EBADF)
        return end.write(data, nonblocking=True)

    def stat(self) -> os.stat_result:
        return self.end.stat()

    def release(self) -> None:
        self.end.close()


class HostDescription(Description):
    """A real file descriptor of this process used through the emulated table (stdio).

    ``owned`` says whether the real descriptor is closed with the description; the standard
    streams are not, since the rest of the process keeps using them.
    """

    __slots__ = ("fd", "owned")

    def __init__(self, fd: int, flags: int, *, owned: bool) -> None:
        super().__init__(flags)
        self.fd = fd
        self.owned = owned

    def read(self, n: int) -> bytes:
        return posix.read(self.fd, n)

    def write(self, data: bytes) -> int:
        return posix.write(self.fd, data)

    def pread(self, n: int, offset: int) -> bytes:
        return posix.pread(self.fd, n, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        return posix.pwrite(self.fd, data, offset)

    def seek(self, position: int, whence: int) -> int:
        return posix.lseek(self.fd, position, whence)

    def truncate(self, length: int) -> None:
        posix.ftruncate(self.fd, length)

    def sync(self) -> None:
        posix.fsync(self.fd)

    def stat(self) -> os.stat_result:
        return posix.fstat(self.fd)

    def isatty(self) -> bool:
        return posix.isatty(self.fd)

    def chmod(self, mode: int) -> None:
        posix.fchmod(self.fd, mode)

    def chown(self, uid: int, gid: int) -> None:
        posix.fchown(self.fd, uid, gid)

    def utime(self, ns: tuple[int, int] | None) -> None:
        if ns is None:
            posix.utime(self.fd)
        else:
            posix.utime(self.fd, ns=ns)

    def statvfs(self) -> os.statvfs_result:
        return posix.fstatvfs(self.fd)

    def release(self) -> None:
        if self.owned:
            posix.close(self.fd)

    @classmethod
    def standard(cls, fd: int) -> HostDescription | None:
        """The process's own stdin, stdout or stderr, if that descriptor is open."""
        try:
            flags = _host_flags(fd)
        except OSError:
            return None
        return cls(fd, flags, owned=False)

    @classmethod
    def inherited(cls, fd: int) -> tuple[HostDescription, bool] | None:
        """A real descriptor the process inherited, owned (closed with it), and whether it is
        close-on-exec; None when ``fd`` is not open."""
        import fcntl

        try:
            flags = _host_flags(fd)
            cloexec = bool(host_fcntl(fd, fcntl.F_GETFD, 0) & fcntl.FD_CLOEXEC)
        except OSError:
            return None
        return cls(fd, flags, owned=True), cloexec


def _host_flags(fd: int) -> int:
    """The access mode and status flags of a real descriptor (F_GETFL without fcntl's import)."""
    import fcntl

    return host_fcntl(fd, fcntl.F_GETFL, 0)


def readable(description: Description) -> bool:
    """Whether the description was opened for reading (FMODE_READ; never with O_PATH)."""
    flags = description.flags
    return not flags & posix.O_PATH and flags & O_ACCMODE in (posix.O_RDONLY, posix.O_RDWR)


def writable(description: Description) -> bool:
    """Whether the description was opened for writing (FMODE_WRITE; never with O_PATH)."""
    flags = description.flags
    return not flags & posix.O_PATH and flags & O_ACCMODE in (posix.O_WRONLY, posix.O_RDWR)


def file_position(description: Description) -> int:
    """The description's file offset (f_pos): a file's own, a host descriptor's where it has
    one, 0 for pipes and everything else without one (as Linux keeps it)."""
    if isinstance(description, FileDescription):
        return description.offset
    if isinstance(description, HostDescription):
        try:
            return posix.lseek(description.fd, 0, os.SEEK_CUR)
        except OSError:
            return 0
    return 0


def is_directory(description: Description) -> bool:
    """Whether the description is an open directory (for fchdir, dir_fd and listdir(fd))."""
    handle = description.handle
    return handle is not None and stat.S_ISDIR(handle.stat().st_mode)
