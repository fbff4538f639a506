"""The content of a memory file that was mapped: a real memfd, shared with every mapping.

A process cannot map a Python object, so a regular file's first ``mmap`` moves its bytes into
a memfd (a file on the kernel's own tmpfs) and from then on every read, write, truncate and
allocation of that file goes to the memfd, which the mappings share (MAP_SHARED both ways:
the kernel keeps one page cache). Holes stay holes (only the stored runs are copied), and the
memfd's own SEEK_DATA/SEEK_HOLE and st_blocks are the file's from then on.

Pages are counted in the file system's :class:`~vfs.memory.space.Space` as for the other
kinds of content, but a mapping allocates pages (and ``mmap.resize`` changes the size) with
no call of ours: what is counted catches up with the memfd's st_blocks whenever the file
system next looks (:meth:`MappedContent.recount`). The real ``posix`` functions are called
(inside a block ``os`` is the backend's). Callers hold the file system's lock.
"""

from __future__ import annotations

import errno
import posix
from typing import TYPE_CHECKING

import compat
from vfs.errors import os_error
from vfs.memory.extents import PAGE_SIZE, Extents

if TYPE_CHECKING:
    from vfs.memory.space import Space

SEEK_DATA, SEEK_HOLE = 3, 4
MFD_CLOEXEC = 1
SECTORS_PER_PAGE = PAGE_SIZE // 512
PROC_FD = "/proc/self/fd/"
COPY_CHUNK = 1 << 24
"""Bytes copied into the memfd per pwrite when a file is promoted."""

MAPPED_PAGES_COUNTED_LATE = compat.declare(
    id="vfs.memory.mapped_pages_counted_late",
    function="mmap.mmap",
    aspect="max_bytes of a memory file system and pages written through a mapping",
    level=compat.Level.FINE,
    explanation="pages a mapping allocates (a store into a hole, mmap.resize) are counted "
    "against max_bytes, and in statvfs, when the file system next looks at the file, and "
    "never refused: tmpfs refuses the page fault past its size limit with SIGBUS; and a "
    "write near the limit counts the pages posix_fallocate reserved but nothing wrote yet "
    "as pages to allocate (SEEK_DATA finds no data there), so it may stop that much sooner",
)
MAPPED_TIMES = compat.declare(
    id="vfs.memory.mapped_times",
    function="mmap.mmap",
    aspect="st_mtime and st_ctime of a memory file changed through a mapping",
    level=compat.Level.FINE,
    explanation="stores through a mapping and mmap.resize do not move the memory file's "
    "mtime and ctime (tmpfs moves them for resize, and for stores when they are written back)",
)
MEMFD_PER_MAPPED_FILE = compat.declare(
    id="vfs.memory.memfd_per_mapped_file",
    function="mmap.mmap",
    aspect="real descriptors used by mapped memory files",
    level=compat.Level.INFO,
    explanation="a memory file keeps one real descriptor (a memfd) from its first mapping "
    "until it is removed and closed: it counts against the process's RLIMIT_NOFILE",
)


MEMFD_REFUSED = compat.declare(
    id="vfs.memory.memfd_refused",
    function="mmap.mmap",
    aspect="mapping a memory file where the kernel refuses memfd_create",
    level=compat.Level.WARNING,
    explanation="under the launcher's --sandbox and in the isolated mode the seccomp filter "
    "refuses memfd_create (its memory would escape the memory limit), so a memory file "
    "cannot be mapped there: mmap fails with ENODEV, as for a file system without mmap",
)


class MappedContent:
    """A regular file's content held in the memfd ``fd`` (owned: closed by :meth:`close`).

    ``counted`` is how many pages of it ``space.used_pages`` holds; :meth:`recount` brings it
    to what the memfd has allocated now.
    """

    __slots__ = ("counted", "fd", "space")

    def __init__(self, fd: int, counted: int, space: Space) -> None:
        self.fd = fd
        self.counted = counted
        self.space = space

    @classmethod
    def build(
        cls, name: str, size: int, data: bytearray | None, extents: Extents | None, space: Space
    ) -> MappedContent:
        """A memfd holding ``size`` bytes: ``data`` (a dense file's bytes) or the chunks of
        ``extents`` (a sparse file's, holes left as holes), ``counted`` as the pages it holds
        (the caller moves the space's count from the old content's in the same step).

        Made whole before it is returned; on any error (ENOMEM, EMFILE...) it is closed.
        """
        try:
            fd = posix.memfd_create(name, MFD_CLOEXEC)
        except PermissionError as refused:  # a seccomp filter: the sandbox's, isolation's
            MEMFD_REFUSED.hit()
            raise os_error(errno.ENODEV) from refused
        try:
            if data is not None:
                _write_all(fd, data, 0)
            elif extents is not None:
                for start, chunk in zip(extents.starts, extents.chunks, strict=True):
                    _write_all(fd, chunk, start)
            posix.ftruncate(fd, size)
            counted = posix.fstat(fd).st_blocks // SECTORS_PER_PAGE
        except BaseException:
            posix.close(fd)
            raise
        MEMFD_PER_MAPPED_FILE.hit()
        return cls(fd, counted, space)

    # -- the file's content ------------------------------------------------------------------

    def size(self) -> int:
        """st_size: the memfd's (a mapping's resize changes it)."""
        return posix.fstat(self.fd).st_size

    def blocks(self) -> int:
        """st_blocks: what the memfd has allocated."""
        return posix.fstat(self.fd).st_blocks

    def read(self, n: int, offset: int) -> bytes:
        """Up to ``n`` bytes from ``offset`` (holes read as zeros)."""
        return posix.pread(self.fd, n, offset)

    def write(self, data: bytes, offset: int) -> int:
        """Write all of ``data`` at ``offset``; the pages it allocates are counted."""
        try:
            _write_all(self.fd, data, offset)
        finally:
            self.recount()
        return len(data)

    def truncate(self, length: int) -> None:
        """ftruncate: cut (giving pages back) or extend with a hole."""
        try:
            posix.ftruncate(self.fd, length)
        finally:
            self.recount()

    def allocate(self, offset: int, length: int) -> None:
        """posix_fallocate: the memfd allocates the pages (tmpfs's own fallocate)."""
        try:
            posix.posix_fallocate(self.fd, offset, length)
        finally:
            self.recount()

    def seek(self, offset: int, whence: int) -> int:
        """SEEK_DATA/SEEK_HOLE, answered by the memfd."""
        return posix.lseek(self.fd, offset, whence)

    def new_pages(self, offset: int, end: int) -> int:
        """How many pages a write of [offset, end) would allocate (the hole pages it touches)."""
        return self._stop(offset, end, None)[1]

    def fitting_end(self, offset: int, end: int, room: int) -> int:
        """Where a write of [offset, end) stops to allocate at most ``room`` pages: at the
        first hole page that does not fit, as tmpfs fills page by page."""
        return self._stop(offset, end, room)[0]

    def _stop(self, offset: int, end: int, room: int | None) -> tuple[int, int]:
        """(where a write of [offset, end) stops, pages it allocates up to there)."""
        page = offset // PAGE_SIZE * PAGE_SIZE
        needed = 0
        while page < end:
            try:
                data = self.seek(page, SEEK_DATA)
            except OSError as error:
                if error.errno != errno.ENXIO:
                    raise
                data = end  # a hole up to the end of the file, and beyond it
            if data > page:  # hole pages from page up to data (or end)
                hole_end = min(data, end)
                pages = -(-(hole_end - page) // PAGE_SIZE)
                if room is not None and needed + pages > room:
                    return max(offset, page + (room - needed) * PAGE_SIZE), room
                needed += pages
                page += pages * PAGE_SIZE
            else:  # data from here: the next hole starts at a page border, or at the end
                hole = self.seek(page, SEEK_HOLE)
                page = -(-hole // PAGE_SIZE) * PAGE_SIZE
        return end, needed

    # -- accounting and descriptors ----------------------------------------------------------

    def recount(self) -> None:
        """Bring the pages counted in the space to what the memfd holds now."""
        pages = posix.fstat(self.fd).st_blocks // SECTORS_PER_PAGE
        counted = self.counted
        if pages != counted:
            if pages > counted:
                MAPPED_PAGES_COUNTED_LATE.hit()
            # no call from here on: the count and the space change together
            self.space.used_pages += pages - counted
            self.counted = pages

    def reopen(self, access: int) -> int:
        """A new real descriptor of the memfd with the access mode ``access`` (O_RDONLY,
        O_WRONLY or O_RDWR), for mmap to judge; where /proc is not there (an isolated
        guest's root), a duplicate of the memfd itself (O_RDWR: its caller checks access)."""
        try:
            return posix.open(f"{PROC_FD}{self.fd}", access | posix.O_CLOEXEC)
        except OSError as error:
            if error.errno not in (errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENXIO):
                raise
        return posix.dup(self.fd)

    def close(self) -> None:
        """Close the memfd (the file is gone, its pages given back by the caller); the
        mappings keep their own descriptors."""
        fd, self.fd = self.fd, -1
        self.space.mapped.pop(self, None)
        if fd >= 0:
            posix.close(fd)


def _write_all(fd: int, data: bytes | bytearray, offset: int) -> None:
    """pwrite all of ``data`` at ``offset`` (a memfd takes it in one call, mostly)."""
    with memoryview(data) as view:
        done = 0
        total = len(view)
        while done < total:
            step = min(total - done, COPY_CHUNK)
            written = posix.pwrite(fd, view[done : done + step], offset + done)
            if written <= 0:
                raise os_error(errno.ENOSPC)
            done += written
