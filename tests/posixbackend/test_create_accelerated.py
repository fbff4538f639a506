"""The accelerator's os.open(path, O_CREAT...) of a name not there yet (fast_open's create_new)
on a memory file system: through the real names it makes what native os.open makes (modes under
the umask, sizes, link counts, errors with their file names) and shutil.copytree copies as
native does; against the Python open it leaves the same tree (inode numbers, owners, times'
order, handles, counts) and the same descriptors; every case off its path (set-gid
directories, refusals, the inode limit, a full table, O_EXCL, relative paths) is the Python
code's."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend import backend
from posixbackend.emulated import EmulatedBackend, accelerator
from tests.posixbackend.test_accelerator import USER, outcome
from tests.posixbackend.test_mkdir_accelerated import make_backend, tree
from vfs import Identity, MemoryFileSystem

NEEDS_C = pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)

CREATING = [
    os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC,  # open(path, 'wb')
    os.O_CREAT | os.O_RDWR,
    os.O_CREAT | os.O_RDONLY,
    os.O_CREAT | os.O_RDONLY | os.O_TRUNC,
    os.O_CREAT | os.O_WRONLY | os.O_APPEND,
    os.O_CREAT | os.O_EXCL | os.O_WRONLY,
    os.O_CREAT | os.O_ACCMODE,
    os.O_WRONLY,
]

# -- through the real names, against native os.open ------------------------------------------

native_step = st.one_of(
    st.tuples(
        st.just("open"),
        st.sampled_from(["n", "m", "w/n", "s/n", "f", "f/n", "missing/n", "r/n", "x" * 63,
                         "x" * 64, "x" * 256, ".", "w/../q"]),
        st.sampled_from(CREATING),
        st.sampled_from([0o666, 0o777, 0o600, 0o4755, 0o2777, 0o1644, 0]),
    ),
    st.tuples(st.just("umask"), st.just(""), st.just(0), st.sampled_from([0o022, 0o077, 0o000])),
    st.tuples(st.just("unlink"), st.sampled_from(["n", "m", "w/n"]), st.just(0), st.just(0)),
)  # fmt: skip


def build(top: str) -> None:
    """In ``top``: a file ``f``, a writable directory ``w``, a set-gid directory ``s`` and a
    read-only directory ``r``."""
    os.chmod(top, 0o755)
    with open(f"{top}/f", "w"):
        pass
    for name, mode in (("w", 0o777), ("s", 0o2775), ("r", 0o555)):
        os.mkdir(f"{top}/{name}")
        os.chmod(f"{top}/{name}", mode)


def act(top: str, name: str, path: str, flags: int, mode: int) -> Any:
    """One step: its outcome and, for a file opened, what a stat of it and its directory say."""
    where = f"{top}/{path}"
    try:
        if name == "umask":
            return ("ok", os.umask(mode))
        if name == "unlink":
            os.unlink(where)
            return ("ok",)
        fd = os.open(where, flags, mode)
        try:
            made = os.fstat(fd)
        finally:
            os.close(fd)
        directory = os.stat(os.path.dirname(os.path.normpath(where)))
    except OSError as error:
        filename = error.filename
        return (type(error).__name__, error.errno, filename[len(top) :] if filename else None)
    return ("ok", oct(made.st_mode), made.st_size, made.st_nlink, made.st_uid, made.st_gid,
            directory.st_nlink, made.st_mtime_ns >= directory.st_mtime_ns - 10**9)  # fmt: skip


def run(top: str, program: list[tuple[str, str, int, int]]) -> list[Any]:
    before = os.umask(0o022)
    try:
        build(top)
        return [(step, act(top, *step)) for step in program]
    finally:
        os.umask(before)


@pytest.mark.skipif(os.geteuid() != 0, reason="the managed side is root, as the natives must be")
@given(st.lists(native_step, min_size=1, max_size=12))
def test_creating_opens_make_what_native_ones_make(
    program: list[tuple[str, str, int, int]],
) -> None:
    native_top = tempfile.mkdtemp()
    try:
        native = run(native_top, program)
        native_ids = os.stat(native_top)
    finally:
        shutil.rmtree(native_top)
    # the managed files belong to its identity: native's ids stand for it in the comparison
    who = Identity(native_ids.st_uid, native_ids.st_gid, frozenset())
    with backend("managed", file_system=MemoryFileSystem(identity=who)):
        os.makedirs("/top")
        managed = run("/top", program)
    assert managed == native


def snapshot(top: str) -> list[tuple[Any, ...]]:
    """Every name under ``top`` with its type and mode, size, bytes and whole-second mtime."""
    seen = []
    for path, directories, files in os.walk(top):
        for name in sorted(directories + files):
            where = os.path.join(path, name)
            status = os.stat(where)
            content = None
            if name in files:
                with open(where, "rb") as file:
                    content = file.read()
            seen.append((where[len(top) :], oct(status.st_mode), status.st_size, content,
                         status.st_mtime_ns // 10**9))  # fmt: skip
    return sorted(seen)


def fill(top: str) -> None:
    """A tree to copy: files of several sizes and modes (one read-only), a subdirectory."""
    os.makedirs(f"{top}/tree/sub")
    for number in range(12):
        where = f"{top}/tree/{'sub/' if number % 3 == 0 else ''}f{number}"
        with open(where, "wb") as file:
            file.write(bytes([number]) * (number * 700))
        os.chmod(where, (0o644, 0o600, 0o755, 0o444)[number % 4])
        os.utime(where, ns=(1_600_000_000 * 10**9 + number, 1_700_000_000 * 10**9 + number * 10**9))


def test_copytree_copies_what_native_copytree_copies() -> None:
    native_top = tempfile.mkdtemp()
    try:
        fill(native_top)
        shutil.copytree(f"{native_top}/tree", f"{native_top}/copy")
        native = snapshot(f"{native_top}/copy")
    finally:
        shutil.rmtree(native_top)
    with backend("managed", file_system=MemoryFileSystem()):
        os.makedirs("/top")
        fill("/top")
        shutil.copytree("/top/tree", "/top/copy")
        managed = snapshot("/top/copy")
        with pytest.raises(FileExistsError) as raised:
            shutil.copytree("/top/tree", "/top/copy")
        assert raised.value.filename == "/top/copy"
    assert managed == native


# -- the C create against the Python open -----------------------------------------------------

c_step = st.one_of(
    st.tuples(
        st.just("open"),
        st.sampled_from(["/d/n", "/d/m", "/d/w/n", "/d/w/m", "/d/s/n", "/d/f", "/d/f/n",
                         "/d/missing/n", "/n", "/d/./n", "/d//n", "/d/n/", "d/n", "/d/\xe9",
                         b"/d/b", "/d/" + "x" * 63, "/d/" + "x" * 64, "/d/\x00"]),
        st.sampled_from(CREATING),
        st.sampled_from([0o666, 0o777, 0o644, 0o4755, 0o1777, -1, 2**31]),
    ),
    st.tuples(st.just("umask"), st.just(""), st.just(0), st.sampled_from([0o022, 0o077, 0o000])),
    st.tuples(st.just("close"), st.just(""), st.sampled_from([3, 4, 5]), st.just(0)),
    st.tuples(st.just("write"), st.just(""), st.sampled_from([3, 4, 5]), st.just(0)),
    st.tuples(st.just("unlink"), st.sampled_from(["/d/n", "/d/w/n"]), st.just(0), st.just(0)),
    st.tuples(st.just("stat"), st.sampled_from(["/d", "/d/n", "/d/w", "/d/w/n"]), st.just(0),
              st.just(0)),
)  # fmt: skip


def status_of(status: os.stat_result) -> tuple[int, ...]:
    """Mode, inode number, links, owner, group and size (not the device: one per file system)."""
    return (status.st_mode, status.st_ino, status.st_nlink, status.st_uid, status.st_gid,
            status.st_size)  # fmt: skip


def c_run(made: EmulatedBackend, program: list[tuple[str, Any, int, int]]) -> list[Any]:
    log = []
    for name, path, flags, mode in program:
        if name == "umask":
            log.append(outcome(made.umask, mode))
        elif name == "close":
            log.append(outcome(made.close, flags))
        elif name == "write":
            log.append(outcome(made.write, flags, b"data"))
        elif name == "unlink":
            log.append(outcome(made.unlink, path))
        elif name == "stat":
            result = outcome(made.stat, path)
            log.append(result if result[0] != "ok" else status_of(result[1]))
        else:
            result = outcome(made.open, path, flags, mode)
            if result[0] == "ok":
                description: Any = made._table.files[result[1]]
                handle: Any = description._handle
                result = (*result, description.flags, description.position, handle.flags,
                          handle._state, handle._opened_as, handle._reader is handle._node,
                          status_of(made.fstat(result[1])))  # fmt: skip
            log.append(result)
    log.append(sorted(made._table.files))
    log.append(made._table._hint)
    return log


@NEEDS_C
@given(
    st.sampled_from([None, USER]),
    st.sampled_from([None, 9]),
    st.sampled_from([None, 6]),
    st.lists(c_step, min_size=1, max_size=20),
)
def test_the_c_create_leaves_what_the_python_open_leaves(
    who: Identity | None,
    max_inodes: int | None,
    limit: int | None,
    program: list[tuple[str, Any, int, int]],
) -> None:
    fast, pure = make_backend(True, who, max_inodes), make_backend(False, who, max_inodes)
    assert fast.accelerated and not pure.accelerated
    for made in (fast, pure):
        made.close(made.open("/d/f", os.O_RDONLY))  # (the first open reports the gap)
        if limit is not None:
            made._table.limit = limit  # EMFILE once 3 (stdio-less: 0..5) are taken
    assert c_run(fast, program) == c_run(pure, program)
    assert tree(fast.file_system) == tree(pure.file_system)


@NEEDS_C
def test_a_plain_create_is_made_in_c_and_the_rest_in_python(monkeypatch: Any) -> None:
    made = make_backend(True, None, None)
    made.close(made.open("/d/f", os.O_RDONLY))
    fs: Any = made.file_system
    calls = []
    original = fs.open_at

    def counted(*args: Any) -> Any:
        calls.append(args[1])
        return original(*args)

    monkeypatch.setattr(fs, "open_at", counted)
    made.umask(0o027)
    fd = made.open("/d/n", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o666)
    assert made.write(fd, b"abc") == 3
    made.close(fd)
    assert calls == []
    status = made.stat("/d/n")
    assert (oct(status.st_mode), status.st_size, status.st_uid) == ("0o100640", 3, 0)
    made.close(made.open("/d/s/n", os.O_CREAT | os.O_WRONLY, 0o2777))  # set-gid directory
    assert made.stat("/d/s/n").st_gid == 3000
    with pytest.raises(FileExistsError) as raised:
        made.open("/d/n", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    assert raised.value.filename == "/d/n"
    made.close(made.open("/d/n", os.O_CREAT | os.O_WRONLY | os.O_TRUNC))  # exists: not here
    assert calls == ["/d/s/n", "/d/n"]


@NEEDS_C
def test_an_unprivileged_create_is_refused_where_the_directory_is_not_writable() -> None:
    made = make_backend(True, USER, None)
    made.close(made.open("/d/w/n", os.O_CREAT | os.O_WRONLY, 0o600))
    assert made.stat("/d/w/n")[4:6] == (1000, 1000)
    with pytest.raises(PermissionError) as raised:
        made.open("/d/n", os.O_CREAT | os.O_WRONLY, 0o600)
    assert (raised.value.errno, raised.value.filename) == (13, "/d/n")


@NEEDS_C
def test_a_file_created_in_c_has_every_slot_set() -> None:
    """create_new fills a blank MemoryHandle and FileDescription slot by slot: a slot added to
    the classes and not to the C code would be left empty (an AttributeError at its read)."""
    from posixbackend.emulated.descriptions import FileDescription
    from vfs.memory.handle import MemoryHandle

    made = make_backend(True, None, None)
    made.close(made.open("/d/f", os.O_RDONLY))
    fd = made.open("/d/n", os.O_CREAT | os.O_RDWR, 0o644)
    description: Any = made._table.files[fd]
    for thing, cls in ((description, FileDescription), (description._handle, MemoryHandle)):
        assert type(thing) is cls
        slots = {name for base in cls.__mro__ for name in vars(base).get("__slots__", ())}
        assert [name for name in sorted(slots) if not hasattr(thing, name)] == []
    assert made.read(fd, 10) == b""
    made.close(fd)
