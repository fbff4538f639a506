"""A kernel pipe behind an emulated one, once an end of it is given to a host child.

A pipe shared with another process must be one pipe both processes read and write, or the
bytes one side writes can be taken by a pump before the other side's own read (a
multiprocessing queue pickles both ends to its child). So :meth:`Pipe.promote
<posixbackend.emulated.pipes.Pipe.promote>` moves an emulated pipe into a real one, the way a
memory file moves into a memfd on its first mapping, and from then on its ends read and write
through the descriptors held here: Linux itself gives EOF, EPIPE, capacity and poll states.

The parent's descriptors stay blocking (a child's copy shares their status flags), so a
nonblocking read or write is one call with ``RWF_NOWAIT``, and a blocking one, or one with a
time limit, is such calls between ``poll`` waits: another process taking the bytes between
the wait and the call never leaves the caller stuck in the kernel past its limit.
"""

from __future__ import annotations

import errno
import fcntl
import math
import posix
import select
import time
from collections.abc import Callable
from typing import Final

from posixbackend.emulated.hostfcntl import host_fcntl, host_ioctl
from vfs.errors import os_error

_host_poll: Final[Callable[[], select.poll]] = getattr(select.poll, "__wrapped__", select.poll)
"""select.poll itself, never the switch's stand-in (these descriptors are real)."""

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)
FIONREAD = 0x541B
"""ioctl(FIONREAD): bytes buffered in a pipe (Linux's asm-generic value)."""

READ_EVENTS = select.POLLIN | select.POLLRDNORM | select.POLLHUP
WRITE_EVENTS = select.POLLOUT | select.POLLWRNORM | select.POLLERR


class RealPipe:
    """The parent's two real descriptors of a promoted pipe; -1 for an end the parent no
    longer has (its last emulated end of that kind is gone)."""

    __slots__ = ("read_fd", "write_fd")

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd

    @classmethod
    def holding(cls, data: bytes, capacity: int) -> RealPipe:
        """A new real pipe of ``capacity`` bytes with ``data`` in it (which must fit); all or
        nothing: on any failure both descriptors are closed again."""
        read_fd, write_fd = posix.pipe2(posix.O_CLOEXEC)
        try:
            if capacity != host_fcntl(write_fd, F_GETPIPE_SZ, 0):
                host_fcntl(write_fd, F_SETPIPE_SZ, capacity)
            view = memoryview(data)
            while view:
                view = view[posix.pwritev(write_fd, [view], -1, posix.RWF_NOWAIT) :]
        except BaseException:
            posix.close(read_fd)
            posix.close(write_fd)
            raise
        return cls(read_fd, write_fd)

    def close_reader(self) -> None:
        """The parent's last read end is gone: writers everywhere see EPIPE once no child
        has one either."""
        fd, self.read_fd = self.read_fd, -1
        if fd >= 0:
            posix.close(fd)

    def close_writer(self) -> None:
        """The parent's last write end is gone: readers see EOF once no child has one."""
        fd, self.write_fd = self.write_fd, -1
        if fd >= 0:
            posix.close(fd)

    def any_fd(self) -> int:
        """A descriptor of the pipe, for what either end answers (FIONREAD, pipe size)."""
        return self.read_fd if self.read_fd >= 0 else self.write_fd

    def readinto(self, buffer: memoryview, nonblocking: bool, deadline: float | None) -> int:
        """read(2) into ``buffer``: 0 at EOF, EAGAIN when nonblocking and empty, ETIMEDOUT
        once ``deadline`` (monotonic) passes."""
        while True:
            try:
                return posix.preadv(self.read_fd, [buffer], -1, posix.RWF_NOWAIT)
            except BlockingIOError:
                if nonblocking:
                    raise
            if not _wait(self.read_fd, select.POLLIN, deadline):
                raise os_error(errno.ETIMEDOUT)

    def write(self, view: memoryview, nonblocking: bool, deadline: float | None) -> int:
        """write(2) of ``view``: blocking, all of it (at most PIPE_BUF bytes at once, as the
        kernel makes such writes atomic); nonblocking, what fits; the count written, or the
        error (EAGAIN, EPIPE, ETIMEDOUT) if that is nothing."""
        written = 0
        total = len(view)
        while written < total:
            try:
                written += posix.pwritev(self.write_fd, [view[written:]], -1, posix.RWF_NOWAIT)
                continue
            except BlockingIOError:
                if nonblocking:
                    return _stopped(written, errno.EAGAIN)
            except BrokenPipeError:
                return _stopped(written, errno.EPIPE)
            if not _wait(self.write_fd, select.POLLOUT, deadline):
                return _stopped(written, errno.ETIMEDOUT)
        return written

    def available(self) -> int:
        """ioctl(FIONREAD) on the pipe."""
        buffer = bytearray(4)
        host_ioctl(self.any_fd(), FIONREAD, buffer)
        return int.from_bytes(buffer, "little", signed=True)

    def capacity(self) -> int:
        """F_GETPIPE_SZ."""
        return host_fcntl(self.any_fd(), F_GETPIPE_SZ, 0)

    def resize(self, capacity: int) -> int:
        """F_SETPIPE_SZ, with the kernel's own rounding and errors (EBUSY)."""
        return host_fcntl(self.any_fd(), F_SETPIPE_SZ, capacity)

    @staticmethod
    def events(fd: int, interest: int) -> int:
        """The poll(2) events ``fd`` reports now, within ``interest``."""
        poller = _host_poll()
        poller.register(fd, interest)
        found = poller.poll(0)
        return found[0][1] & interest if found else 0


def _wait(fd: int, events: int, deadline: float | None) -> bool:
    """Wait for ``events`` (or an error or hang-up) on ``fd``; False once ``deadline`` passed."""
    poller = _host_poll()
    poller.register(fd, events)
    if deadline is None:
        poller.poll()
        return True
    left = deadline - time.monotonic()
    if left <= 0:
        return False
    poller.poll(math.ceil(left * 1000))
    return True


def _stopped(written: int, code: int) -> int:
    """The partial count of a write that cannot go on, or the error if nothing went."""
    if written:
        return written
    raise os_error(code)
