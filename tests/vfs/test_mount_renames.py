"""A Mount's remembered resolutions against Linux while names are renamed and removed.

The Mount keeps what it remembers when a file is renamed (onto a free name or over another
file) or unlinked, and forgets everything when a directory or a link is: random sequences of
makes, renames and removals over files, links and directories, with stats repeated (the second
one from the cache) from the root and from held directories, must give what Linux gives in a
temporary directory. A counted provider shows that a file's rename keeps the cache (the
importer's bytecode write, aside then renamed in place) and a link's does not.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import functools
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.threads import run_threads, switch_often  # noqa: F401 - a fixture
from tests.vfs.conftest import make_root
from vfs import HostFileSystem, Identity, MemoryFileSystem, MountFileSystem

NAMES = ("a", "b", "c")
paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join)
link_targets = st.sampled_from(("a", "b", "c", "a/b", "b/c", "c/..", "a/../b", "nowhere"))
steps = st.lists(
    st.one_of(
        st.tuples(st.just("file"), paths),
        st.tuples(st.just("mkdir"), paths),
        st.tuples(st.just("symlink"), paths, link_targets),
        st.tuples(st.just("rename"), paths, paths),
        st.tuples(st.just("unlink"), paths),
        st.tuples(st.just("rmdir"), paths),
        st.tuples(st.just("hold"), paths),
        st.tuples(st.just("stat"), paths, st.booleans()),
        st.tuples(st.just("stat_at"), st.integers(0, 3), paths, st.booleans()),
    ),
    max_size=30,
)


START: Final = (
    ("mkdir", "a"), ("file", "a/b"), ("mkdir", "a/c"), ("file", "a/c/a"), ("symlink", "b", "a"),
    ("mkdir", "c"), ("file", "c/a"), ("symlink", "c/b", "a"), ("hold", "a"), ("hold", "c"),
)  # fmt: skip
"""A tree every sequence starts from: files, directories and links for the steps to hit (no
link climbs with ``..``: natively it would leave the temporary directory)."""


def outcome(call: Callable[[], os.stat_result]) -> tuple[object, ...]:
    """What a stat said: the error's errno, or the type (and a file's size, which names it)."""
    try:
        result = call()
    except OSError as error:
        return ("error", error.errno)
    kind = stat.S_IFMT(result.st_mode)
    return ("ok", kind, result.st_size if kind == stat.S_IFREG else None)


class Native:
    """The steps on Linux, below a temporary directory (held directories: O_PATH fds)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.held: list[int] = []

    def path(self, path: str) -> str:
        return os.path.join(self.root, path)

    def step(self, kind: str, *args: Any) -> tuple[object, ...]:
        if kind == "stat_at":
            index, path, follow = args
            at = self.held[index % len(self.held)] if self.held else None
            if at is None:
                return outcome(lambda: os.stat(self.path(path), follow_symlinks=follow))
            return outcome(lambda: os.stat(path, dir_fd=at, follow_symlinks=follow))
        if kind == "stat":
            path, follow = args
            return outcome(lambda: os.stat(self.path(path), follow_symlinks=follow))
        try:
            self._change(kind, *args)
        except OSError as error:
            return ("error", error.errno)
        return ("ok",)

    def _change(self, kind: str, *args: Any) -> None:
        if kind == "file":
            (path,) = args
            fd = os.open(self.path(path), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            try:
                os.write(fd, b"x" * (len(self.held) + 1 + 7 * len(path)))
            finally:
                os.close(fd)
        elif kind == "mkdir":
            os.mkdir(self.path(args[0]), 0o755)
        elif kind == "symlink":
            os.symlink(args[1], self.path(args[0]))
        elif kind == "rename":
            os.rename(self.path(args[0]), self.path(args[1]))
        elif kind == "unlink":
            os.unlink(self.path(args[0]))
        elif kind == "rmdir":
            os.rmdir(self.path(args[0]))
        elif kind == "hold":
            self.held.append(os.open(self.path(args[0]), os.O_PATH | os.O_DIRECTORY))

    def close(self) -> None:
        for fd in self.held:
            os.close(fd)


class Mounted:
    """The same steps through a Mount of a memory file system (held: its directories)."""

    def __init__(self) -> None:
        self.fs = MountFileSystem(MemoryFileSystem(identity=Identity.root()))
        self.held: list[object] = []

    def step(self, kind: str, *args: Any) -> tuple[object, ...]:
        fs = self.fs
        if kind == "stat_at":
            index, path, follow = args
            at = self.held[index % len(self.held)] if self.held else None
            return outcome(lambda: fs.stat_at(at, path if at else "/" + path, follow))
        if kind == "stat":
            path, follow = args
            return outcome(lambda: fs.stat("/" + path, follow))
        # paths from the root; a link's content stays as given
        args = ("/" + args[0], args[1]) if kind == "symlink" else tuple("/" + arg for arg in args)
        try:
            self._change(kind, *args)
        except OSError as error:
            return ("error", error.errno)
        return ("ok",)

    def _change(self, kind: str, *args: Any) -> None:
        fs = self.fs
        if kind == "file":
            (path,) = args
            handle = fs.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            try:  # the same size as natively: "/" + path is one longer
                handle.pwrite(b"x" * (len(self.held) + 1 + 7 * (len(path) - 1)), 0)
            finally:
                handle.close()
        elif kind == "mkdir":
            fs.mkdir(args[0], 0o755)
        elif kind == "symlink":
            fs.symlink(args[1], args[0])
        elif kind == "rename":
            fs.rename(args[0], args[1])
        elif kind == "unlink":
            fs.unlink(args[0])
        elif kind == "rmdir":
            fs.rmdir(args[0])
        elif kind == "hold":
            self.held.append(fs.directory(None, args[0]))

    def close(self) -> None:
        for held in self.held:
            self.fs.release(held)
        self.fs.close()


@pytest.fixture
def native_root() -> Iterator[str]:
    root = make_root()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
@example(steps=[("stat", "b/b", True), ("unlink", "b"), ("stat", "b/b", True)])  # a link
@example(steps=[("stat", "b/c/a", True), ("rename", "b", "c/c"), ("stat", "b/c/a", True)])
@example(
    steps=[("stat_at", 0, "c/a", False), ("rename", "a/c", "a/a"), ("stat_at", 0, "c/a", False)]
)  # the held directory's
@example(
    steps=[
        ("stat", "a/b", True),
        ("rename", "a/b", "c/a"),
        ("stat", "a/b", True),
        ("stat", "c/a", False),
        ("file", "a/b"),
        ("stat", "a/b", True),
    ]
)  # files
@example(
    steps=[
        ("stat", "c/a", True),
        ("unlink", "c/a"),
        ("stat", "c/a", True),
        ("mkdir", "c/a"),
        ("stat", "c/a", False),
        ("stat", "c/b", True),
    ]
)
def test_remembered_resolutions_follow_renames_and_removals_as_linux(
    native_root: str, steps: list[tuple[Any, ...]]
) -> None:
    for entry in os.listdir(native_root):  # left by the example before
        path = os.path.join(native_root, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    native, mounted = Native(native_root), Mounted()
    try:
        for number, (kind, *args) in enumerate([*START, *steps]):
            repeats = 2 if kind in ("stat", "stat_at") else 1  # the second from the cache
            for _ in range(repeats):
                expected = native.step(kind, *args)
                assert mounted.step(kind, *args) == expected, (number, kind, args)
    finally:
        native.close()
        mounted.close()


class Counted(MemoryFileSystem):
    """A memory file system that counts how the Mount asks it for a status: ``remembered``
    (by the provider's path, its fast path) or ``resolved`` (after a walk, from a directory)."""

    def __init__(self) -> None:
        super().__init__(identity=Identity.root())
        self.calls: collections.Counter[str] = collections.Counter()

    def stat(self, path: str, follow_symlinks: bool = True) -> Any:
        self.calls["remembered"] += 1
        return super().stat(path, follow_symlinks)

    def stat_at(self, at: object | None, path: str, follow_symlinks: bool = True) -> Any:
        if at is not None:
            self.calls["resolved"] += 1
        return super().stat_at(at, path, follow_symlinks)


def _file(fs: MountFileSystem, path: str) -> None:
    fs.open(path, os.O_CREAT | os.O_WRONLY, 0o644).close()


def test_a_file_renamed_in_place_keeps_what_the_mount_remembers() -> None:
    inner = Counted()
    fs = MountFileSystem(inner)
    fs.mkdir("/p", 0o755)
    fs.mkdir("/p/__pycache__", 0o755)
    _file(fs, "/p/m.py")
    fs.symlink("p", "/link")
    _file(fs, "/p/__pycache__/m.pyc.aside")
    assert fs.probe("/p/m.py") is not None
    fs.stat("/link/m.py")
    inner.calls.clear()
    fs.stat("/p/m.py")
    assert inner.calls == {"remembered": 1}  # remembered (by probe): one status asked
    fs.rename("/p/__pycache__/m.pyc.aside", "/p/__pycache__/m.pyc")  # onto a free name
    _file(fs, "/p/__pycache__/m.pyc.aside")
    fs.rename("/p/__pycache__/m.pyc.aside", "/p/__pycache__/m.pyc")  # over a file
    fs.unlink("/p/__pycache__/m.pyc")
    inner.calls.clear()
    fs.stat("/p/m.py")
    assert inner.calls == {"remembered": 1}, inner.calls  # still remembered
    fs.rename("/link", "/link2")  # a link: everything forgotten
    inner.calls.clear()
    fs.stat("/p/m.py")
    assert inner.calls == {"resolved": 1}, inner.calls  # resolved afresh
    with pytest.raises(FileNotFoundError):
        fs.stat("/link/m.py")
    assert fs.stat("/link2/m.py") == fs.stat("/p/m.py")
    fs.close()


def test_a_mount_point_named_directly_is_remembered_as_the_mounts_root() -> None:
    mounted = Counted()
    _file_in(mounted, "/inside")
    root = MemoryFileSystem(identity=Identity.root())
    root.mkdir("/m", 0o755)
    fs = MountFileSystem(root, {"/m": mounted})
    fs.symlink("m", "/link")
    first = fs.stat("/m")
    assert fs.probe("/link") == first == fs.stat("/link")
    mounted.calls.clear()
    assert fs.stat("/m") == first
    assert mounted.calls == {"remembered": 1}, mounted.calls  # its root, by the provider's path
    assert fs.stat("/m/inside").st_dev == first.st_dev
    fs.unlink("/link")  # a link: forgotten
    with pytest.raises(FileNotFoundError):
        fs.stat("/link")
    assert fs.probe("/link") is None
    assert fs.stat("/m") == first
    fs.close()


def _file_in(fs: MemoryFileSystem, path: str) -> None:
    fs.open(path, os.O_CREAT | os.O_WRONLY, 0o644).close()


def test_a_host_mounts_root_is_fresh_from_the_cache(native_root: str) -> None:
    root = MemoryFileSystem(identity=Identity.root())
    root.mkdir("/m", 0o755)
    host = HostFileSystem(native_root)
    fs = MountFileSystem(root, {"/m": host})
    for follow in (True, False):
        for _ in range(2):  # the second from the cache: the host's root, held open
            found = fs.stat("/m", follow)
            assert (found.st_ino, found.st_mode) == (
                os.stat(native_root).st_ino,
                os.stat(native_root).st_mode,
            )
    before = fs.stat("/m").st_nlink
    os.mkdir(os.path.join(native_root, "sub"))  # changed on the host: seen at once
    assert fs.stat("/m").st_nlink == before + 1 == os.stat(native_root).st_nlink
    fs.close()
    with pytest.raises(OSError) as raised:
        host.stat("/")
    assert raised.value.errno == errno.EBADF and raised.value.filename == "/"


@pytest.mark.usefixtures("switch_often")
def test_files_and_links_taking_turns_at_a_name_leave_no_stale_resolution() -> None:
    """One name is a file (renamed in place, unlinked: nothing forgotten) and a link to a
    directory (made, removed: forgotten) by turns, from several threads, while others resolve
    through it; afterwards every answer from the cache is the provider's own."""
    inner = MemoryFileSystem(identity=Identity.root())
    fs = MountFileSystem(inner)
    for directory, data in (("/d1", b"1"), ("/d2", b"22")):  # told apart by their size
        fs.mkdir(directory, 0o755)
        with fs.open(directory + "/f", os.O_CREAT | os.O_WRONLY, 0o644) as handle:
            handle.pwrite(data, 0)

    def work(index: int) -> None:
        for turn in range(1500):
            try:
                if index == 0:
                    _file(fs, "/aside0")
                    fs.rename("/aside0", "/n")  # a file onto a free name, a file or a link
                elif index == 1:
                    fs.symlink(("d1", "d2")[turn % 2], "/n")
                elif index == 2:
                    fs.unlink("/n")
                else:
                    fs.stat("/n/f")
                    fs.stat("/n", follow_symlinks=False)
            except OSError:
                pass  # the name was not as this thread wanted: the others' turns

    run_threads(work, 5)
    for path in ("/n", "/n/f", "/n/"):
        for follow in (True, False):
            assert outcome(functools.partial(fs.stat, path, follow)) == outcome(
                functools.partial(inner.stat, path, follow)
            ), (path, follow)


class PausingOnce(MemoryFileSystem):
    """A memory file system whose first unlink waits, once the Mount has looked at the name
    and decided what to forget, until the test lets it go on."""

    def __init__(self) -> None:
        super().__init__(identity=Identity.root())
        self.paused = threading.Event()
        self.go_on = threading.Event()
        self._first = True

    def unlink_at(self, at: object | None, path: str) -> None:
        if self._first:
            self._first = False
            self.paused.set()
            assert self.go_on.wait(10)
        super().unlink_at(at, path)


def test_a_name_cannot_become_a_link_between_the_mounts_look_and_the_removal() -> None:
    """Another thread removes the file, makes a link in its place and resolves through it
    while the first removal waits; that removal, which saw a file, then removes the link: the
    changes in between make it forget after all, so the link's resolution is not kept."""
    inner = PausingOnce()
    fs = MountFileSystem(inner)
    fs.mkdir("/d1", 0o755)
    _file(fs, "/d1/f")
    _file(fs, "/n")
    removal = threading.Thread(target=fs.unlink, args=("/n",))
    removal.start()
    assert inner.paused.wait(10)

    def replace_with_a_link() -> None:
        with contextlib.suppress(FileNotFoundError):  # the first removal came first
            fs.unlink("/n")
        fs.symlink("d1", "/n")
        fs.stat("/n/f")  # resolved through the link: remembered

    other = threading.Thread(target=replace_with_a_link)
    other.start()
    other.join(10)  # no lock: it runs to its end while the first removal waits
    assert not other.is_alive()
    inner.go_on.set()
    removal.join(10)
    other.join(10)
    assert not removal.is_alive() and not other.is_alive()
    for path in ("/n", "/n/f"):
        assert outcome(functools.partial(fs.stat, path)) == outcome(
            functools.partial(inner.stat, path)
        ), path
