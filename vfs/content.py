"""A regular file's content copied between handles, holes kept as holes.

A file whose allocated blocks cover less than its size has holes: SEEK_DATA and SEEK_HOLE
say where its data is, and only that is read and written; the copy is then cut to the size,
so its holes stay holes (and cost nothing in a memory file system). Writes that come up short
(a file system filling up) are ENOSPC, never a silently shorter copy.
"""

from __future__ import annotations

import errno

from vfs.provider import SEEK_DATA, SEEK_HOLE, Handle, write_all

CHUNK = 1 << 20
"""Bytes held in memory at once while copying."""


def data_regions(handle: Handle, size: int, blocks: int) -> list[tuple[int, int]]:
    """The (offset, length) runs of data in the file of ``size`` bytes open as ``handle``:
    all of it, unless its ``blocks`` (st_blocks, 512-byte units) fall short of its size."""
    if not size:
        return []
    if blocks * 512 >= size:
        return [(0, size)]
    regions: list[tuple[int, int]] = []
    offset = 0
    while offset < size:
        try:
            start = handle.seek_data(offset, SEEK_DATA)
        except OSError as error:
            if error.errno == errno.ENXIO:  # nothing but a hole up to the end
                break
            raise
        end = min(handle.seek_data(start, SEEK_HOLE), size)
        if end <= start:
            break
        regions.append((start, end - start))
        offset = end
    return regions


def copy_content(source: Handle, target: Handle) -> None:
    """Copy all of ``source`` into the empty file ``target``: its data regions, then the size
    (the holes between stay holes where the target keeps them)."""
    st = source.stat()
    size = st.st_size
    for start, length in data_regions(source, size, st.st_blocks):
        offset, end = start, start + length
        while offset < end:
            chunk = source.pread(min(CHUNK, end - offset), offset)
            if not chunk:
                break
            write_all(target, chunk, offset)
            offset += len(chunk)
    if target.size() != size:
        target.truncate(size)
