"""os.sendfile, os.splice and os.copy_file_range: data moved from one descriptor to another.

Linux moves such data without a user buffer; here it passes through this process, after the
checks Linux makes, in the kernel's order (``do_sendfile``, ``__do_splice``/``do_splice`` and
``vfs_copy_file_range`` in fs/read_write.c and fs/splice.c): a bad offset is EINVAL before the
other descriptor is even looked up, a count of 0 makes splice return at once. Pipes take
spliced data as buffers cut at the file's page borders and give theirs up buffer by buffer
(``pipes.py``), so how much one call moves matches a real pipe. sendfile from a file to itself
moves what Linux's page cache makes of it (an overlapping copy repeats itself, see
:func:`_copy_within`); copy_file_range refuses overlapping ranges of one file (EINVAL), as
Linux does. Two host descriptors (the standard streams) are handed to the real system call.
"""

from __future__ import annotations

import errno
import os
import posix
import resource
import stat
from collections.abc import Callable

import compat
from posixbackend.emulated._unsigned import unsigned_int_arg
from posixbackend.emulated.args import fd_arg, off_t_arg, ssize_arg
from posixbackend.emulated.core import BackendCore
from posixbackend.emulated.descriptions import (
    Description,
    FileDescription,
    HostDescription,
    PipeDescription,
    file_position,
    is_directory,
    readable,
    writable,
)
from posixbackend.emulated.pipes import PipeReader, PipeWriter
from vfs.errors import os_error
from vfs.memory.handle import MemoryHandle
from vfs.openflags import O_ACCMODE

SPLICE_F_ALL = 0x0F
"""SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT: what splice accepts."""
MAX_RW_COUNT = 0x7FFFF000
"""Linux moves at most this much in one read, write or transfer (INT_MAX & PAGE_MASK)."""
OFF_T_MAX = (1 << 63) - 1
CHUNK = 1 << 20

SPLICE_INTERRUPTED = compat.declare(
    id="emulated.offset.splice_interrupted",
    function="os.sendfile",
    aspect="an asynchronous exception inside sendfile or splice from a file into a pipe",
    level=compat.Level.FINE,
    explanation="sendfile and splice from a file into an in-memory pipe move the file offset "
    "as each piece is read, inside the pipe's lock: an exception (KeyboardInterrupt, a time "
    "limit) landing between a read and the pipe taking its bytes leaves the offset past data "
    "the pipe never received; Linux moves the offset only by what the pipe took",
)
CROSS_DEVICE_COPY = compat.declare(
    id="os.copy_file_range.cross_device",
    function="os.copy_file_range",
    aspect="files on different devices (mounts)",
    level=compat.Level.FINE,
    explanation="EXDEV, as Linux 5.19+ gives between two tmpfs or ext4 mounts; Linux lets "
    "the file systems with a copy_file_range of their own (NFS, CIFS, FUSE, overlayfs) copy "
    "across their mounts",
)
"""Bytes held in memory at once while a transfer copies between two files."""
_U64 = 1 << 64
_READ_MODES = (posix.O_RDONLY, posix.O_RDWR)
_WRITE_MODES = (posix.O_WRONLY, posix.O_RDWR)


def _verify_area(position: int, count: int) -> None:
    """rw_verify_area: EINVAL for a negative offset or count, or a range past the largest
    offset."""
    if position < 0 or count < 0 or position + count > OFF_T_MAX:
        raise os_error(errno.EINVAL)


def _positional(description: Description) -> bool:
    """Whether reads and writes can be given an offset (FMODE_PREAD): not pipes, not
    eventfds; a host descriptor where the host can seek it."""
    if isinstance(description, FileDescription):
        return True
    if isinstance(description, HostDescription):
        return not stat.S_ISFIFO(description.stat().st_mode) and not description.isatty()
    return False


def _pipe_end(description: Description) -> PipeReader | PipeWriter | None:
    """The in-memory pipe end behind a description, if it is one."""
    return description.end if isinstance(description, PipeDescription) else None


def _host_pipe(description: Description) -> bool:
    """Whether a host descriptor is a pipe (which splice then treats as one)."""
    return isinstance(description, HostDescription) and stat.S_ISFIFO(description.stat().st_mode)


def _splice_source(description: Description) -> bool:
    """Whether data can be spliced out of a description that is no pipe (f_op->splice_read):
    files and host descriptors do, directories, eventfds and pipes (here) do not."""
    if isinstance(description, FileDescription):
        return not is_directory(description)
    return isinstance(description, HostDescription) and not _host_pipe(description)


def _splice_sink(description: Description) -> bool:
    """Whether data can be spliced into a description that is no pipe (f_op->splice_write)."""
    return isinstance(description, (FileDescription, HostDescription))


class _Source:
    """Where a transfer reads: from ``position`` on, or at the file offset, which moves by what
    was read (and back by what the other end did not take). ``moved`` counts what the other
    end took (see :func:`_copy`)."""

    def __init__(self, description: Description, position: int | None) -> None:
        self.description = description
        self.position = position
        self.moved = 0

    def read(self, n: int) -> bytes:
        description = self.description
        if not _splice_source(description):
            raise os_error(errno.EINVAL)
        if self.position is None:
            return description.read(n)
        data = description.pread(n, self.position)
        self.position += len(data)
        return data

    def unread(self, n: int) -> None:
        """Give back the last ``n`` bytes read: the next transfer starts with them."""
        if not n:
            return
        if self.position is None:
            self.description.seek(-n, os.SEEK_CUR)
        else:
            self.position -= n


class _Sink:
    """Where a transfer writes: from ``position`` on, or at the file offset."""

    def __init__(self, description: Description, position: int | None) -> None:
        self.description = description
        self.position = position

    def write(self, data: bytes) -> int:
        description = self.description
        if not _splice_sink(description):
            raise os_error(errno.EINVAL)
        if self.position is None:
            return description.write(data)
        written = description.pwrite(data, self.position)
        self.position += written
        return written


Copy = Callable[["_Source", "_Sink", int], int]


def _copy(source: _Source, sink: _Sink, count: int) -> int:
    """Copy up to ``count`` bytes, a chunk at a time, until the source ends or the sink
    takes less; the source offset ends after what the sink took. An error after some bytes
    moved ends the copy with its count, as a short transfer."""
    return _holding(source, sink, count, _copy_moving)


def _holding(source: _Source, sink: _Sink, count: int, copy: Copy) -> int:
    """Run ``copy`` with the file offsets it reads or writes at held (:func:`_held`) and given
    back moved by what the sink took, so an exception landing between a read and the write of
    its data, or after a write, cannot leave an offset that disagrees with the data."""
    held = [
        end.description
        for end in (source, sink)
        if end.position is None and isinstance(end.description, FileDescription)
    ]
    if len(held) == 2 and held[0] is held[1]:  # both ends at one offset: hold it once
        held = held[:1]
    elif len(held) == 2 and id(held[1]) < id(held[0]):
        held = [held[1], held[0]]  # one order for all copies: two in opposite ways never deadlock
    if not held:
        return copy(source, sink, count)
    _held(held, source, sink, count, copy)
    return source.moved


def _held(
    held: list[FileDescription], source: _Source, sink: _Sink, count: int, copy: Copy
) -> None:
    """Take the offset of ``held[0]`` (inline, as in descriptions.py: no call between the take
    and the ``try``), set the ends that read or write at it to it, go on with the rest, and
    give it back moved by what the sink took, ``source.moved``."""
    description = held[0]
    while description.busy:
        description._wait_for_offset()
    description.busy = True
    start = description.position
    try:
        if source.position is None and source.description is description:
            source.position = start
        if sink.position is None and sink.description is description:
            sink.position = start
        if len(held) > 1:
            _held(held[1:], source, sink, count, copy)
        else:
            copy(source, sink, count)
    finally:
        description.position = start + source.moved
        description.busy = False
        if description._waiting:
            description._wake_one()


def _copy_moving(source: _Source, sink: _Sink, count: int) -> int:
    """The copy loop of :func:`_copy`; ``source.moved`` grows right after each write returns,
    with no call in between, so it counts what the sink took whatever interrupts the loop."""
    while source.moved < count:
        data = source.read(min(CHUNK, count - source.moved))
        if not data:
            break
        try:
            written = sink.write(data)
        except OSError:
            source.unread(len(data))
            if source.moved:
                break
            raise
        source.moved += written
        if written < len(data):
            source.unread(len(data) - written)
            break
    return source.moved


def _same_file(source: Description, destination: Description) -> bool:
    """Whether two descriptions are open on one provider file (the same one, or two)."""
    if not isinstance(source, FileDescription) or not isinstance(destination, FileDescription):
        return False
    if source is destination:
        return True
    handle = source.handle
    if type(handle) is MemoryHandle:  # two handles of one memory fs: no stat needed
        same = handle.same_file(destination.handle)
        if same is not None:
            return same
    st, other = source.stat(), destination.stat()
    return (st.st_dev, st.st_ino) == (other.st_dev, other.st_ino)


def _copy_within(
    source: Description, destination: Description, position: int | None, count: int
) -> int:
    """sendfile from a file to itself, as Linux does it through the page cache.

    Both positions are taken at the start (the file offset for a missing ``position`` and for
    the destination, held through the copy), the copy goes forward byte by byte in effect,
    reading what it wrote already where the ranges overlap, and the offsets move by what was
    copied. Copying forward into its own range thus repeats the first ``distance`` bytes, and
    keeps growing the file while its source stays ahead of the end; a copy onto itself leaves
    the content as it was.
    """
    return _holding(_Source(source, position), _Sink(destination, None), count, _overlapping)


def _overlapping(source: _Source, sink: _Sink, count: int) -> int:
    """The copy of :func:`_copy_within`, from ``source.position`` to ``sink.position``."""
    start, at = source.position, sink.position
    assert start is not None and at is not None
    try:
        distance = at - start
        if 0 < distance < CHUNK:
            _repeat_forward(source, sink, count)
        else:  # chunks no longer than the distance: a chunk never reads its own writes
            while source.moved < count:
                data = source.description.pread(
                    min(CHUNK, count - source.moved), start + source.moved
                )
                if not data:
                    break
                written = sink.description.pwrite(data, at + source.moved)
                source.moved += written
                if written < len(data):
                    break
    except OSError:
        if not source.moved:
            raise
    return source.moved


def _repeat_forward(source: _Source, sink: _Sink, count: int) -> None:
    """The copy of :func:`_copy_within` to ``distance = at - start`` bytes further on, for a
    short distance: the bytes at ``start`` (zeros past the end of file) repeat with that period
    over all ``count`` bytes, since every read past the first period sees the copy's own
    writes and the end of file keeps moving ahead of the reads. Written a chunk at a time."""
    start, at = source.position, sink.position
    assert start is not None and at is not None
    distance = at - start
    pattern = source.description.pread(min(distance, count), start)
    if not pattern:
        return  # the source starts at or past the end of file
    pattern += bytes(min(distance, count) - len(pattern))
    periods = bytes(pattern) * (CHUNK // distance + 2)
    while source.moved < count:
        phase = source.moved % distance
        chunk = periods[phase : phase + min(CHUNK, count - source.moved)]
        written = sink.description.pwrite(chunk, at + source.moved)
        source.moved += written
        if written < len(chunk):
            break


def _memory_sendfile(
    source: Description | None, destination: Description | None, position: int, count: int
) -> int | None:
    """sendfile's common case in one read and one write: from a given ``position`` of a dense
    memory file, whose rest fits one chunk, to the file offset of another memory file
    (``shutil.copyfile``'s calls). None for every other case, bad arguments included: the
    general path judges those, in the kernel's order.

    Nothing is held across the two steps: ``position`` is the caller's, so the source offset
    does not move, and the destination's write takes its offset as ``write`` does; an
    exception between them leaves both files as they were.
    """
    if source.__class__ is not FileDescription or destination.__class__ is not FileDescription:
        return None
    assert isinstance(source, FileDescription) and isinstance(destination, FileDescription)
    handle, sink = source._handle, destination._handle
    if handle.__class__ is not MemoryHandle or sink.__class__ is not MemoryHandle:
        return None
    assert isinstance(handle, MemoryHandle) and isinstance(sink, MemoryHandle)
    node = handle._reader  # a regular file this handle reads (not O_PATH, not O_NOATIME)
    if node is None or node.data is None or sink._node is node:
        return None
    # readable() and writable() inline: not O_PATH, the access modes, no O_APPEND to write at
    flags, out_flags = source.flags, destination.flags
    if (
        flags & posix.O_PATH
        or flags & O_ACCMODE not in _READ_MODES
        or out_flags & (posix.O_PATH | posix.O_APPEND)
        or out_flags & O_ACCMODE not in _WRITE_MODES
    ):
        return None
    if position < 0 or count < 0 or len(node.data) - position > CHUNK:
        return None
    count = min(count, MAX_RW_COUNT)
    if destination.busy or destination.position + count > OFF_T_MAX or position > OFF_T_MAX - count:
        return None
    data = handle.pread(count, position)
    return destination.write(data) if data else 0


class TransferFunctions(BackendCore):
    """os.sendfile, os.splice and os.copy_file_range between the backend's descriptors."""

    def sendfile(self, out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        """os.sendfile: up to ``count`` bytes from a file (at ``offset``, or at its offset,
        which then moves) to any writable descriptor, at that one's offset."""
        if (
            out_fd.__class__ is int
            and in_fd.__class__ is int
            and offset.__class__ is int
            and count.__class__ is int
        ):
            assert offset is not None
            files = self._table.files
            copied = _memory_sendfile(files.get(in_fd), files.get(out_fd), offset, count)
            if copied is not None:
                return copied
        out_fd, in_fd = fd_arg(out_fd), fd_arg(in_fd)
        position = None if offset is None else off_t_arg(offset)
        count = ssize_arg(count)
        source = self._description(in_fd)
        if not readable(source):
            raise os_error(errno.EBADF)
        if position is not None and not _positional(source):
            raise os_error(errno.ESPIPE)
        _verify_area(file_position(source) if position is None else position, count)
        count = min(count, MAX_RW_COUNT)
        destination = self._description(out_fd)
        if not writable(destination):
            raise os_error(errno.EBADF)
        if isinstance(source, HostDescription) and isinstance(destination, HostDescription):
            return posix.sendfile(destination.fd, source.fd, position, count)
        reader = _Source(source, position)
        end = _pipe_end(destination)
        if isinstance(end, PipeWriter):
            start = file_position(source) if position is None else position
            return end.splice_in(
                reader.read, count, offset=start, nonblocking=destination.nonblocking
            )
        _verify_area(file_position(destination), count)
        if destination.flags & posix.O_APPEND:
            raise os_error(errno.EINVAL)
        if _same_file(source, destination):
            return _copy_within(source, destination, position, count)
        return _copy(reader, _Sink(destination, None), count)

    def splice(  # noqa: PLR0917 - os.splice's own signature
        self,
        src: int,
        dst: int,
        count: int,
        offset_src: int | None = None,
        offset_dst: int | None = None,
        flags: int = 0,
    ) -> int:
        """os.splice: up to ``count`` bytes between two descriptors, one of them a pipe."""
        src, dst, count = fd_arg(src), fd_arg(dst), ssize_arg(count)
        flags = unsigned_int_arg(flags)
        if count < 0:
            raise ValueError("negative value for 'count' not allowed")
        in_offset = None if offset_src is None else off_t_arg(offset_src)
        out_offset = None if offset_dst is None else off_t_arg(offset_dst)
        if not count:
            return 0
        if flags & ~SPLICE_F_ALL:
            raise os_error(errno.EINVAL)
        source, destination = self._description(src), self._description(dst)
        if isinstance(source, HostDescription) and isinstance(destination, HostDescription):
            return posix.splice(source.fd, destination.fd, count, in_offset, out_offset, flags)
        in_pipe = _pipe_end(source) is not None or _host_pipe(source)
        out_pipe = _pipe_end(destination) is not None or _host_pipe(destination)
        if (in_pipe and in_offset is not None) or (out_pipe and out_offset is not None):
            raise os_error(errno.ESPIPE)
        if not readable(source) or not writable(destination):
            raise os_error(errno.EBADF)
        nonblocking = bool(flags & posix.SPLICE_F_NONBLOCK)
        if in_pipe and out_pipe:
            return _pipe_to_pipe(source, destination, count, nonblocking)
        if in_pipe:
            return _pipe_to_file(source, destination, count, out_offset, nonblocking)
        if out_pipe:
            return _file_to_pipe(source, destination, count, in_offset, nonblocking)
        raise os_error(errno.EINVAL)

    def copy_file_range(
        self,
        src: int,
        dst: int,
        count: int,
        offset_src: int | None = None,
        offset_dst: int | None = None,
    ) -> int:
        """os.copy_file_range between two regular files; offsets not given are the files'
        own, which move by what was copied."""
        src, dst, count = fd_arg(src), fd_arg(dst), ssize_arg(count)
        if count < 0:
            raise ValueError("negative value for 'count' not allowed")
        in_offset = None if offset_src is None else off_t_arg(offset_src)
        out_offset = None if offset_dst is None else off_t_arg(offset_dst)
        source, destination = self._description(src), self._description(dst)
        if (source.flags | destination.flags) & posix.O_PATH:  # fdget() never returns them
            raise os_error(errno.EBADF)
        in_position = file_position(source) if in_offset is None else in_offset
        out_position = file_position(destination) if out_offset is None else out_offset
        in_stat, out_stat = source.stat(), destination.stat()
        if stat.S_ISDIR(in_stat.st_mode) or stat.S_ISDIR(out_stat.st_mode):
            raise os_error(errno.EISDIR)
        if not stat.S_ISREG(in_stat.st_mode) or not stat.S_ISREG(out_stat.st_mode):
            raise os_error(errno.EINVAL)
        if not readable(source) or not writable(destination) or destination.flags & posix.O_APPEND:
            raise os_error(errno.EBADF)
        if _wraps(in_position, count) or _wraps(out_position, count):
            raise os_error(errno.EOVERFLOW)
        size = in_stat.st_size
        count = 0 if in_position >= size else min(count, size - in_position)
        count = _write_limits(out_position, count)
        same_file = (in_stat.st_dev, in_stat.st_ino) == (out_stat.st_dev, out_stat.st_ino)
        if same_file and out_position + count > in_position and out_position < in_position + count:
            raise os_error(errno.EINVAL)
        _verify_area(in_position, count)
        _verify_area(out_position, count)
        if not count:
            return 0
        if in_stat.st_dev != out_stat.st_dev:  # after "nothing to copy", as vfs_copy_file_range
            CROSS_DEVICE_COPY.hit(src=src, dst=dst)
            raise os_error(errno.EXDEV)
        return _copy(_Source(source, in_offset), _Sink(destination, out_offset), count)


def _write_limits(position: int, count: int) -> int:
    """generic_write_check_limits: EFBIG at or past RLIMIT_FSIZE or the largest file size
    (MAX_LFS_FILESIZE, as tmpfs and the memory provider have it; a provider with a smaller
    one fails the write itself); ``count`` shortened to fit below them."""
    limit, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if limit != resource.RLIM_INFINITY:
        if position >= limit:
            raise os_error(errno.EFBIG)
        count = min(count, limit - position)
    if position >= OFF_T_MAX:
        raise os_error(errno.EFBIG)
    return min(count, OFF_T_MAX - position)


def _wraps(position: int, count: int) -> bool:
    """generic_copy_file_checks' overflow test, in the kernel's unsigned arithmetic."""
    start = position % _U64
    return (start + count) % _U64 < start


def _pipe_to_pipe(
    source: Description, destination: Description, count: int, nonblocking: bool
) -> int:
    """splice_pipe_to_pipe (or a host pipe's data read and written through)."""
    reader, writer = _pipe_end(source), _pipe_end(destination)
    nonblocking = nonblocking or source.nonblocking or destination.nonblocking
    if isinstance(reader, PipeReader) and isinstance(writer, PipeWriter):
        if reader.pipe is writer.pipe:
            raise os_error(errno.EINVAL)
        return reader.splice_to(writer, count, nonblocking=nonblocking)
    return _out_of_pipe(source, destination.write, count, nonblocking)


def _pipe_to_file(
    source: Description,
    destination: Description,
    count: int,
    offset: int | None,
    nonblocking: bool,
) -> int:
    """do_splice's pipe-to-file branch."""
    if offset is not None and not _positional(destination):
        raise os_error(errno.EINVAL)
    if destination.flags & posix.O_APPEND:
        raise os_error(errno.EINVAL)
    _verify_area(file_position(destination) if offset is None else offset, count)
    sink = _Sink(destination, offset)
    return _out_of_pipe(source, sink.write, count, nonblocking or source.nonblocking)


def _out_of_pipe(
    source: Description, write: Callable[[bytes], int], count: int, nonblocking: bool
) -> int:
    """Up to ``count`` bytes from the pipe ``source`` into ``write``: whole buffers out of an
    emulated pipe, one read out of a host pipe."""
    reader = _pipe_end(source)
    if isinstance(reader, PipeReader):
        return reader.splice_out(write, count, nonblocking=nonblocking)
    data = source.read(min(count, MAX_RW_COUNT))
    return write(data) if data else 0


def _file_to_pipe(
    source: Description,
    destination: Description,
    count: int,
    offset: int | None,
    nonblocking: bool,
) -> int:
    """do_splice's file-to-pipe branch."""
    if offset is not None and not _positional(source):
        raise os_error(errno.EINVAL)
    start = file_position(source) if offset is None else offset
    _verify_area(start, count)
    reader = _Source(source, offset)
    writer = _pipe_end(destination)
    if isinstance(writer, PipeWriter):
        return writer.splice_in(
            reader.read,
            count,
            offset=start,
            nonblocking=nonblocking or destination.nonblocking,
        )
    return _copy(reader, _Sink(destination, None), min(count, MAX_RW_COUNT))  # a host pipe
