"""MountFileSystem: the scenario suite through a Mount, mount semantics against real Linux
mounts (tmpfs in a private mount namespace), resolution against MemoryFileSystem's own, and
thread safety of the resolution caches."""

from __future__ import annotations

import errno
import functools
import os
import stat
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.threads import run_threads, switch_often  # noqa: F401 - a fixture
from tests.vfs.conftest import IS_ROOT
from tests.vfs.native_mounts import mounted_worker, needs_mounts, run_recorded, tmpfs
from tests.vfs.ops import ProviderOps
from tests.vfs.recording import Recorder, differences
from tests.vfs.scenarios import GUEST_ROOT, SCENARIOS, touch
from tests.vfs.worker import native_worker
from vfs import FileSystem, HostFileSystem, Identity, MemoryFileSystem
from vfs.mount import MountFileSystem


def memory() -> MemoryFileSystem:
    return MemoryFileSystem(identity=Identity.root())


def memory_with(*directories: str) -> MemoryFileSystem:
    fs = memory()
    for path in directories:
        fs.mkdir(path, 0o755)
    return fs


MOUNTED: dict[str, Callable[[str], ProviderOps]] = {
    # No mounts: every link and '..' is resolved by the Mount itself.
    "mount(memory)": lambda root: ProviderOps(MountFileSystem(memory())),
    "mount(host)": lambda root: ProviderOps(MountFileSystem(HostFileSystem(root))),
    # The scenario runs below a mount point ('/mnt' is the scenario's '/').
    "memory@/mnt": lambda root: ProviderOps(
        MountFileSystem(memory_with("/mnt"), {"/mnt": memory()}), prefix="/mnt"
    ),
    "host@/mnt": lambda root: ProviderOps(
        MountFileSystem(memory_with("/mnt"), {"/mnt": HostFileSystem(root)}), prefix="/mnt"
    ),
    "memory@/a/b (nested)": lambda root: ProviderOps(
        MountFileSystem(memory_with("/a"), {"/a": memory_with("/b"), "/a/b": memory()}),
        prefix="/a/b",
    ),
}
BELOW_A_MOUNT_POINT = {"memory@/mnt", "host@/mnt", "memory@/a/b (nested)"}
"""Configurations whose '/' is not the scenario's: guest_root scenarios do not apply."""


@pytest.mark.parametrize("provider", sorted(MOUNTED))
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_through_a_mount_matches_native(
    name: str, provider: str, directories: Callable[[], str]
) -> None:
    if name in GUEST_ROOT and (not IS_ROOT or provider in BELOW_A_MOUNT_POINT):
        pytest.skip("needs a chrooted native side and a Mount whose / is the scenario's")
    worker = native_worker(directories())
    try:
        native = run_recorded(worker.call, "native", SCENARIOS[name])
    finally:
        worker.close()
    ops = MOUNTED[provider](directories())
    old_umask = os.umask(0o077)
    try:
        emulated = run_recorded(ops.call, provider, SCENARIOS[name])
    finally:
        os.umask(old_umask)
        ops.close()
    assert native.log, "the scenario recorded nothing"
    problems = differences(native, emulated)
    assert not problems, "\n".join(problems)


# -- mount semantics, against tmpfs mounts ------------------------------------------------------


def linux_mounts(root: str) -> None:
    """/m1 and /m2 (tmpfs), and /m1/inner (tmpfs on a directory of /m1)."""
    tmpfs(root + "/m1")
    tmpfs(root + "/m2")
    os.mkdir(root + "/m1/inner", 0o755)
    tmpfs(root + "/m1/inner")


def provider_mounts() -> MountFileSystem:
    return MountFileSystem(
        memory(),
        {"/m1": memory(), "/m2": memory(), "/m1/inner": memory()},
        create_mount_points=True,
    )


def mount_cases(d: Recorder) -> None:
    rd, wr, creat, excl = os.O_RDONLY, os.O_WRONLY, os.O_CREAT, os.O_EXCL
    d.listdir("/")
    d.scandir("/")
    d.listdir("/m1")
    for path in ("/", "/m1", "/m2", "/m1/inner", "/m1/", "/m1/inner/", "/m1/.", "/m1/inner/.."):
        d.stat(path)
        d.stat(path, False)
    devices = [d.raw("stat", path).st_dev for path in ("/", "/m1", "/m2", "/m1/inner")]
    d.note("one device per mount", len(set(devices)))
    touch(d, "/m1/f", b"one")
    touch(d, "/m2/f2", b"two")
    touch(d, "/f-root", b"root")
    d.mkdir("/d-root", 0o755)
    d.note("files keep their mount's device", d.raw("stat", "/m1/f").st_dev == devices[1])
    # EXDEV between mounts, checked where Linux checks it
    d.rename("/m1/f", "/m2/f")
    d.rename("/f-root", "/m1/g")
    d.rename("/m1/f", "/m1/inner/f")
    d.rename("/missing", "/m1/x")
    d.rename("/m1/f", "/m2/missing/x")
    d.link("/m1/f", "/m2/g", True)
    d.link("/missing", "/m2/g", True)
    d.link("/m1/f", "/m2/f2", True)
    d.link("/m1/f", "/m2/new/", True)
    d.link("/m1/f", "/m2", True)
    d.link("/m1/f", "/m1/inner", True)
    d.link("/m1", "/m1/x", True)
    # mount points themselves
    d.rmdir("/m1")
    d.rmdir("/m1/")
    d.rmdir("/m1/inner")
    d.rmdir("/m1/.")
    d.rmdir("/m1/..")
    d.unlink("/m1")
    d.unlink("/m1/inner")
    d.mkdir("/m1", 0o755)
    d.mkdir("/m1/inner/", 0o755)
    d.symlink("x", "/m2")
    d.rename("/m1", "/x")
    d.rename("/m1/inner", "/m1/x")
    d.rename("/d-root", "/m1")
    d.rename("/f-root", "/m1")
    d.rename("/m2", "/f-root")
    d.rename("/m1/inner/..", "/x")
    d.rename("/m2/.", "/m2/x")
    for flags in (creat | excl | rd, creat | rd, wr, rd | os.O_DIRECTORY):
        h = d.open("/m1", flags, 0o644)
        if h is not None:
            d.fstat(h)
            d.close(h)
    # links and '..' across mounts
    d.symlink("/m2", "/m1/abs")
    d.symlink("../m2/f2", "/m1/rel")
    d.symlink("..", "/m1/inner/up")
    d.symlink("m1", "/lm1")
    d.stat("/m1/abs/f2")
    d.read_file("/m1/rel")
    d.stat("/m1/inner/up")
    d.listdir("/m1/inner/up/..")
    d.stat("/m1/inner/up/up/f")
    d.stat("/lm1/inner")
    d.stat("/lm1/inner/..")
    d.listdir("/lm1/inner/../..")
    d.readlink("/m1/abs")
    d.readlink("/lm1/")
    d.mkdir("/lm1/inner/d", 0o755)
    touch(d, "/lm1/inner/d/new", b"made through a link")
    d.stat("/m1/inner/d/new")
    d.symlink("/m2/created", "/dangling")
    h = d.open("/dangling", creat | wr, 0o600)
    if h is not None:
        d.close(h)
    d.stat("/m2/created")
    d.symlink("/m2/loop", "/m1/loop")
    d.symlink("/m1/loop", "/m2/loop")
    d.stat("/m1/loop")
    d.stat("/m1/loop", False)
    d.open("/m1/loop", creat | wr, 0o600)
    d.rename("/m2/f2", "/m2/f3")
    d.link("/m2/f3", "/m2/f4", True)
    d.stat("/m2/f4")
    d.statvfs("/m1")
    d.chmod("/m1", 0o700, True)
    d.stat("/m1")
    d.chmod("/lm1", 0o750, True)
    d.stat("/m1")
    d.chown("/m1/inner", 5, 6, True)
    d.stat("/m1/inner")
    d.utime("/m2", (1, 2), True)
    d.note("mount root times", d.raw("times", "/m2")[:2])
    d.access("/m1/inner", os.W_OK, True)
    d.truncate("/m1/rel", 1)
    d.read_file("/m2/f3")
    d.unlink("/m1/abs")
    d.stat("/m1/abs/f2")
    # Inode numbers of different file systems may coincide or not: compare all but them.
    rows = d.raw("tree")
    labels: dict[int, int] = {}
    d.note(
        "tree",
        [
            (
                path,
                d.stat_summary(result)[:-2],
                labels.setdefault(result.st_dev, len(labels)),
                extra,
            )
            for path, result, extra in rows
        ],
    )


@needs_mounts
def test_mounts_behave_as_linux_mounts(directories: Callable[[], str]) -> None:
    root = directories()
    for point in ("/m1", "/m2"):
        os.mkdir(root + point, 0o755)
    worker = mounted_worker(root, linux_mounts)
    try:
        native = run_recorded(worker.call, "native", mount_cases)
    finally:
        worker.close()
    emulated = run_recorded(ProviderOps(provider_mounts()).call, "mount", mount_cases)
    problems = differences(native, emulated)
    assert not problems, "\n".join(problems)


# -- resolution agrees with MemoryFileSystem's own ---------------------------------------------

NAMES = ["a", "b", "c"]
component = st.sampled_from([*NAMES, ".", ".."])
relative = st.lists(component, min_size=1, max_size=4).map("/".join)
link_target = st.one_of(relative, relative.map(lambda text: "/" + text), st.just("/"))
tree_steps = st.lists(
    st.tuples(
        st.sampled_from(["mkdir", "symlink", "file"]),
        st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map(lambda p: "/" + "/".join(p)),
        link_target,
    ),
    max_size=12,
)
paths = st.tuples(
    st.lists(component, min_size=0, max_size=6).map(lambda parts: "/" + "/".join(parts)),
    st.booleans(),
).map(lambda pair: pair[0] + ("/" if pair[1] else ""))


def outcome(call: Callable[[], os.stat_result]) -> tuple[object, ...]:
    try:
        result = call()
    except OSError as error:
        return ("error", error.errno, error.filename)
    return ("ok", result.st_ino, stat.S_IFMT(result.st_mode))


@settings(max_examples=150, deadline=None)
@given(steps=tree_steps, queries=st.lists(st.tuples(paths, st.booleans()), max_size=8))
def test_resolution_agrees_with_memory(
    steps: list[tuple[str, str, str]], queries: list[tuple[str, bool]]
) -> None:
    inner = memory()
    for kind, path, target in steps:
        try:
            if kind == "mkdir":
                inner.mkdir(path, 0o755)
            elif kind == "symlink":
                inner.symlink(target, path)
            else:
                inner.open(path, os.O_CREAT | os.O_WRONLY, 0o644).close()
        except OSError:
            pass  # a tree step that Linux refuses leaves the tree as it was
    mount = MountFileSystem(inner)
    for path, follow in queries:
        for _ in range(2):  # the second time through the caches
            through_mount = outcome(functools.partial(mount.stat, path, follow))
            direct = outcome(functools.partial(inner.stat, path, follow))
            assert through_mount == direct, (path, follow)


# -- construction, devices, handles -------------------------------------------------------------


def test_mount_points_must_be_directories() -> None:
    root = memory_with("/d")
    root.symlink("d", "/link")
    root.open("/file", os.O_CREAT | os.O_WRONLY, 0o644).close()
    with pytest.raises(FileNotFoundError):
        MountFileSystem(root, {"/missing": memory()})
    with pytest.raises(NotADirectoryError):
        MountFileSystem(root, {"/link": memory()})
    with pytest.raises(NotADirectoryError):
        MountFileSystem(root, {"/link/inner": memory()})
    with pytest.raises(NotADirectoryError):
        MountFileSystem(root, {"/file": memory()})
    with pytest.raises(ValueError, match="root provider"):
        MountFileSystem(root, {"/": memory()})
    with pytest.raises(ValueError, match="without"):
        MountFileSystem(root, {"/d/../d": memory()})
    with pytest.raises(ValueError, match="two providers"):
        MountFileSystem(root, {"/d": memory(), "/d/": memory()})
    made = MountFileSystem(root, {"/new/deep": memory()}, create_mount_points=True)
    assert made.listdir("/new") == ["deep"]
    assert stat.S_ISDIR(root.stat("/new/deep").st_mode)
    assert set(made.mounts) == {"/", "/new/deep"}


def test_two_host_mounts_of_one_directory_have_their_own_devices(
    directories: Callable[[], str],
) -> None:
    shared = directories()
    with open(shared + "/f", "wb") as f:
        f.write(b"x")
    fs = MountFileSystem(
        memory_with("/one", "/two"),
        {"/one": HostFileSystem(shared), "/two": HostFileSystem(shared)},
    )
    try:
        one, two = fs.stat("/one/f"), fs.stat("/two/f")
        assert one.st_ino == two.st_ino
        assert one.st_dev != two.st_dev
        assert fs.stat("/one").st_dev == one.st_dev
        with fs.open("/two/f", os.O_RDONLY) as handle:
            assert handle.stat().st_dev == two.st_dev
            assert handle.path == "/two/f"
        assert fs.stat("/").st_dev not in (one.st_dev, two.st_dev)
    finally:
        fs.close()


def test_directory_handle_reports_where_it_moved() -> None:
    fs = MountFileSystem(memory_with("/m"), {"/m": memory_with("/d")})
    handle = fs.open("/m/d", os.O_RDONLY | os.O_DIRECTORY)
    fs.rename("/m/d", "/m/e")
    assert handle.path in ("/m/d", "/m/e")  # as the provider can tell
    if fs.mounts["/m"].open("/e", os.O_RDONLY).path == "/e":
        assert handle.path == "/m/e"
    handle.close()


def test_close_closes_every_provider_once() -> None:
    closed: list[str] = []

    class Closing(MemoryFileSystem):
        def close(self) -> None:
            closed.append("x")

    shared = Closing(identity=Identity.root())
    fs = MountFileSystem(memory_with("/a", "/b"), {"/a": shared, "/b": shared})
    fs.close()
    assert closed == ["x"]


def test_errors_name_the_callers_paths_and_keep_the_message() -> None:
    from vfs.denyio import DenyIOFileSystem

    fs = MountFileSystem(memory_with("/locked"), {"/locked": DenyIOFileSystem()})
    with pytest.raises(PermissionError) as caught:
        fs.stat("/locked/secret")
    assert caught.value.filename == "/locked/secret"
    assert "not granted" in str(caught.value)
    with pytest.raises(FileNotFoundError) as missing:
        fs.rename("/nowhere/a", "/b")
    assert (missing.value.filename, missing.value.filename2) == ("/nowhere/a", "/b")


# -- threads ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("switch_often")
def test_concurrent_link_swaps_never_leave_a_stale_resolution() -> None:
    one, two = memory(), memory()
    for fs, data in ((one, b"one"), (two, b"two")):
        fs.mkdir("/d", 0o755)
        with fs.open("/d/f", os.O_CREAT | os.O_WRONLY, 0o644) as handle:
            handle.pwrite(data, 0)
    mount = MountFileSystem(memory_with("/one", "/two"), {"/one": one, "/two": two})
    mount.symlink("one/d", "/current")
    devices = {mount.stat("/one").st_dev, mount.stat("/two").st_dev}
    writers = 2

    def work(index: int) -> None:
        if index < writers:
            for turn in range(150):
                temporary = f"/new-{index}"
                mount.symlink(("one/d", "two/d")[turn % 2], temporary)
                mount.rename(temporary, "/current")
                touch_path = f"/{('one', 'two')[turn % 2]}/d/t{index}-{turn}"
                mount.open(touch_path, os.O_CREAT | os.O_WRONLY, 0o644).close()
        else:
            for _ in range(300):
                result = mount.stat("/current/f")
                assert result.st_dev in devices
                assert len(mount.listdir("/current")) >= 1

    run_threads(work)
    last = mount.readlink("/current")
    expected = mount.stat(f"/{last.split('/')[0]}/d/f")
    assert mount.stat("/current/f") == expected
    with mount.open("/current/f", os.O_RDONLY) as reader:
        assert reader.pread(3, 0) == last.split("/")[0].encode()


@pytest.mark.usefixtures("switch_often")
def test_threads_creating_in_different_mounts() -> None:
    mounts: dict[str, FileSystem] = {f"/m{n}": memory() for n in range(4)}
    fs = MountFileSystem(memory(), mounts, create_mount_points=True)

    def work(index: int) -> None:
        base = f"/m{index % 4}/t{index}"
        fs.mkdir(base, 0o755)
        for n in range(50):
            path = f"{base}/f{n}"
            with fs.open(path, os.O_CREAT | os.O_WRONLY, 0o644) as handle:
                handle.pwrite(path.encode(), 0)
            assert fs.stat(path).st_size == len(path)
        fs.rename(base, f"/m{index % 4}/done{index}")
        with pytest.raises(OSError) as caught:
            fs.rename(f"/m{index % 4}/done{index}", f"/m{(index + 1) % 4}/moved{index}")
        assert caught.value.errno == errno.EXDEV

    run_threads(work)
    for index in range(8):
        assert len(fs.listdir(f"/m{index % 4}/done{index}")) == 50
