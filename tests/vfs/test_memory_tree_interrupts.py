"""Renames, links, unlinks, mkdir, rmdir and symlink of the memory file system, interrupted at
every point (tests/interrupts.py).

After each interruption the lock is free, the tree is as it was before the call or as it is
after it (never a file under neither name or under both), every directory's link count is
2 plus its subdirectories, and the inodes and pages the file system counts are exactly what
its names and open files hold (an interrupted rename used to drop the file's name with its
inode still counted, never to be freed).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import attrs

import vfs.memory
from tests.interrupts import Operation, Point, interrupt_everywhere, run_fresh
from vfs import Identity, MemoryFileSystem
from vfs.memory.extents import PAGE_SIZE
from vfs.memory.handle import MemoryHandle
from vfs.memory.nodes import Directory, Inode

MEMORY_CODE = str(Path(vfs.memory.__file__).parent)
LONG_TARGET = "t" * 200
"""A symlink target long enough to take a page, as on tmpfs."""


@attrs.define
class World:
    """A capped memory file system holding a small tree, with ``/d/open`` open."""

    fs: MemoryFileSystem
    handle: MemoryHandle


def world() -> World:
    fs = MemoryFileSystem(identity=Identity.root(), max_bytes=64 * PAGE_SIZE, max_inodes=40)
    for directory in ("/d", "/d/sub", "/e", "/e/empty", "/full", "/full/x"):
        fs.mkdir(directory)
    for path, size in (("/d/f", 5000), ("/e/victim", 9000), ("/d/open", 3000), ("/d/g", 10)):
        with fs.open(path, os.O_WRONLY | os.O_CREAT, 0o644) as handle:
            handle.pwrite(b"v" * size, 0)
    fs.link("/d/g", "/e/g2")
    fs.symlink("/d/f", "/d/link")
    handle = fs.open("/d/open", os.O_RDWR)
    return World(fs, handle)


Picture = frozenset[tuple[str, int, int, int]]


def picture(fs: MemoryFileSystem) -> Picture:
    """Every name with its inode number, link count and size."""
    names: set[tuple[str, int, int, int]] = set()
    stack = ["/"]
    while stack:
        path = stack.pop()
        for name in fs.listdir(path):
            child = path.rstrip("/") + "/" + name
            st = fs.stat(child, follow_symlinks=False)
            names.add((child, st.st_ino, st.st_nlink, st.st_size))
            if stat.S_ISDIR(st.st_mode):
                stack.append(child)
    return frozenset(names)


def counted(fs: MemoryFileSystem, handle: MemoryHandle) -> None:
    """The file system's counts are what its names and open files hold; link counts agree."""
    assert not fs._lock.locked()
    seen: dict[int, Inode] = {}
    names = 0
    stack: list[Directory] = [fs.directory(None, "/")]
    while stack:
        directory = stack.pop()
        subdirectories = 0
        for node in directory.entries.values():
            names += 1
            seen[id(node)] = node
            if isinstance(node, Directory):
                subdirectories += 1
                assert node.parent is directory
                stack.append(node)
        assert directory.nlink == 2 + subdirectories
    opened = handle.node
    if id(opened) not in seen and not opened.freed:
        seen[id(opened)] = opened
        names += 1  # an open file without a name still holds its inode
    assert fs._space.used_inodes == 1 + names
    assert fs._space.used_pages == sum(node.pages() for node in seen.values())
    for node in seen.values():
        assert not node.freed


Case = Callable[[World], object]
CASES: dict[str, Case] = {
    "rename in a directory": lambda w: w.fs.rename("/d/f", "/d/f2"),
    "rename to another directory": lambda w: w.fs.rename("/d/f", "/e/f"),
    "rename over a file": lambda w: w.fs.rename("/d/f", "/e/victim"),
    "rename over a linked file": lambda w: w.fs.rename("/d/f", "/e/g2"),
    "rename over an open file": lambda w: w.fs.rename("/d/f", "/d/open"),
    "rename a directory": lambda w: w.fs.rename("/d/sub", "/e/sub"),
    "rename a directory over an empty one": lambda w: w.fs.rename("/d/sub", "/e/empty"),
    "rename a symlink": lambda w: w.fs.rename("/d/link", "/e/link"),
    "link": lambda w: w.fs.link("/d/f", "/e/f"),
    "unlink the last name": lambda w: w.fs.unlink("/e/victim"),
    "unlink one of two names": lambda w: w.fs.unlink("/e/g2"),
    "unlink an open file": lambda w: w.fs.unlink("/d/open"),
    "mkdir": lambda w: w.fs.mkdir("/d/new"),
    "rmdir": lambda w: w.fs.rmdir("/e/empty"),
    "symlink": lambda w: w.fs.symlink("/d/f", "/e/s"),
    "long symlink": lambda w: w.fs.symlink(LONG_TARGET, "/e/s"),
}


def interrupt_case(name: str) -> None:
    operation = CASES[name]
    clean = world()
    before = picture(clean.fs)
    operation(clean)
    after = picture(clean.fs)
    assert before != after

    def check(done: World, point: Point) -> None:
        counted(done.fs, done.handle)
        now = picture(done.fs)
        assert now in (before, after), (
            f"interrupted at {point}: gone {sorted(before - now)}, new {sorted(now - before)}"
        )

    interrupt_everywhere(Operation((MEMORY_CODE,), world, operation, check))


def test_an_interrupted_change_of_the_tree_is_whole_or_not_at_all() -> None:
    """Every case in one fresh interpreter (start-up is most of a case's time)."""
    run_fresh("tests.vfs.test_memory_tree_interrupts", *CASES)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        try:
            interrupt_case(name)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from error
