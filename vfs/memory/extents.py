"""The content of a sparse file of the memory file system: stored runs of bytes, holes between.

Allocation is counted in pages, as tmpfs counts it: a page of the file is allocated once
anything was written into it (or fallocate reserved it), and stays so until a truncate cuts it
off; everything else is a hole that reads as zeros and costs nothing. The bytes live in
*chunks*, bytearrays that each start at a page border; a chunk allocates the pages it touches,
from its start to the page its last stored byte is in (the rest of that page reads as zeros),
and no two chunks touch one page. Writes go into the chunk they land in, grow a chunk they end
up beside, or start a new one in a hole; a chunk whose pages come to meet the next one's
swallows it while that one is small, so filling a hole from either end does not leave a chunk
per write.

Pages are counted here and in the file system's :class:`~vfs.memory.space.Space` in the same
steps that change the chunks, with no call in between, so an asynchronous exception (which
CPython raises only at a call, a function's start or a backward jump) never lands between a
change and its count: a write it interrupts has stored whole pieces, counted. Not
thread-safe: the file system calls it under its lock.
"""

from __future__ import annotations

import errno
from bisect import bisect_right
from typing import TYPE_CHECKING

from vfs.errors import os_error

if TYPE_CHECKING:
    from vfs.memory.space import Space

PAGE_SIZE = 4096
"""The unit of allocation (a page, as tmpfs allocates; hot paths write it as ``<< 12``)."""
MERGE_LIMIT = 1 << 20
"""A chunk reached by the one before it is copied into it while it is at most this long."""


def page_count(size: int) -> int:
    """How many pages ``size`` bytes from a page border touch."""
    return -(-size // PAGE_SIZE)


def page_end(offset: int) -> int:
    """The first page border at or after ``offset``."""
    return -(-offset // PAGE_SIZE) * PAGE_SIZE


class Extents:
    """A sparse file's size and chunks: ``starts[i]`` is where ``chunks[i]`` begins.

    Invariants: starts are page borders, in order; chunks are not empty and end at or before
    ``size``; the pages of two chunks never meet (``page_end`` of one's end is at most the
    next one's start). ``pages`` is the number of pages the chunks allocate; each change of
    it is made to ``space.used_pages`` too.
    """

    __slots__ = ("chunks", "pages", "size", "space", "starts")

    def __init__(self, size: int, data: bytearray, space: Space | None = None) -> None:
        """The content of a dense file of ``size`` bytes whose bytes are ``data`` (kept, not
        copied; shorter than ``size`` by less than a page), counted in ``space`` already."""
        self.size = size
        self.starts: list[int] = [0] if data else []
        self.chunks: list[bytearray] = [data] if data else []
        self.pages = page_count(len(data))
        self.space = space

    # -- queries -----------------------------------------------------------------------------

    def dense(self) -> bytearray | None:
        """The whole content as one bytearray when it is one chunk from 0 and no page below
        the size is a hole (the file can be dense again), else None; padded to the size."""
        size = self.size
        if not size:
            return bytearray()
        chunks = self.chunks
        if len(chunks) != 1 or self.starts[0] or self.pages != page_count(size):
            return None
        data = chunks[0]
        length = len(data)
        if length < size:
            data[length:] = bytes(size - length)  # zeros within the last allocated page
        return data

    def read(self, n: int, offset: int) -> bytes:
        """Up to ``n`` bytes from ``offset``; holes read as zeros."""
        end = min(offset + n, self.size)
        if offset >= end:
            return b""
        starts, chunks = self.starts, self.chunks
        first = bisect_right(starts, offset) - 1
        if first >= 0:
            start = starts[first]
            chunk = chunks[first]
            if end <= start + len(chunk):  # within one chunk's stored bytes
                with memoryview(chunk) as view:
                    return view[offset - start : end - start].tobytes()
        out = bytearray(end - offset)
        index = max(first, 0)
        while index < len(starts) and starts[index] < end:
            start = starts[index]
            chunk = chunks[index]
            low, high = max(offset, start), min(end, start + len(chunk))
            if low < high:
                out[low - offset : high - offset] = chunk[low - start : high - start]
            index += 1
        return bytes(out)

    def new_pages(self, offset: int, end: int) -> int:
        """How many pages a write of [offset, end) would allocate (the holes it touches)."""
        return self._stop(offset, end, None)[1]

    def fitting_end(self, offset: int, end: int, room: int) -> int:
        """Where a write of [offset, end) must stop to allocate at most ``room`` pages: at the
        first hole page it could not allocate (tmpfs fills page by page and stops there)."""
        return self._stop(offset, end, room)[0]

    def _stop(self, offset: int, end: int, room: int | None) -> tuple[int, int]:
        """(where a write of [offset, end) stops, pages it allocates), with at most ``room``
        pages to allocate (None: as many as it needs)."""
        last = (end - 1) // PAGE_SIZE
        page, needed = offset // PAGE_SIZE, 0
        while (hole := self._hole_at(page, last)) is not None:
            first, stop = hole
            if room is not None and needed + stop - first > room:
                return max(offset, (first + room - needed) * PAGE_SIZE), room
            needed += stop - first
            page = stop
        return end, needed

    def _hole_at(self, page: int, last: int) -> tuple[int, int] | None:
        """The first run of hole pages within pages [page, last], as (first, end), or None."""
        starts, chunks = self.starts, self.chunks
        index = bisect_right(starts, page * PAGE_SIZE) - 1
        if index >= 0 and page_count(starts[index] + len(chunks[index])) > page:
            page = page_count(starts[index] + len(chunks[index]))  # skip the allocated run
            index += 1
            while index < len(starts) and starts[index] == page * PAGE_SIZE:
                page = page_count(starts[index] + len(chunks[index]))
                index += 1
        else:
            index += 1
        if page > last:
            return None
        stop = starts[index] // PAGE_SIZE if index < len(starts) else last + 1
        return page, min(stop, last + 1)

    def seek(self, offset: int, data: bool) -> int:
        """lseek's SEEK_DATA (``data``) or SEEK_HOLE from ``offset``: ENXIO at or past the end
        of file; the last hole runs to the end of file."""
        size = self.size
        if offset < 0 or offset >= size:
            raise os_error(errno.ENXIO)
        starts, chunks = self.starts, self.chunks
        index = bisect_right(starts, offset) - 1
        inside = index >= 0 and offset < page_end(starts[index] + len(chunks[index]))
        if data:
            if inside:
                return offset
            if index + 1 < len(starts):
                return starts[index + 1]
            raise os_error(errno.ENXIO)
        if not inside:
            return offset
        stop = page_end(starts[index] + len(chunks[index]))
        while index + 1 < len(starts) and starts[index + 1] == stop:
            index += 1
            stop = page_end(starts[index] + len(chunks[index]))
        return min(stop, size)

    # -- changes -----------------------------------------------------------------------------

    def write(self, data: memoryview, offset: int) -> int:
        """Store ``data`` at ``offset``, allocating the hole pages it touches (the caller made
        sure they fit); the size grows to cover it. Returns how many bytes were stored: all,
        unless memory ran out (MemoryError after some pieces: what they hold stays, as a
        short write; MemoryError before any is raised)."""
        end = offset + len(data)
        starts, chunks = self.starts, self.chunks
        index = bisect_right(starts, offset) - 1
        at = offset
        while at < end:
            limit = starts[index + 1] if index + 1 < len(starts) else end
            stop = min(end, limit)
            piece = data[at - offset : stop - offset]
            try:
                if index >= 0 and at // PAGE_SIZE * PAGE_SIZE <= page_end(
                    starts[index] + len(chunks[index])
                ):
                    self._into(index, piece, at)
                else:  # a hole at least a page past the chunk before: a new chunk
                    self._insert(index + 1, piece, at)
                    index += 1
            except MemoryError:  # nothing of this piece was stored
                if at == offset:
                    raise
                return at - offset
            self._absorb_next(index)
            at = stop
            if at == limit and index + 1 < len(starts) and starts[index + 1] == limit:
                index += 1
        return end - offset

    def _into(self, index: int, piece: memoryview, at: int) -> None:
        """Write ``piece`` at ``at`` into chunk ``index`` (within its pages, or growing it)."""
        start = self.starts[index]
        chunk = self.chunks[index]
        length = len(chunk)
        count = len(piece)
        stop = at + count
        pages = page_count(max(length, stop - start)) - page_count(length)
        if at - start > length:  # zeros up to it first, in the same one store
            filled: bytes | memoryview = bytes(at - start - length) + piece
            low = length
        else:
            filled, low = piece, at - start
        space = self.space
        grows = stop > self.size
        # no call from here on: the bytes, the size and both counts change together
        chunk[low : stop - start] = filled
        if grows:
            self.size = stop
        self.pages += pages
        if space is not None:
            space.used_pages += pages

    def _insert(self, index: int, piece: memoryview, at: int) -> None:
        """A new chunk holding ``piece`` at ``at``, from ``at``'s page on, as chunk ``index``."""
        page = at // PAGE_SIZE * PAGE_SIZE
        chunk = bytearray(at - page)
        chunk += piece
        pages = page_count(len(chunk))
        stop = page + len(chunk)
        space = self.space
        grows = stop > self.size
        # no call from here on
        self.chunks[index:index] = [chunk]
        self.starts[index:index] = [page]
        if grows:
            self.size = stop
        self.pages += pages
        if space is not None:
            space.used_pages += pages

    def _absorb_next(self, index: int) -> None:
        """Let chunk ``index`` swallow the next one when their pages meet and that one is
        small (the zeros up to it are in a page the chunk allocates already)."""
        starts, chunks = self.starts, self.chunks
        if index + 1 >= len(starts):
            return
        chunk, following = chunks[index], chunks[index + 1]
        length = len(chunk)
        gap = starts[index + 1] - starts[index] - length
        if gap < PAGE_SIZE and len(following) <= MERGE_LIMIT:
            zeros = bytes(gap)
            # no call from here on
            chunk[length:] = zeros
            chunk += following
            del starts[index + 1], chunks[index + 1]

    def truncate(self, length: int) -> None:
        """Cut or extend to ``length`` bytes, freeing the pages past the new end."""
        if length >= self.size:
            self.size = length
            return
        starts, chunks = self.starts, self.chunks
        keep = bisect_right(starts, length - 1) if length else 0
        freed = sum(page_count(len(chunk)) for chunk in chunks[keep:])
        last = chunks[keep - 1] if keep else bytearray()
        tail = min(len(last), length - starts[keep - 1]) if keep else 0
        freed += page_count(len(last)) - page_count(tail)
        space = self.space
        # no call from here on
        del starts[keep:], chunks[keep:]
        del last[tail:]
        self.size = length
        self.pages -= freed
        if space is not None:
            space.used_pages -= freed

    def allocate(self, offset: int, end: int) -> None:
        """posix_fallocate: allocate the hole pages [offset, end) touches (as zeros; the caller
        made sure they fit) and grow the size to ``end``. If memory runs out or an exception
        interrupts it, the size and the pages past it are as they were (as tmpfs undoes an
        interrupted fallocate); pages it filled below the old size stay, as zeros."""
        size = self.size
        target = max(size, end)
        page, last = offset // PAGE_SIZE, (end - 1) // PAGE_SIZE
        try:
            while (hole := self._hole_at(page, last)) is not None:
                first, stop = hole
                low, high = first * PAGE_SIZE, min(stop * PAGE_SIZE, target)
                for piece in range(low, high, MERGE_LIMIT):  # zeros a MiB at a time
                    zeros = bytes(min(MERGE_LIMIT, high - piece))
                    if self.write(memoryview(zeros), piece) < len(zeros):
                        raise MemoryError
                page = stop
        except BaseException:
            self.truncate(size)
            raise
        self.size = target
