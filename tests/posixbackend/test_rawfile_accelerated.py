"""The accelerated raw file (``_speedups.RawFileBase``) against RawFile and ``_io.FileIO``.

An accelerated backend's ``FileIO`` (and so its ``open()``) does RawFile's common cases in C on
a memory file. Three sides run the same programs: native ``open``/``_io.FileIO`` in a host
directory (the oracle), the pure-Python RawFile on a memory file system, and the C one on
another; results and errors (class, errno, message, filename) must agree step by step. Beside
them, the cases the C code hands back to RawFile's Python methods, and what it must never
leave half done.
"""

from __future__ import annotations

import array
import functools
import gc
import io
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posixbackend.emulated import EmulatedBackend, accelerator
from posixbackend.emulated.fileio import RawFile
from tests.threads import THREADS, run_threads, switch_often  # noqa: F401 - a fixture
from vfs import HostFileSystem, Identity, MemoryFileSystem

pytestmark = pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)

INITIAL = b"0123456789abcdef" * 5
MODES = ["r", "rb", "r+b", "w", "wb", "w+b", "a", "ab", "a+b", "x", "xb", "r+", "w+"]


def memory_backend(accelerated: bool, identity: Identity | None = None) -> EmulatedBackend:
    """A backend over a fresh memory file system (root's unless told), without stdio."""
    return EmulatedBackend(
        MemoryFileSystem(identity=identity or Identity.root()),
        accelerated=accelerated,
        standard_streams=False,
    )


class Side:
    """One implementation: its ``open``, its ``FileIO`` and the directory its paths are in."""

    def __init__(self, name: str, root: str, opener: Callable[..., Any], file_io: Any) -> None:
        self.name = name
        self.root = root
        self.open = opener
        self.FileIO = file_io

    def path(self, name: str) -> str:
        return self.root.rstrip("/") + "/" + name

    def outcome(self, call: Callable[[], Any]) -> Any:
        """A call's result, or its error with the root replaced, comparable across sides."""
        return self.attempt(call)[1]

    def attempt(self, call: Callable[[], Any]) -> tuple[Any, Any]:
        """What a call returned (None if it raised) and its outcome."""
        try:
            result = call()
        except (OSError, ValueError, TypeError, BufferError, OverflowError, AttributeError) as e:
            root = self.root.rstrip("/")
            filename = getattr(e, "filename", None)
            if isinstance(filename, str):
                filename = filename.replace(root, "<root>")
            message = str(e).replace(root, "<root>")
            return None, ("raise", type(e).__name__, getattr(e, "errno", None), message, filename)
        if isinstance(result, (bytearray, memoryview, array.array)):
            return result, ("ok", bytes(result))
        if isinstance(result, (bytes, int, tuple)) or result is None:
            return result, ("ok", result)
        text = result if isinstance(result, str) else repr(result)
        return result, ("ok", text.replace(self.root.rstrip("/"), "<root>"))


@contextmanager
def three_sides() -> Iterator[tuple[Side, Side, Side]]:
    """Native in a host directory, pure Python and C each on a memory file system."""
    pure, fast = memory_backend(False), memory_backend(True)
    assert fast.accelerated and not pure.accelerated
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as d:
        for backend in (pure, fast):
            backend.mkdir("/t")
        yield (
            Side("native", d, io.open, io.FileIO),
            Side("pure", "/t", pure.io_open, pure.FileIO),
            Side("fast", "/t", fast.io_open, fast.FileIO),
        )


# -- the differential test -----------------------------------------------------------------------

OPS = st.one_of(
    st.tuples(st.just("read"), st.sampled_from([None, -1, 0, 1, 7, 100])),
    st.tuples(st.just("readall")),
    st.tuples(st.just("readinto"), st.integers(0, 40), st.sampled_from(["bytearray", "array"])),
    st.tuples(st.just("write"), st.binary(max_size=30), st.sampled_from(["bytes", "view"])),
    st.tuples(st.just("seek"), st.integers(-3, 90), st.sampled_from([0, 1, 2])),
    st.tuples(st.just("tell")),
    st.tuples(st.just("truncate"), st.one_of(st.none(), st.integers(0, 90))),
    st.tuples(st.just("flush")),
    st.tuples(st.just("query")),
    st.tuples(st.just("close")),
)


def apply(side: Side, f: Any, op: tuple[Any, ...]) -> Any:
    """One operation on a file (raw or buffered), as an outcome."""
    kind = op[0]
    if kind == "read":
        return side.outcome(lambda: f.read(op[1]))
    if kind == "readall":
        return side.outcome(lambda: f.readall() if hasattr(f, "readall") else f.read())
    if kind == "readinto":
        target = bytearray(op[1]) if op[2] == "bytearray" else array.array("b", bytes(op[1]))
        return (side.outcome(lambda: f.readinto(target)), bytes(target))
    if kind == "write":
        data = op[1] if op[2] == "bytes" else memoryview(bytearray(op[1]))
        return side.outcome(lambda: f.write(data))
    if kind == "seek":
        return side.outcome(lambda: f.seek(op[1], op[2]))
    if kind == "tell":
        return side.outcome(f.tell)
    if kind == "truncate":
        return side.outcome(lambda: f.truncate(op[1]))
    if kind == "flush":
        return side.outcome(f.flush)
    if kind == "query":
        queries = ("readable", "writable", "seekable", "isatty")
        answers = [side.outcome(getattr(f, name)) for name in queries]
        return (*answers, side.outcome(lambda: f.fileno() >= 0), f.closed)
    return side.outcome(f.close)


def content(side: Side, name: str) -> bytes:
    with side.open(side.path(name), "rb") as f:
        data: bytes = f.read()
    return data


@settings(max_examples=60, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    buffering=st.sampled_from([0, -1, 5]),
    exists=st.booleans(),
    ops=st.lists(OPS, max_size=12),
)
def test_the_c_raw_file_does_what_rawfile_and_fileio_do(
    mode: str, buffering: int, exists: bool, ops: list[tuple[Any, ...]]
) -> None:
    if "b" not in mode:
        buffering = -1  # text: the operations are the binary layer's; text has its own tests
    with three_sides() as sides:
        opened = []
        for side in sides:
            if exists:
                with side.open(side.path("f"), "wb") as f:
                    f.write(INITIAL)
            f, outcome = side.attempt(
                functools.partial(side.open, side.path("f"), mode, buffering=buffering)
            )
            if f is not None:
                layer = f if "b" in mode else f.buffer  # f kept: its finalizer would close it
                opened.append((side, layer, f))
            if side.name == "native":
                expected = outcome
            else:
                assert outcome == expected, side.name
        if len(opened) != 3:
            assert not opened
            return
        fast_raw = opened[2][1] if buffering == 0 else opened[2][1].raw
        assert isinstance(fast_raw, accelerator._speedups.RawFileBase)  # type: ignore[union-attr]
        for op in ops:
            results = [apply(side, layer, op) for side, layer, _ in opened]
            assert results[1] == results[0], (op, "pure")
            assert results[2] == results[0], (op, "fast")
        for _, layer, _ in opened:
            layer.close()
        contents = [content(side, "f") for side, _, _ in opened]
        assert contents[1] == contents[0] and contents[2] == contents[0]


@settings(max_examples=30, deadline=None)
@given(
    mode=st.sampled_from(["r", "w", "a", "r+", "w+", "a+"]),
    text=st.text(alphabet="ab\n\xe9", max_size=20),
    encoding=st.sampled_from([None, "utf-8", "latin-1"]),
)
def test_text_open_read_write_agree(mode: str, text: str, encoding: str | None) -> None:
    with three_sides() as sides:
        results = []
        for side in sides:
            with side.open(side.path("f"), "w", encoding="utf-8") as f:
                f.write("start\n")

            def program(s: Side = side) -> Any:
                with s.open(s.path("f"), mode, encoding=encoding) as f:
                    written = f.write(text) if f.writable() else None
                    f.seek(0) if f.seekable() and f.readable() else None
                    return written, (f.read() if f.readable() else None), f.mode, f.encoding

            results.append((side.outcome(program), content(side, "f")))
        assert results[1] == results[0]
        assert results[2] == results[0]


# -- what the C code hands to RawFile's Python methods -------------------------------------------


def test_every_argument_shape_and_error_agrees_with_fileio() -> None:
    with three_sides() as sides:
        logs = []
        for side in sides:
            with side.open(side.path("f"), "wb") as f:
                f.write(INITIAL)
            side.open(side.path("d"), "wb").close()
            log = []
            calls: list[Callable[..., Any]] = [
                lambda s=side: s.FileIO(s.path("f"), "rbx"),  # invalid mode
                lambda s=side: s.FileIO(s.path("f"), "rbb"),  # valid, not the C parser's
                lambda s=side: s.FileIO(s.path("f"), 1),  # not a str
                lambda s=side: s.FileIO(s.path("f\0")),
                lambda s=side: s.FileIO(s.path("f"), closefd=False),
                lambda s=side: s.FileIO(s.path("missing")),
                lambda s=side: s.FileIO(s.root),  # a directory: opened, then refused
                lambda s=side: s.FileIO(s.path("f"), "r", True, None).readinto(b"immutable"),
                lambda s=side: s.FileIO(s.path("f"), "r").write(b"x"),
                lambda s=side: s.FileIO(s.path("f"), "w").readall(),
                lambda s=side: s.FileIO(s.path("f"), "w").write("text"),
                lambda s=side: s.FileIO(s.path("f"), "w").write(memoryview(b"abcd")[::2]),
                lambda s=side: s.FileIO(s.path("f")).seek(1.5),
                lambda s=side: s.FileIO(s.path("f")).seek(0, 7),
                lambda s=side: s.FileIO(s.path("f")).seek(-1),
                lambda s=side: s.FileIO(s.path("f")).seek(2**70),
                lambda s=side: s.FileIO(s.path("f")).seek(5, True),
                lambda s=side: s.FileIO(s.path("f")).read(5),
                lambda s=side: s.FileIO(s.path("f")).tell(),
                lambda s=side: s.FileIO(s.path("f")).readinto(bytearray(0)),
                lambda s=side: s.FileIO(s.path("f")).fileno() >= 0,
                lambda s=side: s.FileIO(s.path("f"), "a+").tell(),
                lambda s=side: s.FileIO(s.path("f"), "w").write(b""),
            ]
            for call in calls:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ResourceWarning)
                    log.append(side.outcome(call))
                    gc.collect(1)  # the call's young cycles: a full collection costs ~0.1 s here
            closed = side.FileIO(side.path("f"))
            closed.close()
            for name in ("readinto", "write"):
                log.append(side.outcome(functools.partial(getattr(closed, name), bytearray(2))))
            for name in ("readall", "tell", "fileno", "readable", "writable", "seekable",
                         "isatty", "close"):  # fmt: skip
                log.append(side.outcome(getattr(closed, name)))
            refused = functools.partial(setattr, closed, "closed", 1)
            log.append((closed.closed, side.outcome(refused)))
            # argument-count and keyword errors: RawFile words them as Python does (a declared
            # difference from FileIO), and the C methods hand them to RawFile
            for call in (
                lambda s=side: s.FileIO(s.path("f")).readinto(buffer=bytearray(3)),
                lambda s=side: s.FileIO(s.path("f")).isatty(1),
                lambda s=side: s.FileIO(s.path("f")).seek(),
                lambda s=side: s.FileIO(s.path("f"), "r", True, None, 1),
            ):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ResourceWarning)
                    log.append(side.outcome(call))
                    gc.collect(1)  # the call's young cycles: a full collection costs ~0.1 s here
            texts = [str(entry).replace("RawFile", "FileIO") for entry in log]
            logs.append([text.replace("_io.FileIO", "FileIO") for text in texts])
        assert logs[1][:-4] == logs[0][:-4]
        assert logs[2] == logs[1]


def test_other_providers_appends_and_lent_descriptors_take_the_python_path() -> None:
    with tempfile.TemporaryDirectory() as host:
        backend = EmulatedBackend(HostFileSystem(host), accelerated=True, standard_streams=False)
        with backend.io_open("/f", "w") as f:
            raw = f.buffer.raw  # type: ignore[attr-defined]
            assert isinstance(raw, accelerator._speedups.RawFileBase)  # type: ignore[union-attr]
            f.write("host")
        with backend.io_open("/f", "a") as f:
            f.write(" appended")
        with open(os.path.join(host, "f")) as f:
            assert f.read() == "host appended"
        assert backend.io_open("/f").read() == "host appended"
    memory = memory_backend(True)
    file_io: Any = memory.FileIO
    with memory.io_open("/f", "ab") as f:
        f.write(b"one")
        f.seek(0)
        f.write(b"two")  # O_APPEND: at the end, whatever the offset
    fd = memory.open("/f", os.O_RDONLY)
    lent = file_io(fd, "r", closefd=False)
    assert lent.readall() == b"onetwo" and lent.name == fd
    lent.close()
    assert memory.read(fd, 1) == b""  # still open: it was lent
    memory.close(fd)
    with memory.io_open("/f", "rb", opener=memory.open) as f:
        assert f.read() == b"onetwo"


def test_permission_guards_answer_as_rawfile() -> None:
    user = Identity(1000, 1000, frozenset())
    outcomes = []
    for accelerated in (False, True):
        backend = memory_backend(accelerated)
        backend.mkdir("/d", 0o777)
        for name, mode in (("ro", 0o444), ("wo", 0o222), ("none", 0)):
            fd = backend.open(f"/d/{name}", os.O_CREAT | os.O_WRONLY, mode)
            backend.write(fd, b"data")
            backend.close(fd)
        backend.file_system.identity = user  # type: ignore[attr-defined]
        side = Side("x", "/d", backend.io_open, backend.FileIO)

        def read(name: str, mode: str, side: Side = side) -> Any:
            with side.open(f"/d/{name}", mode) as f:
                return f.read() if f.readable() else f.write(b"new")

        outcomes.append([
            side.outcome(lambda n=name, m=mode: read(n, m))  # type: ignore[misc]
            for name in ("ro", "wo", "none") for mode in ("rb", "r+b", "wb")
        ])  # fmt: skip
    assert outcomes[1] == outcomes[0]
    assert ("ok", b"data") in outcomes[0]


def test_the_c_methods_refuse_objects_without_rawfile_slots() -> None:
    base = accelerator._speedups.RawFileBase  # type: ignore[union-attr]
    with pytest.raises(TypeError, match="need a RawFile"):
        base()
    plain = base.__new__(base)
    for name in ("readall", "tell", "fileno", "close"):
        with pytest.raises(TypeError, match="need a RawFile"):
            getattr(base, name)(plain)
    with pytest.raises(TypeError, match="need a RawFile"):
        base.closed.__get__(plain)


# -- nothing left half done ----------------------------------------------------------------------


def test_a_failed_open_leaves_no_descriptor_behind() -> None:
    backend = memory_backend(True)
    backend.mkdir("/dir")
    backend.io_open("/f", "wb").close()
    before = set(backend._table.files)

    def refuse(event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and args and args[0] == "/refused":
            raise KeyboardInterrupt

    sys.addaudithook(refuse)
    with pytest.raises(KeyboardInterrupt):
        backend.io_open("/refused", "w")
    with pytest.raises(IsADirectoryError):
        backend.io_open("/dir", "rb")  # opened, refused after: closed again
    assert set(backend._table.files) == before
    with pytest.raises(FileNotFoundError):
        backend.stat("/refused")  # the event came before the open


def test_unclosed_files_warn_and_finalizers_close_them() -> None:
    backend = memory_backend(True)
    backend.io_open("/f", "wb").close()
    before = set(backend._table.files)
    file_io: Any = backend.FileIO
    f = file_io("/f")
    text = repr(f)
    with pytest.warns(ResourceWarning, match=f"unclosed file {text}"):
        del f
        gc.collect()
    assert set(backend._table.files) == before


def test_the_audit_event_is_fileio_s() -> None:
    events: list[tuple[Any, ...]] = []

    def record(event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and args and args[0] == "/audited":
            events.append(args)

    sys.addaudithook(record)
    for accelerated in (False, True):
        backend = memory_backend(accelerated)
        file_io: Any = backend.FileIO
        file_io("/audited", "w").close()
        backend.io_open("/audited", "rb").close()
    assert events[:2] == events[2:]
    assert events[0] == ("/audited", "w", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC)


def test_the_accelerated_class_is_a_rawfile_and_fileio_named() -> None:
    backend = memory_backend(True)
    assert issubclass(backend.FileIO, RawFile)
    file_io: Any = backend.FileIO
    f = file_io("/new", "x+")
    assert repr(f) == "<_io.FileIO name='/new' mode='xb+' closefd=True>"
    assert (f.readable(), f.writable(), f.seekable(), f.mode) == (True, True, True, "xb+")
    f.close()
    with pytest.raises(TypeError, match="unexpected keyword argument 'os_module'"):
        file_io("/new", os_module=os)


# -- threads and leaks -------------------------------------------------------------------------


@pytest.mark.usefixtures("switch_often")
def test_writes_and_reads_from_many_threads_share_one_offset_whole() -> None:
    """Threads writing through raw files on one description (each its own FileIO over a dup)
    with a thread reading a while: every chunk lands whole, none on another."""
    backend = memory_backend(True)
    file_io: Any = backend.FileIO
    shared = backend.open("/f", os.O_CREAT | os.O_RDWR, 0o644)
    chunks = 300

    def work(index: int) -> None:
        raw = file_io(backend.dup(shared), "r+")
        chunk = bytes([65 + index]) * 7
        for _ in range(chunks):
            assert raw.write(chunk) == 7
            if index == 0:
                raw.readinto(bytearray(7))  # moves the shared offset too: a whole read
        raw.close()

    run_threads(work)
    backend.close(shared)
    with backend.io_open("/f", "rb") as f:
        data = f.read()
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)]
    assert all(len(set(piece)) == 1 for piece in pieces[:-1]), "a chunk was split"
    assert len(data) >= 7 * chunks * (THREADS - 1)


def test_the_c_paths_keep_no_references() -> None:
    backend = memory_backend(True)
    backend.io_open("/f", "wb").close()
    path, payload = "/f", b"x" * 100

    def rounds(count: int) -> None:
        for _ in range(count):
            raw: Any
            with backend.io_open(path, "r+b", buffering=0) as raw:
                raw.write(payload)
                raw.seek(0)
                raw.readinto(bytearray(10))
                raw.tell()
                raw.readall()
            with backend.io_open(path) as text:
                text.read()

    rounds(1)  # the path's caches fill once
    gc.collect()
    counts = (sys.getrefcount(path), sys.getrefcount(payload))
    before = set(backend._table.files)
    rounds(2000)
    gc.collect()
    assert (sys.getrefcount(path), sys.getrefcount(payload)) == counts
    assert set(backend._table.files) == before


def test_the_c_maker_makes_what_the_class_makes() -> None:
    """open()'s raw files come from accelerator.raw_file_maker (RawFile.__new__'s state made in
    C): the same object, state and errors as the class called itself; a class without the C
    methods, or another RawFile, is called as it is."""
    backend = memory_backend(True)
    file_io: Any = backend.FileIO  # (FileIO's arguments: no os_module)
    maker = accelerator.raw_file_maker(file_io)
    assert maker is not file_io
    backend.mkdir("/t")
    with backend.io_open("/t/f", "wb") as file:
        file.write(INITIAL)
    slots = [name for name in RawFile.__slots__ if name != "_os"]
    shapes: list[tuple[Any, ...]] = [("/t/f", "rb"), ("/t/f", "r+b", True, None), ("/t/f", "ab")]
    for args in shapes:
        made, called = maker(*args), file_io(*args)
        try:
            assert type(made) is type(called)
            assert [getattr(made, name) for name in slots if name != "_fd"] == [
                getattr(called, name) for name in slots if name != "_fd"
            ]
            assert made.name == called.name and made._os is called._os
            assert made.tell() == called.tell()
            assert not made.readable() or made.read() == called.read()
        finally:
            made.close()
            called.close()
    refused: list[tuple[Any, ...]] = [
        ("/t/missing", "rb"), ("/t/f", "rq"), (1.5, "rb"), ("/t/f", "rb", False),
    ]  # fmt: skip
    for args in refused:
        outcomes = []
        for make in (maker, file_io):
            try:
                make(*args)
            except (OSError, ValueError, TypeError) as error:
                outcomes.append((type(error), str(error), getattr(error, "errno", None)))
        assert len(outcomes) == 2 and outcomes[0] == outcomes[1]
    pure = memory_backend(False)
    assert accelerator.raw_file_maker(pure.FileIO) is pure.FileIO
    assert accelerator._speedups is not None
    assert type(accelerator._speedups.new_raw_file(io.BytesIO, b"x")) is io.BytesIO
