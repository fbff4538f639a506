"""The accelerator's os.unlink, os.remove, os.rename and os.replace (FastNames) of a regular
file's plain absolute names on a memory file system: through the real names they do what the
native calls do (errors with their class, errno and file names, an open file keeping its
data), and against the Python methods they leave the same tree -- entries, link counts,
owners, times' order, cached records, freed files, the space counted -- as root and as an
unprivileged identity (read-only and sticky directories); every case off their path is the
Python code's."""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend import backend
from posixbackend.emulated import EmulatedBackend, accelerator
from posixbackend.emulated.paths import PathFunctions
from tests.posixbackend.test_accelerator import USER
from tests.posixbackend.test_mkdir_accelerated import assert_native_and_managed_agree
from vfs import Identity, MemoryFileSystem

NEEDS_C = pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
CONTENT = b"c" * 5000  # two pages


def outcome(call: Any, *args: Any) -> Any:
    """A call's result, or its exception's class, errno, file names and message."""
    try:
        return ("ok", call(*args))
    except Exception as error:  # noqa: BLE001 - the error is the outcome being compared
        names = (getattr(error, "filename", None), getattr(error, "filename2", None))
        return ("error", type(error), getattr(error, "errno", None), names, str(error))


# -- through the real names, against native os ------------------------------------------------

NATIVE_NAMES = ["a", "b", "c", "d", "d/e", "d/a", "no", "no/a", "a/x"]
"""Files (a, b, c), a directory (d) with a file (d/a) and a subdirectory (d/e), a missing
name and paths through a missing directory and a file."""


native_step = st.one_of(
    st.tuples(st.sampled_from(["unlink", "remove"]), st.sampled_from(NATIVE_NAMES), st.just("")),
    st.tuples(
        st.sampled_from(["rename", "replace"]),
        st.sampled_from(NATIVE_NAMES),
        st.sampled_from(NATIVE_NAMES),
    ),
    st.tuples(st.just("open"), st.sampled_from(["a", "b", "c", "d/a"]), st.just("")),
    st.tuples(st.just("read"), st.just(""), st.just("")),
)


def native_act(top: str, held: list[int], name: str, first: str, second: str) -> Any:
    """One step through the real names (paths under ``top``, absolute, or as Path objects)."""
    try:
        if name == "open":
            held.append(os.open(f"{top}/{first}", os.O_RDONLY))
            return ("ok",)
        if name == "read":  # every held descriptor still reads its file's content
            return ("ok", [os.pread(fd, 100, 0)[:3] for fd in held])
        if name in ("unlink", "remove"):
            getattr(os, name)(pathlib.Path(f"{top}/{first}") if first == "c" else f"{top}/{first}")
        else:
            getattr(os, name)(f"{top}/{first}", f"{top}/{second}")
        return ("ok", sorted(os.listdir(top)), sorted(os.listdir(f"{top}/d")))
    except OSError as error:
        names = [
            None if filename is None else os.fspath(filename)[len(top) :]
            for filename in (error.filename, error.filename2)
        ]
        return (type(error).__name__, error.errno, names)


def native_run(top: str, program: list[tuple[str, str, str]]) -> list[Any]:
    for name, data in (("a", b"aaa"), ("b", b"bbb"), ("c", b"ccc")):
        with open(f"{top}/{name}", "wb") as file:
            file.write(data)
    os.makedirs(f"{top}/d/e")
    with open(f"{top}/d/a", "wb") as file:
        file.write(b"dda")
    held: list[int] = []
    try:
        return [native_act(top, held, *step) for step in program]
    finally:
        for fd in held:
            os.close(fd)


@pytest.mark.skipif(os.geteuid() != 0, reason="the managed side is root, as the natives must be")
@given(st.lists(native_step, min_size=1, max_size=12))
def test_unlink_and_rename_do_what_native_ones_do(program: list[tuple[str, str, str]]) -> None:
    assert_native_and_managed_agree(native_run, program)


# -- the C path against the Python path ------------------------------------------------------


def make_backend(accelerated: bool, who: Identity | None) -> EmulatedBackend:
    """A backend over a memory file system made by root and then used as ``who``: /d (0o755)
    with f (CONTENT), h (a second link of f), g (USER's, empty), e (a directory), l (a link
    to f), sp (a sparse file); /d/w (0o777), /d/r (0o555, holding x), /d/s (0o1777, sticky,
    holding USER's mine and root's theirs)."""
    fs = MemoryFileSystem(identity=Identity.root())
    made = EmulatedBackend(fs, accelerated=accelerated, standard_streams=False)

    def write(path: str, data: bytes, mode: int = 0o644) -> None:
        fd = made.open(path, os.O_CREAT | os.O_WRONLY, mode)
        made.write(fd, data)
        made.close(fd)

    made.mkdir("/d", 0o755)
    write("/d/f", CONTENT)
    made.link("/d/f", "/d/h")
    write("/d/g", b"")
    made.chown("/d/g", 1000, 1000)
    made.mkdir("/d/e")
    made.symlink("/d/f", "/d/l")
    write("/d/sp", b"")
    made.truncate("/d/sp", 1 << 20)
    for directory, mode in (("/d/w", 0o777), ("/d/r", 0o555), ("/d/s", 0o1777)):
        made.mkdir(directory)
        made.chmod(directory, mode)
    write("/d/w/f", b"w" * 10, 0o666)
    write("/d/r/x", b"x")
    made.chmod("/d/r", 0o555)
    write("/d/s/mine", b"m")
    made.chown("/d/s/mine", 1000, 1000)
    write("/d/s/theirs", b"t")
    if who is not None:
        fs.identity = who
    return made


def tree(fs: Any, held: list[Any]) -> list[tuple[Any, ...]]:
    """Every inode under the root, and every held file's inode, with what an unlink or a rename
    sets on it (times as their order, the same run to run), and the space counted."""
    seen: list[tuple[Any, ...]] = []
    start = fs._names.root.ctime
    pending = [("", fs._names.root)]

    def row(path: str, node: Any) -> tuple[Any, ...]:
        data = getattr(node, "data", None)
        return (
            path, node.ino, oct(node.mode), node.nlink, node.uid, node.gid,
            node.mtime > start, node.ctime > start, node.ctime == node.mtime,
            node._stat is None, len(node.handles), node.freed,
            None if data is None else bytes(data[:3]) + str(len(data)).encode(),
            getattr(node, "listed", None),
        )  # fmt: skip

    while pending:
        path, node = pending.pop()
        seen.append(row(path, node))
        for name, child in sorted(getattr(node, "entries", {}).items()):
            pending.append((f"{path}/{name}", child))
    seen.extend(row("held", handle._node) for handle in held)
    seen.append(("space", fs._space.used_inodes, fs._space.used_pages))
    return seen


PATHS = [
    "/d/f", "/d/h", "/d/g", "/d/n", "/d/e", "/d/l", "/d/sp", "/d/w/f", "/d/w/n", "/d/r/x",
    "/d/r/n", "/d/s/mine", "/d/s/theirs", "/d/s/n", "/d/missing/x", "/d/f/x", "/d/l/x", "d/f",
    "/d/./f", "/d//g", "/d/f/", "/d/\xe9", "/" + "x" * 256, b"/d/g",
    pathlib.PurePosixPath("/d/w/f"), pathlib.PurePosixPath("/d/w/n"),
]  # fmt: skip

c_step = st.one_of(
    st.tuples(st.sampled_from(["unlink", "remove"]), st.sampled_from(PATHS), st.just("")),
    st.tuples(
        st.sampled_from(["rename", "replace"]), st.sampled_from(PATHS), st.sampled_from(PATHS)
    ),
    st.tuples(
        st.just("open"), st.sampled_from(["/d/f", "/d/g", "/d/w/f", "/d/s/mine"]), st.just("")
    ),
    st.tuples(st.just("close"), st.just(""), st.just("")),
    st.tuples(st.just("create"), st.sampled_from(["/d/w/n", "/d/w/f", "/d/n"]), st.just("")),
)


def c_run(made: EmulatedBackend, program: list[tuple[str, Any, Any]]) -> tuple[Any, Any]:
    """The outcome of each step, then the tree (with the held files)."""
    log: list[Any] = []
    held: list[int] = []
    for name, first, second in program:
        if name == "open":
            result = outcome(made.open, first, os.O_RDONLY)
            if result[0] == "ok":
                held.append(result[1])
            log.append(result[0])
        elif name == "close":
            if held:
                # it reads its file's content to the end, linked or not
                log.append(outcome(made.pread, held[0], 10, 0))
                made.close(held.pop(0))
        elif name == "create":
            log.append(outcome(made.open, first, os.O_CREAT | os.O_WRONLY, 0o644)[0])
            if log[-1] == "ok":
                made.close(made.open(first, os.O_WRONLY))
        elif name in ("unlink", "remove"):
            log.append(outcome(getattr(made, name), first))
        else:
            log.append(outcome(getattr(made, name), first, second))
    handles = [getattr(made._table.files[fd], "_handle") for fd in held]  # noqa: B009
    return log, tree(made.file_system, handles)


@NEEDS_C
@given(st.sampled_from([None, USER]), st.lists(c_step, min_size=1, max_size=16))
def test_the_c_unlink_and_rename_leave_what_the_python_ones_leave(
    who: Identity | None, program: list[tuple[str, Any, Any]]
) -> None:
    fast, pure = make_backend(True, who), make_backend(False, who)
    assert fast.accelerated and not pure.accelerated
    assert type(fast.rename) is not type(pure.rename)
    assert c_run(fast, program) == c_run(pure, program)


def counting(monkeypatch: Any, made: EmulatedBackend) -> list[str]:
    """The paths the provider's unlink_at and rename_at see (the Python path's calls)."""
    fs: Any = made.file_system
    calls: list[str] = []
    for method in ("unlink_at", "rename_at"):
        original = getattr(fs, method)

        def counted(*args: Any, original: Any = original) -> Any:
            calls.append(args[1])
            return original(*args)

        monkeypatch.setattr(fs, method, counted)
    return calls


@NEEDS_C
def test_plain_names_change_in_c_and_the_rest_in_python(monkeypatch: Any) -> None:
    made = make_backend(True, None)
    calls = counting(monkeypatch, made)
    made.rename("/d/g", "/d/n")
    made.replace("/d/n", "/d/w/f")  # over a file, into another directory
    made.rename(pathlib.Path("/d/w/f"), pathlib.PurePosixPath("/d/g"))
    made.rename("/d/f", "/d/h")  # two links of one file: nothing happens
    made.unlink("/d/g")
    made.remove(pathlib.Path("/d/r/x"))
    assert calls == []
    assert sorted(made.listdir("/d")) == ["e", "f", "h", "l", "r", "s", "sp", "w"]
    assert made.listdir("/d/w") == [] and made.listdir("/d/r") == []
    made.unlink("/d/l")  # a link: the resolver's caches are dropped (Python)
    made.rename("/d/e", "/d/e2")  # a directory
    made.unlink("/d/sp")  # a sparse file freed
    with pytest.raises(FileNotFoundError) as raised:
        made.unlink("/d/gone")
    assert (raised.value.filename, raised.value.filename2) == ("/d/gone", None)
    with pytest.raises(IsADirectoryError) as renamed:
        made.rename("/d/f", "/d/e2")
    assert (renamed.value.filename, renamed.value.filename2) == ("/d/f", "/d/e2")
    made.unlink("/d/f", dir_fd=None)  # a keyword
    assert calls == ["/d/l", "/d/e", "/d/sp", "/d/gone", "/d/f", "/d/f"]


@NEEDS_C
def test_an_open_file_keeps_its_data_after_its_unlink_and_its_replacement() -> None:
    made = make_backend(True, None)
    fs: Any = made.file_system
    space = fs._space
    before = (space.used_inodes, space.used_pages)
    fd = made.open("/d/w/f", os.O_RDONLY)
    made.unlink("/d/w/f")
    assert made.pread(fd, 20, 0) == b"w" * 10 and made.fstat(fd).st_nlink == 0
    assert (space.used_inodes, space.used_pages) == before  # counted until the last close
    made.close(fd)
    assert (space.used_inodes, space.used_pages) == (before[0] - 1, before[1] - 1)
    fd = made.open("/d/s/theirs", os.O_RDONLY)
    made.rename("/d/s/mine", "/d/s/theirs")  # over an open file
    assert made.pread(fd, 20, 0) == b"t" and made.fstat(fd).st_nlink == 0
    assert made.stat("/d/s/theirs").st_uid == 1000
    made.close(fd)
    assert (space.used_inodes, space.used_pages) == (before[0] - 2, before[1] - 2)


@NEEDS_C
def test_refusals_are_the_python_codes_with_its_errors(monkeypatch: Any) -> None:
    made = make_backend(True, USER)
    calls = counting(monkeypatch, made)
    refusals: list[tuple[Any, tuple[str, ...], type[OSError]]] = [
        (made.unlink, ("/d/r/x",), PermissionError),  # a read-only directory
        (made.unlink, ("/d/s/theirs",), PermissionError),  # sticky: another's file
        (made.rename, ("/d/s/theirs", "/d/s/n"), PermissionError),
        (made.rename, ("/d/s/mine", "/d/s/theirs"), PermissionError),
        (made.rename, ("/d/w/f", "/d/r/n"), PermissionError),
    ]
    for call, args, error in refusals:
        with pytest.raises(error):
            call(*args)
    made.rename("/d/s/mine", "/d/s/n")  # sticky: one's own file
    made.unlink("/d/s/n")
    made.rename("/d/w/f", "/d/w/n")
    assert calls == ["/d/r/x", "/d/s/theirs", "/d/s/theirs", "/d/s/mine", "/d/w/f"]


@NEEDS_C
def test_an_interrupt_in_a_path_objects_fspath_changes_nothing() -> None:
    class Interrupting(os.PathLike[str]):
        def __fspath__(self) -> str:
            raise KeyboardInterrupt

    made = make_backend(True, None)
    with pytest.raises(KeyboardInterrupt):
        made.rename("/d/w/f", Interrupting())
    with pytest.raises(KeyboardInterrupt):
        made.unlink(Interrupting())
    assert sorted(made.listdir("/d/w")) == ["f"]


@NEEDS_C
def test_a_subclass_unlink_stays_in_charge() -> None:
    class Counting(EmulatedBackend):
        removed: list[str] = []

        def unlink(self, path: Any, *, dir_fd: int | None = None) -> None:
            self.removed.append(path)
            PathFunctions.unlink(self, path, dir_fd=dir_fd)

    counting = Counting(MemoryFileSystem(), accelerated=True, standard_streams=False)
    counting.close(counting.open("/x", os.O_CREAT | os.O_WRONLY))
    counting.unlink("/x")
    assert Counting.removed == ["/x"]
    assert "rename" not in vars(counting)  # the four are accelerated together or not at all


@NEEDS_C
def test_the_four_are_made_at_the_first_use_of_one() -> None:
    """Building a backend makes none of them (most blocks never remove or rename); the first
    lookup of any makes all four in C; a backend off the accelerator keeps the Python ones."""
    made = make_backend(True, None)
    assert not set(accelerator.NAME_CALLS) & set(vars(made))
    assert EmulatedBackend.unlink is PathFunctions.unlink  # the class's attribute, as before
    made.rename("/d/g", "/d/n")
    kinds = {name: type(vars(made)[name]) for name in accelerator.NAME_CALLS}
    assert set(kinds.values()) == {type(made.stat)}  # bound C methods, as the fast stat
    assert made.stat("/d/n").st_nlink == 1
    pure = make_backend(False, None)
    assert pure.unlink.__func__ is PathFunctions.unlink


class CountingPath(os.PathLike[str]):
    """A path whose __fspath__ counts its calls (os.unlink asks it exactly once)."""

    def __init__(self, path: str) -> None:
        self.path, self.asked = path, 0

    def __fspath__(self) -> str:
        self.asked += 1
        return self.path


@NEEDS_C
@pytest.mark.parametrize("kind", ["plain", "missing", "relative"])
def test_a_path_objects_fspath_is_asked_once_as_natively(kind: str) -> None:
    """Another PathLike than pathlib's goes to the Python method untouched: its __fspath__
    (the caller's code) runs once per argument, as os.unlink and os.rename run it."""
    counts = []
    for side in ("native", "managed"):
        with tempfile.TemporaryDirectory() as top:
            context: contextlib.AbstractContextManager[Any]
            if side == "native":
                base, context = top, contextlib.nullcontext()
            else:
                base, context = "/t", backend("managed", file_system=MemoryFileSystem())
            with context:
                os.makedirs(base, exist_ok=True)
                for name in ("a", "b"):
                    with open(f"{base}/{name}", "wb"):
                        pass
                name = {"plain": f"{base}/a", "missing": f"{base}/zz", "relative": "a"}[kind]
                source, target = CountingPath(name), CountingPath(f"{base}/c")
                gone = CountingPath(name)
                cwd = os.getcwd()
                try:
                    os.chdir(base)
                    results = [outcome(os.rename, source, target)[0],
                               outcome(os.unlink, CountingPath(f"{base}/b"))[0],
                               outcome(os.unlink, gone)[0]]  # fmt: skip
                finally:
                    os.chdir(cwd)
                counts.append((results, source.asked, target.asked, gone.asked))
    assert counts[0] == counts[1]
    assert counts[0][1:] == (1, 1, 1)


@NEEDS_C
def test_a_path_subclass_goes_to_the_python_method(monkeypatch: Any) -> None:
    class Own(type(pathlib.Path())):  # type: ignore[misc]
        pass

    made = make_backend(True, None)
    calls = counting(monkeypatch, made)
    made.unlink(Own("/d/g"))
    made.unlink(pathlib.Path("/d/w/f"))
    assert calls == ["/d/g"]
