"""The accelerator's os.mkdir (FastMkdir) of a plain absolute path on a memory file system:
through the real names it makes what native os.mkdir / os.makedirs make (modes under the
umask, link counts, the errors EEXIST, ENOENT, ENOTDIR with their file names), and against the
Python mkdir it leaves the same tree (inode numbers, owners, times' order, counts, limits);
every case off its path (dir_fd, relative paths, set-gid directories, refusals, the inode
limit) is the Python code's."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend import backend
from posixbackend.emulated import EmulatedBackend, accelerator
from posixbackend.emulated.paths import PathFunctions
from tests.posixbackend.test_accelerator import USER, outcome
from tests.posixbackend.test_missing_directories import within
from vfs import Identity, MemoryFileSystem

NEEDS_C = pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)

NAMES = ["a", "b", "f", "s", "x" * 255, "x" * 256, ".", "..", ""]
"""Directories made as the program goes (a, b), a file (f), a set-gid directory (s), the
longest name and one too long, dots, an empty component."""


paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=4).filter(within).map("/".join)
step = st.one_of(
    st.tuples(st.just("mkdir"), paths, st.sampled_from([0o777, 0o755, 0o2775, 0o1777, 0o700])),
    st.tuples(st.just("makedirs"), paths, st.sampled_from([0o777, 0o750])),
    st.tuples(st.just("umask"), st.just(""), st.sampled_from([0o022, 0o077, 0o000, 0o027])),
    st.tuples(st.just("rmdir"), paths, st.just(0)),
)
programs = st.lists(step, min_size=1, max_size=14)


def build(top: str) -> None:
    """The file ``f`` and the set-gid directory ``s`` in ``top`` (through the real names)."""
    os.chmod(top, 0o755)  # (mkdtemp's is 0o700)
    with open(f"{top}/f", "w"):
        pass
    os.mkdir(f"{top}/s")
    os.chmod(f"{top}/s", 0o2775)


def act(top: str, name: str, path: str, mode: int) -> Any:
    """One step through the real names: its outcome and, for a directory made, its status
    (type and mode, link count, and its parent's link count)."""
    where = f"{top}/{path}"
    try:
        if name == "umask":
            return ("ok", os.umask(mode))
        if name == "rmdir":
            os.rmdir(where)
        elif name == "mkdir":
            os.mkdir(where, mode)
        else:
            os.makedirs(where, mode, exist_ok=True)
        if name == "rmdir":
            return ("ok",)
        # the status is part of the outcome: makedirs("f/.", exist_ok=True) succeeds without
        # looking past f, and then the stat says ENOTDIR
        made, normal = os.stat(where), os.path.normpath(where)
        # (the top's own parent differs between the sides)
        parent = None if normal == top else os.stat(os.path.dirname(normal)).st_nlink
    except OSError as error:
        filename = error.filename
        return (type(error).__name__, error.errno, filename[len(top) :] if filename else None)
    return ("ok", oct(made.st_mode), made.st_nlink, parent)


def run(top: str, program: list[tuple[str, str, int]]) -> list[Any]:
    before = os.umask(0o022)
    try:
        build(top)
        return [(name, path, mode, act(top, name, path, mode)) for name, path, mode in program]
    finally:
        os.umask(before)


@pytest.mark.skipif(os.geteuid() != 0, reason="the managed side is root, as the natives must be")
@given(programs)
def test_mkdir_and_makedirs_make_what_native_ones_make(program: list[tuple[str, str, int]]) -> None:
    assert_native_and_managed_agree(run, program)


def assert_native_and_managed_agree(
    run: Callable[[str, Any], Any], program: Any, base: str | None = None
) -> None:
    """``run(top, program)`` gives the same natively, in a fresh directory under ``base`` (the
    temporary directory's default), and through the real names in a managed block on root's
    MemoryFileSystem, in /top."""
    native_top = tempfile.mkdtemp(dir=base)
    try:
        native = run(native_top, program)
    finally:
        shutil.rmtree(native_top)
    with backend("managed", file_system=MemoryFileSystem(identity=Identity.root())):
        os.makedirs("/top")
        managed = run("/top", program)
    assert managed == native


def make_backend(
    accelerated: bool, who: Identity | None, max_inodes: int | None
) -> EmulatedBackend:
    """A backend over a memory file system holding /d (0o755), /d/f, /d/s (set-gid) and /d/w
    (0o777), made by root and then used as ``who``."""
    fs = MemoryFileSystem(identity=Identity.root(), max_inodes=max_inodes)
    made = EmulatedBackend(fs, accelerated=accelerated, standard_streams=False)
    made.mkdir("/d", 0o755)
    made.close(made.open("/d/f", os.O_CREAT | os.O_WRONLY, 0o644))
    made.mkdir("/d/s", 0o775)
    made.chmod("/d/s", 0o2775)
    made.chown("/d/s", 0, 3000)
    made.mkdir("/d/w", 0o777)
    made.chmod("/d/w", 0o777)
    if who is not None:
        fs.identity = who
    return made


def tree(fs: Any) -> list[tuple[Any, ...]]:
    """Every inode under the root, with what a mkdir sets on it and its parent (times as
    'moved since the first', the same run to run)."""
    seen: list[tuple[Any, ...]] = []
    start = fs._names.root.ctime
    pending = [("", fs._names.root)]
    while pending:
        path, node = pending.pop()
        entries = getattr(node, "entries", None)
        seen.append((
            path, node.ino, oct(node.mode), node.nlink, node.uid, node.gid, node.mtime > start,
            node.atime == node.mtime == node.ctime or entries is None, node._stat is None,
            node.handles is not None, node.freed,
            None if entries is None else (node.parent.ino, node.name, node.listed),
        ))  # fmt: skip
        for name, child in sorted((entries or {}).items()):
            pending.append((f"{path}/{name}", child))
    space = fs._space
    seen.append(("space", space.used_inodes, space.used_pages))
    return seen


c_step = st.one_of(
    st.tuples(
        st.just("mkdir"),
        st.sampled_from([
            "/d/n", "/d/n/m", "/d/w/n", "/d/s/n", "/d/f/n", "/d/missing/n", "/d/f", "/d", "/n",
            "/d/./n", "/d/../n", "/d//n", "/d/n/", "d/n", "/d/\xe9", b"/d/b", "/d/" + "x" * 256,
            "/d/\x00", "/d/w/n/o/p",
        ]),
        st.sampled_from([0o777, 0o700, 0o2777, 0o1777, -1, 2**31, 0o7777]),
    ),
    st.tuples(st.just("umask"), st.just(""), st.sampled_from([0o022, 0o077, 0o000])),
    st.tuples(st.just("rmdir"), st.sampled_from(["/d/n/m", "/d/n", "/d/w/n"]), st.just(0)),
    st.tuples(st.just("stat"), st.sampled_from(["/d", "/d/n", "/d/w"]), st.just(0)),
)  # fmt: skip


def c_run(made: EmulatedBackend, program: list[tuple[str, Any, int]]) -> list[Any]:
    log = []
    for name, path, mode in program:
        if name == "umask":
            log.append(outcome(made.umask, mode))
        elif name == "stat":
            result = outcome(made.stat, path)
            log.append(result if result[0] != "ok" else (result[1].st_nlink, result[1].st_mode))
        elif name == "rmdir":
            log.append(outcome(made.rmdir, path))
        else:
            log.append(outcome(made.mkdir, path, mode))
    return log


@NEEDS_C
@given(
    st.sampled_from([None, USER]),
    st.sampled_from([None, 12]),
    st.lists(c_step, min_size=1, max_size=20),
)
def test_the_c_mkdir_leaves_what_the_python_one_leaves(
    who: Identity | None, max_inodes: int | None, program: list[tuple[str, Any, int]]
) -> None:
    fast, pure = make_backend(True, who, max_inodes), make_backend(False, who, max_inodes)
    assert fast.accelerated and not pure.accelerated
    assert type(vars(fast)["mkdir"]) is not type(pure.mkdir)
    assert c_run(fast, program) == c_run(pure, program)
    assert tree(fast.file_system) == tree(pure.file_system)


@NEEDS_C
def test_a_plain_mkdir_is_made_in_c_and_the_rest_in_python(monkeypatch: Any) -> None:
    made = make_backend(True, None, None)
    fs: Any = made.file_system
    calls = []
    original = fs.mkdir_at

    def counted(*args: Any) -> Any:
        calls.append(args[1])
        return original(*args)

    monkeypatch.setattr(fs, "mkdir_at", counted)
    made.mkdir("/d/n")
    made.mkdir("/n", 0o700)
    assert calls == []
    assert made.stat("/d/n").st_nlink == 2 and made.stat("/d").st_nlink == 5
    made.mkdir("/d/s/n")  # set-gid: the owner and bit as inode_init_owner says, in Python
    assert made.stat("/d/s/n").st_gid == 3000 and made.stat("/d/s/n").st_mode & 0o2000
    with pytest.raises(FileExistsError) as raised:
        made.mkdir("/d/n")
    assert raised.value.filename == "/d/n"
    assert calls == ["/d/s/n", "/d/n"]


@NEEDS_C
def test_a_subclass_mkdir_stays_in_charge() -> None:
    class Counting(EmulatedBackend):
        made: list[str] = []

        def mkdir(self, path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
            self.made.append(path)
            PathFunctions.mkdir(self, path, mode, dir_fd=dir_fd)

    counting = Counting(MemoryFileSystem(), accelerated=True, standard_streams=False)
    counting.mkdir("/x")
    assert Counting.made == ["/x"]


@NEEDS_C
def test_a_directory_made_in_c_has_every_slot_set() -> None:
    """The C mkdir fills a blank Directory slot by slot: a slot added to the classes and not
    to its table would be left empty (an AttributeError at its first read)."""
    from vfs.memory.nodes import Directory

    made = make_backend(True, None, None)
    made.mkdir("/d/n")
    node = made.file_system._names.root.entries["d"].entries["n"]  # type: ignore[attr-defined]
    assert type(node) is Directory
    slots = {name for cls in Directory.__mro__ for name in vars(cls).get("__slots__", ())}
    unset = [name for name in sorted(slots) if not hasattr(node, name)]
    assert unset == []
    made.rmdir("/d/n")
