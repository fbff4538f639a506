"""O_CREAT of a path whose directory the path cache holds (a stat of it failed first, as
shutil's copies look before they create) against the general path's walk: the same file,
owner, mode, parent times and links, the same errors, and nothing left by an interruption."""

from __future__ import annotations

import errno
import posix
from pathlib import Path
from typing import Any

import attrs
import pytest

import vfs.memory
from tests.interrupts import Operation, Point, interrupt_everywhere, run_fresh
from vfs import Identity, MemoryFileSystem
from vfs.memory.handle import MemoryHandle
from vfs.memory.nodes import Directory

MEMORY_CODE = str(Path(vfs.memory.__file__).parent)

NOBODY = Identity(65534, 65534)
CREATE = posix.O_CREAT | posix.O_WRONLY | posix.O_TRUNC


def attempt(call: Any) -> Any:
    """A call's result, or its error as (class, errno, filename)."""
    try:
        return call()
    except OSError as error:
        return type(error), error.errno, error.filename


def outcome(fs: MemoryFileSystem, path: str, flags: int, mode: int, *, look_first: bool) -> Any:
    """What an open of ``path`` gives, and the state of the file and its directory after."""
    parent = path.rpartition("/")[0] or "/"
    before = fs.stat(parent).st_mtime_ns
    if look_first:
        attempt(lambda: fs.stat(path))  # fills the path cache, as os.path.exists does

    def opened() -> Any:
        fs.open_at(None, path, flags, mode).close()
        status = fs.stat(path)
        return status.st_mode, status.st_uid, status.st_gid, status.st_nlink, status.st_size

    result = attempt(opened)
    fs.identity = Identity.root()  # the directory seen whatever the caller could see
    status = fs.stat(parent)
    return result, status.st_nlink, status.st_mtime_ns > before, sorted(fs.listdir(parent))


def fresh(identity: Identity | None = None, **options: Any) -> MemoryFileSystem:
    fs = MemoryFileSystem(identity=Identity.root(), **options)
    fs.mkdir("/d", 0o755)
    fs.mkdir("/sticky", 0o1777)
    fs.mkdir("/setgid", 0o2775)
    fs.chown("/setgid", 0, 7)
    fs.mkdir("/locked", 0o555)
    fs.mkdir("/private", 0o700)
    fs.open("/d/there", CREATE, 0o600).close()
    fs.symlink("/d/target", "/d/link")
    if identity is not None:
        fs.identity = identity
    return fs


CASES = [
    ("/d/new", CREATE, 0o644),
    ("/d/new", posix.O_CREAT | posix.O_RDWR, 0o4755),
    ("/d/there", CREATE, 0o644),
    ("/d/link", CREATE, 0o644),
    ("/sticky/new", CREATE, 0o666),
    ("/setgid/new", CREATE, 0o2755),
    ("/locked/new", CREATE, 0o644),
    ("/private/new", CREATE, 0o644),
    ("/d/" + "n" * 255, CREATE, 0o644),
    ("/d/" + "n" * 256, CREATE, 0o644),
    ("/d/" + "\u00e9" * 128, CREATE, 0o644),
]


@pytest.mark.parametrize("identity", [None, NOBODY], ids=["root", "nobody"])
@pytest.mark.parametrize(("path", "flags", "mode"), CASES)
def test_cached_create_matches_the_walk(
    identity: Identity | None, path: str, flags: int, mode: int
) -> None:
    walked = outcome(fresh(identity), path, flags, mode, look_first=False)
    assert outcome(fresh(identity), path, flags, mode, look_first=True) == walked


def test_cached_create_counts_against_the_inode_limit() -> None:
    fs = fresh(max_inodes=8)  # the root, five directories, a file and a link: no room left
    with pytest.raises(OSError):
        fs.stat("/d/new")
    with pytest.raises(OSError) as caught:
        fs.open_at(None, "/d/new", CREATE, 0o644)
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, "/d/new")
    assert "new" not in fs.listdir("/d")


def test_cached_create_in_a_removed_directory_is_enoent() -> None:
    fs = fresh()
    with pytest.raises(OSError):
        fs.stat("/d/gone/new")
    fs.mkdir("/d/gone")
    with pytest.raises(OSError):
        fs.stat("/d/gone/new")  # cached now: /d/gone and "new"
    held = fs.directory(None, "/d/gone")
    fs.hold(held)
    fs.rmdir("/d/gone")
    with pytest.raises(FileNotFoundError):
        fs.open_at(None, "/d/gone/new", CREATE, 0o644)
    fs.release(held)


@attrs.define
class Opened:
    """A file system whose path cache holds /d/new, and what the open gave (if it returned)."""

    fs: MemoryFileSystem
    handle: MemoryHandle | None = None


def cached(fs_world: Opened) -> None:
    fs_world.handle = fs_world.fs.open_at(None, "/d/new", CREATE, 0o644)


def primed() -> Opened:
    fs = fresh()
    with pytest.raises(OSError):
        fs.stat("/d/new")
    return Opened(fs)


def whole(done: Opened, point: Point) -> None:
    """The lock free, the file there or not, counted either way, and no handle the caller did
    not get."""
    fs = done.fs
    assert fs._lock.acquire(blocking=False), f"lock held after {point}"
    fs._lock.release()
    directory = fs._names.root.entries["d"]
    assert isinstance(directory, Directory)
    node = directory.entries.get("new")
    files = sum(1 for _ in fs._names.root.entries) + len(directory.entries)
    assert fs._space.used_inodes == files + 1, f"inodes miscounted after {point}"
    if node is not None:
        assert len(node.handles) == (0 if done.handle is None else 1), f"after {point}"
    if done.handle is not None:
        done.handle.close()


def interrupt_cached_create() -> None:
    interrupt_everywhere(Operation((MEMORY_CODE,), primed, cached, whole))


def test_an_interrupted_cached_create_leaves_a_counted_file_or_nothing() -> None:
    """In a fresh interpreter, as tests/vfs/test_memory_interrupts.py runs its cases."""
    run_fresh("tests.vfs.test_memory_cached_create")


if __name__ == "__main__":
    interrupt_cached_create()
