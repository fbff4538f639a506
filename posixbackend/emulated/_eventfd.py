"""os.eventfd, os.eventfd_read and os.eventfd_write: in-memory event counters (eventfd(2)).

An eventfd is a 64-bit counter behind a descriptor. A write of 8 bytes (a native-endian
unsigned value, never 2**64-1) adds to it, waiting while the sum would pass 2**64-2; a read of
at least 8 bytes waits until it is not zero, then takes all of it (or 1, with EFD_SEMAPHORE)
and returns the value taken as 8 bytes. EFD_NONBLOCK turns the waits into EAGAIN
(BlockingIOError). Any other size is EINVAL, as on Linux 6.x (writes must be exactly 8 bytes);
fstat shows Linux's anonymous inode (mode 0o600, no file type bits, owned by root), lseek
answers 0, pread and pwrite are ESPIPE, fsync and ftruncate EINVAL, fchmod, fchown and
futimens EOPNOTSUPP.

``select``, ``poll`` and ``epoll`` are C code that asks the real kernel about real
descriptors: they cannot watch an emulated eventfd (the virtual-descriptor gap).
"""

from __future__ import annotations

import errno
import posix
import struct
import threading
import time
from typing import Any, Final

from posixbackend.emulated._unsigned import ULLONG_MAX, unsigned_int_arg, unsigned_long_long_arg
from posixbackend.emulated.args import fildes_arg, int_arg
from posixbackend.emulated.core import VIRTUAL_FDS, BackendCore
from posixbackend.emulated.descriptions import Description
from vfs.errors import os_error

EFD_SEMAPHORE: Final = 1
EFD_CLOEXEC: Final = posix.O_CLOEXEC
EFD_NONBLOCK: Final = posix.O_NONBLOCK
EFD_FLAGS: Final = EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK
"""The flags eventfd2(2) accepts."""
COUNTER_MAX: Final = ULLONG_MAX - 1
"""The largest value the counter holds."""
_VALUE: Final = struct.Struct("=Q")

ANON_INODE_DEVICE: Final = posix.makedev(0, 0xFE)
"""st_dev of anonymous inodes: a pseudo device like Linux's anon_inodefs (beside pipes' 0xFF)."""
ANON_INODE_NUMBER: Final = 1
"""Linux gives every eventfd the same anonymous inode."""
_BORN: Final = time.time_ns()


def _anon_inode_stat() -> posix.stat_result:
    """fstat of an eventfd: the shared anonymous inode, mode 0o600 without a file type."""
    seconds = _BORN // 1_000_000_000
    return posix.stat_result(
        (
            0o600, ANON_INODE_NUMBER, ANON_INODE_DEVICE, 1, 0, 0, 0,
            seconds, seconds, seconds,
            _BORN / 1e9, _BORN / 1e9, _BORN / 1e9,
            _BORN, _BORN, _BORN,
            4096, 0, 0,
        )
    )  # fmt: skip


ANON_INODE_STAT: Final = _anon_inode_stat()
ANON_STATVFS: Final = posix.statvfs_result((4096, 4096, 0, 0, 0, 0, 0, 0, 0, 255))
"""fstatvfs of an anonymous inode: an empty file system."""


class EventCounter:
    """The counter one eventfd holds, shared by every descriptor of it; thread-safe."""

    __slots__ = ("_changed", "_semaphore", "_value")

    def __init__(self, initval: int, *, semaphore: bool) -> None:
        if not 0 <= initval <= COUNTER_MAX:
            raise ValueError(f"an eventfd counter holds 0 to {COUNTER_MAX}, not {initval}")
        self._value = initval
        self._semaphore = semaphore
        self._changed = threading.Condition(threading.Lock())
        """Guards the counter's read-modify-write (read and write of 8 bytes are each one
        step, as eventfd_read/eventfd_write under the waitqueue lock); blocked readers and
        writers sleep on it until the value lets them through."""

    @property
    def value(self) -> int:
        """The count now."""
        return self._value

    def take(self, *, nonblocking: bool) -> int:
        """Wait for a non-zero count (EAGAIN if ``nonblocking``), then take it (1 of it for a
        semaphore) and return what was taken."""
        with self._changed:
            if not self._value:
                if nonblocking:
                    raise os_error(errno.EAGAIN)
                self._changed.wait_for(lambda: self._value > 0)
            taken = 1 if self._semaphore else self._value
            self._value -= taken
            self._changed.notify_all()
            return taken

    def add(self, amount: int, *, nonblocking: bool) -> None:
        """Wait until ``amount`` fits below 2**64-1 (EAGAIN if ``nonblocking``), then add it."""
        if not 0 <= amount <= COUNTER_MAX:
            raise os_error(errno.EINVAL)
        with self._changed:
            if self._value + amount > COUNTER_MAX:
                if nonblocking:
                    raise os_error(errno.EAGAIN)
                self._changed.wait_for(lambda: self._value + amount <= COUNTER_MAX)
            self._value += amount
            self._changed.notify_all()


class EventfdDescription(Description):
    """The open file description of an eventfd: its counter, O_RDWR and perhaps O_NONBLOCK."""

    __slots__ = ("counter",)

    def __init__(self, counter: EventCounter, flags: int) -> None:
        super().__init__(flags)
        self.counter = counter

    def read(self, n: int) -> bytes:
        return self._read(n, nonblocking=self.nonblocking)

    def read_nowait(self, n: int) -> bytes:
        return self._read(n, nonblocking=True)

    def _read(self, n: int, *, nonblocking: bool) -> bytes:
        if n < _VALUE.size:
            raise os_error(errno.EINVAL)
        return _VALUE.pack(self.counter.take(nonblocking=nonblocking))

    def write(self, data: bytes) -> int:
        if len(data) != _VALUE.size:
            raise os_error(errno.EINVAL)
        (amount,) = _VALUE.unpack(data)
        self.counter.add(amount, nonblocking=self.nonblocking)
        return _VALUE.size

    def seek(self, position: int, whence: int) -> int:
        """noop_llseek: the offset stays 0."""
        return 0

    def sync(self) -> None:
        raise os_error(errno.EINVAL)

    def stat(self) -> posix.stat_result:
        return ANON_INODE_STAT

    def statvfs(self) -> posix.statvfs_result:
        return ANON_STATVFS

    def chmod(self, mode: int) -> None:
        raise os_error(errno.EOPNOTSUPP)

    def chown(self, uid: int, gid: int) -> None:
        raise os_error(errno.EOPNOTSUPP)

    def utime(self, ns: tuple[int, int] | None) -> None:
        raise os_error(errno.EOPNOTSUPP)


class EventfdFunctions(BackendCore):
    """os.eventfd, os.eventfd_read and os.eventfd_write."""

    def eventfd(self, initval: Any, flags: Any = EFD_CLOEXEC) -> int:
        """os.eventfd: a new eventfd counting from ``initval``; close-on-exec by default."""
        initval, flags = unsigned_int_arg(initval), int_arg(flags)
        if flags & ~EFD_FLAGS:
            raise os_error(errno.EINVAL)
        counter = EventCounter(initval, semaphore=bool(flags & EFD_SEMAPHORE))
        description = EventfdDescription(counter, posix.O_RDWR | flags & EFD_NONBLOCK)
        fd = self._table.install(description, cloexec=bool(flags & EFD_CLOEXEC))
        if self._virtual_fds_unreported:
            self._virtual_fds_unreported = False
            VIRTUAL_FDS.hit()
        return fd

    def eventfd_read(self, fd: Any) -> int:
        """os.eventfd_read: read 8 bytes from ``fd`` (any descriptor, as glibc's does) as an
        unsigned count."""
        data = self._description(fildes_arg(fd)).read(_VALUE.size)
        if len(data) != _VALUE.size:
            raise OSError(0, "Error")  # glibc fails a short read without setting errno
        (value,) = _VALUE.unpack(data)
        return int(value)

    def eventfd_write(self, fd: Any, value: Any) -> None:
        """os.eventfd_write: write ``value`` to ``fd`` as 8 bytes."""
        fd = fildes_arg(fd)
        data = _VALUE.pack(unsigned_long_long_arg(value))
        if self._description(fd).write(data) != _VALUE.size:
            raise OSError(0, "Error")  # as glibc's eventfd_write for a short write
