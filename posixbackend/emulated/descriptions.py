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
from _thread import LockType

import compat
from posixbackend.emulated.hostfcntl import host_fcntl
from posixbackend.emulated.pipes import PipeReader, PipeWriter
from vfs import Handle
from vfs.errors import os_error
from vfs.openflags import O_ACCMODE

STATUS_FLAGS = posix.O_APPEND | posix.O_NONBLOCK | getattr(posix, "O_ASYNC", 0) | posix.O_DIRECT
"""The flags F_SETFL may change after open (O_NOATIME aside)."""
_gates_lock = threading.Lock()
"""Makes a description's ``_gate`` once when two waiters arrive together; held only for that
test-and-set, never while a waiter sleeps on the gate (the offset itself is ``busy``)."""
WRITE_IN_PROVIDER = compat.declare(
    id="emulated.offset.write_interrupted",
    function="os.write",
    aspect="an asynchronous exception inside a provider's write, after its data landed",
    level=compat.Level.FINE,
    explanation="a KeyboardInterrupt or time limit delivered inside the provider's own write "
    "(os.write, writev, sendfile, copy_file_range at a file offset) after the provider stored "
    "the data, e.g. right after the host's pwrite system call returned or as the memory file "
    "system releases its lock, propagates with the data written and the file offsets where "
    "they were; Linux finishes the write and moves the offset. The offset itself is never "
    "lost, and an exception anywhere else leaves the call done whole or not at all",
)
_POLL_SECONDS = 0.05
"""How long a thread waiting for a description's offset sleeps before it looks again."""
SEEK_DATA = getattr(os, "SEEK_DATA", 3)
SEEK_HOLE = getattr(os, "SEEK_HOLE", 4)
OFF_T_MAX = (1 << 63) - 1


class Description:
    """One open file description; subclasses say how data moves through it.

    ``refs`` counts the descriptors sharing it: the underlying object is released when the last
    one closes. ``flags`` holds the open flags (access mode and status flags).
    """

    __slots__ = ("flags", "refs")
    # read by offset in posixbackend's C code
    __accelerated_slots__: tuple[str, ...] = ("flags", "refs")

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

    def set_status_flags(self, flags: int, changeable: int = STATUS_FLAGS) -> None:
        """F_SETFL: replace the ``changeable`` status flags, keep the rest."""
        self.flags = (self.flags & ~changeable) | (flags & changeable)


class FileDescription(Description):
    """A provider's file or directory, with the file offset kept here.

    The offset is ``position``; ``busy`` is its lock (Linux's f_pos_lock): a call that moves
    the offset sets ``busy`` when it finds it clear and clears it when it stores the new
    offset, so read/write/lseek on a shared description are atomic with respect to it, and
    O_APPEND writes go to the end in one step of the provider. The test, the set and the clear
    are attribute loads and stores, no calls: CPython delivers an asynchronous exception
    (KeyboardInterrupt, a time limit) and switches threads only when a function starts, after a
    C call returns and at a backward jump, so no other thread runs between the test and the
    set, and none can land between the set and the ``try`` whose ``finally`` stores the offset
    and clears ``busy``, nor in that ``finally`` before both are done. The offset is thus
    never lost and the lock never left held (a one-slot list popped and appended back, as
    before, lost both to an exception landing right after ``pop`` returned). A thread that
    finds ``busy`` set waits on ``_gate`` (see :meth:`_wait_for_offset`).
    """

    __slots__ = ("_gate", "_handle", "_waiting", "busy", "position")
    # read by offset in posixbackend's C code
    __accelerated_slots__ = ("_gate", "_handle", "_waiting", "busy", "position")

    def __init__(self, handle: Handle, flags: int) -> None:  # the base's work, inline: hot
        self.flags = flags
        self.refs = 1
        self._handle = handle
        self.position = 0
        self.busy = False
        self._waiting = 0
        self._gate: LockType | None = None

    @property
    def handle(self) -> Handle:
        return self._handle

    # -- the offset ------------------------------------------------------------------------

    def _wait_for_offset(self) -> None:
        """The contended case: sleep until no call holds the offset (the caller then takes it,
        or waits again if another thread was first).

        The gate is a lock held closed; :meth:`_wake_one` opens it (one ``release``), and the
        waiter that passes closes it again. A wake-up an interruption cut short (an exception
        landing in the owner's ``finally`` after it cleared ``busy``, before the release)
        costs a waiter one poll interval, never the offset.
        """
        gate = self._gate
        if gate is None:
            with _gates_lock:
                gate = self._gate
                if gate is None:
                    closed = threading.Lock()
                    closed.acquire()
                    self._gate = gate = closed
        self._waiting += 1
        try:
            while self.busy:
                gate.acquire(timeout=_POLL_SECONDS)
        finally:
            self._waiting -= 1

    def _wake_one(self) -> None:
        """Open the gate for one waiter (it may be open already)."""
        gate = self._gate
        if gate is not None and gate.locked():
            try:
                gate.release()
            except RuntimeError:  # another owner opened it between the test and here
                pass

    @property
    def offset(self) -> int:
        """The current offset (waits for a read or write in progress to finish)."""
        while self.busy:
            self._wait_for_offset()
        return self.position

    # -- data --------------------------------------------------------------------------------

    # every method that moves the offset takes it inline (no helper, whose start would be a
    # point where an exception lands): test and set ``busy``, then at once the ``try``

    def read(self, n: int) -> bytes:
        while self.busy:
            self._wait_for_offset()
        self.busy = True
        offset = self.position
        try:
            data = self._handle.pread(n, offset)
            offset += len(data)  # an exception before this: nothing was read, nothing moves
        finally:
            self.position = offset
            self.busy = False
            if self._waiting:
                self._wake_one()
        return data

    def write(self, data: bytes) -> int:
        while self.busy:
            self._wait_for_offset()
        self.busy = True
        offset = self.position
        try:
            if self.flags & posix.O_APPEND and data:  # nothing written: the offset stays
                offset = self._handle.append(data)
                return len(data)
            written = self._handle.pwrite(data, offset)
            offset += written
        finally:
            self.position = offset
            self.busy = False
            if self._waiting:
                self._wake_one()
        return written

    def append_moving(self, data: bytes) -> int:
        """A write at the end of file that moves the offset after it, whatever O_APPEND says
        (pwritev2's RWF_APPEND at the file offset); the count written."""
        while self.busy:
            self._wait_for_offset()
        self.busy = True
        offset = self.position
        try:
            offset = self._handle.append(data)
        finally:
            self.position = offset
            self.busy = False
            if self._waiting:
                self._wake_one()
        return len(data)

    def pread(self, n: int, offset: int) -> bytes:
        if offset < 0:
            raise os_error(errno.EINVAL)
        return self._handle.pread(n, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        if offset < 0:
            raise os_error(errno.EINVAL)
        return self._handle.pwrite(data, offset)

    def seek(self, position: int, whence: int) -> int:
        while self.busy:  # a racing read or write sees the offset before or after, whole
            self._wait_for_offset()
        self.busy = True
        offset = self.position
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
            self.position = offset
            self.busy = False
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

    def sync(self) -> None:
        """fsync/fdatasync: a pipe has nothing to flush to, and Linux says EINVAL."""
        raise os_error(errno.EINVAL)

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
