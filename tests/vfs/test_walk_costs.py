"""What a path resolution costs through composed providers, and that its caches stay right.

A cold ``stat`` through Mount(Overlay(Host)) is one walk: each layer is asked about each
component once (one lookup per component per layer that has it), never about every prefix
again; a warm one asks the host only whether the file changed. The caches that make warm
calls cheap (the memory fs's paths, the mount's entries, the overlay's entries) must forget
what a rename or a swapped symbolic link made untrue, whether the next call starts from the
root or from a held directory; what the Mount's listdir, probe, open and held directories take
from them must see every change made since, also one racing with the call.
"""

from __future__ import annotations

import collections
import errno
import os
import pathlib
import stat
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from vfs import HostFileSystem, Identity, MemoryFileSystem, MountFileSystem, OverlayFileSystem
from vfs.provider import FileSystem

DEPTH = ("a", "b", "c", "d", "e")


class CallCounter:
    """Counts the calls made into providers from outside them (a provider's own calls to its
    other methods, e.g. stat going to stat_at, are not counted again)."""

    def __init__(self) -> None:
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self._depth: collections.Counter[str] = collections.Counter()

    def watch(self, fs: FileSystem, label: str) -> None:
        for name in dir(type(fs)):
            if name.startswith("_") or name in ("nodes", "close"):
                continue
            if not callable(getattr(type(fs), name, None)):
                continue
            setattr(fs, name, self._counted(getattr(fs, name), label, name))

    def _counted(self, method: Callable[..., Any], label: str, name: str) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            if not self._depth[label]:
                self.calls[(label, name)] += 1
            self._depth[label] += 1
            try:
                return method(*args, **kwargs)
            finally:
                self._depth[label] -= 1

        return counted

    def of(self, label: str) -> int:
        return sum(n for (which, _), n in self.calls.items() if which == label)

    def clear(self) -> None:
        self.calls.clear()


def _memory() -> MemoryFileSystem:
    return MemoryFileSystem(identity=Identity.root())


@pytest.fixture
def composed(tmp_path: pathlib.Path) -> Iterator[tuple[MountFileSystem, CallCounter]]:
    """Mount(Overlay(upper memory, lower Host)) mounted at /m, with a file five deep below."""
    deep = tmp_path.joinpath(*DEPTH)
    deep.mkdir(parents=True)
    (deep / "f").write_bytes(b"x")
    counter = CallCounter()
    host, upper = HostFileSystem(str(tmp_path)), _memory()
    counter.watch(host, "host")
    counter.watch(upper, "upper")
    root = _memory()
    root.mkdir("/m", 0o755)
    mount = MountFileSystem(root, {"/m": OverlayFileSystem(upper, host)})
    yield mount, counter
    mount.close()


def test_a_cold_stat_through_mount_overlay_host_is_one_walk(
    composed: tuple[MountFileSystem, CallCounter],
) -> None:
    mount, counter = composed
    path = "/m/" + "/".join(DEPTH) + "/f"
    counter.clear()
    assert mount.stat(path).st_size == 1
    # the lower layer: its root, then each of the six components once
    assert counter.of("host") == 1 + len(DEPTH) + 1, counter.calls
    # the upper layer holds nothing: asked about its root only
    assert counter.of("upper") == 1, counter.calls
    counter.clear()
    assert mount.stat(path).st_size == 1
    # warm: the host is asked only whether the file changed
    assert counter.of("host") <= 1 and counter.of("upper") == 0, counter.calls


def test_a_relative_stat_from_a_held_directory_walks_from_there(
    composed: tuple[MountFileSystem, CallCounter],
) -> None:
    mount, counter = composed
    held = mount.directory(None, "/m/a/b")
    try:
        counter.clear()
        assert mount.stat_at(held, "c/d/e/f").st_size == 1
        assert counter.of("host") <= len(DEPTH) + 1, counter.calls  # no walk from the root again
        counter.clear()
        assert mount.stat_at(held, "c/d/e/f").st_size == 1
        assert counter.of("host") <= 1 and counter.of("upper") == 0, counter.calls  # warm
    finally:
        mount.release(held)


def _providers(tmp_path: pathlib.Path) -> dict[str, tuple[FileSystem, str]]:
    def mounted(inner: FileSystem) -> FileSystem:
        root = _memory()
        root.mkdir("/m", 0o755)
        return MountFileSystem(root, {"/m": inner})

    lower = tmp_path / "lower"
    lower.mkdir()
    lower2 = tmp_path / "lower2"
    lower2.mkdir()
    return {
        "memory": (_memory(), ""),
        "overlay": (OverlayFileSystem(_memory(), HostFileSystem(str(lower))), ""),
        "mount-memory": (mounted(_memory()), "/m"),
        "mount-overlay-host": (
            mounted(OverlayFileSystem(_memory(), HostFileSystem(str(lower2)))),
            "/m",
        ),
    }


PROVIDER_NAMES = ("memory", "overlay", "mount-memory", "mount-overlay-host")


def _make(fs: FileSystem, path: str, data: bytes) -> None:
    handle = fs.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        handle.pwrite(data, 0)
    finally:
        handle.close()


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_caches_forget_a_renamed_directory(provider: str, tmp_path: pathlib.Path) -> None:
    fs, base = _providers(tmp_path)[provider]
    with fs:
        fs.mkdir(base + "/d", 0o755)
        fs.mkdir(base + "/d/sub", 0o755)
        _make(fs, base + "/d/sub/f", b"one")
        held = fs.directory(None, base + "/d")
        try:
            for _ in range(2):  # the second from the caches
                assert fs.stat(base + "/d/sub/f").st_size == 3
                assert fs.stat_at(held, "sub/f").st_size == 3
            fs.rename(base + "/d", base + "/e")
            fs.mkdir(base + "/d", 0o755)
            _make(fs, base + "/e/sub/g", b"two!")
            with pytest.raises(FileNotFoundError):
                fs.stat(base + "/d/sub/f")
            assert fs.stat(base + "/e/sub/f").st_size == 3
            assert fs.stat_at(held, "sub/g").st_size == 4  # the held directory moved with it
            fs.rename(base + "/e/sub", base + "/d/sub")  # out of the held directory
            with pytest.raises(FileNotFoundError):
                fs.stat_at(held, "sub/f")
            assert fs.stat(base + "/d/sub/f").st_size == 3
        finally:
            fs.release(held)


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_caches_forget_a_swapped_symbolic_link(provider: str, tmp_path: pathlib.Path) -> None:
    fs, base = _providers(tmp_path)[provider]
    with fs:
        for name, data in (("t1", b"1"), ("t2", b"22")):
            fs.mkdir(f"{base}/{name}", 0o755)
            _make(fs, f"{base}/{name}/f", data)
        fs.symlink("t1", base + "/link")
        held = fs.directory(None, base or "/")
        try:
            for _ in range(2):
                assert fs.stat(base + "/link/f").st_size == 1
                assert fs.stat_at(held, "link/f").st_size == 1
            fs.unlink(base + "/link")
            fs.symlink("t2", base + "/link")
            assert fs.stat(base + "/link/f").st_size == 2
            assert fs.stat_at(held, "link/f").st_size == 2
            fs.unlink(base + "/link")
            fs.rename(base + "/t1", base + "/link")  # a directory where the link was
            assert fs.stat(base + "/link/f").st_size == 1
            assert fs.stat_at(held, "link/f").st_size == 1
            with pytest.raises(FileNotFoundError):
                fs.stat(base + "/t1/f")
            with pytest.raises(FileNotFoundError):
                fs.stat_at(held, "t1/f")
            fs.rename(base + "/link", base + "/t1")
            fs.symlink("/nowhere", base + "/link")
            with pytest.raises(OSError) as raised:
                fs.stat(base + "/link/f")
            assert raised.value.errno == errno.ENOENT
            with pytest.raises(OSError) as raised:
                fs.stat_at(held, "link/f")
            assert raised.value.errno == errno.ENOENT
        finally:
            fs.release(held)


def _mount_over_memory() -> tuple[MountFileSystem, MemoryFileSystem]:
    """A Mount of a memory root holding /d (empty) and /m/x/covered, with a memory provider
    on /m that holds /x/mounted."""
    inner = _memory()
    inner.mkdir("/x", 0o755)
    _make(inner, "/x/mounted", b"m")
    root = _memory()
    root.mkdir("/m", 0o755)
    root.mkdir("/m/x", 0o755)
    _make(root, "/m/x/covered", b"c")
    root.mkdir("/d", 0o755)
    return MountFileSystem(root, {"/m": inner}), root


def test_a_listing_of_a_remembered_directory_sees_every_change_since() -> None:
    """A directory a path named before is listed by its provider directly: what was made or
    removed since is seen, through the Mount or on the provider itself, and a link put in the
    directory's place on the provider is followed in the Mount's namespace, not the
    provider's (there /m is the mounted provider's root)."""
    mount, root = _mount_over_memory()
    with mount:
        assert stat.S_ISDIR(mount.stat("/d").st_mode)  # /d remembered
        assert mount.listdir("/d") == []
        _make(mount, "/d/f", b"1")
        assert mount.listdir("/d") == ["f"]
        _make(root, "/d/g", b"2")
        assert sorted(mount.listdir("/d")) == ["f", "g"]
        mount.unlink("/d/f")
        assert mount.listdir("/d") == ["g"]
        root.unlink("/d/g")
        root.rmdir("/d")
        root.symlink("/m/x", "/d")
        assert mount.listdir("/d") == ["mounted"]
        assert root.listdir("/d") == ["covered"]  # the provider's own /m, under the mount
        assert mount.probe("/d") is not None and mount.probe("/d", False) is not None
        assert stat.S_ISLNK(mount.stat("/d", follow_symlinks=False).st_mode)
        assert stat.S_ISDIR(mount.stat("/m").st_mode)  # a mount point, named directly
        assert mount.listdir("/m") == ["x"]


def test_a_remembered_file_replaced_by_a_link_is_followed_by_probe() -> None:
    mount, root = _mount_over_memory()
    with mount:
        _make(mount, "/d/f", b"file")
        assert mount.probe("/d/f").st_size == 4  # type: ignore[union-attr]
        root.unlink("/d/f")
        root.symlink("/m/x", "/d/f")  # on the provider: the Mount still remembers /d/f
        followed, itself = mount.probe("/d/f"), mount.probe("/d/f", False)
        assert followed is not None and stat.S_ISDIR(followed.st_mode)
        assert followed.st_dev == mount.stat("/m").st_dev  # the mounted provider's directory
        assert itself is not None and stat.S_ISLNK(itself.st_mode)
        root.unlink("/d/f")
        assert mount.probe("/d/f") is None


def test_a_held_directory_is_remembered_until_it_moves() -> None:
    """What ``directory`` resolved (a cwd) answers later calls on its path at once, and a
    rename through the Mount makes them find what is there now."""
    mount, _ = _mount_over_memory()
    with mount:
        mount.mkdir("/d/sub", 0o755)
        held = mount.directory(None, "/d/sub")
        try:
            _make(mount, "/d/sub/f", b"1")
            assert mount.listdir("/d/sub") == ["f"]
            assert mount.probe("/d/sub") == mount.stat("/d/sub")
            mount.rename("/d/sub", "/d/old")
            mount.mkdir("/d/sub", 0o700)
            assert mount.listdir("/d/sub") == []
            assert stat.S_IMODE(mount.stat("/d/sub").st_mode) == 0o700
            assert mount.where(held) == "/d/old"
            assert mount.listdir_at(held, "") == ["f"]
            assert mount.stat_at(held, "f").st_size == 1
            mount.mkdir("/d/old/in", 0o755)
            assert mount.probe_at(held, "in") is not None  # remembered from the held directory
            assert mount.listdir_at(held, "in") == []
            mount.rename("/d/old/in", "/d/in")
            with pytest.raises(FileNotFoundError):
                mount.listdir_at(held, "in")
        finally:
            mount.release(held)


class _ChangingOnStat(MemoryFileSystem):
    """A memory file system that runs ``change`` once, right after a stat of ``path``."""

    def __init__(self) -> None:
        super().__init__(identity=Identity.root())
        self.path = ""
        self.change: Callable[[], None] | None = None

    def stat(self, path: str, follow_symlinks: bool = True) -> os.stat_result:
        result = super().stat(path, follow_symlinks)
        change = self.change
        if change is not None and path == self.path:
            self.change = None
            change()
        return result


def test_a_listing_racing_with_a_link_swap_through_the_mount_is_the_mounts() -> None:
    """The directory is replaced by a link (through the Mount) between the fast path's look at
    it and its listing: the listing is not the provider's resolution of the link."""
    inner = _memory()
    inner.mkdir("/x", 0o755)
    _make(inner, "/x/mounted", b"m")
    root = _ChangingOnStat()
    root.mkdir("/m", 0o755)
    root.mkdir("/m/x", 0o755)
    _make(root, "/m/x/covered", b"c")
    root.mkdir("/d", 0o755)
    mount = MountFileSystem(root, {"/m": inner})
    with mount:
        assert mount.listdir("/d") == [] and mount.probe("/d") is not None

        def swap() -> None:
            mount.rmdir("/d")
            mount.symlink("/m/x", "/d")

        root.path, root.change = "/d", swap
        assert mount.listdir("/d") == ["mounted"]
        assert root.change is None  # the swap did run in the middle


def _read(fs: FileSystem, path: str, flags: int = os.O_RDONLY) -> bytes:
    handle = fs.open(path, flags)
    try:
        return handle.pread(100, 0)
    finally:
        handle.close()


def test_a_remembered_file_replaced_by_a_link_is_followed_by_open() -> None:
    """A link put in a remembered file's place on the provider is followed in the Mount's
    namespace (where /m is the mounted provider's root), not the provider's; O_NOFOLLOW
    refuses it; and the file put back is opened again."""
    mount, root = _mount_over_memory()
    with mount:
        _make(mount, "/d/f", b"file")
        assert _read(mount, "/d/f") == b"file"  # remembered by the open
        assert _read(mount, "/d/f") == b"file"
        _make(root, "/m/x/mounted", b"covered")  # under the mount: only the provider sees it
        root.unlink("/d/f")
        root.symlink("/m/x/mounted", "/d/f")
        assert _read(mount, "/d/f") == b"m"
        with pytest.raises(OSError) as raised:
            _read(mount, "/d/f", os.O_RDONLY | os.O_NOFOLLOW)
        assert raised.value.errno == errno.ELOOP and raised.value.filename == "/d/f"
        root.unlink("/d/f")
        with pytest.raises(FileNotFoundError) as missing:
            _read(mount, "/d/f")
        assert missing.value.filename == "/d/f"
        _make(root, "/d/f", b"back")
        assert _read(mount, "/d/f") == b"back"


def test_an_open_racing_with_a_link_swap_through_the_mount_is_the_mounts() -> None:
    """The file is replaced by a link (through the Mount) between the fast path's look at it
    and its open: what is opened is where the link leads in the Mount's namespace, not the
    file the provider's resolution of it finds (/m/x/covered, under the mount)."""
    inner = _memory()
    inner.mkdir("/x", 0o755)
    _make(inner, "/x/covered", b"mounted")
    root = _ChangingOnStat()
    root.mkdir("/m", 0o755)
    root.mkdir("/m/x", 0o755)
    _make(root, "/m/x/covered", b"covered")
    root.mkdir("/d", 0o755)
    _make(root, "/d/f", b"file")
    mount = MountFileSystem(root, {"/m": inner})
    with mount:
        assert _read(mount, "/d/f") == b"file"  # remembered

        def swap() -> None:
            mount.unlink("/d/f")
            mount.symlink("/m/x/covered", "/d/f")

        root.path, root.change = "/d/f", swap
        assert _read(mount, "/d/f") == b"mounted"
        assert root.change is None  # the swap did run in the middle
