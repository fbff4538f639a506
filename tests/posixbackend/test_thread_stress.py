"""Many threads on one accelerated backend over one memory file system, the interpreter
switching every few bytecodes: each thread cycles a file of its own through ``open()`` (the C
paths: open 'w+b' of an existing file, write, seek, read, close) and works on files all threads
share (truncating opens, reads, os-level writes, dup, rename, unlink, through the Python paths,
which hold the locks the C paths find free or held). No write may be torn or lost to its own
reader; afterwards the descriptor table and the tree must be whole: no descriptor left, the
table's hint right, every inode's handles closed, pages and inodes counted once.
"""

from __future__ import annotations

import errno
import os
import random

import pytest

from posixbackend.emulated import EmulatedBackend, accelerator
from tests.threads import THREADS, run_threads, switch_often  # noqa: F401 - a fixture
from vfs import Identity, MemoryFileSystem
from vfs.memory.nodes import Directory, Inode, RegularFile

SHARED = 4
ROUNDS = 150
SIZE = 1024


def pattern(thread: int, round_: int) -> bytes:
    """A write no other write equals, uniform so that a torn one (two mixed) shows."""
    return bytes([(thread * ROUNDS + round_) % 251 + 1]) * SIZE


def whole(data: bytes) -> bool:
    """Nothing, or one write of SIZE bytes at offset 0, as a reader at 0 may find it."""
    return not data or (len(data) == SIZE and data == data[:1] * SIZE)


def shared_work(backend: EmulatedBackend, rng: random.Random, thread: int, round_: int) -> None:
    """One operation on a shared file; a name another thread renamed or unlinked is ENOENT."""
    open_ = backend.io_open
    name = f"/w/s{rng.randrange(SHARED)}"
    choice = rng.randrange(7)
    try:
        if choice == 0:
            with open_(name, "w+b") as file:
                file.write(pattern(thread, round_))
                file.seek(0)
                assert whole(file.read())
        elif choice == 1:
            with open_(name, "rb") as file:
                assert whole(file.read())
        elif choice == 2:
            fd = backend.open(name, os.O_RDWR | os.O_CREAT, 0o644)
            copy = backend.dup(fd)
            try:
                assert backend.write(fd, pattern(thread, round_)) == SIZE
                assert backend.lseek(copy, 0, os.SEEK_CUR) == SIZE, "dup shares the offset"
            finally:
                backend.close(copy)
                backend.close(fd)
        elif choice == 3:
            backend.rename(name, f"/w/s{rng.randrange(SHARED)}")
        elif choice == 4:
            backend.unlink(name)
        elif choice == 5:
            # O_NOFOLLOW: an open the Python path always makes, under both locks
            fd = backend.open(name, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                assert whole(backend.read(fd, 2 * SIZE))
            finally:
                backend.close(fd)
        else:
            backend.stat(name)
    except FileNotFoundError as error:
        assert error.errno == errno.ENOENT


def tree_is_whole(fs: MemoryFileSystem) -> None:
    """Every file closed, its pages and inode counted once, link counts as the names say."""
    assert not fs._lock.locked()
    seen: dict[int, Inode] = {}
    stack: list[Directory] = [fs.directory(None, "/")]
    names = 0
    while stack:
        directory = stack.pop()
        for node in directory.entries.values():
            names += 1
            seen[id(node)] = node
            if isinstance(node, Directory):
                stack.append(node)
            elif isinstance(node, RegularFile):
                assert node.nlink == 1
                assert not node.handles, "a handle left open"
                assert node.data is not None and node.size == len(node.data)
    assert fs._space.used_inodes == 1 + names
    assert fs._space.used_pages == sum(node.pages() for node in seen.values())


@pytest.mark.usefixtures("switch_often")
@pytest.mark.parametrize("accelerated", [True, False], ids=["accelerated", "pure"])
def test_threads_on_own_and_shared_files_leave_the_table_and_tree_whole(accelerated: bool) -> None:
    if accelerated and not accelerator.AVAILABLE:
        pytest.skip(accelerator.MISSING)
    fs = MemoryFileSystem(identity=Identity.root())
    backend = EmulatedBackend(fs, accelerated=accelerated, standard_streams=False)
    backend.mkdir("/w")
    table = backend._table
    before = set(table.files)

    def work(thread: int) -> None:
        rng = random.Random(thread)
        own = f"/w/own{thread}"
        open_ = backend.io_open
        for round_ in range(ROUNDS):
            with open_(own, "w+b") as file:
                file.write(pattern(thread, round_))
                file.seek(0)
                assert file.read() == pattern(thread, round_), "a write lost or torn"
            shared_work(backend, rng, thread, round_)

    run_threads(work, THREADS)
    assert not table.lock.locked()
    assert set(table.files) == before, "a descriptor left open, or one closed twice"
    assert all(fd in table.files for fd in range(table._hint)), "the hint skips a free number"
    assert table._inheritable <= table.files.keys()
    tree_is_whole(fs)
    for thread in range(THREADS):
        with backend.io_open(f"/w/own{thread}", "rb") as file:
            assert file.read() == pattern(thread, ROUNDS - 1)
    assert backend.open("/w", os.O_RDONLY) == min(set(range(len(before) + 1)) - before)
