"""The accelerator's calls of shutil's copies (FastEntryStat, FastCopyStats, FastOpen): a scan
entry's stat, os.fstat, os.listxattr's refusal and open() of a usual binary mode. Through the
real names they do what the native calls do (results, errors with class, errno and file name;
listxattr's EOPNOTSUPP is the declared gap emulated.xattrs, native tmpfs lists nothing); against
the Python code of the same backend they give the same answers and record the same gap hits, as
root and as an unprivileged identity; every case off their path is the Python code's."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import compat
from posixbackend import Permissions, backend, current_emulated
from posixbackend.emulated import EmulatedBackend, accelerator, fileio
from posixbackend.emulated import backend as backend_module
from posixbackend.emulated._xattrs import NO_XATTRS, XattrFunctions
from posixbackend.emulated.files import FileFunctions
from tests.posixbackend.test_accelerator import USER
from tests.posixbackend.test_copies_accelerated import counting
from tests.posixbackend.test_mkdir_accelerated import assert_native_and_managed_agree
from vfs import Identity, MemoryFileSystem

NEEDS_C = pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)

NO_EXPLAIN = settings(phases=[phase for phase in Phase if phase is not Phase.explain])
"""Hypothesis's explain phase can deadlock inside managed blocks (see
test_copies_accelerated.NO_EXPLAIN)."""

SHM = "/dev/shm" if os.path.isdir("/dev/shm") else None

NAMES = ["f", "e", "l", "e/g", "dl", "missing", "f/x", "e/../f", "x" * 256, "e/"]
"""A file, a directory, a link to the file, a file in the directory, a link to the directory,
a missing name, a path through a file, one with dots, a name too long, a trailing slash."""
OPENED = ["f", "e", "e/g", "closed"]
"""What each run opens (index into it), the last one closed again."""

native_step = st.one_of(
    st.tuples(st.just("listxattr"), st.sampled_from(NAMES), st.sampled_from(["str", "bytes"])),
    st.tuples(st.just("entry"), st.sampled_from(["f", "e", "l", "dl"]), st.booleans()),
    st.tuples(st.just("fstat"), st.integers(0, len(OPENED) - 1), st.just(None)),
    st.tuples(st.just("listxattr"), st.sampled_from(["f", "e", "l", "dl"]), st.just("entry")),
    st.tuples(st.just("remove"), st.sampled_from(["f", "e/g"]), st.just(None)),
)


def status(record: os.stat_result) -> tuple[Any, ...]:
    """What two file systems agree on in a status record (no inode numbers, devices, times)."""
    size = record.st_size if stat.S_ISREG(record.st_mode) else None  # (directory sizes differ)
    return (stat.S_IFMT(record.st_mode), stat.S_IMODE(record.st_mode), size, record.st_nlink)


def error_outcome(error: BaseException, top: str) -> tuple[Any, ...]:
    """An error's class, errno and file name (under ``top``)."""
    filename = getattr(error, "filename", None)
    if isinstance(filename, bytes):
        filename = os.fsdecode(filename)
    if isinstance(filename, str):
        filename = filename.replace(top, "<top>")
    return (type(error).__name__, getattr(error, "errno", None), filename)


def native_run(top: str, program: list[tuple[Any, ...]]) -> list[Any]:
    """``program`` through the real names on a tree under ``top`` (f, e/g, l -> f, dl -> e):
    each step's outcome. A listing of no extended attributes and EOPNOTSUPP are the same
    answer ("none"): tmpfs keeps them, the memory file system refuses them (the gap)."""
    with open(f"{top}/f", "wb") as file:
        file.write(b"f" * 100)
    os.mkdir(f"{top}/e")
    with open(f"{top}/e/g", "wb"):
        pass
    os.symlink(f"{top}/f", f"{top}/l")
    os.symlink(f"{top}/e", f"{top}/dl")
    entries = {entry.name: entry for entry in os.scandir(top)}
    fds = [os.open(f"{top}/{name}", os.O_RDONLY) for name in OPENED[:-1]]
    closed = os.open(f"{top}/f", os.O_RDONLY)
    os.close(closed)
    fds.append(closed)
    results: list[Any] = []
    try:
        for name, target, how in program:
            try:
                if name == "listxattr":
                    path: Any = f"{top}/{target}"
                    if how == "bytes":
                        path = os.fsencode(path)
                    elif how == "entry":
                        path = entries[target]
                    done: Any = ("ok", os.listxattr(path))
                    if done == ("ok", []):
                        done = "none"
                elif name == "entry":
                    done = ("ok", status(entries[target].stat(follow_symlinks=how)))
                elif name == "fstat":
                    done = ("ok", status(os.fstat(fds[target])))
                else:
                    os.unlink(f"{top}/{target}")
                    done = ("ok",)
            except OSError as error:
                done = "none" if error.errno == errno.EOPNOTSUPP else error_outcome(error, top)
            results.append(done)
        return results
    finally:
        for fd in fds[:-1]:
            os.close(fd)


@NO_EXPLAIN
@given(st.lists(native_step, min_size=1, max_size=12))
def test_entry_stat_fstat_and_listxattr_do_what_native_ones_do(
    program: list[tuple[Any, ...]],
) -> None:
    assert_native_and_managed_agree(native_run, program, SHM)


def test_copytree_copies_as_natively() -> None:
    """shutil.copytree of files, a subdirectory and a link: the same names, kinds, modes,
    sizes, contents and modification times (to the second) on both sides."""

    def copied(top: str, _: object) -> list[Any]:
        os.makedirs(f"{top}/src/sub")
        for index, name in enumerate(["a", "b", "sub/c"]):
            with open(f"{top}/src/{name}", "wb") as file:
                file.write(bytes([index]) * (index * 1000))
            os.chmod(f"{top}/src/{name}", 0o640 + index)
            os.utime(f"{top}/src/{name}", ns=(10**9 * (index + 1), 10**9 * (index + 5)))
        os.symlink("a", f"{top}/src/link")
        shutil.copytree(f"{top}/src", f"{top}/dst", symlinks=True)
        seen = []
        for root, directories, files in sorted(os.walk(f"{top}/dst")):
            for name in sorted(directories + files):
                path = f"{root}/{name}"
                record = os.lstat(path)
                content: bytes | str | None = None
                if stat.S_ISREG(record.st_mode):
                    with open(path, "rb") as file:
                        content = file.read()
                elif stat.S_ISLNK(record.st_mode):
                    content = os.readlink(path)
                mtime = record.st_mtime_ns // 10**9 if stat.S_ISREG(record.st_mode) else None
                seen.append((path[len(top):], *status(record), content, mtime))
        return seen

    assert_native_and_managed_agree(copied, None, SHM)


# -- the C paths against the Python code of the same backend ----------------------------------


def tree_backend(accelerated: bool, who: Identity | None, resolution: int) -> EmulatedBackend:
    """A backend over a memory file system made by root, then used as ``who``: /d (0o755)
    with f (root's), u (USER's), e (a directory holding g), l -> u, dl -> e, p (0o700,
    holding h: unsearchable for USER)."""
    fs = MemoryFileSystem(identity=Identity.root())
    made = EmulatedBackend(
        fs, accelerated=accelerated, standard_streams=False, time_resolution_ns=resolution
    )
    made.mkdir("/d", 0o755)
    made.mkdir("/d/e")
    made.mkdir("/d/p", 0o700)
    for name in ("f", "u", "e/g", "p/h"):
        fd = made.open(f"/d/{name}", os.O_CREAT | os.O_WRONLY, 0o644)
        made.write(fd, name.encode() * 7)
        made.close(fd)
    made.chown("/d/u", 1000, 1000)
    made.utime("/d/f", ns=(1_500_000_001, 1_600_000_002))  # truncated at a second's resolution
    made.symlink("/d/u", "/d/l")
    made.symlink("/d/e", "/d/dl")
    if who is not None:
        fs.identity = who
    return made


PATHS = ["/d/f", "/d/u", "/d/e", "/d/e/g", "/d/l", "/d/dl", "/d/p/h", "/d/no", "/d/f/x",
         "/d/e/../f", "/d//f", "/d/e/", "d/f", "/", "/d/" + "x" * 256, "/d/f\0"]  # fmt: skip
c_step = st.one_of(
    st.tuples(st.just("entry"), st.sampled_from(PATHS), st.booleans()),
    st.tuples(st.just("listxattr"), st.sampled_from(PATHS), st.sampled_from(["str", "entry"])),
    st.tuples(st.just("fstat"), st.integers(0, 4), st.just(None)),
    st.tuples(st.just("write"), st.integers(0, 4), st.just(None)),
    st.tuples(st.just("remove"), st.sampled_from(["/d/u", "/d/e/g"]), st.just(None)),
)


def outcome(call: Any, *args: Any, **keywords: Any) -> Any:
    """``call(*args, **keywords)``'s result, or its error's class, errno, file name and
    message."""
    try:
        return ("ok", call(*args, **keywords))
    except (OSError, ValueError, TypeError) as error:
        return (type(error).__name__, getattr(error, "errno", None),
                getattr(error, "filename", None), str(error))  # fmt: skip


def gap_hits(call: Any, *args: Any, **keywords: Any) -> tuple[Any, Any]:
    """``call``'s outcome and the hits of emulated.xattrs it recorded (count, examples)."""
    compat.reset()
    done = outcome(call, *args, **keywords)
    report = compat.report().get(NO_XATTRS.id)
    return done, None if report is None else (report.count, report.examples)


def c_run(made: EmulatedBackend, program: list[tuple[Any, ...]]) -> list[Any]:
    """``program`` on a backend of tree_backend, each step asked of its C calls and of the
    library's Python ones: both outcomes (with the hits of emulated.xattrs each recorded)."""
    python_stat = backend_module._ENTRY_STAT.func(made)
    python_listxattr = XattrFunctions.listxattr.__get__(made)
    entries = {entry.name: entry for entry in made.scandir("/d")}
    opened = (("f", os.O_RDONLY), ("e", os.O_RDONLY), ("u", os.O_RDWR))  # (u: EACCES for USER)
    fds = [outcome(made.open, f"/d/{name}", flags)[-1] for name, flags in opened]
    fds.append(made.open("/d/e/g", os.O_RDONLY))
    made.close(fds[-1])  # a closed descriptor
    fds.append(made.open("/d/f", os.O_PATH))
    results: list[Any] = []
    for name, target, how in program:
        if name == "entry":
            pair = [outcome(made._entry_stat, target, how), outcome(python_stat, target, how)]
        elif name == "listxattr":
            path: Any = target
            if how == "entry":
                path = entries.get(target.rpartition("/")[2]) if target.startswith("/d/") else None
                if path is None:
                    continue
            pair = [gap_hits(call, path, follow_symlinks=True)
                    for call in (made.listxattr, python_listxattr)]  # fmt: skip
        elif name == "fstat":
            fd = fds[target]
            pair = [outcome(made.fstat, fd), outcome(FileFunctions.fstat, made, fd)]
        elif name == "write":
            pair = [outcome(made.write, fds[target], b"more")]
        else:
            pair = [outcome(made.unlink, target)]
        results.append(pair)
        assert pair[0] == pair[-1], (name, target, how)
    return results


@NEEDS_C
@NO_EXPLAIN
@given(
    st.sampled_from([None, USER]),
    st.sampled_from([1, 10**9]),
    st.lists(c_step, min_size=1, max_size=12),
)
def test_the_c_calls_answer_as_the_python_ones(
    who: Identity | None, resolution: int, program: list[tuple[Any, ...]]
) -> None:
    made = tree_backend(True, who, resolution)
    c_run(made, program)
    c_calls: list[Any] = [made.stat, made.listxattr, made._entry_stat]
    assert len({type(call) for call in c_calls}) == 1  # (the C ones were asked)


@NEEDS_C
def test_plain_cases_in_c_and_the_rest_in_python(monkeypatch: Any) -> None:
    made = tree_backend(True, USER, 10**9)
    calls = counting(monkeypatch, backend_module._STATS)  # fstat, listxattr
    entries = {entry.name: entry for entry in made.scandir("/d")}
    fd = made.open("/d/e", os.O_RDONLY)
    for path, named in (("/d/f", "/d/f"), ("/d/e", "/d/e"), (entries["f"], "/d/f")):
        with pytest.raises(OSError) as refused:
            made.listxattr(path, follow_symlinks=True)
        assert (refused.value.errno, refused.value.filename) == (errno.EOPNOTSUPP, named)
    assert made.fstat(fd).st_mode == made.stat("/d/e").st_mode
    assert calls == {"fstat": [], "listxattr": []}
    for path in ("/d/l", "/d/no", "/d/p/h", b"/d/f", "d/f"):
        with pytest.raises(OSError):
            made.listxattr(path)
    with pytest.raises(OSError):
        made.listxattr("/d/f", follow_symlinks=False)
    with pytest.raises(OSError):
        made.listxattr()  # the current directory
    path_fd = made.open("/d/f", os.O_PATH)
    assert made.fstat(path_fd).st_size == 7  # (in C too: Linux's fstat of an O_PATH one)
    made.close(fd)
    with pytest.raises(OSError) as closed:
        made.fstat(fd)
    assert closed.value.errno == errno.EBADF
    assert calls["listxattr"] == [("/d/l",), ("/d/no",), ("/d/p/h",), (b"/d/f",), ("d/f",),
                                  ("/d/f",), ()]  # fmt: skip
    assert calls["fstat"] == [(fd,)]


@NEEDS_C
def test_the_c_entry_stat_serves_plain_paths_and_hands_on_the_rest(monkeypatch: Any) -> None:
    made = tree_backend(True, None, 10**9)
    asked: list[tuple[Any, ...]] = []
    python = backend_module._ENTRY_STAT.func

    def counted(self: Any) -> Any:
        inner = python(self)

        def stat_function(path: str, follow: bool) -> Any:
            asked.append((path, follow))
            return inner(path, follow)

        return stat_function

    monkeypatch.setattr(backend_module._ENTRY_STAT, "func", counted)
    entries = {entry.name: entry for entry in made.scandir("/d")}
    assert entries["f"].stat().st_size == 7
    assert entries["e"].stat(follow_symlinks=False).st_mode == made.stat("/d/e").st_mode
    assert entries["l"].stat().st_size == 7  # a link: the Python StatFunction's
    made.chdir("/d")
    assert [entry.stat().st_size for entry in made.scandir("e")] == [21]  # relative
    assert asked == [("/d/l", True), ("e/g", False)]  # (a file's stat() is its lstat)


@NEEDS_C
def test_the_gap_report_is_the_same_as_from_python(monkeypatch: Any) -> None:
    """shutil.copystat of a DirEntry and of a path: the same count, first call site and
    examples of emulated.xattrs as the Python listxattr records."""

    def reported(accelerated: bool) -> Any:
        if accelerated:
            monkeypatch.delenv(accelerator.ENVIRONMENT_SWITCH, raising=False)
        else:
            monkeypatch.setenv(accelerator.ENVIRONMENT_SWITCH, "1")
        with backend("managed", file_system=MemoryFileSystem()):
            served = current_emulated()
            assert served is not None and served.accelerated is accelerated
            for name in ("a", "b", "c"):
                with open(f"/{name}", "wb"):
                    pass
            compat.reset()
            for entry in sorted(os.scandir("/"), key=lambda entry: entry.name):
                shutil.copystat(entry, entry.path)
                shutil.copystat(entry.path, entry.path)
        report = compat.report().get(NO_XATTRS.id)
        assert report is not None
        return report.count, report.first_site, report.examples

    assert reported(True) == reported(False)
    assert reported(True)[0] == 6


@NEEDS_C
def test_a_subclass_listxattr_keeps_both_in_python() -> None:
    class Counting(EmulatedBackend):
        asked: list[Any] = []

        def listxattr(self, path: Any = None, *, follow_symlinks: bool = True) -> Any:
            self.asked.append(path)
            return XattrFunctions.listxattr(self, path, follow_symlinks=follow_symlinks)

    made = Counting(MemoryFileSystem(), accelerated=True, standard_streams=False)
    made.close(made.open("/x", os.O_CREAT | os.O_WRONLY))
    with pytest.raises(OSError):
        made.listxattr("/x")
    assert Counting.asked == ["/x"]
    assert made.fstat.__func__ is FileFunctions.fstat


@NEEDS_C
def test_the_c_calls_are_made_at_their_first_use() -> None:
    made = tree_backend(True, None, 1)
    assert "fstat" not in vars(made) and "listxattr" not in vars(made)
    assert EmulatedBackend.fstat is FileFunctions.fstat  # the class's, as before
    fd = made.open("/d/f", os.O_RDONLY)
    assert made.fstat(fd).st_size == 7
    assert type(vars(made)["listxattr"]) is type(made.stat)  # both made together
    pure = tree_backend(False, None, 1)
    assert pure.fstat.__func__ is FileFunctions.fstat
    assert pure._entry_stat.__code__ is backend_module._ENTRY_STAT.func(pure).__code__


# -- open() of a usual binary mode (FastOpen) ---------------------------------------------------

OPEN_PATHS = ["f", "e", "missing", "no/x", "f\0", "new"]
OPEN_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("rb", {}), ("wb", {}), ("ab", {}), ("xb", {}), ("r+b", {}), ("w+b", {}), ("rb+", {}),
    ("r", {}), ("rt", {}), ("rb", {"buffering": 0}), ("rb", {"buffering": 4096}),
    ("rb", {"buffering": -1, "opener": None, "closefd": True, "errors": None}),
    ("rb", {"closefd": False}), ("rb", {"encoding": "utf-8"}), ("rb", {"newline": ""}),
    ("rb", {"buffering": 1.5}), ("rb", {"closefd": 1}), ("rb", {"bogus": 1}),
    ("rbb", {}), ("bx", {}),
]  # fmt: skip
open_step = st.tuples(
    st.sampled_from(OPEN_PATHS),
    st.sampled_from(["str", "entry", "bytes", "keywords"]),
    st.sampled_from(OPEN_CALLS),
)
native_open_step = st.tuples(
    st.sampled_from(OPEN_PATHS),
    st.sampled_from(["str", "entry", "bytes", "keywords"]),
    # (an unknown keyword's TypeError is worded as a Python function's by make_open's open:
    # not this test's subject; the C open hands it to that function)
    st.sampled_from([call for call in OPEN_CALLS if "bogus" not in call[1]]),
)


def open_run(top: str, program: list[tuple[Any, ...]]) -> list[Any]:
    """open() calls through the real names on f (10 bytes) and e (a directory) under ``top``:
    each one's stream class, mode and content (read back through the stream where it reads,
    else the file's size after closing it) or error (class, errno, file name, message)."""
    with open(f"{top}/f", "wb") as file:
        file.write(b"0123456789")
    os.mkdir(f"{top}/e")
    results: list[Any] = []
    for name, how, (mode, keywords) in program:
        path: Any = f"{top}/{name}"
        if how == "entry":
            path = {entry.name: entry for entry in os.scandir(top)}.get(name, path)
        elif how == "bytes":
            path = os.fsencode(path)
        try:
            if how == "keywords":
                stream: Any = open(file=path, mode=mode, **keywords)  # noqa: SIM115
            else:
                stream = open(path, mode, **keywords)  # noqa: SIM115
        except (OSError, ValueError, TypeError) as error:
            message = str(error).replace(top, "<top>")
            results.append((*error_outcome(error, top), message))
            continue
        with stream:
            content = stream.read() if stream.readable() else None
            seen = (type(stream).__name__, stream.mode, content)
        size = os.stat(f"{top}/{name}").st_size
        results.append((*seen, size))
        if name == "new":
            os.unlink(f"{top}/new")
    return results


@NO_EXPLAIN
@given(st.lists(native_open_step, min_size=1, max_size=8))
def test_binary_open_does_what_native_open_does(program: list[tuple[Any, ...]]) -> None:
    assert_native_and_managed_agree(open_run, program, SHM)


@NEEDS_C
@NO_EXPLAIN
@given(st.sampled_from([None, USER]), st.lists(open_step, min_size=1, max_size=8))
def test_the_c_open_answers_as_the_python_one(
    who: Identity | None, program: list[tuple[Any, ...]]
) -> None:
    """On one backend (as root, or a user whom /d/p's 0o700 and root's files refuse), the C
    open and make_open's Python one give the same streams, contents and errors."""
    made = tree_backend(True, who, 1)
    fast_open = made.io_open
    python_open = fileio.make_open(made, accelerator.raw_file_maker(made.FileIO))
    c_calls: list[Any] = [made.stat, fast_open]
    assert len({type(call) for call in c_calls}) == 1  # (the C one)
    entries = {entry.name: entry for entry in made.scandir("/d")}
    for name, how, (mode, keywords) in program:
        for path in ("/d/" + name, "/d/p/h", "/d/u"):
            given_path: Any = entries.get(path[3:], path) if how == "entry" else path
            if how == "bytes":
                given_path = os.fsencode(path)
            answers = []
            existed = outcome(made.lstat, path)[0] == "ok"
            for opening in (fast_open, python_open):
                if how == "keywords":
                    answers.append(outcome(opening, file=given_path, mode=mode, **keywords))
                else:
                    answers.append(outcome(opening, given_path, mode, **keywords))
                done = answers[-1]
                if done[0] == "ok":
                    stream = done[1]
                    with stream:
                        answers[-1] = (type(stream).__name__, stream.mode, stream.name,
                                       stream.read() if stream.readable() else None)  # fmt: skip
                if not existed and outcome(made.lstat, path)[0] == "ok":
                    made.unlink(path)  # (made by the call: the other one starts without it)
            assert answers[0] == answers[1], (path, how, mode, keywords)


@NEEDS_C
def test_the_c_open_closes_the_raw_file_when_wrapping_it_fails() -> None:
    made = tree_backend(True, None, 1)
    make_raw = accelerator.raw_file_maker(made.FileIO)
    python_open = fileio.make_open(made, make_raw)
    made_raw: list[Any] = []

    def refuses(raw: Any, size: int) -> Any:
        made_raw.append(raw)
        raise MemoryError

    modes = {"rb": (None, "rb", refuses)}
    opening = _speedups_module().FastOpen(python_open, make_raw, modes, (), []).open
    before = set(made._table.files)
    with pytest.raises(MemoryError):
        opening("/d/f", "rb")
    assert made_raw[0].closed and set(made._table.files) == before


def _speedups_module() -> Any:
    """posixbackend._speedups (built: the tests using it need the accelerator)."""
    from posixbackend import _speedups

    return _speedups


@NEEDS_C
def test_binary_open_in_a_sandbox_block_counts_as_the_library() -> None:
    """With a policy the Python stand-in (a pass-through) calls the backend's open: the C
    open hands the call to the Python one, whose frame makes the raw file's "open" audit event
    the library's, so the permissions' hook lets the memory file be made (it refused it)."""
    with backend("managed", permissions=Permissions.sandbox()):
        with open("/tmp/sandboxed", "wb") as file:
            file.write(b"data")
        with open("/tmp/sandboxed", "rb") as file:
            assert file.read() == b"data"
