"""The confined HostFileSystem against attempts to reach files outside its root.

Every case runs with both resolvers (openat2 and the component walk). After each, the directory
outside the root must be exactly as it was, no answer may carry the secret's content or the
host's path, and every error must name the path as the guest gave it.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from vfs import HostFileSystem
from vfs.host import openat2 as host_openat2

SECRET = b"SECRET OUTSIDE THE ROOT"
INSIDE = b"inside"


class Layout:
    """base/outside (with a secret) beside base/root (the guest's /), with escape hatches."""

    def __init__(self) -> None:
        self.base = tempfile.mkdtemp(prefix="pb-escape-")
        self.outside = os.path.join(self.base, "outside")
        self.root = os.path.join(self.base, "root")
        self.secret = os.path.join(self.outside, "secret")
        os.mkdir(self.outside)
        os.mkdir(os.path.join(self.outside, "dir"))
        with open(self.secret, "wb") as f:
            f.write(SECRET)
        os.mkdir(self.root)
        os.mkdir(os.path.join(self.root, "deep"))
        os.mkdir(os.path.join(self.root, "deep", "er"))
        links = {
            "abs-secret": self.secret,
            "abs-outside": self.outside,
            "climb": "../outside/secret",
            "climb-dir": "../outside",
            "deep/er/climb": "../../../../../../../../" + self.outside.lstrip("/"),
            "dotdot": "..",
            "loop1": "loop2",
            "loop2": "loop1",
            "proc-root": "/proc/self/root" + self.outside,
            "proc-cwd": "/proc/self/cwd",
        }
        for name, target in links.items():
            os.symlink(target, os.path.join(self.root, name))
        os.link(self.secret, os.path.join(self.root, "hardlink"))
        self.before = self.snapshot()

    def snapshot(self) -> list[tuple[Any, ...]]:
        """Everything about the outside directory that an escape could change."""
        rows = []
        for directory, dirs, files in os.walk(self.outside):
            for name in sorted(dirs + files):
                path = os.path.join(directory, name)
                st = os.lstat(path)
                content = None
                if os.path.isfile(path) and not os.path.islink(path):
                    with open(path, "rb") as f:
                        content = f.read()
                rows.append(
                    (
                        path,
                        st.st_mode,
                        st.st_uid,
                        st.st_gid,
                        st.st_size,
                        st.st_mtime_ns,
                        st.st_nlink,
                        content,
                    )
                )
        return sorted(rows)

    def cleanup(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def layout() -> Iterator[Layout]:
    made = Layout()
    yield made
    made.cleanup()


RESOLVERS = ["openat2", "openat2-ctypes", "walk"]
"""openat2 called from C (vfs/host/_inroot.c), through ctypes (a build without a compiler),
and the component walk."""


def confined_host(root: str, resolver: str, monkeypatch: pytest.MonkeyPatch) -> HostFileSystem:
    """HostFileSystem(root) with one of :data:`RESOLVERS`."""
    if resolver == "openat2-ctypes":
        monkeypatch.setattr(host_openat2, "C_CALLS", None)
        resolver = "openat2"
    elif resolver == "openat2":
        assert host_openat2.C_CALLS is not None, "the C calls were not built"
    return HostFileSystem(root, resolver=resolver)


@pytest.fixture(params=RESOLVERS)
def confined(
    request: pytest.FixtureRequest, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HostFileSystem]:
    fs = confined_host(layout.root, request.param, monkeypatch)
    yield fs
    fs.close()
    assert layout.snapshot() == layout.before, "something outside the root changed"


def escaping_paths(layout: Layout) -> list[str]:
    host = layout.outside
    return [
        "/abs-secret",
        "/climb",
        "/abs-outside/secret",
        "/climb-dir/secret",
        "/deep/er/climb/secret",
        "/dotdot/outside/secret",
        "/../outside/secret",
        "/../../../../../.." + layout.secret,
        "/deep/../../outside/secret",
        host + "/secret",
        "/proc-root/secret",
        "/proc-cwd",
        "/abs-outside/",
        "/climb-dir/.",
        "/deep/er/climb/",
    ]


SECRET_TEXT = SECRET.decode()


def attempt(layout: Layout, call: Callable[[], Any], *paths: str) -> Any:
    """Run one call; check any error names a guest path it was given, and that nothing tells
    the guest where its root lives on the host (link contents the test wrote may name the
    outside directory; that is data, not a leak)."""
    try:
        result = call()
    except OSError as error:
        assert layout.root not in str(error), f"the root's host path leaked in {error!r}"
        assert {error.filename, error.filename2} <= {*paths, "x", None}, error
        return error
    assert SECRET_TEXT not in repr(result), f"{paths}: the secret leaked: {result!r}"
    assert layout.root not in repr(result), f"{paths}: the root's host path leaked: {result!r}"
    return result


Call = Callable[[HostFileSystem, str], Any]
READS: list[Call] = [
    lambda fs, path: fs.stat(path),
    lambda fs, path: fs.stat(path, follow_symlinks=False),
    lambda fs, path: fs.open(path, os.O_RDONLY).pread(100, 0),
    lambda fs, path: fs.listdir(path),
    lambda fs, path: fs.scandir(path),
    lambda fs, path: fs.readlink(path),
    lambda fs, path: fs.access(path, os.R_OK),
    lambda fs, path: fs.statvfs(path),
]
WRITES: list[Call] = [
    lambda fs, path: fs.open(path, os.O_WRONLY | os.O_TRUNC),
    lambda fs, path: fs.open(path, os.O_WRONLY | os.O_CREAT),
    lambda fs, path: fs.open(path.rstrip("/") + "/new", os.O_WRONLY | os.O_CREAT),
    lambda fs, path: fs.mkdir(path.rstrip("/") + "/new"),
    lambda fs, path: fs.symlink("x", path.rstrip("/") + "/new"),
    lambda fs, path: fs.link("/hardlink", path.rstrip("/") + "/new"),
    lambda fs, path: fs.link(path, "/stolen"),
    lambda fs, path: fs.rename("/deep", path.rstrip("/") + "/new"),
    lambda fs, path: fs.rename(path, "/moved"),
    lambda fs, path: fs.unlink(path),
    lambda fs, path: fs.rmdir(path),
    lambda fs, path: fs.chmod(path, 0o777),
    lambda fs, path: fs.chown(path, 1234, 1234),
    lambda fs, path: fs.utime(path, ns=(1, 1)),
    lambda fs, path: fs.truncate(path, 0),
]


def test_reads_stay_inside(layout: Layout, confined: HostFileSystem) -> None:
    for path in escaping_paths(layout):
        for read in READS:
            outcome = attempt(layout, functools.partial(read, confined, path), path)
            if not isinstance(outcome, OSError):
                # Only things inside the root answer ('/dotdot' is the root itself).
                assert outcome != os.stat(layout.outside)


def test_writes_stay_inside(layout: Layout, confined: HostFileSystem) -> None:
    for path in escaping_paths(layout):
        new = path.rstrip("/") + "/new"
        for write in WRITES:
            call = functools.partial(write, confined, path)
            handle = attempt(layout, call, path, new, "/hardlink", "/stolen", "/deep", "/moved")
            if hasattr(handle, "close"):
                handle.close()
    assert "stolen" not in os.listdir(layout.root) or not os.path.samefile(
        os.path.join(layout.root, "stolen"), layout.secret
    )


def test_absolute_links_resolve_inside_the_root(layout: Layout, confined: HostFileSystem) -> None:
    fs = confined
    assert fs.stat("/dotdot").st_ino == os.stat(layout.root).st_ino
    assert fs.stat("/../..").st_ino == os.stat(layout.root).st_ino
    mirror = layout.root + layout.outside
    os.makedirs(mirror)
    with open(os.path.join(mirror, "secret"), "wb") as f:
        f.write(INSIDE)
    assert fs.open("/abs-secret", os.O_RDONLY).pread(100, 0) == INSIDE
    created = fs.open("/abs-outside/created", os.O_CREAT | os.O_WRONLY, 0o600)
    created.close()
    assert os.path.exists(os.path.join(mirror, "created"))
    assert not os.path.exists(os.path.join(layout.outside, "created"))


def test_symlink_loops_and_errors_name_guest_paths(
    layout: Layout, confined: HostFileSystem
) -> None:
    with pytest.raises(OSError) as caught:
        confined.stat("/loop1/x")
    assert caught.value.errno == errno.ELOOP
    assert caught.value.filename == "/loop1/x"
    with pytest.raises(FileNotFoundError) as missing:
        confined.open("/abs-outside/secret", os.O_RDONLY)
    assert missing.value.filename == "/abs-outside/secret"
    assert layout.base not in str(missing.value)


def test_a_hard_link_made_beforehand_is_just_a_file_inside(
    layout: Layout, confined: HostFileSystem
) -> None:
    """A hard link someone placed in the root is part of the guest's tree (that is what a hard
    link is); the guest can read it, but cannot reach the outside name through it."""
    fs = confined
    assert fs.open("/hardlink", os.O_RDONLY).pread(100, 0) == SECRET
    assert fs.stat("/hardlink").st_nlink == 2
    fs.unlink("/hardlink")
    assert os.path.exists(layout.secret)
    layout.before = layout.snapshot()  # the outside file's link count changed, as it must


@pytest.mark.parametrize("resolver", RESOLVERS)
def test_swapping_a_directory_for_a_link_mid_call(
    layout: Layout, resolver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread swaps /swap between a real directory and links out of the root while another
    thread works below it: every successful answer comes from inside."""
    root = layout.root
    os.mkdir(os.path.join(root, "swap-dir"))
    with open(os.path.join(root, "swap-dir", "f"), "wb") as f:
        f.write(INSIDE)
    os.symlink(layout.outside, os.path.join(root, "swap-abs"))
    os.symlink("../outside", os.path.join(root, "swap-rel"))
    with open(os.path.join(layout.outside, "f"), "wb") as f:
        f.write(SECRET)
    layout.before = layout.snapshot()
    fs = confined_host(root, resolver, monkeypatch)
    # Both sides run for a second and then until each has done enough (a loaded machine gives
    # one thread most of the second), within a cap that fails the count check below.
    start = time.monotonic()
    done = threading.Event()
    swaps = 0

    def swapper() -> None:
        nonlocal swaps
        swap = os.path.join(root, "swap")
        while not done.is_set():
            for name in ("swap-dir", "swap-abs", "swap-rel"):
                os.rename(os.path.join(root, name), swap)
                os.rename(swap, os.path.join(root, name))
                swaps += 1

    thread = threading.Thread(target=swapper)
    thread.start()
    reads = 0

    def running() -> bool:
        elapsed = time.monotonic() - start
        return elapsed < 1.0 or (elapsed < 30.0 and (swaps <= 50 or reads <= 10))

    try:
        while running():
            for call in (
                lambda: fs.open("/swap/f", os.O_RDONLY).pread(100, 0),
                lambda: fs.listdir("/swap"),
                lambda: fs.stat("/swap/f"),
                lambda: fs.chmod("/swap/f", 0o600),
                lambda: fs.utime("/swap/f", ns=(5, 5)),
                lambda: fs.chown("/swap/f", 0, 0),
                lambda: fs.open("/swap/new", os.O_CREAT | os.O_WRONLY, 0o600).close(),
                lambda: fs.unlink("/swap/new"),
                lambda: fs.mkdir("/swap/d"),
                lambda: fs.rmdir("/swap/d"),
                lambda: fs.truncate("/swap/f", 6),
                lambda: fs.link("/swap/f", "/swap/hard"),
                lambda: fs.unlink("/swap/hard"),
            ):
                try:
                    result = call()
                except OSError:
                    continue
                reads += 1
                assert SECRET_TEXT not in repr(result)
                if isinstance(result, bytes):
                    assert result == INSIDE
                if isinstance(result, list):
                    assert set(result) <= {"f", "new", "d", "hard"}
    finally:
        done.set()
        thread.join()
        fs.close()
    assert swaps > 50 and reads > 10, (swaps, reads)  # both sides really ran, interleaved
    assert layout.snapshot() == layout.before, "something outside the root changed"


CLIMBS = ("..", "../..", "../../secret", "../../dir", "../../../outside/secret", "../../..")


def _climbing_calls(fs: HostFileSystem, at: object, path: str) -> list[Callable[[], object]]:
    """Every kind of at-call on ``path`` from ``at``; the first three only look it up."""
    return [
        lambda: fs.stat_at(at, path),
        lambda: fs.open_at(at, path, os.O_RDONLY).close(),
        lambda: fs.listdir_at(at, path),
        lambda: fs.unlink_at(at, path),
        lambda: fs.rmdir_at(at, path),
        lambda: fs.rename_at(at, path, None, "/stolen"),
        lambda: fs.mkdir_at(at, path + "/made"),
        lambda: fs.symlink_at("/", at, path + "/link"),
        lambda: fs.chmod_at(at, path, 0o777),
        lambda: fs.utime_at(at, path, (0, 0)),
        lambda: fs.truncate_at(at, path, 0),
        lambda: fs.directory(at, path),
    ]


def test_a_held_directory_moved_out_of_the_root_is_no_way_out(
    layout: Layout, confined: HostFileSystem
) -> None:
    """An open directory (and a cwd) of the guest, moved out of the root by a rename on the
    host, keeps the guest inside: no '..' from it reaches the host, whatever the call."""
    os.makedirs(os.path.join(layout.root, "held", "sub"))
    cwd = confined.directory(None, "/held/sub")
    handle = confined.open("/held/sub", os.O_RDONLY | os.O_DIRECTORY)
    opened = handle.directory()
    assert opened is not None
    os.rename(os.path.join(layout.root, "held"), os.path.join(layout.outside, "moved"))
    before = layout.snapshot()
    try:
        for at in (cwd, opened):
            for path in CLIMBS:
                attempts = _climbing_calls(confined, at, path)
                for number, attempt in enumerate(attempts):
                    with pytest.raises(OSError) as raised:
                        attempt()
                    if number < 3:  # lookups (the rest may be refused for '..' first)
                        assert raised.value.errno == errno.ENOENT, (path, raised.value)
            with pytest.raises(FileNotFoundError):
                confined.where(at)
        assert layout.snapshot() == before
        assert not os.path.lexists(os.path.join(layout.root, "stolen"))
    finally:
        handle.close()
        confined.release(cwd)
        os.rename(os.path.join(layout.outside, "moved"), os.path.join(layout.root, "held"))


def test_dotdot_from_a_held_directory_stops_at_the_root(
    layout: Layout, confined: HostFileSystem
) -> None:
    at = confined.directory(None, "/deep/er")
    try:
        for path in ("../../..", "../../../..", "../../../../outside"):
            listing = confined.listdir_at(at, path) if "outside" not in path else None
            assert listing is None or sorted(listing) == sorted(os.listdir(layout.root))
        with pytest.raises(FileNotFoundError):
            confined.stat_at(at, "../../../../outside/secret")
        assert confined.where(at) == "/deep/er"
    finally:
        confined.release(at)
