"""Paths the memory file system has not resolved before: the quick resolution (plain lookups
from the root, vfs.memory.resolver.Resolver.quick) gives what the general walk gives.

A path whose directory part is made of plain directory names is resolved by dictionary
lookups alone, also when the tree holds more directories than the caches keep; everything
else (dots, empty components, links, refusals, paths check_path refuses) still goes to the
walk, so errors stay Linux's whether or not the path was seen before.
"""

from __future__ import annotations

import errno
import os
import posix

import pytest

from vfs import Identity, MemoryFileSystem
from vfs.memory.resolver import CACHE_LIMIT

NOBODY = 65534


def _tree() -> MemoryFileSystem:
    fs = MemoryFileSystem(identity=Identity.root())
    fs.mkdir("/d", 0o755)
    fs.mkdir("/d/e", 0o755)
    fs.open("/d/e/f", posix.O_CREAT | posix.O_WRONLY, 0o644).close()
    fs.symlink("e", "/d/link")
    return fs


def _errno_of(call: object, *args: object) -> int | type[BaseException]:
    assert callable(call)
    try:
        call(*args)
    except OSError as error:
        assert error.errno is not None
        return error.errno
    except (ValueError, TypeError) as error:
        return type(error)
    return 0


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/d/e/f", 0),
        ("/d/./e/f", 0),
        ("/d//e/f", 0),
        ("/d/e/../e/f", 0),
        ("/d/link/f", 0),
        ("/d/e/f/", errno.ENOTDIR),
        ("/d/e/f/.", errno.ENOTDIR),
        ("/d/e/missing", errno.ENOENT),
        ("/d/missing/f", errno.ENOENT),
        ("/d/missing/f/g", errno.ENOENT),
        ("/d/missing/", errno.ENOENT),
        ("/d/missing/../e/f", errno.ENOENT),
        ("/d/missing/" + "x" * 256, errno.ENOENT),
        ("/d/" + "x" * 256 + "/missing/f", errno.ENAMETOOLONG),
        ("/d//missing/f", errno.ENOENT),
        ("/d/e/f/missing/g", errno.ENOTDIR),
        ("/d/link/missing/g", errno.ENOENT),
        ("/d/e/f/g", errno.ENOTDIR),
        ("/d/e/" + "x" * 256, errno.ENAMETOOLONG),
        ("/d/" + "x" * 256 + "/f", errno.ENAMETOOLONG),
        ("/d/e/" + "a/" * 2100, errno.ENAMETOOLONG),
        ("/d/e/\x00", ValueError),
        ("/d/e/\udcff\ud800", UnicodeEncodeError),
    ],
)
def test_cold_and_warm_stat_agree_with_the_walk(
    path: str, expected: int | type[BaseException]
) -> None:
    """The first stat of a path (quick resolution or walk) and the next (caches) fail or
    succeed alike, and as the general walk from an open directory does."""
    fs = _tree()
    first = _errno_of(fs.stat, path)
    second = _errno_of(fs.stat, path)
    through_walk = _errno_of(fs.stat_at, fs.directory(None, "/"), path.lstrip("/"))
    assert first == second == through_walk == expected


def test_search_permission_is_checked_on_every_directory_of_a_cold_path() -> None:
    """A directory on the way that the identity may not search refuses a path never resolved
    before (EACCES), on stat and open; once it may, the same path resolves."""
    fs = _tree()
    fs.chmod("/d", 0o700)
    fs.identity = Identity(NOBODY, NOBODY, frozenset())
    for _ in range(2):
        assert _errno_of(fs.stat, "/d/e/f") == errno.EACCES
        assert _errno_of(fs.open, "/d/e/f", posix.O_RDONLY) == errno.EACCES
    fs.identity = Identity.root()
    fs.chmod("/d", 0o711)
    fs.identity = Identity(NOBODY, NOBODY, frozenset())
    assert fs.stat("/d/e/f").st_mode & 0o777 == 0o644
    fs.identity = Identity.root()
    fs.chmod("/d/e", 0o600)  # the last directory: checked too
    fs.identity = Identity(NOBODY, NOBODY, frozenset())
    assert _errno_of(fs.stat, "/d/e/f") == errno.EACCES


def test_a_missing_directory_on_a_plain_path_fails_without_the_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plain name missing from a searchable directory on the way is ENOENT at once (what
    os.makedirs asks of each parent), also under a directory the identity may search only;
    one it may not search still refuses (the walk's EACCES)."""
    fs = _tree()
    fs.chmod("/d", 0o711)
    fs.identity = Identity(NOBODY, NOBODY, frozenset())
    walked: list[str] = []
    walk = type(fs._names).walk

    def counting_walk(self: object, *args: object) -> object:
        walked.append(str(args[1]))
        return walk(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(type(fs._names), "walk", counting_walk)
    for path in ("/d/missing/f", "/d/e/missing/f/g", "/missing/d/e"):
        assert _errno_of(fs.stat, path) == errno.ENOENT
        assert _errno_of(fs.stat, path, False) == errno.ENOENT
    assert walked == []
    fs.identity = Identity.root()
    fs.chmod("/d", 0o700)
    fs.identity = Identity(NOBODY, NOBODY, frozenset())
    assert _errno_of(fs.stat, "/d/missing/f") == errno.EACCES


def test_more_directories_than_the_caches_keep() -> None:
    """Past the caches' size every path resolves to its own file, also after a directory was
    renamed (the caches forgotten) and in another order."""
    fs = MemoryFileSystem(identity=Identity.root())
    count = CACHE_LIMIT + 100
    inodes = {}
    for n in range(count):
        fs.mkdir(f"/d{n}", 0o755)
        path = f"/d{n}/f"
        fs.open(path, posix.O_CREAT | posix.O_WRONLY, 0o644).close()
        inodes[path] = fs.stat(path).st_ino
    for path in reversed(list(inodes)):
        assert fs.stat(path).st_ino == inodes[path]
    fs.rename("/d7", "/moved")
    assert _errno_of(fs.stat, "/d7/f") == errno.ENOENT
    assert fs.stat("/moved/f").st_ino == inodes["/d7/f"]
    handle = fs.open(f"/d{count - 1}/f", os.O_RDONLY)
    try:
        assert handle.stat().st_ino == inodes[f"/d{count - 1}/f"]
    finally:
        handle.close()


def test_a_file_swapped_for_a_directory_on_the_way() -> None:
    """A component that is no longer a directory (or now a link) is walked again: ENOTDIR,
    or the link followed."""
    fs = _tree()
    assert fs.stat("/d/e/f").st_size == 0
    fs.rename("/d/e", "/d/old")
    fs.open("/d/e", posix.O_CREAT | posix.O_WRONLY, 0o644).close()
    assert _errno_of(fs.stat, "/d/e/f") == errno.ENOTDIR
    fs.unlink("/d/e")
    fs.symlink("old", "/d/e")
    assert fs.stat("/d/e/f").st_ino == fs.stat("/d/old/f").st_ino


def test_a_missing_directory_is_found_by_one_pass_of_plain_lookups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """stat and open(O_CREAT) of a path whose directory part is missing look its plain names
    up once: the pass that fails to resolve the directory is the one that finds the name
    missing (ENOENT), and an open tries its cached open and its create from one resolution,
    with no walk after it."""
    fs = _tree()
    passes: list[str] = []
    plain = type(fs._names)._plain

    def counting_plain(self: object, head: str) -> object:
        passes.append(head)
        return plain(self, head)  # type: ignore[arg-type]

    monkeypatch.setattr(type(fs._names), "_plain", counting_plain)
    assert _errno_of(fs.stat, "/d/missing/f") == errno.ENOENT
    assert passes == ["/d/missing"]
    passes.clear()
    flags = posix.O_CREAT | posix.O_WRONLY
    assert _errno_of(fs.open_at, None, "/d/missing/f", flags, 0o644) == errno.ENOENT
    assert passes == ["/d/missing"]
    fs.open_at(None, "/d/e/new", flags, 0o644).close()
    assert fs.stat("/d/e/new").st_mode & 0o777 == 0o644
