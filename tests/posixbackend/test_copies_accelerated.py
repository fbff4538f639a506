"""The accelerator's os.sendfile (FastCopies) from one memory file to another: through the real
names it does what native sendfile does (counts clipped at the end of file, which offsets move,
errors with their class and errno) and shutil.copyfile copies as natively; against the Python
method it leaves the same files, offsets, times moved and space counted, as root and as an
unprivileged identity (set-ID bits cleared by the write); every case off its path is the
Python code's."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from posixbackend import backend
from posixbackend.emulated import EmulatedBackend, accelerator
from posixbackend.emulated import backend as backend_module
from posixbackend.emulated.descriptions import FileDescription
from posixbackend.emulated.paths import PathFunctions
from posixbackend.emulated.transfers import CHUNK, TransferFunctions
from tests.posixbackend.test_accelerator import USER
from tests.posixbackend.test_mkdir_accelerated import assert_native_and_managed_agree
from vfs import Identity, MemoryFileSystem

NEEDS_C = pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)

NO_EXPLAIN = settings(phases=[phase for phase in Phase if phase is not Phase.explain])
"""For the tests that run inside a managed block: Hypothesis's explain phase traces each new
file's first line with a tracer that resolves the file's path through the real names -- the
block's, inside the memory file system's lock when the line runs under it (Symlink.__init__'s
os.fsencode): a re-entry the lock refuses with OSError(EDEADLK) (compat gap
vfs.lock.reentered; it was a deadlock), which would hide the failure being explained."""

FILES = {"a": bytes(range(256)) * 12, "b": b"0123456789", "c": b""}
"""The files each run starts with (a: 3072 bytes, not a whole number of pages)."""
OPENED = [
    ("a", os.O_RDONLY),
    ("a", os.O_RDWR),
    ("b", os.O_WRONLY),
    ("b", os.O_RDWR | os.O_APPEND),
    ("c", os.O_WRONLY),
    ("c", os.O_RDWR),
    ("a", os.O_PATH),
    ("b", os.O_RDONLY),
]
"""The descriptors each run opens, by index (index len(OPENED) is a closed descriptor)."""
OFFSETS = [None, None, 0, 5, 3071, 3072, 5000, -1]
COUNTS = [1, 100, 4096, 1 << 31, 0, -1]

step = st.one_of(
    st.tuples(
        st.just("sendfile"),
        st.integers(0, len(OPENED)),
        st.integers(0, len(OPENED)),
        st.sampled_from(OFFSETS),
        st.sampled_from(COUNTS),
    ),
    st.tuples(
        st.just("lseek"),
        st.integers(0, len(OPENED) - 1),
        st.just(0),
        st.sampled_from([0, 3, 3000, 3072, 4000, 8192]),
        st.just(0),
    ),
)


def error_outcome(error: BaseException) -> tuple[Any, ...]:
    """An exception's class and errno (sendfile's errors name no file)."""
    return ("error", type(error).__name__, getattr(error, "errno", None))


def run(os_module: Any, top: str, program: list[tuple[Any, ...]]) -> list[Any]:
    """``program``'s steps on files under ``top`` through ``os_module`` (os, or a backend):
    each step's outcome, then every descriptor's offset and every file's content."""
    for name, data in FILES.items():
        fd = os_module.open(f"{top}/{name}", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o666)
        os_module.write(fd, data)
        os_module.close(fd)
    fds = [os_module.open(f"{top}/{name}", flags) for name, flags in OPENED]
    closed = os_module.open(f"{top}/a", os.O_RDONLY)
    os_module.close(closed)
    fds.append(closed)
    results: list[Any] = []
    try:
        for name, first, second, offset, count in program:
            try:
                if name == "lseek":
                    results.append(("ok", os_module.lseek(fds[first], offset, os.SEEK_SET)))
                else:
                    results.append(
                        ("ok", os_module.sendfile(fds[first], fds[second], offset, count))
                    )
            except (OSError, ValueError, OverflowError) as error:
                results.append(error_outcome(error))
        kept = zip(fds[:-1], OPENED, strict=True)
        offsets = [
            os_module.lseek(fd, 0, os.SEEK_CUR) for fd, (_, flags) in kept if flags != os.O_PATH
        ]
        contents = {}
        for name in FILES:
            fd = os_module.open(f"{top}/{name}", os.O_RDONLY)
            contents[name] = os_module.read(fd, 1 << 16)
            os_module.close(fd)
        return [results, offsets, contents]
    finally:
        for fd in fds[:-1]:
            os_module.close(fd)


# -- through the real names, against native os.sendfile -----------------------------------------


@NO_EXPLAIN
@given(st.lists(step, min_size=1, max_size=10))
def test_sendfile_does_what_native_sendfile_does(program: list[tuple[Any, ...]]) -> None:
    native_top = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        native = run(os, native_top, program)
    finally:
        shutil.rmtree(native_top)
    with backend("managed", file_system=MemoryFileSystem()):
        os.mkdir("/top")
        managed = run(os, "/top", program)
    assert managed == native


def test_shutil_copyfile_copies_as_natively() -> None:
    """shutil.copyfile's two sendfile calls (the copy and the one at the end of file) of files
    of 0, 1, 4096 and 70000 bytes: the copy's bytes and size."""
    sizes = [0, 1, 4096, 70000]
    with backend("managed", file_system=MemoryFileSystem()):
        for size in sizes:
            with open(f"/s{size}", "wb") as file:
                file.write(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
            shutil.copyfile(f"/s{size}", f"/d{size}")
            with open(f"/d{size}", "rb") as copy, open(f"/s{size}", "rb") as source:
                assert copy.read() == source.read()
            assert os.stat(f"/d{size}").st_size == size


# -- the C path against the Python path ---------------------------------------------------------


def make_backend(accelerated: bool, who: Identity | None) -> tuple[EmulatedBackend, list[int]]:
    """A backend over a memory file system made by root, its descriptors of OPENED (and a
    closed one) and of /d/s (0o4755, set-uid: a write clears it) and /d/sp (sparse), used as
    ``who`` from then on."""
    fs = MemoryFileSystem(identity=Identity.root())
    # times at 1 ns: which ones a step moved shows in every stat, whatever the second
    made = EmulatedBackend(
        fs, accelerated=accelerated, standard_streams=False, time_resolution_ns=1
    )
    made.mkdir("/d")
    for name, data in [*FILES.items(), ("s", b"s" * 100), ("sp", b"")]:
        fd = made.open(f"/d/{name}", os.O_CREAT | os.O_WRONLY, 0o666)
        made.write(fd, data)
        made.close(fd)
    made.truncate("/d/sp", 1 << 20)
    fs.chmod("/d/s", 0o4777)  # (not the backend's: its C chmod is made at its first use)
    fds = [made.open(f"/d/{name}", flags) for name, flags in OPENED]
    closed = made.open("/d/a", os.O_RDONLY)
    made.close(closed)
    fds += [closed, made.open("/d/s", os.O_RDWR), made.open("/d/sp", os.O_RDONLY)]
    if who is not None:
        fs.identity = who
    return made, fds


c_step = st.tuples(
    st.sampled_from(["sendfile", "sendfile", "lseek"]),
    st.integers(0, len(OPENED) + 2),
    st.integers(0, len(OPENED) + 2),
    st.sampled_from([*OFFSETS, 1 << 20, (1 << 63) - 10]),
    st.sampled_from([*COUNTS, (1 << 63) - 1]),
)


def c_run(made: EmulatedBackend, fds: list[int], program: list[tuple[Any, ...]]) -> list[Any]:
    """``program`` on a backend of make_backend: each step's outcome, with every file's size,
    content, blocks, mode, and whether its atime and mtime moved in the step; then every
    descriptor's offset and the pages counted."""
    names = [*FILES, "s", "sp"]

    def times() -> list[tuple[int, int]]:
        return [(made.stat(f"/d/{n}").st_atime_ns, made.stat(f"/d/{n}").st_mtime_ns) for n in names]

    results: list[Any] = []
    for name, first, second, offset, count in program:
        before = times()
        try:
            if name == "lseek":
                done: Any = ("ok", made.lseek(fds[first], max(offset or 0, 0), os.SEEK_SET))
            else:
                done = ("ok", made.sendfile(fds[first], fds[second], offset, count))
        except (OSError, ValueError, OverflowError) as error:
            done = error_outcome(error)
        after = times()
        files = [
            (made.stat(f"/d/{n}").st_size, made.stat(f"/d/{n}").st_blocks,
             made.stat(f"/d/{n}").st_mode, old[0] != new[0], old[1] != new[1])
            for n, old, new in zip(names, before, after, strict=True)
        ]  # fmt: skip
        results.append((done, files))
    offsets: list[Any] = []
    for fd in fds:
        try:
            offsets.append(made.lseek(fd, 0, os.SEEK_CUR))
        except OSError as error:
            offsets.append(error_outcome(error))
    contents = []
    for n in FILES:
        fd = made.open(f"/d/{n}", os.O_RDONLY)
        contents.append(made.read(fd, 1 << 16))
        made.close(fd)
    space: Any = made.file_system
    return [results, offsets, contents, space._space.used_pages]


@NEEDS_C
@given(st.sampled_from([None, USER]), st.lists(c_step, min_size=1, max_size=10))
def test_the_c_sendfile_leaves_what_the_python_one_leaves(
    who: Identity | None, program: list[tuple[Any, ...]]
) -> None:
    fast, fast_fds = make_backend(True, who)
    pure, pure_fds = make_backend(False, who)
    assert fast_fds == pure_fds
    assert c_run(fast, fast_fds, program) == c_run(pure, pure_fds, program)


def counting(monkeypatch: Any, first_use: Any = None) -> dict[str, list[tuple[Any, ...]]]:
    """The positional arguments of the Python methods' calls (the fallbacks) whose C ones
    ``first_use`` makes (the copies': sendfile, chmod, utime; by default) on the backends made
    from now on, by name."""
    made_at_first_use = backend_module._COPIES if first_use is None else first_use
    calls: dict[str, list[tuple[Any, ...]]] = {}
    functions = []
    for name, original in made_at_first_use.functions:
        made = calls[name] = []

        def counted(
            self: Any, *args: Any, original: Any = original, made: Any = made, **keywords: Any
        ) -> Any:
            made.append(args)
            return original(self, *args, **keywords)

        functions.append((name, counted))
    monkeypatch.setattr(made_at_first_use, "functions", tuple(functions))
    return calls


@NEEDS_C
def test_memory_copies_in_c_and_the_rest_in_python(monkeypatch: Any) -> None:
    made, fds = make_backend(True, None)
    read_a, rdwr_a, write_b, append_b, write_c, rdwr_c, path_a, read_b, closed, setuid, sparse = fds
    calls = counting(monkeypatch)["sendfile"]
    assert made.sendfile(write_c, read_a, None, 100) == 100  # from the source's offset
    assert made.lseek(read_a, 0, os.SEEK_CUR) == 100 and made.lseek(write_c, 0, os.SEEK_CUR) == 100
    assert made.sendfile(write_c, read_a, 3000, 1 << 31) == 72  # clipped at the end of file
    assert made.lseek(read_a, 0, os.SEEK_CUR) == 100  # a given offset: the source's stays
    assert made.sendfile(write_c, read_a, 3072, 10) == 0  # at the end of file
    assert made.sendfile(rdwr_c, read_b, None, 4) == 4
    assert made.lseek(write_c, 0, os.SEEK_CUR) == 172
    assert calls == []
    c = made.open("/d/c", os.O_RDONLY)
    assert made.read(c, 200) == b"0123" + FILES["a"][4:100] + FILES["a"][3000:]
    with pytest.raises(OSError) as refused:
        made.sendfile(write_b, write_c, None, 10)  # not readable
    assert refused.value.errno == 9
    with pytest.raises(OSError) as appending:
        made.sendfile(append_b, read_a, 0, 10)  # O_APPEND
    assert appending.value.errno == 22
    assert made.sendfile(setuid, read_a, 0, 10) == 10  # set-uid bit: Python clears it (root)
    assert made.sendfile(write_b, sparse, 0, 10) == 10  # a sparse source
    assert made.sendfile(rdwr_a, read_a, 0, 10) == 10  # the same file on both sides
    assert made.sendfile(write_c, read_a, 0, 0) == 0  # count 0
    assert made.sendfile(out_fd=write_c, in_fd=read_a, offset=0, count=1) == 1  # keywords
    assert [call[:2] for call in calls] == [
        (write_b, write_c), (append_b, read_a), (setuid, read_a), (write_b, sparse),
        (rdwr_a, read_a), (write_c, read_a), (),
    ]  # fmt: skip
    assert made.read(made.open("/d/b", os.O_RDONLY), 20) == bytes(10)
    del path_a, closed


@NEEDS_C
def test_a_copy_longer_than_a_chunk_goes_to_the_python_method(monkeypatch: Any) -> None:
    """The Python method copies a chunk per hold of the file system's lock; the C path takes
    no more than one in its one hold."""
    calls = counting(monkeypatch)["sendfile"]
    made = EmulatedBackend(MemoryFileSystem(), accelerated=True, standard_streams=False)
    source = made.open("/s", os.O_CREAT | os.O_RDWR)
    made.write(source, b"s" * (CHUNK + 1))
    target = made.open("/t", os.O_CREAT | os.O_WRONLY)
    assert made.sendfile(target, source, 0, CHUNK) == CHUNK
    assert made.sendfile(target, source, 0, CHUNK + 1) == CHUNK + 1
    assert calls == [(target, source, 0, CHUNK + 1)]
    assert made.fstat(target).st_size == 2 * CHUNK + 1


@NEEDS_C
@pytest.mark.parametrize("side", ["destination", "source"])
def test_a_busy_offset_goes_to_the_python_method(monkeypatch: Any, side: str) -> None:
    """An offset another thread's call holds (``busy``): the Python method waits for it (here
    its wait raises, to see it reached); nothing is copied meanwhile."""
    made, fds = make_backend(True, None)
    out_fd, in_fd = fds[4], fds[0]
    description: Any = made._table.files[out_fd if side == "destination" else in_fd]
    calls = counting(monkeypatch)["sendfile"]

    def waits(self: Any) -> None:
        raise BlockingIOError

    monkeypatch.setattr(FileDescription, "_wait_for_offset", waits)
    description.busy = True
    with pytest.raises(BlockingIOError):
        made.sendfile(out_fd, in_fd, None, 5)
    description.busy = False
    assert calls == [(out_fd, in_fd, None, 5)]
    assert made.stat("/d/c").st_size == 0
    assert made.sendfile(out_fd, in_fd, None, 5) == 5


@NEEDS_C
def test_a_subclass_sendfile_stays_in_charge() -> None:
    class Counting(EmulatedBackend):
        sent: list[int] = []

        def sendfile(self, out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
            self.sent.append(count)
            return TransferFunctions.sendfile(self, out_fd, in_fd, offset, count)

    made = Counting(MemoryFileSystem(), accelerated=True, standard_streams=False)
    source = made.open("/x", os.O_CREAT | os.O_RDWR)
    made.write(source, b"xyz")
    target = made.open("/y", os.O_CREAT | os.O_WRONLY)
    assert made.sendfile(target, source, 0, 3) == 3
    assert Counting.sent == [3]


@NEEDS_C
def test_the_c_sendfile_is_made_at_its_first_use() -> None:
    made, fds = make_backend(True, None)
    assert "sendfile" not in vars(made)
    assert EmulatedBackend.sendfile is TransferFunctions.sendfile  # the class's, as before
    assert made.sendfile(fds[4], fds[0], 0, 3) == 3
    assert type(vars(made)["sendfile"]) is type(made.stat)  # a bound C method
    pure, _ = make_backend(False, None)
    assert pure.sendfile.__func__ is TransferFunctions.sendfile


# -- os.chmod and os.utime(ns=...) of plain paths -------------------------------------------------

ATTRIBUTE_PATHS = ["f", "e", "l", "e/g", "missing", "f/x", "e/../f", "x" * 256]
"""A file, a directory, a link to the file, a file in the directory, a missing name, a path
through a file, one with dots, a name too long."""
MODES = [0o644, 0o600, 0o4755, 0o2755, 0o7777, 0o1000, 0, 0o10644, -1]
NS = [
    (0, 0),
    (10**9, 2 * 10**9),
    (1_700_000_000 * 10**9, 1_600_000_000 * 10**9),
    (-(10**9), 5 * 10**9),
    (1_500_000_001, 3 * 10**9),  # truncated to the backend's resolution (a second by default)
    (2**62, 0),
    (1, 2, 3),
    (1.5, 2),
]

attribute_step = st.one_of(
    st.tuples(st.just("chmod"), st.sampled_from(ATTRIBUTE_PATHS), st.sampled_from(MODES)),
    st.tuples(st.just("utime"), st.sampled_from(ATTRIBUTE_PATHS), st.sampled_from(NS)),
)


GIVEN_SECONDS = {ns // 10**9 for pair in NS if len(pair) == 2 for ns in pair if isinstance(ns, int)}


def seconds(ns: int) -> int | str:
    """A time to the second (the backend's default resolution) when a step set it, else "now"
    (the two sides create their files at different moments)."""
    return ns // 10**9 if ns // 10**9 in GIVEN_SECONDS else "now"


def attributes_run(top: str, program: list[tuple[str, str, Any]]) -> list[Any]:
    """``program`` through the real names on a tree under ``top`` (f, e/g, l -> f): each step's
    outcome (errors: class, errno, file name under ``top``) and the mode and times (see
    seconds) of f, e and e/g."""
    with open(f"{top}/f", "wb") as file:
        file.write(b"f")
    os.mkdir(f"{top}/e")
    with open(f"{top}/e/g", "wb"):
        pass
    os.symlink(f"{top}/f", f"{top}/l")
    results: list[Any] = []
    for name, path, value in program:
        try:
            if name == "chmod":
                os.chmod(f"{top}/{path}", value)
            else:
                os.utime(f"{top}/{path}", ns=value)
            done: Any = ("ok",)
        except (OSError, ValueError, TypeError, OverflowError) as error:
            filename = getattr(error, "filename", None)
            done = (type(error).__name__, getattr(error, "errno", None),
                    None if filename is None else filename[len(top):])  # fmt: skip
        seen = [os.stat(f"{top}/{n}") for n in ("f", "e", "e/g")]
        results.append(
            (done, [(s.st_mode, seconds(s.st_atime_ns), seconds(s.st_mtime_ns)) for s in seen])
        )
    return results


@pytest.mark.skipif(os.geteuid() != 0, reason="the managed side is root, as the natives must be")
@NO_EXPLAIN
@given(st.lists(attribute_step, min_size=1, max_size=10))
def test_chmod_and_utime_do_what_native_ones_do(program: list[tuple[str, str, Any]]) -> None:
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    assert_native_and_managed_agree(attributes_run, program, shm)


def tree_backend(accelerated: bool, who: Identity | None, resolution: int) -> EmulatedBackend:
    """A backend over a memory file system made by root, then used as ``who``: /d (0o755) with
    a (root's, 0o666), u (USER's, group 1000), v (USER's, group 0), t (USER's directory), r
    (root's directory), l (a link to u), p (0o700, holding f: unsearchable for USER)."""
    fs = MemoryFileSystem(identity=Identity.root())
    made = EmulatedBackend(
        fs, accelerated=accelerated, standard_streams=False, time_resolution_ns=resolution
    )
    made.mkdir("/d", 0o755)
    for name, uid, gid in (("a", 0, 0), ("u", 1000, 1000), ("v", 1000, 0), ("p/f", 0, 0)):
        if name == "p/f":
            made.mkdir("/d/p", 0o700)
        made.close(made.open(f"/d/{name}", os.O_CREAT | os.O_WRONLY, 0o666))
        made.chown(f"/d/{name}", uid, gid)
    made.mkdir("/d/t")
    made.chown("/d/t", 1000, 1000)
    made.mkdir("/d/r")
    made.symlink("/d/u", "/d/l")
    if who is not None:
        fs.identity = who
    return made


TREE_PATHS = ["/d/a", "/d/u", "/d/v", "/d/t", "/d/r", "/d/l", "/d/p/f", "/d/no", "/d/a/x", "/d"]
KEYWORDS: list[dict[str, Any]] = [
    {},
    {"follow_symlinks": True},
    {"dir_fd": None},
    {"follow_symlinks": False},
]
c_attribute_step = st.tuples(
    st.sampled_from(["chmod", "utime"]),
    st.sampled_from(TREE_PATHS),
    st.sampled_from([*MODES, 0o2644, 0o755]),
    st.sampled_from([(5 * 10**9, 7 * 10**9), (1_234_567_890_123, 0), (2**62 - 1, -(2**62) + 1)]),
    st.sampled_from(KEYWORDS),
)


GIVEN_TIMES = {5 * 10**9, 7 * 10**9, 1_234_567_890_123, 0, 2**62 - 1, -(2**62) + 1}
"""The times c_attribute_step sets, and what a second's resolution leaves of them."""
GIVEN_TIMES |= {ns // 10**9 * 10**9 for ns in GIVEN_TIMES}


def tree_run(made: EmulatedBackend, program: list[tuple[Any, ...]], resolution: int) -> list[Any]:
    """``program`` on a backend of tree_backend: each step's outcome (errors with their class,
    errno, file name and message), then every path's mode and owner, its atime and mtime when
    a step set them (else whether the step moved them), and whether the step moved its ctime
    (at a 1 ns ``resolution`` only: at a second's, a ctime set to now in the second it had
    already shows no move, so the two backends, run one after the other, may differ there)."""

    def seen() -> list[Any]:
        records = []
        for path in TREE_PATHS[:6]:
            record = made.lstat(path)
            records.append((record.st_mode, record.st_uid, record.st_gid, record.st_atime_ns,
                            record.st_mtime_ns, record.st_ctime_ns))  # fmt: skip
        return records

    def time_of(old: int, new: int) -> Any:
        return new if new in GIVEN_TIMES else ("moved", old != new)

    results: list[Any] = []
    for name, path, mode, ns, keywords in program:
        before = seen()
        try:
            if name == "chmod":
                made.chmod(path, mode, **keywords)
            else:
                made.utime(path, ns=ns, **keywords)
            done: Any = ("ok",)
        except (OSError, ValueError, TypeError, OverflowError, NotImplementedError) as error:
            done = (type(error).__name__, getattr(error, "errno", None),
                    getattr(error, "filename", None), str(error))  # fmt: skip
        after = seen()
        files = [
            (
                *new[:3],
                time_of(old[3], new[3]),
                time_of(old[4], new[4]),
                old[5] != new[5] if resolution == 1 else None,
            )
            for old, new in zip(before, after, strict=True)
        ]
        results.append((done, files))
    return results


@NEEDS_C
@given(
    st.sampled_from([None, USER]),
    st.sampled_from([1, 10**9]),
    st.lists(c_attribute_step, min_size=1, max_size=10),
)
def test_the_c_chmod_and_utime_leave_what_the_python_ones_leave(
    who: Identity | None, resolution: int, program: list[tuple[Any, ...]]
) -> None:
    fast = tree_backend(True, who, resolution)
    pure = tree_backend(False, who, resolution)
    assert tree_run(fast, program, resolution) == tree_run(pure, program, resolution)


@NEEDS_C
def test_plain_chmod_and_utime_in_c_and_the_rest_in_python(monkeypatch: Any) -> None:
    made = tree_backend(True, USER, 1)
    calls = counting(monkeypatch)
    made.chmod("/d/u", 0o600)
    made.chmod("/d/v", 0o4711, follow_symlinks=True, dir_fd=None)
    made.utime("/d/u", ns=(10**9, 2 * 10**9))
    made.utime("/d/t", ns=(3, 4), follow_symlinks=True)  # a directory: utime only
    assert calls["chmod"] == [] and calls["utime"] == []
    assert made.stat("/d/u").st_mode & 0o7777 == 0o600
    assert made.stat("/d/v").st_mode & 0o7777 == 0o4711
    assert (made.stat("/d/u").st_atime_ns, made.stat("/d/u").st_mtime_ns) == (10**9, 2 * 10**9)
    assert (made.stat("/d/t").st_atime_ns, made.stat("/d/t").st_mtime_ns) == (3, 4)
    made.chmod("/d/t", 0o700)  # a directory: the resolver's caches drop (Python)
    made.chmod("/d/u", 0o2755)  # set-gid asked for by a user: the Python path judges
    made.chmod("/d/l", 0o644)  # a link at the end
    with pytest.raises(PermissionError) as refused:
        made.chmod("/d/a", 0o600)  # not the owner
    assert (refused.value.errno, refused.value.filename) == (1, "/d/a")
    with pytest.raises(PermissionError):
        made.utime("/d/a", ns=(1, 2))
    with pytest.raises(PermissionError):
        made.utime("/d/p/f", ns=(1, 2))  # an unsearchable directory on the way
    with pytest.raises(FileNotFoundError):
        made.chmod("/d/no", 0o600)
    made.utime("/d/u", (1, 2))  # times=
    made.utime("/d/u")  # now
    made.utime("/d/u", ns=(1, 2), follow_symlinks=False)
    assert [call[0] for call in calls["chmod"]] == ["/d/t", "/d/u", "/d/l", "/d/a", "/d/no"]
    assert [call[0] for call in calls["utime"]] == ["/d/a", "/d/p/f", "/d/u", "/d/u", "/d/u"]
    assert made.stat("/d/u").st_mode & 0o7777 == 0o644  # (chmod of the link: its target)


@NEEDS_C
def test_times_the_resolution_truncates_go_to_the_python_method(monkeypatch: Any) -> None:
    """ns=(...) that the backend's resolution changes: the Python path truncates them and
    records the gap (emulated.times.resolution)."""
    made = tree_backend(True, None, 10**9)
    calls = counting(monkeypatch)
    made.utime("/d/a", ns=(5 * 10**9, 6 * 10**9))
    made.utime("/d/a", ns=(5 * 10**9 + 1, 6 * 10**9))
    assert [call[0] for call in calls["utime"]] == ["/d/a"]
    assert made.stat("/d/a").st_atime_ns == 5 * 10**9


@NEEDS_C
def test_a_subclass_chmod_keeps_all_three_in_python() -> None:
    class Counting(EmulatedBackend):
        modes: list[int] = []

        def chmod(self, path: Any, mode: int, **keywords: Any) -> None:
            self.modes.append(mode)
            PathFunctions.chmod(self, path, mode, **keywords)

    made = Counting(MemoryFileSystem(), accelerated=True, standard_streams=False)
    made.close(made.open("/x", os.O_CREAT | os.O_WRONLY))
    made.chmod("/x", 0o600)
    made.utime("/x", ns=(10**9, 10**9))
    assert Counting.modes == [0o600]
    assert made.utime.__func__ is PathFunctions.utime
