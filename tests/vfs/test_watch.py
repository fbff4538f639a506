"""FileSystem.watch: a token that stays the same only while nothing a path depends on changed.

The import finder keeps a directory's listing while the watch of that directory gives the same
token, instead of asking for its status at every import: every change that could make the
listing, or what the path names, different must change the token, whether it is made through
a Mount or on the provider itself; what cannot (reads, writes to a file's bytes, changes
elsewhere) leaves it as it was.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

import pytest

from vfs import FileSystem, HostFileSystem, Identity, MemoryFileSystem, MountFileSystem

NOBODY = Identity(65534, 65534)


class Setup:
    """A file system holding the tree below ``base``: ``base``/a/d (watched) with a file f,
    ``base``/a/sib beside it and ``base``/t elsewhere; ``raw`` is the memory provider holding
    it (at its own /a/d)."""

    def __init__(self, fs: FileSystem, raw: MemoryFileSystem, base: str = "") -> None:
        self.fs, self.raw, self.base = fs, raw, base

    def path(self, path: str) -> str:
        return self.base + path


def _memory() -> MemoryFileSystem:
    return MemoryFileSystem(identity=Identity.root())


def _make(fs: FileSystem, path: str, data: bytes = b"x") -> None:
    with fs.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644) as handle:
        handle.pwrite(data, 0)


def _tree() -> MemoryFileSystem:
    fs = _memory()
    for directory in ("/a", "/a/d", "/t"):
        fs.mkdir(directory, 0o755)
    _make(fs, "/a/d/f")
    _make(fs, "/a/sib")
    return fs


def memory() -> Setup:
    fs = _tree()
    return Setup(fs, fs)


def mount() -> Setup:
    """Through a Mount whose root provider holds the tree (a path it resolved before)."""
    raw = _tree()
    raw.mkdir("/m", 0o755)
    setup = Setup(MountFileSystem(raw, {"/m": _memory()}), raw)
    setup.fs.stat("/a/d")
    return setup


def mounted() -> Setup:
    """Through a Mount, the tree in the provider mounted at /m."""
    raw = _tree()
    root = _memory()
    root.mkdir("/m", 0o755)
    setup = Setup(MountFileSystem(root, {"/m": raw}), raw, "/m")
    setup.fs.stat("/m/a/d")
    return setup


SETUPS: dict[str, Callable[[], Setup]] = {"memory": memory, "mount": mount, "mounted": mounted}


def _restamp(s: Setup) -> None:
    st = s.fs.stat(s.path("/a/d"))
    s.fs.utime(s.path("/a/d"), (st.st_atime_ns, st.st_mtime_ns))


CHANGES: dict[str, Callable[[Setup], object]] = {
    "a file made in it": lambda s: _make(s.fs, s.path("/a/d/new")),
    "a directory made in it": lambda s: s.fs.mkdir(s.path("/a/d/new"), 0o755),
    "a link made in it": lambda s: s.fs.symlink("f", s.path("/a/d/new")),
    "a hard link made in it": lambda s: s.fs.link(s.path("/a/sib"), s.path("/a/d/new")),
    "a name removed from it": lambda s: s.fs.unlink(s.path("/a/d/f")),
    "a name renamed in it": lambda s: s.fs.rename(s.path("/a/d/f"), s.path("/a/d/g")),
    "a name renamed out of it": lambda s: s.fs.rename(s.path("/a/d/f"), s.path("/a/f")),
    "a name renamed into it": lambda s: s.fs.rename(s.path("/a/sib"), s.path("/a/d/sib")),
    "its times set to what they were": _restamp,
    "its mode": lambda s: s.fs.chmod(s.path("/a/d"), 0o700),
    "its owner": lambda s: s.fs.chown(s.path("/a/d"), 1, 1),
    "it renamed away": lambda s: s.fs.rename(s.path("/a/d"), s.path("/a/e")),
    "it replaced by another directory": lambda s: (
        s.fs.rename(s.path("/a/d"), s.path("/a/e")),
        s.fs.mkdir(s.path("/a/d"), 0o755),
    ),
    "it replaced by a link to itself": lambda s: (
        s.fs.rename(s.path("/a/d"), s.path("/a/e")),
        s.fs.symlink("e", s.path("/a/d")),
    ),
    "its parent renamed": lambda s: s.fs.rename(s.path("/a"), s.path("/b")),
    "its parent's mode": lambda s: s.fs.chmod(s.path("/a"), 0o700),
    "a name made beside it": lambda s: _make(s.fs, s.path("/a/new")),
    "a name made in it, on the provider": lambda s: _make(s.raw, "/a/d/new"),
    "it renamed away, on the provider": lambda s: s.raw.rename("/a/d", "/a/e"),
    "its parent renamed, on the provider": lambda s: s.raw.rename("/a", "/b"),
    "the provider's identity, to a user": lambda s: setattr(s.raw, "identity", NOBODY),
}
"""Changes the watch must see (each on a fresh tree)."""

STILL: dict[str, Callable[[Setup], object]] = {
    "its status and names read": lambda s: (
        s.fs.stat(s.path("/a/d")), s.fs.listdir(s.path("/a/d"))
    ),
    "a file in it written": lambda s: _make(s.fs, s.path("/a/d/f"), b"more bytes"),
    "a file in it read": lambda s: s.fs.open(s.path("/a/d/f"), os.O_RDONLY).close(),
    "a name made elsewhere": lambda s: _make(s.fs, s.path("/t/new")),
    "another root identity": lambda s: setattr(s.raw, "identity", Identity(0, 0, {7})),
}
"""What changes nothing the path depends on."""


@pytest.mark.parametrize("setup", SETUPS)
@pytest.mark.parametrize("change", CHANGES)
def test_every_change_the_path_depends_on_changes_the_token(setup: str, change: str) -> None:
    s = SETUPS[setup]()
    watch = s.fs.watch(s.path("/a/d"))
    assert watch is not None
    before = watch()
    assert watch() == before
    CHANGES[change](s)
    assert watch() != before


@pytest.mark.parametrize("setup", SETUPS)
@pytest.mark.parametrize("change", STILL)
def test_what_changes_nothing_it_depends_on_keeps_the_token(setup: str, change: str) -> None:
    s = SETUPS[setup]()
    watch = s.fs.watch(s.path("/a/d"))
    assert watch is not None
    before = watch()
    STILL[change](s)
    assert watch() == before


def test_a_link_swapped_on_the_way_through_the_mount_changes_the_token() -> None:
    """The watched entry is the mounted provider's; the link leading to it the root's."""
    s = mounted()
    s.fs.mkdir("/m/b", 0o755)
    s.fs.mkdir("/m/b/d", 0o755)
    s.fs.symlink("/m/a", "/link")
    s.fs.stat("/link/d")
    watch = s.fs.watch("/link/d")
    assert watch is not None
    before = watch()
    s.fs.unlink("/link")
    s.fs.symlink("/m/b", "/link")
    assert watch() != before


@pytest.mark.parametrize("setup", SETUPS)
def test_what_names_no_entry_directly_is_not_watched(setup: str) -> None:
    s = SETUPS[setup]()
    s.fs.symlink("d", s.path("/a/link"))
    for path in ("/a/missing", "/a/link", "/a/d/", "/a/d/.", "/a/d/..", "/a/d/f/x"):
        s.fs.probe(s.path(path))  # a Mount remembers what it can
        assert s.fs.watch(s.path(path)) is None, path
    assert s.fs.watch("a/d") is None
    s.fs.probe(s.path("/a/d/f"))
    assert s.fs.watch(s.path("/a/d/f")) is not None  # a file too


def test_a_mount_watches_only_what_it_resolved_before() -> None:
    fs = MountFileSystem(_tree(), {})
    assert fs.watch("/a/d") is None
    fs.probe("/a/d")
    assert fs.watch("/a/d") is not None


def test_a_provider_that_cannot_tell_watches_nothing(tmp_path: pathlib.Path) -> None:
    (tmp_path / "d").mkdir()
    with HostFileSystem(str(tmp_path)) as host:
        host.stat("/d")
        assert host.watch("/d") is None


@pytest.mark.parametrize("through_mount", [False, True])
def test_a_directory_further_up_renamed_or_made_unsearchable_changes_the_token(
    through_mount: bool,
) -> None:
    """Neither the entry nor its directory changed; the path leads elsewhere (or nowhere)."""
    for change in ("rename", "chmod"):
        raw = _memory()
        for directory in ("/g", "/g/a", "/g/a/d"):
            raw.mkdir(directory, 0o755)
        fs: FileSystem = MountFileSystem(raw, {}) if through_mount else raw
        fs.probe("/g/a/d")
        watch = fs.watch("/g/a/d")
        assert watch is not None
        before = watch()
        if change == "rename":
            fs.rename("/g", "/h")
        else:
            fs.chmod("/g", 0o600)
        assert watch() != before, change
