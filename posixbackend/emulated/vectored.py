"""Scatter and gather I/O: os.readv, os.writev, os.preadv and os.pwritev (with RWF_* flags).

The buffers are checked first, as CPython's ``iov_setup`` does, then the call goes through
Linux's steps (``do_preadv``, ``vfs_readv``, ``kiocb_set_rw_flags``, fs/read_write.c): an
offset below -1 is EINVAL before the descriptor is looked up, -1 means "at the file offset";
an offset on a pipe is ESPIPE; more than IOV_MAX buffers is EINVAL; no bytes at all is 0
whatever the flags; then the flags. Flags on a regular file behave as on ext4: RWF_HIPRI and
RWF_DONTCACHE change nothing here, RWF_DSYNC and RWF_SYNC flush the file after the write,
RWF_APPEND writes at the end, RWF_NOWAIT never waits (buffered writes refuse it with
EOPNOTSUPP, as ext4's do), RWF_ATOMIC is EOPNOTSUPP, unknown bits EOPNOTSUPP; on pipes
RWF_NOWAIT makes the call nonblocking. Host descriptors (the standard streams) go to the real
system call.
"""

from __future__ import annotations

import errno
import posix
from collections.abc import Sequence
from typing import Any

import compat
from posixbackend.emulated._eventfd import EventfdDescription
from posixbackend.emulated.args import buffer_arg, fd_arg, int_arg, off_t_arg
from posixbackend.emulated.core import BackendCore
from posixbackend.emulated.descriptions import (
    Description,
    FileDescription,
    HostDescription,
    is_directory,
    readable,
    writable,
)
from vfs.errors import os_error

RWF_HIPRI = 0x01
RWF_DSYNC = 0x02
RWF_SYNC = 0x04
RWF_NOWAIT = 0x08
RWF_APPEND = 0x10
RWF_NOAPPEND = 0x20
RWF_ATOMIC = 0x40
RWF_DONTCACHE = 0x80
RWF_NOSIGNAL = 0x100
RWF_SUPPORTED = 0x1FF
"""Every RWF_* flag Linux (6.18) knows; other bits are EOPNOTSUPP."""
IOV_MAX = 1024
"""UIO_MAXIOV: the most buffers one call may pass."""
OFF_T_MAX = (1 << 63) - 1

NOAPPEND = compat.declare(
    id="emulated.pwritev.noappend",
    function="os.pwritev",
    aspect="RWF_NOAPPEND on an O_APPEND descriptor",
    level=compat.Level.INFO,
    explanation="a provider's handle opened with O_APPEND always writes at the end, so "
    "pwritev cannot honour RWF_NOAPPEND on such a descriptor: EOPNOTSUPP",
)


def writable_views(buffers: object, function: str) -> list[memoryview]:
    """readv's and preadv's buffers as flat byte views, with CPython's errors for the wrong
    kinds (``iov_setup`` with PyBUF_WRITABLE)."""
    if not isinstance(buffers, Sequence):
        raise TypeError(f"{function}() arg 2 must be a sequence")
    views = []
    for buffer in buffers:
        try:
            view = memoryview(buffer)
        except TypeError:
            raise TypeError(
                f"a bytes-like object is required, not '{type(buffer).__name__}'"
            ) from None
        if view.readonly:  # the exporter's own message for a writable request
            raise BufferError(
                "memoryview: underlying buffer is not writable"
                if isinstance(buffer, memoryview)
                else "Object is not writable."
            )
        views.append(view.cast("B") if view.format != "B" or view.ndim != 1 else view)
    return views


def gathered(buffers: object, function: str) -> list[bytes]:
    """writev's and pwritev's buffers as bytes, with CPython's errors for the wrong kinds."""
    if not isinstance(buffers, Sequence):
        raise TypeError(f"{function}() arg 2 must be a sequence")
    return [buffer_arg(buffer) for buffer in buffers]


def scatter(data: bytes, views: list[memoryview]) -> int:
    """Copy ``data`` into the buffers in order; its length."""
    position = 0
    for view in views:
        if position >= len(data):
            break
        chunk = data[position : position + view.nbytes]
        view[: len(chunk)] = chunk
        position += len(chunk)
    return len(data)


def _looped(description: Description, writing: bool) -> bool:
    """Whether the file has no read_iter (write_iter) method, so that Linux loops over the
    buffers and takes no flag but RWF_HIPRI: directories, and eventfd's write side."""
    if isinstance(description, EventfdDescription):
        return writing
    return isinstance(description, FileDescription) and is_directory(description)


def _check_flags(description: Description, flags: int, writing: bool) -> None:
    """kiocb_set_rw_flags (and the file's own refusals that come before any data moves)."""
    if _looped(description, writing):
        if flags & ~RWF_HIPRI:
            raise os_error(errno.EOPNOTSUPP)
        return
    if flags & ~RWF_SUPPORTED:
        raise os_error(errno.EOPNOTSUPP)
    if flags & RWF_APPEND and flags & RWF_NOAPPEND:
        raise os_error(errno.EINVAL)
    if flags & RWF_ATOMIC:
        raise os_error(errno.EOPNOTSUPP)
    is_file = isinstance(description, FileDescription)
    if flags & RWF_DONTCACHE and not is_file:
        raise os_error(errno.EOPNOTSUPP)
    if writing and is_file and flags & RWF_NOWAIT:
        raise os_error(errno.EOPNOTSUPP)  # ext4's buffered writes cannot promise not to wait


class VectoredFunctions(BackendCore):
    """os.readv, os.writev, os.preadv and os.pwritev."""

    def readv(self, fd: int, buffers: Sequence[Any], /) -> int:
        """os.readv: fill the writable buffers in order; the number of bytes read."""
        fd = fd_arg(fd)
        views = writable_views(buffers, "readv")
        return self._read_vector(fd, views, -1, 0)

    def writev(self, fd: int, buffers: Sequence[Any], /) -> int:
        """os.writev: write the buffers' contents as one write."""
        fd = fd_arg(fd)
        chunks = gathered(buffers, "writev")
        return self._write_vector(fd, chunks, -1, 0)

    def preadv(self, fd: int, buffers: Sequence[Any], offset: int, flags: int = 0, /) -> int:
        """os.preadv: fill the buffers from ``offset`` (-1: the file offset, which then
        moves) without moving the file offset; RWF_* ``flags`` as Linux takes them."""
        fd, offset, flags = fd_arg(fd), off_t_arg(offset), int_arg(flags)
        views = writable_views(buffers, "preadv2")
        return self._read_vector(fd, views, offset, flags)

    def pwritev(self, fd: int, buffers: Sequence[Any], offset: int, flags: int = 0, /) -> int:
        """os.pwritev: write the buffers at ``offset`` (-1: the file offset); RWF_* flags."""
        fd, offset, flags = fd_arg(fd), off_t_arg(offset), int_arg(flags)
        chunks = gathered(buffers, "pwritev")
        return self._write_vector(fd, chunks, offset, flags)

    # -- the system calls ------------------------------------------------------------------

    def _read_vector(self, fd: int, views: list[memoryview], offset: int, flags: int) -> int:
        if offset < -1:
            raise os_error(errno.EINVAL)
        description = self._description(fd)
        if isinstance(description, HostDescription):
            if offset == -1 and not flags:
                return posix.readv(description.fd, views)
            return posix.preadv(description.fd, views, offset, flags)
        _check_request(description, len(views), offset, readable(description))
        total = sum(view.nbytes for view in views)
        if not total:
            return 0
        if offset >= 0 and offset + total > OFF_T_MAX:
            raise os_error(errno.EINVAL)
        _check_flags(description, flags, writing=False)
        if is_directory(description):
            raise os_error(errno.EISDIR)
        if offset >= 0:
            data = description.pread(total, offset)
        elif flags & RWF_NOWAIT:
            data = description.read_nowait(total)
        else:
            data = description.read(total)
        return scatter(data, views)

    def _write_vector(self, fd: int, chunks: list[bytes], offset: int, flags: int) -> int:
        if offset < -1:
            raise os_error(errno.EINVAL)
        description = self._description(fd)
        if isinstance(description, HostDescription):
            if offset == -1 and not flags:
                return posix.writev(description.fd, chunks)
            return posix.pwritev(description.fd, chunks, offset, flags)
        _check_request(description, len(chunks), offset, writable(description))
        data = b"".join(chunks)
        if not data:
            return 0
        if offset >= 0 and offset + len(data) > OFF_T_MAX:
            raise os_error(errno.EINVAL)
        _check_flags(description, flags, writing=True)
        written = _write(description, data, offset, flags)
        if flags & (RWF_DSYNC | RWF_SYNC):
            description.sync()
        return written


def _check_request(description: Description, count: int, offset: int, allowed: bool) -> None:
    """The steps between finding the descriptor and looking at the data: ESPIPE for an offset
    on what has none, EBADF for the wrong access mode, EINVAL past IOV_MAX."""
    if offset >= 0 and not isinstance(description, FileDescription):
        raise os_error(errno.ESPIPE)
    if not allowed:
        raise os_error(errno.EBADF)
    if count > IOV_MAX:
        raise os_error(errno.EINVAL)


def _write(description: Description, data: bytes, offset: int, flags: int) -> int:
    """Write at ``offset`` (-1: the file offset), at the end for RWF_APPEND or O_APPEND."""
    if not isinstance(description, FileDescription):
        return description.write_nowait(data) if flags & RWF_NOWAIT else description.write(data)
    appending = description.flags & posix.O_APPEND
    if flags & RWF_NOAPPEND and appending:
        NOAPPEND.hit()
        raise OSError(errno.EOPNOTSUPP, "RWF_NOAPPEND on an O_APPEND descriptor is not emulated")
    if flags & RWF_APPEND and not appending:
        if offset != -1:
            description.handle.append(data)
            return len(data)
        return description.append_moving(data)  # at the end, and the file offset goes there
    if offset == -1:
        return description.write(data)
    return description.pwrite(data, offset)
