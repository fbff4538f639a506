"""Writes, truncates, fallocates and unlinks of the memory file system, interrupted everywhere.

The harness (tests/interrupts.py) counts the points where CPython can deliver an asynchronous
exception in the memory file system's own code while an operation runs, and then runs it again
once for each point, raising there. After every interruption the lock is free, the file's
chunks keep their invariants, the pages and inodes the file system counts are exactly what its
files hold (a count that drifted would break the cap), and the file is as it was before the
operation, as it is after it, or, for a write, as a short write would leave it: a prefix of
the data written, the size covering it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

import vfs.memory
from tests.interrupts import Operation, Point, interrupt_everywhere, run_fresh
from vfs import Identity, MemoryFileSystem
from vfs.memory.extents import PAGE_SIZE, page_end
from vfs.memory.handle import MemoryHandle
from vfs.memory.nodes import RegularFile

MEMORY_CODE = str(Path(vfs.memory.__file__).parent)


@attrs.define
class World:
    """A capped memory file system with a file open in it."""

    fs: MemoryFileSystem
    handle: MemoryHandle

    @property
    def node(self) -> RegularFile:
        node = self.handle.node
        assert isinstance(node, RegularFile)
        return node

    def close_and_unlink(self) -> None:
        self.handle.close()
        self.fs.unlink("/f")

    def link_and_unlink(self) -> None:
        self.fs.link("/f", "/g")
        self.fs.unlink("/f")

    def picture(self) -> tuple[int, bytes]:
        """The file's size and bytes (through its name once the handle is closed)."""
        if self.handle.closed:
            with self.fs.open("/f", os.O_RDONLY) as handle:
                return handle.size(), handle.pread(handle.size(), 0)
        return self.handle.size(), self.handle.pread(self.handle.size(), 0)


def world(content: list[tuple[int, bytes]], size: int | None = None) -> World:
    fs = MemoryFileSystem(identity=Identity.root(), max_bytes=24 * PAGE_SIZE, max_inodes=8)
    handle = fs.open("/f", os.O_RDWR | os.O_CREAT, 0o644)
    for offset, data in content:
        handle.pwrite(data, offset)
    if size is not None:
        handle.truncate(size)
    return World(fs, handle)


def check(done: World) -> None:
    """The invariants every interruption must leave."""
    assert not done.fs._lock.locked()
    node, space = done.node, done.fs._space
    assert space.used_pages == (node.pages() if node.nlink or node.handles else 0)
    assert space.used_inodes == 1 + max(node.nlink, 1 if node.handles else 0)
    extents = node.extents
    if extents is not None:
        assert node.data is None
        assert extents.pages == sum(-(-len(chunk) // PAGE_SIZE) for chunk in extents.chunks)
        for index, (start, chunk) in enumerate(zip(extents.starts, extents.chunks, strict=True)):
            assert start % PAGE_SIZE == 0 and chunk and start + len(chunk) <= extents.size
            if index + 1 < len(extents.starts):
                assert page_end(start + len(chunk)) <= extents.starts[index + 1]


def written(before: tuple[int, bytes], offset: int, data: bytes, count: int) -> tuple[int, bytes]:
    """``before`` after a write of ``data[:count]`` at ``offset``."""
    size, content = before
    if not count:
        return before
    end = offset + count
    grown = bytearray(content) + bytes(max(end - size, 0))
    grown[offset:end] = data[:count]
    return max(size, end), bytes(grown)


def stored(picture: tuple[int, bytes], offset: int, data: bytes) -> int:
    """How much of ``data`` a write at ``offset`` seems to have stored: the first byte that
    differs from it (a prefix is all a short write may store)."""
    window = picture[1][offset : offset + len(data)]
    count = 0
    while count < len(window) and window[count : count + 4096] == data[count : count + 4096]:
        count += 4096  # whole pages first, then byte by byte
    count = min(count, len(window))
    while count and window[count - 1] != data[count - 1]:
        count -= 1
    while count < len(window) and window[count] == data[count]:
        count += 1
    return count


SPARSE = [(0, b"a" * 5000), (40_000, b"b" * 3000), (90_000, b"c" * 100)]
Case = tuple[list[tuple[int, bytes]], int | None, Callable[[World], object], bytes | None, int]
CASES: dict[str, Case] = {
    # name: (content, size, operation, data it writes, at), the last two for writes only
    "dense grows": ([(0, b"a" * 5000)], None, lambda w: w.handle.pwrite(b"d" * 9000, 4096),
                    b"d" * 9000, 4096),
    "dense turns sparse": ([(0, b"a" * 5000)], None,
                           lambda w: w.handle.pwrite(b"d" * 5000, 30_000), b"d" * 5000, 30_000),
    "write across chunks": (SPARSE, None, lambda w: w.handle.pwrite(b"d" * 50_000, 2000),
                            b"d" * 50_000, 2000),
    "write past the cap": (SPARSE, None, lambda w: w.handle.pwrite(b"d" * 120_000, 20_000),
                           b"d" * 120_000, 20_000),
    "sparse shrinks": (SPARSE, None, lambda w: w.handle.truncate(41_000), None, 0),
    "dense extends": ([(0, b"a" * 5000)], None, lambda w: w.handle.truncate(1 << 20), None, 0),
    "fallocate": (SPARSE, 200_000, lambda w: w.handle.allocate(10_000, 50_000), None, 0),
    "unlink": (SPARSE, None, lambda w: w.close_and_unlink(), None, 0),
    "link and unlink": (SPARSE, None, lambda w: w.link_and_unlink(), None, 0),
}  # fmt: skip


def interrupt_case(name: str) -> None:
    """Run case ``name`` once clean, then once for every point, raising there; check each."""
    content, size, operation, data, offset = CASES[name]
    clean = world(content, size)
    before = clean.picture()
    operation(clean)
    after = clean.picture() if clean.node.nlink or clean.node.handles else before

    def whole(done: World, point: Point) -> None:
        check(done)
        if not (done.node.nlink or done.node.handles):
            return
        picture = done.picture()
        if data is None:
            assert picture in (before, after), f"interrupted at {point}"
        else:
            assert picture == written(before, offset, data, stored(picture, offset, data)), (
                f"interrupted at {point}"
            )

    interrupt_everywhere(Operation((MEMORY_CODE,), lambda: world(content, size), operation, whole))


@pytest.mark.parametrize("name", CASES)
def test_an_interruption_anywhere_leaves_the_file_whole(name: str) -> None:
    """In a fresh interpreter: CPython 3.11 can loop forever on an opcode trace event once an
    asynchronous exception was left pending for a thread that ended (as other tests in one
    worker may leave one)."""
    run_fresh("tests.vfs.test_memory_interrupts", name)


if __name__ == "__main__":
    interrupt_case(sys.argv[1])
