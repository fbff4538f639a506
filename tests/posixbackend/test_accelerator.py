"""The C accelerator of read, lseek, open and close: built, chosen, and the same as Python.

The differential suites (test_differential, test_stateful_fds and the ``sides`` fixture) run
the accelerated memory backend and the pure-Python one against native os. Here the two are
compared with each other on programs of unusual arguments, under threads, and for leaks.
"""

from __future__ import annotations

import errno
import gc
import os
import shlex
import shutil
import sys
import sysconfig
import threading
import weakref
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend.emulated import EmulatedBackend, accelerator
from posixbackend.emulated.descriptions import FileDescription
from posixbackend.emulated.files import FileFunctions
from tests.threads import run_threads, switch_often  # noqa: F401 - a fixture
from vfs import Identity, MemoryFileSystem
from vfs.memory.handle import MemoryHandle

CONTENT = bytes(range(256)) * 3


def compiler() -> str | None:
    """The C compiler extensions are built with here, if it is installed."""
    command = shlex.split(sysconfig.get_config_var("CC") or "cc")
    return shutil.which(command[0]) if command else None


USER = Identity(1000, 1000, frozenset({2000}))
"""An unprivileged identity: owner of /d/f, in the group of /d/p (its own, 1000) and of /d/g
(a supplementary one, 2000), other to /d/h. Each file's mode gives the class the user is not
in more than the user's own class, so a check that picked the wrong class would let it in."""


def make_backend(accelerated: bool, identity: Identity | None = None) -> EmulatedBackend:
    """A backend over a memory file system holding /d/f (CONTENT), /d/g (empty), /d/link and
    /d/h, made by root and then used as ``identity`` (root by default); without the process's
    standard streams, which both sides would share."""
    backend = EmulatedBackend(
        MemoryFileSystem(identity=Identity.root()),
        accelerated=accelerated,
        standard_streams=False,
    )
    backend.mkdir("/d")
    fd = backend.open("/d/f", os.O_CREAT | os.O_WRONLY, 0o644)
    backend.write(fd, CONTENT)
    backend.close(fd)
    for name, mode, group in (("g", 0o646, 2000), ("p", 0o646, USER.gid), ("h", 0o660, 0)):
        backend.close(backend.open(f"/d/{name}", os.O_CREAT | os.O_WRONLY, 0o600))
        backend.chmod(f"/d/{name}", mode)
        backend.chown(f"/d/{name}", 0, group)
    backend.symlink("f", "/d/link")
    backend.chown("/d/f", USER.uid, 0)
    if identity is not None:
        backend.file_system.identity = identity  # type: ignore[attr-defined]
    return backend


def outcome(call: Any, *args: Any) -> Any:
    """What a call gives: its result, or its exception's class, errno and message."""
    try:
        return ("ok", call(*args))
    except Exception as error:  # noqa: BLE001 - the error is the outcome being compared
        return ("error", type(error), getattr(error, "errno", None), str(error))


@pytest.mark.skipif(compiler() is None, reason="no C compiler here to build the accelerator")
def test_the_accelerator_is_built_where_a_compiler_is() -> None:
    assert accelerator.AVAILABLE, accelerator.MISSING


def test_a_new_backend_is_accelerated_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(accelerator.ENVIRONMENT_SWITCH, raising=False)
    assert EmulatedBackend().accelerated is accelerator.AVAILABLE
    pure = EmulatedBackend(accelerated=False)
    assert not pure.accelerated
    assert pure.read.__func__ is FileFunctions.read  # type: ignore[attr-defined]
    monkeypatch.setenv(accelerator.ENVIRONMENT_SWITCH, "1")
    assert not EmulatedBackend().accelerated
    monkeypatch.setenv(accelerator.ENVIRONMENT_SWITCH, "0")
    assert EmulatedBackend().accelerated is accelerator.AVAILABLE


def test_insisting_without_the_accelerator_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(accelerator, "AVAILABLE", False)
    monkeypatch.setattr(accelerator, "MISSING", "posixbackend._speedups is not built (test)")
    with pytest.raises(RuntimeError, match=r"accelerated=True, but posixbackend\._speedups"):
        EmulatedBackend(accelerated=True)
    assert not EmulatedBackend().accelerated


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
def test_a_subclass_that_redefines_a_call_keeps_it() -> None:
    class Counting(EmulatedBackend):
        reads = 0

        def read(self, fd: int, length: int, /) -> bytes:
            Counting.reads += 1
            return super().read(fd, length)

    backend = Counting(MemoryFileSystem(identity=Identity.root()))
    assert not backend.accelerated
    fd = backend.open("/f", os.O_CREAT | os.O_RDWR, 0o644)
    backend.read(fd, 10)
    assert Counting.reads == 1
    with pytest.raises(ValueError, match="Counting redefines one of"):
        Counting(accelerated=True)


# -- the accelerated backend and the Python one agree -------------------------------------------

PATHS = [
    "/d/f", "/d/g", "/d/h", "/d/p", "/d/link", "/d", "/d/missing", "d/f", "", "/d/f\x00", b"/d/f",
    "/d/f/",
]
FLAGS = [
    os.O_RDONLY, os.O_RDONLY | os.O_CLOEXEC, os.O_WRONLY, os.O_RDWR, 3, os.O_RDWR | os.O_APPEND,
    os.O_RDONLY | os.O_NOATIME, os.O_RDONLY | os.O_DIRECTORY, os.O_PATH, os.O_RDWR | os.O_TRUNC,
    os.O_CREAT | os.O_RDWR, os.O_CREAT | os.O_EXCL | os.O_WRONLY, -1, 1 << 31, True, 1.5, "0",
    os.O_WRONLY | os.O_CREAT | os.O_TRUNC, os.O_RDONLY | os.O_TRUNC,
]  # fmt: skip
NUMBERS = [0, 1, 7, 100, 255, 256, 1000, -1, 2**63 - 1, 2**63, -(2**63) - 1, True, 2.0, "1", None]
BAD_FDS = [-1, 1000, 2**31, 2**63, True, 3.0, "3", None]

fd_choice = st.one_of(
    st.integers(0, 5).map(lambda i: ("opened", i)),
    st.integers(0, 5).map(lambda i: ("opened", i)),
    st.sampled_from(BAD_FDS),
)
read_size = st.one_of(st.integers(1, 300), st.sampled_from(NUMBERS))
operation = st.one_of(
    st.tuples(st.just("open"), st.just("/d/f"), st.sampled_from(FLAGS[:6]), st.just(None)),
    st.tuples(st.just("open"), st.just("/d/f"), st.sampled_from(FLAGS), st.just(0o600)),
    st.tuples(
        st.just("open"), st.sampled_from(["/d/g", "/d/h", "/d/p"]), st.sampled_from(FLAGS[:6]),
        st.just(None),
    ),
    st.tuples(st.just("read"), fd_choice, read_size),
    st.tuples(st.just("read"), fd_choice, read_size),
    st.tuples(
        st.just("open"), st.sampled_from(PATHS), st.sampled_from(FLAGS),
        st.sampled_from([None, 0o644, -1, 2**40, "x"]),
    ),
    st.tuples(st.just("read"), fd_choice, st.sampled_from(NUMBERS)),
    st.tuples(
        st.just("lseek"), fd_choice, st.sampled_from(NUMBERS),
        st.sampled_from([0, 1, 2, 3, 4, 5, -1, True, 0.0, None]),
    ),
    st.tuples(st.just("close"), fd_choice),
    st.tuples(st.just("write"), fd_choice, st.sampled_from([b"", b"xyz", b"q" * 300])),
    st.tuples(st.just("dup"), fd_choice),
    st.tuples(st.just("dup2"), fd_choice, fd_choice, st.booleans()),
    st.tuples(st.just("set_inheritable"), fd_choice, st.booleans()),
    st.tuples(st.just("unlink"), st.sampled_from(["/d/f", "/d/g"])),
    st.tuples(
        st.just("chmod"), st.sampled_from(["/d/f", "/d/g", "/d/h", "/d"]),
        st.sampled_from([0, 0o644, 0o400, 0o200, 0o711, 0o066, 0o006, 0o464]),
    ),
    st.tuples(st.just("stat"), st.sampled_from(["/d/f", "/d/g", "/d/h"])),
)  # fmt: skip


def run_program(backend: EmulatedBackend, program: list[tuple[Any, ...]]) -> list[Any]:
    """Every step's outcome; descriptors are named by the order they were opened in."""
    opened: list[int] = []
    log: list[Any] = []

    def fd(choice: Any) -> Any:
        if isinstance(choice, tuple):
            return opened[choice[1] % len(opened)] if opened else -1
        return choice

    for step in program:
        name, *args = step
        if name == "open":
            path, flags, mode = args
            result = outcome(backend.open, path, flags, *([] if mode is None else [mode]))
        elif name == "stat":
            result = outcome(backend.file_system.stat, args[0])  # in ns, not truncated
            if result[0] == "ok":
                st_ = result[1]
                free = backend.file_system.statvfs("/").f_bfree  # the pages a truncation gave back
                result = ("ok", st_.st_mode, st_.st_size, st_.st_nlink, free, *relatime(st_))
        elif name in ("unlink", "chmod"):
            result = outcome(getattr(backend, name), *args)
        elif name == "dup2":
            result = outcome(backend.dup2, fd(args[0]), fd(args[1]), args[2])
        else:
            result = outcome(getattr(backend, name), fd(args[0]), *args[1:])
        if name in ("open", "dup") and result[0] == "ok":
            opened.append(result[1])
        log.append((step, result))
    for number in sorted(backend._table.files):  # the offset and flags of each descriptor
        offset = outcome(backend.lseek, number, 0, os.SEEK_CUR)  # EBADF for O_PATH
        log.append((number, offset, backend.get_inheritable(number)))
    log.append(("next", outcome(backend.open, "/d", os.O_RDONLY)))
    return log


def relatime(status: os.stat_result) -> tuple[bool, bool]:
    """Whether atime is after mtime and ctime (the times themselves differ run to run)."""
    return status.st_atime_ns > status.st_mtime_ns, status.st_atime_ns > status.st_ctime_ns


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
@given(st.sampled_from([Identity.root(), USER]), st.lists(operation, min_size=3, max_size=40))
def test_accelerated_calls_do_what_the_python_ones_do(
    who: Identity, program: list[tuple[Any, ...]]
) -> None:
    fast, pure = make_backend(True, who), make_backend(False, who)
    assert fast.accelerated and not pure.accelerated
    assert run_program(fast, program) == run_program(pure, program)


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
@pytest.mark.parametrize("accelerated", [True, False], ids=["accelerated", "pure"])
def test_reads_move_atime_as_relatime_says(accelerated: bool) -> None:
    backend = make_backend(accelerated)
    before = backend.file_system.stat("/d/f").st_atime_ns
    fd = backend.open("/d/f", os.O_RDONLY)
    backend.read(fd, 10)
    moved = backend.file_system.stat("/d/f").st_atime_ns
    assert moved > before, "the first read after a write moves atime"
    backend.read(fd, 10)
    assert backend.file_system.stat("/d/f").st_atime_ns == moved, "relatime: not again"
    backend.chmod("/d/f", 0o640)
    backend.read(fd, 10)
    assert backend.file_system.stat("/d/f").st_atime_ns > moved, "after a change, once more"
    backend.close(fd)


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
def test_reads_of_every_size_move_the_offset_as_python_does() -> None:
    fast, pure = make_backend(True), make_backend(False)
    results = []
    for backend in (fast, pure):
        fd = backend.open("/d/f", os.O_RDONLY)
        backend.read(fd, 1)  # the first read after a write moves atime, on the Python path
        pieces = [backend.read(fd, size) for size in (1, 2, 50, 51, 100, 255, 256, 1000, 5)]
        positions = [backend.lseek(fd, position, os.SEEK_SET) for position in (0, 700, 767)]
        results.append((pieces, positions, backend.read(fd, 9), backend.lseek(fd, 0, os.SEEK_CUR)))
    assert results[0] == results[1]
    assert b"".join(results[0][0]) == CONTENT[1:]


@pytest.mark.parametrize("accelerated", [True, False], ids=["accelerated", "pure"])
def test_an_unprivileged_open_is_checked_every_time(accelerated: bool) -> None:
    if accelerated and not accelerator.AVAILABLE:
        pytest.skip(accelerator.MISSING)
    user = Identity(1000, 1000, frozenset())
    backend = EmulatedBackend(MemoryFileSystem(identity=user), accelerated=accelerated)
    backend.mkdir("/d")
    backend.close(backend.open("/d/f", os.O_CREAT | os.O_WRONLY, 0o644))
    for _ in range(2):  # resolved once, then found in the path cache
        backend.close(backend.open("/d/f", os.O_RDONLY))
    backend.chmod("/d/f", 0o200)
    with pytest.raises(PermissionError) as denied:
        backend.open("/d/f", os.O_RDONLY)
    assert (denied.value.errno, denied.value.filename) == (errno.EACCES, "/d/f")
    backend.chmod("/d/f", 0o600)
    backend.chmod("/d", 0o600)
    with pytest.raises(PermissionError):
        backend.open("/d/f", os.O_RDONLY)


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
@pytest.mark.parametrize("mode", [0o464, 0o644, 0o046, 0o600])
def test_every_permission_class_is_judged_as_python_judges_it(mode: int) -> None:
    """USER opens a file it owns (``mode``), files of its own and of a supplementary group,
    and one it is other to, each way, twice (the second open finds the path in the cache)."""
    outcomes = []
    for accelerated in (True, False):
        backend = make_backend(accelerated)
        backend.chmod("/d/f", mode)
        backend.file_system.identity = USER  # type: ignore[attr-defined]
        backend.close(backend.open("/d/g", os.O_RDONLY))  # one open done: the C path serves
        seen = []
        for path in ("/d/f", "/d/g", "/d/p", "/d/h"):
            for flags in (os.O_RDONLY, os.O_WRONLY, os.O_RDWR):
                for _ in range(2):
                    result = outcome(backend.open, path, flags)
                    if result[0] == "ok":
                        backend.close(result[1])
                    seen.append((path, flags, result))
        outcomes.append(seen)
    assert outcomes[0] == outcomes[1]


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
def test_a_number_closed_and_opened_again_is_not_inheritable() -> None:
    backend = make_backend(True)
    fd = backend.open("/d/f", os.O_RDONLY)
    backend.dup2(fd, 7, inheritable=True)
    assert backend.get_inheritable(7)
    backend.close(7)
    for number in range(fd + 1, 7):
        backend.dup2(fd, number, inheritable=False)
    assert backend.open("/d/f", os.O_RDONLY) == 7
    assert not backend.get_inheritable(7)


@pytest.mark.parametrize("accelerated", [True, False], ids=["accelerated", "pure"])
def test_closing_the_last_descriptor_of_an_unlinked_file_frees_it(accelerated: bool) -> None:
    if accelerated and not accelerator.AVAILABLE:
        pytest.skip(accelerator.MISSING)
    backend = make_backend(accelerated)
    free = backend.statvfs("/").f_bfree
    fd = backend.open("/d/f", os.O_RDONLY)
    backend.open("/d/f", os.O_RDONLY)  # a second description, closed with the backend
    backend.close(backend.open("/d/f", os.O_RDONLY))
    backend.unlink("/d/f")
    assert backend.statvfs("/").f_bfree == free, "open descriptors keep the data"
    backend.close(fd)
    assert backend.statvfs("/").f_bfree == free
    backend.close(fd + 1)
    assert backend.statvfs("/").f_bfree > free, "the last close gives the space back"


TRUNCATING = [
    os.O_WRONLY | os.O_CREAT | os.O_TRUNC, os.O_RDWR | os.O_CREAT | os.O_TRUNC,
    os.O_RDWR | os.O_TRUNC, os.O_RDONLY | os.O_TRUNC, os.O_RDWR | os.O_CREAT,
]  # fmt: skip


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
@pytest.mark.parametrize("mode", [0o644, 0o444, 0o6755, 0o2644])
@pytest.mark.parametrize("who", [Identity.root(), USER], ids=["root", "user"])
def test_truncating_opens_of_an_existing_file_agree_with_python(mode: int, who: Identity) -> None:
    """open(path, 'w') of a file that exists (the C path's O_CREAT and O_TRUNC): the content
    cut, its pages given back, mtime and ctime moved, set-ID bits cleared for a user; each
    open twice (the second finds the path cached) and once more on an exported buffer."""
    outcomes = []
    for accelerated in (True, False):
        backend = make_backend(accelerated)
        backend.chmod("/d/f", mode)
        backend.file_system.identity = who  # type: ignore[attr-defined]
        backend.close(backend.open("/d/g", os.O_RDONLY))  # one open done: the C path serves
        seen = []
        for flags in TRUNCATING:
            for _ in range(2):
                fd = backend.open("/d/f", os.O_WRONLY) if mode & 0o200 else None
                if fd is not None:  # content to cut again
                    backend.write(fd, CONTENT)
                    backend.close(fd)
                before = backend.file_system.stat("/d/f")
                result = outcome(backend.open, "/d/f", flags)
                after = backend.file_system.stat("/d/f")
                if result[0] == "ok":
                    assert backend.lseek(result[1], 0, os.SEEK_CUR) == 0
                    backend.close(result[1])
                seen.append(
                    (
                        flags, result, after.st_mode, after.st_size, after.st_blocks,
                        backend.file_system.statvfs("/").f_bfree,
                        after.st_mtime_ns > before.st_mtime_ns,
                        after.st_ctime_ns > before.st_ctime_ns,
                    )
                )  # fmt: skip
        outcomes.append(seen)
    assert outcomes[0] == outcomes[1]


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
def test_a_truncating_open_of_an_exported_content_is_python_s() -> None:
    """A buffer exported from the content (as a memoryview on it) cannot be resized: the C path
    leaves the open to Python, whose error (or not) the accelerated backend then gives."""
    outcomes = []
    for accelerated in (True, False):
        backend = make_backend(accelerated)
        backend.close(backend.open("/d/f", os.O_RDONLY))
        node = backend.file_system.open("/d/f", os.O_RDONLY).node  # type: ignore[attr-defined]
        with memoryview(node.data):
            result = outcome(backend.open, "/d/f", os.O_WRONLY | os.O_TRUNC)
        outcomes.append((result[0], result[1] if result[0] != "ok" else None, len(node.data)))
    assert outcomes[0] == outcomes[1]


BACKEND_CODE = (f"{os.sep}posixbackend{os.sep}emulated{os.sep}", f"{os.sep}vfs{os.sep}")
"""Where the emulated backend's and the providers' Python code lives."""


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
def test_the_usual_binary_open_cycle_runs_no_backend_python_code() -> None:
    """open(path, 'w+b') of an existing file (found in the path cache), write, seek, read and
    close: no Python function of the backend's runs, open() itself included (FastOpen), all
    is the C paths' (the raw file's __new__ too: the cycle issue 20's thread benchmark
    measures)."""
    backend = make_backend(True)
    open_ = backend.io_open
    with open_("/d/f", "w+b") as file:  # resolved once
        file.write(CONTENT)
    ran: list[str] = []

    def profile(frame: Any, event: str, arg: object) -> None:
        # the backend's and the file system's frames only: audit hooks other tests of the
        # process installed (the permissions' hook, ...) run in the cycle too, on any backend
        filename = frame.f_code.co_filename
        if event == "call" and any(part in filename for part in BACKEND_CODE):
            ran.append(f"{filename.rsplit('/', 1)[-1]}:{frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        with open_("/d/f", "w+b") as file:
            file.write(CONTENT)
            file.seek(0)
            data = file.read()
    finally:
        sys.setprofile(None)
    assert data == CONTENT
    assert ran == []


# -- threads and memory -----------------------------------------------------------------------


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
@pytest.mark.usefixtures("switch_often")
def test_fast_reads_and_python_seeks_share_one_offset() -> None:
    """C reads (which find the offset in place) and SEEK_CUR lseeks (Python's path, which
    takes the offset out while it works) on one description: every byte read exactly once."""
    backend = EmulatedBackend(MemoryFileSystem(identity=Identity.root()), accelerated=True)
    fd = backend.open("/data", os.O_CREAT | os.O_RDWR, 0o644)
    content = b"".join(number.to_bytes(4, "big") for number in range(20000))
    backend.write(fd, content)
    backend.lseek(fd, 0, os.SEEK_SET)
    descriptors = [fd, backend.dup(fd), backend.dup(fd)]
    pieces: list[list[bytes]] = [[] for _ in descriptors]
    done = threading.Event()

    def reader(index: int) -> None:
        while True:
            piece = backend.read(descriptors[index], 8)
            if not piece:
                return
            pieces[index].append(piece)

    def seeker() -> None:
        while not done.is_set():
            backend.lseek(fd, 0, os.SEEK_CUR)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(len(descriptors))]
    threads.append(threading.Thread(target=seeker))
    for thread in threads:
        thread.start()
    for thread in threads[:-1]:
        thread.join()
    done.set()
    threads[-1].join()
    seen = sorted(piece for chunk in pieces for piece in chunk)
    assert b"".join(seen) == content, "a piece was read twice or never"


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
@pytest.mark.usefixtures("switch_often")
def test_opens_and_closes_from_many_threads_keep_the_table_whole() -> None:
    backend = make_backend(True)
    before = set(backend._table.files)

    def churn(index: int) -> None:
        for _ in range(2000):
            fd = backend.open("/d/f", os.O_RDONLY)
            assert backend.read(fd, 4) == CONTENT[:4]
            backend.close(fd)  # EBADF here would mean another thread got the same number
            if index == 0:
                backend.chmod("/d", 0o755)  # the Python path, under the file system's lock

    run_threads(churn)
    assert set(backend._table.files) == before
    assert backend.open("/d/f", os.O_RDONLY) == min(set(range(len(before) + 1)) - before)
    probe = backend.file_system.open("/d/f", os.O_RDONLY)
    assert isinstance(probe, MemoryHandle)
    assert len(probe.node.handles) == 2, "the descriptor above and the probe: no others"


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
def test_the_fast_paths_keep_no_references() -> None:
    backend = make_backend(True)
    path, flags = "/d/f", os.O_RDONLY | os.O_CLOEXEC
    backend.close(backend.open(path, flags))
    gc.collect()
    counts = (sys.getrefcount(path), sys.getrefcount(flags))
    objects = sum(1 for obj in gc.get_objects() if type(obj) in (MemoryHandle, FileDescription))
    for _ in range(3000):
        fd = backend.open(path, flags)
        backend.read(fd, 100)
        backend.lseek(fd, 10, os.SEEK_SET)
        backend.read(fd, 1000)
        backend.close(fd)
    gc.collect()
    assert (sys.getrefcount(path), sys.getrefcount(flags)) == counts
    after = sum(1 for obj in gc.get_objects() if type(obj) in (MemoryHandle, FileDescription))
    assert after == objects


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
def test_configuring_again_keeps_every_backend_working() -> None:
    """The classes' modules may be imported again (dropped from sys.modules): the accelerator
    takes the new layout, and backends made before keep working."""
    before = make_backend(True)
    fd = before.open("/d/f", os.O_RDONLY)
    accelerator._load()
    after = make_backend(True)
    for backend, number in ((before, fd), (after, after.open("/d/f", os.O_RDONLY))):
        assert backend.read(number, 3) == CONTENT[:3]
        assert backend.lseek(number, 5, os.SEEK_SET) == 5
        assert backend.read(number, 2) == CONTENT[5:7]
        backend.close(number)


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
def test_an_accelerated_backend_is_collected() -> None:
    backend = make_backend(True)
    backend.open("/d/f", os.O_RDONLY)
    gone = weakref.ref(backend)
    del backend
    gc.collect()
    assert gone() is None
