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
import itertools
import os
import pathlib
import stat
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from posixbackend.defaultfs import default_file_system
from tests.vfs.native_mounts import mounted_worker, needs_mounts, read_only, run_recorded, tmpfs
from tests.vfs.ops import NativeOps, ProviderOps, guest_error
from tests.vfs.recording import Recorder, differences
from tests.vfs.scenarios import touch
from tests.vfs.test_mount import linux_mounts
from vfs import HostFileSystem, Identity, MemoryFileSystem, MountFileSystem, OverlayFileSystem
from vfs.provider import FileSystem
from vfs.readonly import ReadOnlyFileSystem

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


# -- the fast paths of a create, a rename and an open of a missing name -------------------------
#
# A path whose directory part the Mount resolved before is handed to the provider relative to
# that directory's node without walking the directory part again (``_known_parent``): every
# outcome must stay the general walk's, i.e. Linux's. Each differential step runs twice on
# both sides, the first remembering the directory, the second taking the fast path.

FAST_NAMES = ("d", "e", "f", "l")
plain_component = st.sampled_from(FAST_NAMES)
fast_component = st.sampled_from([*FAST_NAMES, ".", ".."])


def _inside(parts: list[str]) -> bool:
    """Whether ``..`` never climbs above the scenario's root (native's is a real directory)."""
    depth = 0
    for part in parts:
        depth += {"..": -1, ".": 0}.get(part, 1)
        if depth < 0:
            return False
    return True


plain_path = st.lists(plain_component, min_size=1, max_size=3).map(lambda p: "/" + "/".join(p))
fast_path = st.one_of(
    plain_path,  # what the fast paths take, most of the time
    plain_path,
    plain_path,
    st.tuples(  # what they leave to the general walk
        st.lists(fast_component, min_size=1, max_size=3).filter(_inside).map("/".join),
        st.sampled_from(["", "/"]),
    ).map(lambda pair: "/" + pair[0] + pair[1]),
)
CREATE = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC
fast_step = st.one_of(
    st.tuples(st.just("create"), fast_path, st.sampled_from([CREATE, os.O_CREAT | os.O_WRONLY])),
    st.tuples(st.just("missing"), fast_path, st.sampled_from([os.O_RDONLY, os.O_WRONLY])),
    st.tuples(st.just("rename"), fast_path, fast_path),
    st.tuples(st.just("mkdir"), fast_path, st.just(0o755)),
    st.tuples(st.just("rmdir"), fast_path, st.none()),
    st.tuples(st.just("unlink"), fast_path, st.none()),
    st.tuples(st.just("symlink"), fast_path, st.sampled_from(["d", "f", "d/e", "x", "l", "e"])),
)


def _create(d: Recorder, path: str, flags: int) -> None:
    handle = d.open(path, flags, 0o644)
    if handle is not None:
        d.close(handle)


def _fast_steps(steps: list[tuple[str, str, Any]]) -> Callable[[Recorder], None]:
    """The scenario of ``steps``: each run after a probe of its path and of the path's
    directory (the resolutions the fast paths take), and twice, so that the second meets what
    the first made or failed to make."""

    def scenario(d: Recorder) -> None:
        d.mkdir("/d", 0o755)
        d.mkdir("/d/e", 0o755)
        touch(d, "/d/f", b"file")
        touch(d, "/e", b"e")
        d.symlink("d", "/l")
        for op, path, argument in steps:
            for _ in range(2):
                d.stat(path, False)
                d.stat(path.rstrip("/").rsplit("/", 1)[0] or "/")
                if op == "create":
                    _create(d, path, argument)
                elif op == "missing":
                    d.open(path, argument)
                elif op == "rename":
                    d.rename(path, argument)
                elif op == "symlink":
                    d.symlink(argument, path)
                elif op == "mkdir":
                    d.mkdir(path, argument)
                else:
                    getattr(d, op)(path)
        for name in FAST_NAMES:  # what is where now (unrecorded steps would stop both alike)
            d.stat("/" + name, False)
            for inner in FAST_NAMES:
                d.stat(f"/{name}/{inner}", False)

    return scenario


class _PrefixedNativeOps(NativeOps):
    """Native calls below a directory, errors naming the paths as the scenario gave them."""

    def call(self, name: str, args: tuple[Any, ...]) -> Any:
        try:
            return super().call(name, args)
        except OSError as error:
            raise guest_error(error, self.guest) from None


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(fast_step, min_size=1, max_size=6))
def test_the_fast_paths_match_native(tmp_path_factory: pytest.TempPathFactory, steps: Any) -> None:
    """Creates, renames and opens of missing names, native in a directory vs the default
    file system (a Mount) in its /tmp, each step twice with its directory remembered."""
    native_root = str(tmp_path_factory.mktemp("fast"))
    os.chmod(native_root, 0o755)
    fs, _ = default_file_system()  # (not closed: its library mounts are shared)
    fs.mkdir("/tmp/fast", 0o755)
    umask = os.umask(0)  # the provider applies none: modes as asked on both sides
    try:
        native = run_recorded(_PrefixedNativeOps(native_root).call, "native", _fast_steps(steps))
    finally:
        os.umask(umask)
    emulated = run_recorded(
        ProviderOps(fs, prefix="/tmp/fast").call, "default fs", _fast_steps(steps)
    )
    problems = differences(native, emulated)
    assert not problems, "\n".join(problems)


def _fast_mounts_native(root: str) -> None:
    """/m1, /m2, /m1/inner (tmpfs, see test_mount) and /ro, a read-only tmpfs holding
    /ro/sub/f."""
    linux_mounts(root)
    tmpfs(root + "/ro")
    os.mkdir(root + "/ro/sub", 0o755)
    fd = os.open(root + "/ro/sub/f", os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.write(fd, b"ro")
    finally:
        os.close(fd)
    read_only(root + "/ro")


def _fast_mounts_emulated() -> MountFileSystem:
    ro = _memory()
    ro.mkdir("/sub", 0o755)
    _make(ro, "/sub/f", b"ro")
    return MountFileSystem(
        _memory(),
        {"/m1": _memory(), "/m2": _memory(), "/m1/inner": _memory(), "/ro": ReadOnlyFileSystem(ro)},
        create_mount_points=True,
    )


def _twice(d: Recorder, op: str, *args: Any) -> None:
    """``op`` twice: the first remembers the path's directory, the second meets it there
    (a handle opened is closed)."""
    for _ in range(2):
        result = getattr(d, op)(*args)
        if op == "open" and result is not None:
            d.close(result)


def _fast_mount_cases(d: Recorder) -> None:
    """What the fast paths must leave to the walk across mounts (each with its directories
    remembered before), then the import system's write of bytecode, and races."""
    rd, wr, excl = os.O_RDONLY, os.O_WRONLY, CREATE
    touch(d, "/m1/f", b"one")
    touch(d, "/m2/g", b"two")
    d.mkdir("/m1/dir", 0o755)
    touch(d, "/m1/dir/x", b"x")
    d.symlink("f", "/m1/lf")
    d.symlink("/m2/nothing", "/m1/dangling")
    d.symlink("/m2", "/m1/lm2")
    d.symlink("/m1/inner", "/m1/linner")
    for path in ("/m1/f", "/m1/dir/x", "/m2/g", "/m1/inner", "/ro/sub/f", "/m1/lm2/g"):
        d.stat(path)
    for path in ("/m1/none", "/m1/dir/none", "/m1/inner/none", "/m1/lm2/none", "/ro/none"):
        _twice(d, "open", path, rd)
    _twice(d, "open", "/ro/sub/none", rd)
    for path in ("/m1/inner", "/m1/f", "/m1/lf", "/m1/dangling", "/m1/linner", "/ro/sub/f"):
        _twice(d, "open", path, excl, 0o644)  # EEXIST whatever is there, a mount point too
    for path in ("/ro/sub/new", "/ro/new", "/m1/f/x", "/m1/dir/none/x", "/m1/none/"):
        _twice(d, "open", path, excl, 0o644)
    _twice(d, "open", "/m1/inner", os.O_CREAT | wr, 0o644)
    for src, dst in (
        ("/m1/f", "/m2/moved"),  # EXDEV
        ("/m1/dir/x", "/m1/inner/x"),
        ("/m1/lm2/g", "/m1/g"),
        ("/m1/f", "/m1/dir"),  # a file over a directory, over a mount point
        ("/m1/f", "/m1/inner"),
        ("/m1/dir", "/m1/f"),
        ("/m1/none", "/m1/x"),
        ("/ro/sub/f", "/ro/sub/g"),
        ("/m1/f/", "/m1/g"),
    ):
        d.stat(src, False)  # (a failed rename forgets every resolution: remembered again)
        d.stat(dst, False)
        d.rename(src, dst)
    # the import system's write of bytecode: aside, then into place (twice: replacing)
    for data in (b"first", b"second"):
        d.open("/m1/dir/f.pyc", rd)
        h = d.open("/m1/dir/f.pyc.1", excl, 0o644)
        if h is not None:
            d.pwrite(h, data, 0)
            d.close(h)
        d.rename("/m1/dir/f.pyc.1", "/m1/dir/f.pyc")
        d.read_file("/m1/dir/f.pyc")
    # a file moved over a link, over a dangling link; a link moved over a file
    d.rename("/m1/dir/x", "/m1/lf")
    d.stat("/m1/lf", False)
    d.rename("/m1/lf", "/m1/dangling")
    d.stat("/m1/dangling", False)
    d.rename("/m1/linner", "/m1/dir/f.pyc")
    d.stat("/m1/dir/f.pyc", False)
    d.stat("/m1/dir/f.pyc/none")
    # the remembered directory replaced by a link through the Mount: created where it leads
    d.rename("/m1/dir", "/m1/old")
    d.symlink("/m2", "/m1/dir")
    h = d.open("/m1/dir/new", excl, 0o644)
    if h is not None:
        d.close(h)
    d.stat("/m2/new")
    d.open("/m1/dir/none", rd)
    d.rename("/m1/dir/new", "/m1/dir/new2")
    d.stat("/m2/new2")
    d.listdir("/m1/old")


@needs_mounts
def test_the_fast_paths_across_mounts_behave_as_linux(directories: Callable[[], str]) -> None:
    root = directories()
    for point in ("/m1", "/m2", "/ro"):
        os.mkdir(root + point, 0o755)
    worker = mounted_worker(root, _fast_mounts_native)
    try:
        native = run_recorded(worker.call, "native", _fast_mount_cases)
    finally:
        worker.close()
    emulated = run_recorded(ProviderOps(_fast_mounts_emulated()).call, "mount", _fast_mount_cases)
    problems = differences(native, emulated)
    assert not problems, "\n".join(problems)


class _ChangingFirst(MemoryFileSystem):
    """A memory file system that runs ``change`` once, just before it opens (``open_at``),
    renames (``rename_at``) or removes (``rmdir_at``) a name ``name`` relative to a
    directory: a change through the Mount racing with its fast paths, after they looked and
    before the provider acts."""

    def __init__(self) -> None:
        super().__init__(identity=Identity.root())
        self.name = ""
        self.change: Callable[[], None] | None = None
        self.ran = False

    def _before(self, at: object | None, name: str) -> None:
        change = self.change
        if change is not None and at is not None and name == self.name:
            self.change = None
            change()
            self.ran = True

    def open_at(self, at: object | None, path: str, flags: int, mode: int = 0o666) -> Any:
        self._before(at, path)
        return super().open_at(at, path, flags, mode)

    def rename_at(self, src_at: object | None, src: str, dst_at: object | None, dst: str) -> None:
        self._before(src_at, src)
        super().rename_at(src_at, src, dst_at, dst)

    def rmdir_at(self, at: object | None, path: str) -> None:
        self._before(at, path)
        super().rmdir_at(at, path)


def _racing_mount() -> tuple[MountFileSystem, _ChangingFirst]:
    """A Mount of a racing memory root holding /d and /m/x (covered), with a memory provider
    on /m that holds /x/mounted."""
    inner = _memory()
    inner.mkdir("/x", 0o755)
    _make(inner, "/x/mounted", b"mounted")
    root = _ChangingFirst()
    root.mkdir("/m", 0o755)
    root.mkdir("/m/x", 0o755)
    root.mkdir("/d", 0o755)
    return MountFileSystem(root, {"/m": inner}), root


def test_a_create_racing_with_a_directory_swap_through_the_mount_is_the_mounts() -> None:
    """The remembered directory is renamed away and a link put in its place (through the
    Mount) between the create's look and the provider's creation: the file is made in the
    directory found (as if the create came first), never where the provider would resolve
    the link (/m/x, covered by the mount); the next create follows the link in the Mount."""
    mount, root = _racing_mount()
    with mount:
        assert mount.probe("/d/missing") is None  # /d remembered
        with pytest.raises(FileNotFoundError):
            mount.open("/d/f.pyc", os.O_RDONLY)

        def swap() -> None:
            mount.rename("/d", "/old")
            mount.symlink("/m/x", "/d")

        root.name, root.change = "new", swap
        mount.open("/d/new", CREATE, 0o644).close()
        assert root.ran  # the swap did run in the middle
        assert mount.listdir("/old") == ["new"]
        assert root.listdir("/m/x") == []  # the covered directory: untouched
        assert mount.listdir("/m/x") == ["mounted"]
        mount.open("/d/new2", CREATE, 0o644).close()
        assert sorted(mount.listdir("/m/x")) == ["mounted", "new2"]
        with pytest.raises(FileExistsError) as exists:
            mount.open("/d/mounted", CREATE, 0o644)
        assert exists.value.filename == "/d/mounted"


def test_a_rename_racing_with_a_link_swap_through_the_mount_forgets() -> None:
    """The file being renamed is replaced by a link (through the Mount), resolved through,
    between the rename's look and the provider's rename: the provider moves the link, and
    the Mount forgets what it resolved through it meanwhile."""
    mount, root = _racing_mount()
    with mount:
        _make(mount, "/d/f.1", b"bytecode")
        assert mount.stat("/d/f.1").st_size == 8  # /d remembered

        def swap() -> None:
            mount.unlink("/d/f.1")
            mount.symlink("/m/x", "/d/f.1")
            assert mount.stat("/d/f.1/mounted").st_size == 7  # resolved through the link

        root.name, root.change = "f.1", swap
        mount.rename("/d/f.1", "/d/f")
        assert root.ran  # the swap did run in the middle
        assert stat.S_ISLNK(mount.stat("/d/f", follow_symlinks=False).st_mode)
        assert mount.stat("/d/f/mounted").st_size == 7
        with pytest.raises(FileNotFoundError) as missing:
            mount.stat("/d/f.1/mounted")
        assert missing.value.filename == "/d/f.1/mounted"
        with pytest.raises(FileNotFoundError):
            mount.open("/d/f.1/new", CREATE, 0o644)


@pytest.mark.parametrize("through_mount", [True, False], ids=["through the mount", "directly"])
def test_the_fast_paths_check_every_directorys_permissions(through_mount: bool) -> None:
    """As an unprivileged user, with /a/b remembered: search permission taken from /a (through
    the Mount, or on its provider directly) fails the create, the rename and the open of a
    missing name with EACCES as Linux does, write permission taken from /a/b the create and
    the rename; given back, they work again."""
    root = MemoryFileSystem(identity=Identity(1000, 1000))
    root.mkdir("/a", 0o755)
    root.mkdir("/a/b", 0o755)
    _make(root, "/a/b/f", b"f")
    mount = MountFileSystem(root)
    chmod = mount.chmod if through_mount else root.chmod
    with mount:
        assert mount.probe("/a/b/missing") is None  # /a/b remembered
        mount.open("/a/b/made", CREATE, 0o644).close()  # (the fast path, allowed)
        for directory, mode, denied in (("/a", 0o600, "search"), ("/a/b", 0o555, "write")):
            chmod(directory, mode)
            calls: list[tuple[str, Callable[[], object]]] = [
                ("/a/b/new", lambda: mount.open("/a/b/new", CREATE, 0o644)),
                ("/a/b/f", lambda: mount.rename("/a/b/f", "/a/b/g")),
            ]
            if denied == "search":
                calls.append(("/a/b/none", lambda: mount.open("/a/b/none", os.O_RDONLY)))
            for name, call in calls:
                with pytest.raises(PermissionError) as refused:
                    call()
                assert refused.value.errno == errno.EACCES and refused.value.filename == name
            chmod(directory, 0o755)
        mount.open("/a/b/new", CREATE, 0o644).close()
        mount.rename("/a/b/f", "/a/b/g")
        assert sorted(mount.listdir("/a/b")) == ["g", "made", "new"]


# -- removing a directory forgets only what depended on it ----------------------------------
# rmdir drops the heads that looked in the removed directory or ended at it, and the entries
# whose directory part is no head kept; every other remembered resolution stays. The oracle:
# a fresh Mount over the same providers (nothing remembered) after every step.

REMOVAL_NAMES = ("d", "e", "f", "l")
REMOVAL_DIRECTORIES = ("/d/e", "/e", "/l/e", "/m/e", "/m/d/e", "/d")
REMOVAL_FILES = ("/d/e/f", "/e/f", "/d/f", "/m/d/e/f", "/l/e/f")
replace_step = st.tuples(
    st.just("replace"),
    st.sampled_from(REMOVAL_DIRECTORIES),
    st.sampled_from(["gone", "directory", "link /m/d/e", "link .."]),
)
removal_step = st.one_of(
    replace_step,  # what the rule is about: a directory emptied and removed, then what
    replace_step,  # takes its place (nothing, a new directory with a file, a link)
    st.tuples(st.just("unlink"), st.sampled_from(REMOVAL_FILES), st.none()),
    st.tuples(st.just("create"), st.sampled_from(REMOVAL_FILES), st.none()),
    st.tuples(
        st.just("rename"),
        st.sampled_from(REMOVAL_DIRECTORIES + REMOVAL_FILES),
        st.sampled_from(REMOVAL_DIRECTORIES + REMOVAL_FILES),
    ),
    st.tuples(st.just("chmod"), st.sampled_from(REMOVAL_DIRECTORIES), st.sampled_from([0, 0o755])),
)
REMOVAL_QUERIES = [
    "/" + "/".join(parts)
    for depth in (1, 2, 3)
    for parts in itertools.product(("d", "e", "f", "l", "m"), repeat=depth)
    if depth < 3 or parts[:2] in (("d", "e"), ("l", "e"), ("m", "d"), ("m", "e"))
] + ["/d/e/../e/f", "/l/../d/e", "/m/d/e/f", "/m/d/../d/e"]


def _removal_tree() -> tuple[MemoryFileSystem, MemoryFileSystem]:
    """A memory root with /d/e/f, /e (empty), /d/f, /l -> d, and under /m (where the second
    provider, holding /d/e/f, /d/f and an empty /e, is mounted) files of its own that the mount
    covers (what a path the root provider resolved by itself would find there); as an
    unprivileged user, so that search permissions count."""
    who = Identity(1000, 1000)
    root, inner = MemoryFileSystem(identity=who), MemoryFileSystem(identity=who)
    for fs in (root, inner):
        fs.mkdir("/d", 0o755)
    root.mkdir("/d/e", 0o755)
    root.mkdir("/e", 0o755)
    _make(root, "/d/f", b"r")
    _make(root, "/d/e/f", b"root")
    root.symlink("d", "/l")
    for path, data in (("/m/d/e/f", b"covered"), ("/m/d/f", b"covered/f")):
        for directory in ("/m", "/m/d", "/m/d/e"):
            if root.probe(directory) is None:
                root.mkdir(directory, 0o755)
        _make(root, path, data)
    inner.mkdir("/d/e", 0o755)
    inner.mkdir("/e", 0o755)
    _make(inner, "/d/e/f", b"f")
    _make(inner, "/d/f", b"inner")
    return root, inner


def _outcome(
    mount: MountFileSystem, path: str, at: object | None = None, *, fresh: bool = False
) -> object:
    """What a probe, a stat and an open of ``path`` find (devices left out: each Mount has its
    own); ``fresh``: each resolved anew, the Mount having forgotten everything just before."""
    forget = mount._forget if fresh else lambda: None
    forget()
    found = mount.probe_at(at, path)
    forget()
    try:
        st_ = mount.stat_at(at, path)
        seen: object = (st_.st_mode, st_.st_ino, st_.st_size)
    except OSError as error:
        seen = (type(error), error.errno)
    forget()
    try:
        mount.open_at(at, path, os.O_RDONLY).close()
        opened: object = True
    except OSError as error:
        opened = error.errno
    return (None if found is None else (found.st_mode, found.st_ino), seen, opened)


def _removal_step(mount: MountFileSystem, op: str, path: str, argument: Any) -> None:
    try:
        if op == "replace":  # rm -r of a directory of files, then something in its place
            for name in mount.listdir(path):
                mount.unlink(f"{path}/{name}")
            mount.rmdir(path)
            if argument == "directory":
                mount.mkdir(path, 0o755)
                mount.open(path + "/f", CREATE, 0o644).close()
            elif argument != "gone":
                mount.symlink(argument.split()[1], path)
        elif op == "unlink":
            mount.unlink(path)
        elif op == "create":
            mount.open(path, CREATE, 0o644).close()
        elif op == "rename":
            mount.rename(path, argument)
        else:
            mount.chmod(path, argument)
    except OSError:
        pass  # (the general path's errors are test_mount's; here what stays remembered)


@settings(max_examples=15, deadline=None)
@given(steps=st.lists(removal_step, min_size=1, max_size=5))
@example(steps=[("replace", "/d/e", "link /m/d/e")])  # a remembered file below: its entry
@example(steps=[("replace", "/d/e", "directory")])  # its head: the new directory is used
@example(steps=[("replace", "/l/e", "link .."), ("replace", "/m/d/e", "gone")])
def test_what_a_directory_removal_keeps_remembered_stays_true(steps: Any) -> None:
    """After any removals (and renames, links, chmods, creates) through a Mount whose every
    path was resolved before each step, from the root and from a held directory, what it
    answers is what a Mount over the same providers answers resolving each path anew."""
    root, inner = _removal_tree()
    mount = MountFileSystem(root, {"/m": inner})
    oracle = MountFileSystem(root, {"/m": inner})
    held = mount.directory(None, "/d")
    oracle_held = oracle.directory(None, "/d")
    try:
        for op, path, argument in steps:
            for query in REMOVAL_QUERIES:  # remembered, before the step
                _outcome(mount, query)
            _outcome(mount, "e/f", held)
            _removal_step(mount, op, path, argument)
            assert _outcome(mount, "e/f", held) == _outcome(
                oracle, "e/f", oracle_held, fresh=True
            )
            for query in REMOVAL_QUERIES:
                assert _outcome(mount, query) == _outcome(oracle, query, fresh=True), query
    finally:
        mount.release(held)
        oracle.release(oracle_held)


def test_a_path_through_a_removed_directory_now_a_link_is_the_mounts() -> None:
    """/a/d/f named before, f removed and /a/d removed: a link put at /a/d to /m/d/e (another
    provider) is followed in the Mount's namespace, not in the root provider's, also from a
    directory held at /a (its remembered relative paths go too)."""
    root, inner = _removal_tree()
    root.mkdir("/a", 0o755)
    root.mkdir("/a/d", 0o755)
    _make(root, "/a/d/f", b"old")
    mount = MountFileSystem(root, {"/m": inner})
    held = mount.directory(None, "/a")
    try:
        assert mount.stat("/a/d/f").st_size == 3
        assert mount.stat_at(held, "d/f").st_size == 3
        mount.unlink("/a/d/f")
        mount.rmdir("/a/d")
        mount.symlink("/m/d/e", "/a/d")  # (the root provider's /m/d/e/f: "covered")
        assert mount.stat("/a/d/f").st_size == 1
        assert _read(mount, "/a/d/f") == b"f"
        assert mount.stat_at(held, "d/f").st_size == 1
    finally:
        mount.release(held)


def test_a_directory_removal_keeps_what_did_not_go_through_it() -> None:
    """A file's path resolved before stays remembered when a sibling directory is removed (the
    import system's cold rounds: __pycache__ removed next to the sources): its next probe asks
    the provider only for the file's status."""
    root = _memory()
    root.mkdir("/src", 0o755)
    root.mkdir("/src/__pycache__", 0o755)
    _make(root, "/src/mod.py", b"x = 1\n")
    counter = CallCounter()
    mount = MountFileSystem(root)
    counter.watch(root, "root")
    assert mount.probe("/src/mod.py") is not None
    mount.rmdir("/src/__pycache__")
    counter.clear()
    assert mount.probe("/src/mod.py") is not None
    assert counter.calls == collections.Counter({("root", "stat"): 1})
    assert mount.probe("/src/__pycache__") is None


def test_a_directory_removal_racing_with_a_swap_through_the_mount_forgets() -> None:
    """The directory found is renamed away and another made in its place (through the Mount),
    its path resolved again, between the rmdir's look and the provider's removal: the
    provider removes the new one, and the Mount forgets what it resolved through that (not
    only what went through the directory it found): a directory made there next is used."""
    mount, root = _racing_mount()
    with mount:
        mount.mkdir("/d/x", 0o755)
        assert mount.probe("/d/x/missing") is None  # /d/x remembered

        def swap() -> None:
            mount.rename("/d/x", "/d/old")
            mount.mkdir("/d/x", 0o755)
            assert mount.probe("/d/x/missing") is None  # /d/x remembered: the new one

        root.name, root.change = "x", swap
        mount.rmdir("/d/x")
        assert root.ran  # the swap did run in the middle
        with pytest.raises(FileNotFoundError) as missing:
            mount.open("/d/x/new", CREATE, 0o644)
        assert missing.value.filename == "/d/x/new"
        assert mount.listdir("/d") == ["old"]
        mount.mkdir("/d/x", 0o755)  # made again: creating in it works
        mount.open("/d/x/new", CREATE, 0o644).close()
        assert mount.listdir("/d/x") == ["new"]
