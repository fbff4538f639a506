"""Listing a large memory directory: the names as a native directory gives them after every
kind of change, and the copy made with neither the file system's lock nor the GIL held for
its whole length (so that other threads go on while a long listing is copied)."""

from __future__ import annotations

import os
import posix
import tempfile
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vfs import MemoryFileSystem
from vfs.memory import nodes
from vfs.memory.nodes import LISTING_CHUNK

LARGE = LISTING_CHUNK + 100
"""Entries in the large directory: past one chunk, so its listing is copied in steps."""


@pytest.fixture
def native_root() -> Iterator[str]:
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as d:
        yield d


def populate(make: Callable[[str], None], count: int) -> None:
    for number in range(count):
        make(f"f{number}")


# Changes of the large directory: (kind, number) where kind picks create, unlink, a rename
# within it, a rename out of it, a rename into it over an existing name, or a mkdir.
KINDS = st.sampled_from(["create", "unlink", "rename", "out", "over", "mkdir"])
CHANGES = st.lists(st.tuples(KINDS, st.integers(0, LARGE + 20)), min_size=1, max_size=8)


def apply(change: tuple[str, int], create: Callable[[str], None], ops: object) -> None:
    """The change on a file system reached through ``ops`` (os, or a MemoryFileSystem) with
    paths under /big (prefixed by the caller's ``ops`` wrapper)."""
    kind, number = change
    call = getattr
    try:
        if kind == "create":
            create(f"/big/n{number}")
        elif kind == "unlink":
            call(ops, "unlink")(f"/big/f{number}")
        elif kind == "rename":
            call(ops, "rename")(f"/big/f{number}", f"/big/r{number}")
        elif kind == "out":
            call(ops, "rename")(f"/big/f{number}", f"/other/f{number}")
        elif kind == "over":
            call(ops, "rename")(f"/other/o{number % 3}", f"/big/f{number}")
        else:
            call(ops, "mkdir")(f"/big/d{number}", 0o755)
    except FileNotFoundError:
        pass  # the same name is missing on both sides
    except FileExistsError:
        pass


class Rooted:
    """os functions with paths under a native root."""

    def __init__(self, root: str) -> None:
        self.root = root

    def unlink(self, path: str) -> None:
        os.unlink(self.root + path)

    def rename(self, src: str, dst: str) -> None:
        os.rename(self.root + src, self.root + dst)

    def mkdir(self, path: str, mode: int) -> None:
        os.mkdir(self.root + path, mode)


def touch_native(root: str) -> Callable[[str], None]:
    def create(path: str) -> None:
        with open(root + path, "x"):
            pass

    return create


def touch_memory(fs: MemoryFileSystem) -> Callable[[str], None]:
    def create(path: str) -> None:
        fs.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644).close()

    return create


@settings(max_examples=15, deadline=None)
@given(changes=st.lists(CHANGES, min_size=1, max_size=2))
def test_a_large_listing_follows_every_change_as_native(
    changes: list[list[tuple[str, int]]],
) -> None:
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as root:
        fs = MemoryFileSystem()
        for side_mkdir in (lambda p: os.mkdir(root + p), lambda p: fs.mkdir(p, 0o755)):
            side_mkdir("/big")
            side_mkdir("/other")
        populate(lambda name: touch_native(root)(f"/big/{name}"), LARGE)
        populate(lambda name: touch_memory(fs)(f"/big/{name}"), LARGE)
        for number in range(3):
            touch_native(root)(f"/other/o{number}")
            touch_memory(fs)(f"/other/o{number}")
        handle = fs.open("/big", os.O_RDONLY | os.O_DIRECTORY)
        try:
            for batch in changes:
                for change in batch:  # listed before each change: the listing is kept till one
                    assert sorted(fs.listdir("/big")) == sorted(os.listdir(root + "/big"))
                    assert sorted(handle.listdir()) == sorted(os.listdir(root + "/big"))
                    apply(change, touch_native(root), Rooted(root))
                    apply(change, touch_memory(fs), fs)
            assert sorted(fs.listdir("/big")) == sorted(os.listdir(root + "/big"))
            assert sorted(handle.listdir()) == sorted(os.listdir(root + "/big"))
            assert sorted(fs.listdir("/other")) == sorted(os.listdir(root + "/other"))
        finally:
            handle.close()


def test_a_listing_returns_a_fresh_list_each_time() -> None:
    fs = MemoryFileSystem()
    fs.mkdir("/big", 0o755)
    populate(lambda name: touch_memory(fs)(f"/big/{name}"), LARGE)
    first = fs.listdir("/big")
    first.clear()  # the caller owns its list: the next listing is whole
    assert len(fs.listdir("/big")) == LARGE


def test_a_long_listing_is_copied_without_the_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Between two steps of the copy, the GIL is let go (a sleep(0)) and the file system's
    lock is free: another thread could stat or create meanwhile."""
    fs = MemoryFileSystem()
    fs.mkdir("/big", 0o755)
    populate(lambda name: touch_memory(fs)(f"/big/{name}"), 3 * LISTING_CHUNK)
    steps: list[bool] = []

    def step(seconds: float) -> None:
        assert seconds == 0
        steps.append(fs._lock.locked())
        posix.sched_yield()

    monkeypatch.setattr(nodes, "sleep", step)
    assert len(fs.listdir("/big")) == 3 * LISTING_CHUNK
    assert steps == [False, False]
    handle = fs.open("/big", os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert len(handle.listdir()) == 3 * LISTING_CHUNK
    finally:
        handle.close()
    assert steps == [False] * 4


@pytest.mark.parametrize(
    "change",
    [("create", 5), ("unlink", 5), ("rename", 5), ("out", 5), ("over", 5), ("mkdir", 5)],
)
def test_each_kind_of_change_reaches_a_kept_listing(
    change: tuple[str, int], native_root: str
) -> None:
    fs = MemoryFileSystem()
    for path in ("/big", "/other"):
        os.mkdir(native_root + path)
        fs.mkdir(path, 0o755)
    populate(lambda name: touch_native(native_root)(f"/big/{name}"), LARGE)
    populate(lambda name: touch_memory(fs)(f"/big/{name}"), LARGE)
    for number in range(3):
        touch_native(native_root)(f"/other/o{number}")
        touch_memory(fs)(f"/other/o{number}")
    for path in ("/big", "/other"):  # listed, so kept
        assert sorted(fs.listdir(path)) == sorted(os.listdir(native_root + path))
    apply(change, touch_native(native_root), Rooted(native_root))
    apply(change, touch_memory(fs), fs)
    for path in ("/big", "/other"):
        assert sorted(fs.listdir(path)) == sorted(os.listdir(native_root + path))
