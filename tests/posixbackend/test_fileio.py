"""Differential tests: ``RawFile`` and ``make_open`` against ``io.FileIO`` and ``io.open``.

Every scenario runs three times, each in a fresh directory: with the real ``io`` (the oracle),
with ``RawFile``/``make_open`` over the real ``os``, and over ``CountingOs``, a double that
forwards to ``os`` under other descriptor numbers (virtual = real + 10000) while the module's
own ``os`` is swapped for one that offers only pure helpers, so a call that bypassed
``os_module`` fails. Results, warnings and exceptions (class, errno, message, filename,
context) must match step by step; messages are compared after the class names (``_io.FileIO``,
``RawFile``), the directory and descriptor numbers are replaced by placeholders.
"""

from __future__ import annotations

import _io
import array
import copy
import errno
import fcntl
import functools
import gc
import io
import os
import pathlib
import pickle
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import warnings
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend.emulated import fileio
from posixbackend.emulated.fileio import RawFile, make_open

OFFSET = 10_000
ENV_KINDS = ("io", "os", "double")
TEXT = "first line\nsecond line\n"
F_SETPIPE_SZ = 1031
_WARNS_BOOL = sys.version_info >= (3, 13)  # "bool is used as a file descriptor"


# --- the os double ----------------------------------------------------------------------------


class CountingOs:
    """An os-like object over the real ``os``: virtual descriptors, every call counted."""

    O_RDONLY = os.O_RDONLY
    O_WRONLY = os.O_WRONLY
    O_RDWR = os.O_RDWR
    O_CREAT = os.O_CREAT
    O_EXCL = os.O_EXCL
    O_TRUNC = os.O_TRUNC
    O_APPEND = os.O_APPEND
    O_CLOEXEC = os.O_CLOEXEC

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.log: list[tuple[str, tuple[Any, ...]]] = []
        self.open_fds: set[int] = set()

    def _record(self, name: str, *args: Any) -> None:
        self.calls[name] += 1
        self.log.append((name, args))

    def adopt(self, real_fd: int) -> int:
        """Give a real descriptor its virtual number."""
        self.open_fds.add(real_fd + OFFSET)
        return real_fd + OFFSET

    def real(self, fd: int) -> int:
        """The real descriptor behind a virtual one; EBADF for anything else."""
        if fd not in self.open_fds:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return fd - OFFSET

    def open(self, path: Any, flags: int, mode: int = 0o777) -> int:
        self._record("open", path, flags, mode)
        return self.adopt(os.open(path, flags, mode))

    def read(self, fd: int, length: int) -> bytes:
        self._record("read", fd, length)
        return os.read(self.real(fd), length)

    def write(self, fd: int, data: memoryview) -> int:
        self._record("write", fd, len(data))
        return os.write(self.real(fd), data)

    def lseek(self, fd: int, position: int, whence: int) -> int:
        self._record("lseek", fd, position, whence)
        return os.lseek(self.real(fd), position, whence)

    def fstat(self, fd: int) -> os.stat_result:
        self._record("fstat", fd)
        return os.fstat(self.real(fd))

    def ftruncate(self, fd: int, length: int) -> None:
        self._record("ftruncate", fd, length)
        os.ftruncate(self.real(fd), length)

    def close(self, fd: int) -> None:
        self._record("close", fd)
        real = self.real(fd)
        self.open_fds.discard(fd)
        os.close(real)

    def isatty(self, fd: int) -> bool:
        self._record("isatty", fd)
        return fd in self.open_fds and os.isatty(fd - OFFSET)

    def set_inheritable(self, fd: int, inheritable: bool) -> None:
        self._record("set_inheritable", fd, inheritable)
        os.set_inheritable(self.real(fd), inheritable)

    def get_inheritable(self, fd: int) -> bool:
        """A test helper (RawFile never asks)."""
        return os.get_inheritable(self.real(fd))


class PureOs:
    """Stands in for ``os`` inside fileio during double runs: pure helpers only."""

    fspath = staticmethod(os.fspath)
    fsencode = staticmethod(os.fsencode)
    strerror = staticmethod(os.strerror)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"fileio bypassed os_module: os.{name}")


# --- environments and traces ------------------------------------------------------------------


@dataclass
class Env:
    """One side of a comparison: its open(), its raw class, its os and its own directory."""

    kind: str
    root: str
    osm: Any
    open: Callable[..., Any]
    cls: type[io.RawIOBase]
    labels: dict[int, str] = field(default_factory=dict)

    def FileIO(self, *args: Any, **kwargs: Any) -> Any:
        ours = functools.partial(RawFile, os_module=self.osm)
        factory = io.FileIO if self.cls is io.FileIO else ours
        return factory(*args, **kwargs)  # one line for both, as warnings name it

    def reinit(self, f: Any, *args: Any, **kwargs: Any) -> None:
        """Call ``__init__`` again on an open file (RawFile needs its os object again)."""
        if self.cls is not io.FileIO:
            kwargs["os_module"] = self.osm
        f.__init__(*args, **kwargs)

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def label(self, fd: int) -> int:
        """Remember a descriptor so that messages can name it the same way on every side."""
        self.labels.setdefault(fd, f"<fd{len(self.labels)}>")
        return fd

    def os_open(self, name: str, flags: int) -> int:
        return self.label(self.osm.open(self.path(name), flags, 0o666))

    def adopt(self, real_fd: int) -> int:
        return self.label(self.osm.adopt(real_fd) if self.kind == "double" else real_fd)

    def real(self, fd: int) -> int:
        return int(self.osm.real(fd)) if self.kind == "double" else fd

    def pipe(self) -> tuple[int, int]:
        r, w = os.pipe()
        return self.adopt(r), self.adopt(w)

    def is_open(self, fd: int) -> bool:
        try:
            self.osm.fstat(fd)
        except OSError:
            return False
        return True

    def write_file(self, name: str, data: bytes) -> None:
        with open(self.path(name), "wb") as f:
            f.write(data)

    def content(self, name: str) -> bytes | None:
        try:
            with open(self.path(name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None


class Trace:
    """Runs steps, recording results, warnings and exceptions in a comparable form."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.steps: list[tuple[str, Any, Any]] = []

    def __call__(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        label = re.sub(r" at 0x[0-9a-f]+", "", label)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                value = fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - recorded, then compared with io's
                self.steps.append((label, self.error(exc), self.warned(caught)))
                return None
        self.steps.append((label, ("ok", self.norm(value)), self.warned(caught)))
        return value

    def note(self, label: str, value: Any) -> None:
        self.steps.append((label, ("ok", self.norm(value)), []))

    def attrs(self, obj: Any, *names: str) -> None:
        for name in names:
            self(name, self._attribute, obj, name)

    def _attribute(self, obj: Any, name: str) -> Any:
        """An attribute; a descriptor used as ``name`` becomes its label."""
        value = getattr(obj, name)
        if name == "name" and type(value) is int:
            return self.fd(value)
        return value

    def text(self, value: str) -> str:
        value = value.replace(self.env.root, "<root>")
        value = value.replace("_io.FileIO", "FileIO").replace("RawFile", "FileIO")
        return re.sub(r"(?:(?<=name=)|(?<= fd=))\d+", lambda m: self.fd(int(m[0])), value)

    def fd(self, number: int) -> str:
        return self.env.labels.get(number, str(number))

    def norm(self, value: Any) -> Any:
        if isinstance(value, bytes):
            return value.replace(self.env.root.encode(), b"<root>")
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (bytearray, memoryview, array.array)):
            return ("buffer", bytes(value))
        if isinstance(value, (list, tuple)):
            return tuple(self.norm(item) for item in value)
        if isinstance(value, os.PathLike):
            return ("path", self.text(os.fspath(value)))
        return ("object", self.text(type(value).__name__))

    def error(self, exc: BaseException) -> tuple[Any, ...]:
        filename = getattr(exc, "filename", None)
        message = str(exc)
        if type(filename) is int:
            message = message.replace(f": {filename}", f": {self.fd(filename)}")
        return (
            "raise",
            f"{type(exc).__module__}.{type(exc).__qualname__}",
            getattr(exc, "errno", None),
            self.text(message),
            self.fd(filename) if isinstance(filename, int) else self.norm(filename),
            getattr(exc, "characters_written", None),
            type(exc.__context__).__name__ if exc.__context__ else None,
        )

    def warned(self, caught: list[warnings.WarningMessage]) -> list[tuple[Any, ...]]:
        return [
            (
                w.category.__name__,
                self.text(str(w.message)),
                os.path.basename(w.filename),
                w.lineno,
                self.text(type(w.source).__name__) if w.source is not None else None,
            )
            for w in caught
        ]


@contextmanager
def make_env(kind: str, *, collect: bool = True) -> Iterator[Env]:
    """A fresh directory and the tools of one side; the double side also hides the real os."""
    root = tempfile.mkdtemp(prefix="pb-fileio-")
    try:
        with pytest.MonkeyPatch.context() as patch:
            if kind == "io":  # the real ones: io.open is the switch's stand-in once installed
                yield Env(kind, root, os, _io.open, _io.FileIO)
            elif kind == "os":
                yield Env(kind, root, os, make_open(os), RawFile)
            else:
                double = CountingOs()
                patch.setattr(fileio, "os", PureOs())
                yield Env(kind, root, double, make_open(double), RawFile)
            if collect:
                gc.collect()  # finalize what the scenario dropped while the double is in place
    finally:
        shutil.rmtree(root)


Scenario = Callable[[Env, Trace], None]
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__.removeprefix("sc_")] = fn
    return fn


def run(fn: Scenario, kind: str) -> tuple[list[Any], Env]:
    with make_env(kind) as env:
        trace = Trace(env)
        fn(env, trace)
    return trace.steps, env


def assert_same(expected: list[Any], got: list[Any], kind: str) -> None:
    for index, (want, have) in enumerate(zip(expected, got, strict=False)):
        assert have == want, f"{kind}: step {index} differs\n io: {want}\n us: {have}"
    assert len(got) == len(expected), f"{kind}: {len(got)} steps, io had {len(expected)}"


# --- scenario helpers -------------------------------------------------------------------------


def raw_of(f: Any) -> Any:
    """The raw file under any stream that open() returns."""
    buffer = getattr(f, "buffer", f)
    return getattr(buffer, "raw", buffer)


def describe(t: Trace, f: Any) -> None:
    t.note("type", t.text(type(f).__name__))
    t.attrs(f, "mode", "name", "closed", "line_buffering", "encoding", "newlines")
    for method in ("readable", "writable", "seekable", "isatty", "tell"):
        t(method, getattr(f, method))
    raw = raw_of(f)
    t.attrs(raw, "mode", "closefd", "_blksize", "_finalizing")
    t.note("fileno is raw fd", f.fileno() == raw.fileno())


def read_text(env: Env, name: str) -> str:
    with env.open(env.path(name), encoding="latin-1") as f:
        return str(f.read())


def opened(t: Trace, label: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Record an open call and close what it returned."""
    f = t(label, factory, *args, **kwargs)
    if f is not None:
        t(label + " close", f.close)


class Index:
    """An object with only ``__index__``."""

    def __index__(self) -> int:
        return 2


# --- scenarios: open() ------------------------------------------------------------------------

OPEN_MODES = ["r", "rb", "rt", "r+", "r+b", "+r", "br+", "w", "wb", "w+", "w+b", "tw+", "a", "ab"]
OPEN_MODES += ["a+", "a+b", "x", "xb", "x+", "xb+"]


@scenario
def sc_open_modes(env: Env, t: Trace) -> None:
    for mode in OPEN_MODES:
        for exists in (True, False):
            name = f"{mode.replace('+', 'p')}-{exists}"
            if exists:
                env.write_file(name, TEXT.encode())
            f = t(f"open {mode} {exists}", env.open, env.path(name), mode)
            if f is None:
                continue
            with f:
                describe(t, f)
                if f.writable():
                    t("write", f.write, b"more\n" if "b" in mode else "more\n")
                if f.readable():
                    t("seek", f.seek, 0)
                    t("read", f.read)
                t("tell", f.tell)
            t.note("content", env.content(name))


@scenario
def sc_open_argument_errors(env: Env, t: Trace) -> None:
    path = env.path("exists")
    env.write_file("exists", TEXT.encode())
    calls: list[dict[str, Any]] = [
        {"mode": m} for m in ["rr", "rw", "", "b", "t", "+", "rU", "U", "rt+b", "rq", "r\0", "wx"]
    ]
    calls += [
        {"mode": "r\udc80"},
        {"mode": "rb", "encoding": "utf-8"},
        {"mode": "rb", "errors": "strict"},
        {"mode": "rb", "newline": "\n"},
        {"mode": "r", "newline": "x"},
        {"mode": "r", "buffering": 0},
        {"mode": "rb", "buffering": 0},
        {"mode": "rb", "buffering": 1},
        {"mode": "rb+", "buffering": 1},
        {"mode": 1},
        {"mode": None},
        {"encoding": 1},
        {"errors": b"x"},
        {"newline": 1},
        {"buffering": 1.0},
        {"buffering": 2**70},
        {"buffering": "1"},
        {"buffering": -2},
        {"buffering": True},
        {"closefd": "x"},
        {"closefd": None},
        {"closefd": 2**70},
        {"closefd": 0},
        {"closefd": 1.5},
        {"opener": 3},
        {"encoding": "nonexistent"},
        {"encoding": "a\0"},
        {"encoding": "utf-8", "errors": "surrogateescape", "newline": ""},
    ]
    for kwargs in calls:
        opened(t, f"open {kwargs!r}", env.open, path, **kwargs)
    for file in [1.5, None, 2**40, -1, object(), bytearray(b"x"), "", "a\0b", b"a\0b", 1j]:
        opened(t, f"open file={file!r}", env.open, file)
    for file in [path.encode(), pathlib.Path(path), pathlib.Path(env.path("missing"))]:
        f = t(f"open {type(file).__name__}", env.open, file)
        if f is not None:
            t.attrs(f, "name")
            f.close()


@scenario
def sc_buffering(env: Env, t: Trace) -> None:
    for buffering in (0, 1, 2, 7, 16, -1, 8192, 100_000):
        for mode in ("rb", "wb", "r+b", "ab", "r", "w", "r+", "a+"):
            name = f"buf-{buffering}-{mode.replace('+', 'p')}"
            env.write_file(name, TEXT.encode() * 3)
            f = t(f"open {mode} {buffering}", env.open, env.path(name), mode, buffering)
            if f is None:
                continue
            with f:
                t.note("type", t.text(type(f).__name__))
                t.attrs(f, "line_buffering")
                if f.readable():
                    t("readline", f.readline)
                if f.writable():
                    t("write", f.write, (b"x\ny" if "b" in mode else "x\ny") * 3000)
                    t.note("on disk before flush", env.content(name))
                    t("write", f.write, b"z\n" if "b" in mode else "z\n")
                    t.note("on disk before flush", env.content(name))
            t.note("content", env.content(name))


ENCODINGS = [
    "locale",
    "utf-8",
    "utf-8-sig",
    "utf-16",
    "utf-16-le",
    "utf-32",
    "latin-1",
    "ascii",
    "cp1252",
]


@scenario
def sc_encodings(env: Env, t: Trace) -> None:
    text = "h\xe9llo\n\u20ac w\xf6rld\r\n\U0001f600\n"
    for encoding in ENCODINGS:
        for errors in (None, "replace", "surrogateescape"):
            name = f"enc-{encoding}-{errors}"
            f = t(f"w {encoding} {errors}", env.open, env.path(name), "w+", -1, encoding, errors)
            with f:
                t("write", f.write, text)
                t("tell", f.tell)
                t("seek", f.seek, 0)
                t("readline", f.readline)
                cookie = t("tell", f.tell)
                t("read", f.read)
                if cookie is not None:
                    t("seek cookie", f.seek, cookie)
                    t("read", f.read, 3)
            t.note("content", env.content(name))
            f = t(f"a {encoding} {errors}", env.open, env.path(name), "a", -1, encoding, errors)
            if f is not None:
                with f:
                    t("append", f.write, "more")
            t.note("content", env.content(name))
            t("read back", read_text, env, name)


@scenario
def sc_newlines(env: Env, t: Trace) -> None:
    text = "a\nb\r\nc\rd\n\ne"
    for newline in (None, "", "\n", "\r", "\r\n"):
        name = f"nl-{newline!r}"
        with t(f"write {newline!r}", env.open, env.path(name), "w", newline=newline) as f:
            t("write", f.write, text)
        t.note("content", env.content(name))
        for read_newline in (None, "", "\n", "\r", "\r\n"):
            with t("open", env.open, env.path(name), newline=read_newline, encoding="utf-8") as f:
                t("readlines", f.readlines)
                t.attrs(f, "newlines")
                t("seek", f.seek, 0)
                t("read", f.read)


# --- scenarios: the raw file ------------------------------------------------------------------


@scenario
def sc_raw_positioning(env: Env, t: Trace) -> None:
    env.write_file("pos", b"0123456789")
    f = t("open", env.FileIO, env.path("pos"), "r+b")
    steps: list[tuple[str, tuple[Any, ...]]] = [
        ("tell", ()),
        ("seek", (3,)),
        ("read", (2,)),
        ("seek", (-2, 2)),
        ("seek", (3, 1)),
        ("tell", ()),
        ("truncate", ()),
        ("tell", ()),
        ("truncate", (4,)),
        ("tell", ()),
        ("read", ()),
        ("seek", (10,)),
        ("write", (b"x",)),
        ("seek", (0,)),
        ("readall", ()),
        ("seek", (-1,)),
        ("seek", (0, 7)),
        ("seek", (0, 3)),
        ("seek", (2**64,)),
        ("seek", (-(2**64),)),
        ("seek", ("x",)),
        ("seek", (1.5,)),
        ("seek", (0, "x")),
        ("seek", (0, 2**40)),
        ("seek", (0, 1.0)),
        ("seek", (True,)),
        ("seek", (Index(), 0)),
        ("truncate", (-1,)),
        ("truncate", ("x",)),
        ("truncate", (True,)),
        ("truncate", (Index(),)),
        ("truncate", (2**64,)),
        ("truncate", (None,)),
        ("tell", ()),
        ("seekable", ()),
    ]
    for method, args in steps:
        t(f"{method}{args!r}", getattr(f, method), *args)
    t("close", f.close)
    t.note("content", env.content("pos"))
    with env.FileIO(env.path("pos"), "rb") as g:
        t("truncate on rb", g.truncate, 0)
        t("truncate(x) on rb", g.truncate, "x")
        t("write on rb", g.write, b"x")


@scenario
def sc_raw_reading(env: Env, t: Trace) -> None:
    env.write_file("data", bytes(range(256)) * 40)
    with env.FileIO(env.path("data")) as f:
        for size in (0, 5, -1):
            t(f"read({size})", f.read, size)
        t("seek", f.seek, 0)
        t("read(None)", f.read, None)
        t("seek past end", f.seek, 20000)
        t("read past end", f.read)
        t("readall past end", f.readall)
        t("seek", f.seek, 100)
        for buffer in [bytearray(7), memoryview(bytearray(9)), array.array("i", [0, 0])]:
            t(f"readinto {type(buffer).__name__}", f.readinto, buffer)
            t.note("buffer", buffer)
        for bad in [b"xx", "xx", None, memoryview(bytearray(10))[::2], memoryview(b"ro"), 3]:
            t(f"readinto {bad!r}", f.readinto, bad)
        for bad_size in ("x", 1.5, 2**70, Index(), True):
            t(f"read({bad_size!r})", f.read, bad_size)
        t("readline", f.readline)
        t("readline(3)", f.readline, 3)
        t("readlines(2)", f.readlines, 2)
        t("next", next, f)
        t("write on rb", f.write, b"x")
        t("readable", f.readable)
        t("writable", f.writable)
    with env.FileIO(env.path("data"), "wb") as w:
        t("read on wb", w.read)
        t("read(3) on wb", w.read, 3)
        t("readinto on wb", w.readinto, bytearray(3))
        t("readall on wb", w.readall)
        t("readline on wb", w.readline)
        for data in [b"abc", bytearray(b"de"), memoryview(b"fghij")[1:3], array.array("h", [1])]:
            t(f"write {data!r}", w.write, data)
        for not_bytes in ["str", None, 5, memoryview(b"abcdef")[::2], [1]]:
            t(f"write {not_bytes!r}", w.write, not_bytes)
        t("writelines", w.writelines, [b"k", bytearray(b"l")])
    t.note("content", env.content("data"))


@scenario
def sc_raw_big_readall(env: Env, t: Trace) -> None:
    env.write_file("big", bytes(range(256)) * 1200)
    with env.FileIO(env.path("big")) as f:
        t("readall", f.readall)
        t("seek", f.seek, 70000)
        t("read()", f.read)
        t("seek", f.seek, 5)
        t("read(-7)", f.read, -7)


@scenario
def sc_append(env: Env, t: Trace) -> None:
    for mode in ("ab", "a+b", "a", "a+"):
        name = f"append-{mode.replace('+', 'p')}"
        env.write_file(name, b"start\n")
        raw = t("FileIO", env.FileIO, env.path(name), mode.replace("b", ""))
        t("raw tell", raw.tell)
        t("raw mode", getattr, raw, "mode")
        t("raw close", raw.close)
        with t("open", env.open, env.path(name), mode) as f:
            t("tell", f.tell)
            data = b"one\n" if "b" in mode else "one\n"
            t("write", f.write, data)
            t("seek 0", f.seek, 0)
            t("write again", f.write, data)
            t("tell", f.tell)
            if f.readable():
                t("seek 0", f.seek, 0)
                t("read", f.read)
        t.note("content", env.content(name))


@scenario
def sc_exclusive(env: Env, t: Trace) -> None:
    env.write_file("taken", b"x")
    for mode in ("x", "xb", "x+", "x+b"):
        opened(t, f"open {mode} existing", env.open, env.path("taken"), mode)
        opened(t, f"FileIO {mode} existing", env.FileIO, env.path("taken"), mode)
        opened(t, f"open {mode} new", env.open, env.path(f"new-{mode.replace('+', 'p')}"), mode)
    opened(t, "x in missing dir", env.open, env.path("nodir", "f"), "x")


@scenario
def sc_opener(env: Env, t: Trace) -> None:
    env.write_file("f", TEXT.encode())
    seen: list[int] = []

    def opener(name: Any, flags: int) -> int:
        seen.append(flags)
        fd = env.label(env.osm.open(name, flags, 0o666))
        os.set_inheritable(env.real(fd), True)  # as if the opener had dropped O_CLOEXEC
        return fd

    for mode in ("r", "rb", "w", "a+", "x"):
        name = "f" if mode != "x" else "fresh"
        f = t(f"opener {mode}", env.open, env.path(name), mode, opener=opener)
        t.note("flags", seen[-1])
        t.note("inheritable after", os.get_inheritable(env.real(f.fileno())))
        t.attrs(f, "name", "mode")
        t("close", f.close)
    for result in ["x", -1, -(2**40), 2**40, 1.0, None]:
        returns = functools.partial(lambda value, name, flags: value, result)
        opened(t, f"opener -> {result!r}", env.open, env.path("f"), opener=returns)

    def failing(name: Any, flags: int) -> int:
        raise PermissionError(errno.EACCES, "denied by opener", name)

    opened(t, "opener raises", env.open, env.path("f"), opener=failing)
    dir_fds: list[int] = []

    def directory(name: Any, flags: int) -> int:
        dir_fds.append(env.os_open("", os.O_RDONLY))
        return dir_fds[-1]

    opened(t, "opener gives a directory", env.FileIO, env.path("f"), opener=directory)
    t.note("directory fd closed", not env.is_open(dir_fds[-1]))


@scenario
def sc_closefd(env: Env, t: Trace) -> None:
    env.write_file("f", TEXT.encode())
    fd = env.os_open("f", os.O_RDWR)
    f = t("FileIO fd", env.FileIO, fd, "r+", closefd=False)
    t.note("name is fd", f.name == fd)
    t.note("repr", repr(f))
    t.attrs(f, "closefd", "mode")
    t("read", f.read, 5)
    t("close", f.close)
    t("close twice", f.close)
    t.note("fd still open", env.is_open(fd))
    g = t("open text fd", env.open, fd, "r+", closefd=False)
    t("read", g.read)
    t("write", g.write, "tail\n")
    t("close", g.close)
    t.note("fd still open", env.is_open(fd))
    opened(t, "closefd=False with name", env.FileIO, env.path("f"), closefd=False)
    opened(t, "open closefd=False with name", env.open, env.path("f"), closefd=False)
    h = t("FileIO fd closefd", env.FileIO, fd, "rb")
    t("close", h.close)
    t.note("fd closed", not env.is_open(fd))
    t.note("content", env.content("f"))


@scenario
def sc_closed_operations(env: Env, t: Trace) -> None:
    env.write_file("f", TEXT.encode())
    f = env.FileIO(env.path("f"), "r+")
    t("close", f.close)
    calls: list[tuple[str, tuple[Any, ...]]] = [
        ("read", ()),
        ("read", ("x",)),
        ("readall", ()),
        ("readinto", (bytearray(2),)),
        ("readinto", (b"ro",)),
        ("write", (b"x",)),
        ("write", ("x",)),
        ("seek", (0,)),
        ("seek", ("x",)),
        ("seek", (0, "x")),
        ("tell", ()),
        ("truncate", ()),
        ("truncate", ("x",)),
        ("fileno", ()),
        ("isatty", ()),
        ("readable", ()),
        ("writable", ()),
        ("seekable", ()),
        ("flush", ()),
        ("readline", ()),
        ("readlines", ()),
        ("__iter__", ()),
        ("__next__", ()),
        ("__enter__", ()),
        ("writelines", ([],)),
        ("close", ()),
    ]
    for name, args in calls:
        t(f"{name}{args!r}", getattr(f, name), *args)
    t.attrs(f, "closed", "closefd", "mode", "name")
    t.note("repr", repr(f))
    for mode in ("r", "rb", "w", "r+b"):
        with env.open(env.path("f"), mode) as g:
            pass
        for name in ("read", "write", "seek", "tell", "flush", "fileno", "isatty"):
            args = {"write": ("x" if "b" not in mode else b"x",), "seek": (0,)}.get(name, ())
            t(f"{mode} closed {name}", getattr(g, name), *args)
        t.note("repr", repr(g))


@scenario
def sc_directory(env: Env, t: Trace) -> None:
    os.mkdir(env.path("d"))
    for mode in ("r", "rb", "w", "r+", "a"):
        opened(t, f"open dir {mode}", env.open, env.path("d"), mode)
    opened(t, "FileIO dir", env.FileIO, env.path("d"))
    fd = env.os_open("d", os.O_RDONLY)
    opened(t, "FileIO dir fd", env.FileIO, fd)
    opened(t, "open dir fd", env.open, fd, "rb", closefd=False)
    t.note("borrowed fd still open", env.is_open(fd))
    env.osm.close(fd)


@scenario
def sc_missing_and_names(env: Env, t: Trace) -> None:
    missing = env.path("missing")
    for file in (missing, missing.encode(), pathlib.Path(missing), env.path("no", "f"), ""):
        opened(t, f"FileIO {type(file).__name__}", env.FileIO, file)
        opened(t, f"open {type(file).__name__}", env.open, file)
        opened(t, f"open w {type(file).__name__}", env.open, file, "wb")
    opened(t, "FileIO unopened fd", env.FileIO, 987)
    opened(t, "open unopened fd", env.open, 987, "rb", closefd=False)
    env.write_file("f", b"x")
    for file in (env.path("f"), env.path("f").encode(), pathlib.Path(env.path("f"))):
        for opener in (env.FileIO, env.open):
            with t(f"{type(file).__name__}", opener, file) as f:
                t.attrs(f, "name")
                t.note("repr", repr(f))


@scenario
def sc_attributes(env: Env, t: Trace) -> None:
    env.write_file("f", b"x")
    f = env.FileIO(env.path("f"))
    t.note("_blksize is st_blksize", f._blksize == os.stat(env.path("f")).st_blksize)
    t.attrs(f, "_finalizing", "__IOBase_closed", "closed", "closefd", "mode")
    t.note("_dealloc_warn is a method", callable(f._dealloc_warn))
    for attribute in ("mode", "closed", "closefd"):
        t(f"set {attribute}", setattr, f, attribute, "x")
        t(f"del {attribute}", delattr, f, attribute)
    t.note("vars", sorted(vars(f)))
    t("pickle", pickle.dumps, f)
    t("pickle 0", pickle.dumps, f, 0)
    t("copy", copy.copy, f)
    t("deepcopy", copy.deepcopy, f)
    t("set name", setattr, f, "name", "other")
    t.note("repr", repr(f))
    f.name = f
    t("reentrant repr", repr, f)
    del f.name
    t.note("repr without name", repr(f).replace(str(f.fileno()), "N"))
    t("weakref", lambda: weakref.ref(f)() is f)
    t("close", f.close)
    t.note("vars", sorted(vars(f)))
    fresh = env.cls.__new__(env.cls)
    t.note("fresh repr", repr(fresh))
    t.attrs(fresh, "closed", "mode", "closefd", "_blksize")
    t("fresh read", fresh.read)
    t("fresh close", fresh.close)


@scenario
def sc_reinit(env: Env, t: Trace) -> None:
    env.write_file("one", b"1111")
    env.write_file("two", b"2222")
    f = env.FileIO(env.path("one"))
    fd = f.fileno()
    t("init again", env.reinit, f, env.path("two"))
    t.note("old fd closed", not env.is_open(fd) or fd == f.fileno())
    t("read", f.read)
    t("init w", env.reinit, f, env.path("one"), "w")
    t.attrs(f, "mode", "name")
    t("write", f.write, b"new")
    t("seek", f.seek, 0)
    t("read", f.read)
    t("init bad", env.reinit, f, env.path("missing"))
    t.attrs(f, "closed", "mode")
    t("close", f.close)
    t.note("one", env.content("one"))


@scenario
def sc_devnull_and_tty(env: Env, t: Trace) -> None:
    for mode in ("w", "rb", "r+"):
        with t(f"devnull {mode}", env.open, os.devnull, mode) as f:
            describe(t, f)
            if f.readable():
                t("read", f.read)
    master, slave = (env.adopt(fd) for fd in os.openpty())
    os.set_blocking(env.real(master), False)
    for mode in ("w", "r+", "wb", "rb"):
        f = t(f"pty {mode}", env.open, slave, mode, closefd=False)
        if f is None:
            continue
        describe(t, f)
        if f.writable():
            t("write", f.write, "hi\nthere" if "b" not in mode else b"hi\nthere")
            t("master read", env.osm.read, master, 100)
        t("close", f.close)
        t("master read after close", env.osm.read, master, 100)
    raw = env.FileIO(slave, "r+", closefd=False)
    t("raw isatty", raw.isatty)
    t("raw seekable", raw.seekable)
    t("raw tell", raw.tell)
    raw.close()
    env.osm.close(master)
    env.osm.close(slave)


@scenario
def sc_pipes(env: Env, t: Trace) -> None:
    r, w = env.pipe()
    writer = t("FileIO pipe w", env.FileIO, w, "wb", closefd=False)
    t("seekable", writer.seekable)
    t("tell", writer.tell)
    t("seek", writer.seek, 0)
    t("truncate", writer.truncate)
    t("truncate 0", writer.truncate, 0)
    t("write", writer.write, b"line one\nline two\n")
    t("close", writer.close)
    appender = t("FileIO pipe a", env.FileIO, w, "ab")
    t.attrs(appender, "mode")
    t("write", appender.write, b"tail")
    t("close closes w", appender.close)
    with t("open pipe r", env.open, r, "r") as f:
        describe(t, f)
        t("readline", f.readline)
        t("read", f.read)


@scenario
def sc_nonblocking(env: Env, t: Trace) -> None:
    r, w = env.pipe()
    os.set_blocking(env.real(r), False)
    os.set_blocking(env.real(w), False)
    reader = env.FileIO(r, "rb")
    t("read empty", reader.read, 10)
    t("readall empty", reader.readall)
    t("read(-1) empty", reader.read, -1)
    t("readinto empty", reader.readinto, bytearray(4))
    buffered = env.open(r, "rb", closefd=False)
    t("buffered read", buffered.read, 10)
    t("buffered read1", buffered.read1, 10)
    writer = env.FileIO(w, "wb")
    results = [writer.write(b"x" * 4096) for _ in range(20)]
    t.note("writes until full", results)
    t("readall partial", reader.readall)
    t("read after drain", reader.read, 1)
    buffered.close()
    writer.close()
    t("read at eof", reader.read, 1)
    reader.close()


@scenario
def sc_iteration_and_context(env: Env, t: Trace) -> None:
    env.write_file("f", TEXT.encode() * 2)
    with env.FileIO(env.path("f")) as f:
        t("list", list, f)
    t.attrs(f, "closed")
    with env.open(env.path("f")) as g:
        t("list text", list, g)
    with env.open(env.path("f"), "rb", buffering=0) as h:
        t.note("unbuffered type", t.text(type(h).__name__))
        t("readlines", h.readlines)


@scenario
def sc_unclosed_warnings(env: Env, t: Trace) -> None:
    env.write_file("f", b"x")
    path = env.path("f")

    def drop(factory: Callable[[], Any]) -> None:
        f = factory()
        del f

    t("raw", drop, lambda: env.FileIO(path))
    fd = env.adopt(os.dup(0))
    t("raw closefd=False", drop, lambda: env.FileIO(fd, closefd=False))
    env.osm.close(fd)
    for mode in ("rb", "r", "r+b", "a", "wb"):
        t(f"open {mode}", drop, lambda m=mode: env.open(path, m))
    t("unbuffered", drop, lambda: env.open(path, "rb", buffering=0))
    f = env.FileIO(path)
    t("_dealloc_warn", f._dealloc_warn, "source")
    f.close()
    t("_dealloc_warn closed", f._dealloc_warn, "source")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_matches_io(name: str) -> None:
    expected, _ = run(SCENARIOS[name], "io")
    assert expected, "the scenario recorded nothing"
    for kind in ("os", "double"):
        got, env = run(SCENARIOS[name], kind)
        assert_same(expected, got, kind)
        if kind == "double":
            assert env.osm.calls, "nothing went through the double"
            assert not env.osm.open_fds, f"descriptors left open: {env.osm.open_fds}"


# --- tests beside the scenarios ---------------------------------------------------------------


def bool_descriptor(env: Env, t: Trace) -> None:
    f = t("bool fd", env.FileIO, True, "wb", closefd=False)
    t.attrs(f, "name", "mode")
    t.note("repr", repr(f))
    f.close()


def test_bool_as_descriptor() -> None:
    """True is descriptor 1 (3.13 warns); the double has no fd 1, so only io and os compare."""
    expected, _ = run(bool_descriptor, "io")
    got, _ = run(bool_descriptor, "os")
    assert_same(expected, got, "os")
    warned = [w[:2] for w in got[0][2]]
    assert warned == ([("RuntimeWarning", "bool is used as a file descriptor")] * _WARNS_BOOL)


def test_readall_read_sizes_follow_fileio() -> None:
    """readall asks fstat and lseek for the size, then grows as fileio.c's new_buffersize."""
    double = CountingOs()
    root = tempfile.mkdtemp()
    try:
        path = os.path.join(root, "f")
        with open(path, "wb") as f:
            f.write(b"x" * 100_000)
        raw = RawFile(path, os_module=double)
        raw.seek(10)
        double.log.clear()
        assert len(raw.readall() or b"") == 99_990
        assert [(name, args[1:]) for name, args in double.log] == [
            ("lseek", (0, 1)),
            ("fstat", ()),
            ("read", (99_991,)),
            ("read", (1,)),
        ]
        raw.close()
        r, w = os.pipe()
        fcntl.fcntl(w, F_SETPIPE_SZ, 1 << 20)
        os.write(w, b"p" * 300_000)
        os.close(w)
        pipe = RawFile(double.adopt(r), os_module=double)
        double.log.clear()
        assert pipe.readall() == b"p" * 300_000
        sizes = [args[1] for name, args in double.log if name == "read"]
        # 8 KiB, then +256+current up to 64 KiB, then +1/8 (fileio.c's new_buffersize).
        assert sizes[:6] == [8192, 8448, 16896, 33792, 8416, 9468]
        assert sum(sizes[:-1]) >= 300_000
        pipe.close()
    finally:
        shutil.rmtree(root)


class InterruptingOs(CountingOs):
    """Fails the first open, read and write with EINTR, as a raw system call would."""

    def __init__(self) -> None:
        super().__init__()
        self.pending = {"open", "read", "write"}

    def _interrupt(self, name: str) -> None:
        if name in self.pending:
            self.pending.discard(name)
            raise InterruptedError(errno.EINTR, os.strerror(errno.EINTR))

    def open(self, path: Any, flags: int, mode: int = 0o777) -> int:
        self._interrupt("open")
        return super().open(path, flags, mode)

    def read(self, fd: int, length: int) -> bytes:
        self._interrupt("read")
        return super().read(fd, length)

    def write(self, fd: int, data: memoryview) -> int:
        self._interrupt("write")
        return super().write(fd, data)


def test_eintr_from_the_os_object_is_retried(tmp_path: pathlib.Path) -> None:
    double = InterruptingOs()
    with RawFile(tmp_path / "f", "w+", os_module=double) as f:
        assert f.write(b"abc") == 3
        f.seek(0)
        assert f.read() == b"abc"
    assert not double.pending
    assert not double.open_fds


class Interrupt(Exception):
    """Raised by a test signal handler."""


@pytest.mark.parametrize("kind", ENV_KINDS)
@pytest.mark.parametrize("handler_raises", [False, True])
def test_signal_during_blocking_read(kind: str, handler_raises: bool) -> None:
    """A signal interrupts read(2): the handler runs, then the read resumes or its error wins."""
    hits: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        hits.append(signum)
        if handler_raises:
            raise Interrupt

    with make_env(kind) as env:
        r, w = env.pipe()
        f = env.FileIO(r, "rb")
        late = threading.Timer(0.15, lambda: env.osm.write(w, memoryview(b"late")))
        previous = signal.signal(signal.SIGALRM, handler)
        try:
            late.start()  # first: a signal during Thread.start would land outside the read
            signal.setitimer(signal.ITIMER_REAL, 0.03)
            if handler_raises:
                with pytest.raises(Interrupt):
                    f.read(10)
            else:
                assert f.read(10) == b"late"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            late.join()
            f.close()
            env.osm.close(w)
    assert hits == [signal.SIGALRM]


def test_close_failure_forgets_the_descriptor(tmp_path: pathlib.Path) -> None:
    """As FileIO: the fd is dropped before close(2), so a failing close is not retried."""

    class FailingClose(CountingOs):
        def close(self, fd: int) -> None:
            super().close(fd)
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    double = FailingClose()
    f = RawFile(tmp_path / "f", "w", os_module=double)
    with pytest.raises(OSError, match="Input/output error"):
        f.close()
    assert f.closed
    f.close()
    assert double.calls["close"] == 1


def test_set_inheritable_failure_closes_the_opened_fd(tmp_path: pathlib.Path) -> None:
    class NoInheritable(CountingOs):
        def set_inheritable(self, fd: int, inheritable: bool) -> None:
            raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    double = NoInheritable()
    with pytest.raises(PermissionError):
        RawFile(tmp_path / "f", "w", opener=double.open, os_module=double)
    assert not double.open_fds


def test_fstat_errors_other_than_ebadf_are_tolerated(tmp_path: pathlib.Path) -> None:
    class NoStat(CountingOs):
        def fstat(self, fd: int) -> os.stat_result:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))

    double = NoStat()
    with RawFile(tmp_path / "f", "w+", os_module=double) as f:
        assert f._blksize == io.DEFAULT_BUFFER_SIZE
        f.write(b"abc")
        f.seek(0)
        assert f.readall() == b"abc"
    assert not double.open_fds


ENCODING_WARNING_SCRIPT = textwrap.dedent(
    """
    import io, os, sys, warnings
    from posixbackend.emulated.fileio import make_open

    def check(opener, path, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            f = opener(path, **kwargs)
            result = (getattr(f, "encoding", None), type(f).__name__)
            f.close()
        return result, [(w.category.__name__, str(w.message), w.filename, w.lineno)
                        for w in caught]

    path = sys.argv[1]
    ours = make_open(os)
    for kwargs in ({"mode": "w"}, {"mode": "r", "encoding": "latin-1"}, {"mode": "rb"}):
        mine, theirs = check(ours, path, **kwargs), check(io.open, path, **kwargs)
        assert mine == theirs, (kwargs, mine, theirs)
        print(theirs)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", EncodingWarning)
            ours(path, "w")
    except EncodingWarning as exc:
        print("error:", exc)
    """
)


@pytest.mark.parametrize("flags", [["-X", "warn_default_encoding"], ["-X", "utf8"], []])
def test_default_encoding_warning_and_choice(tmp_path: pathlib.Path, flags: list[str]) -> None:
    """EncodingWarning points at open()'s caller, and the default encoding is io.open's."""
    result = subprocess.run(
        [sys.executable, *flags, "-c", ENCODING_WARNING_SCRIPT, str(tmp_path / "f")],
        capture_output=True,
        text=True,
        check=False,
        cwd=pathlib.Path(fileio.__file__).parents[2],
    )
    assert result.returncode == 0, result.stderr
    warned = "EncodingWarning" in result.stdout
    assert warned == ("warn_default_encoding" in flags), result.stdout
    assert ("error: 'encoding' argument not specified" in result.stdout) == warned


STRACE_SCRIPT = textwrap.dedent(
    """
    import fcntl, io, os, sys
    from posixbackend.emulated.fileio import RawFile, make_open

    root = sys.argv[1]
    def raw_file(*args, **kwargs):
        return RawFile(*args, os_module=os, **kwargs)

    sides = {"io": (io.open, io.FileIO), "raw": (make_open(os), raw_file)}

    def flows(open_, file_io):
        p = os.path.join(root, "data")
        with open_(p, "wb") as f:
            f.write(b"x" * 100000)
        with open_(p, "rb") as f:
            f.read(10); f.read(); f.seek(3); f.read(5)
        with open_(p, "r", encoding="latin-1") as f:
            f.readline(); f.read(100); f.tell()
        with open_(p, "r+b") as f:
            f.seek(5000); f.write(b"y"); f.truncate()
        with open_(p, "a") as f:
            f.write("z")
        f = file_io(p); f.seek(10); f.readall(); f.seekable(); f.close()
        r, w = os.pipe()
        fcntl.fcntl(w, 1031, 1 << 20)
        os.write(w, b"p" * 300000)
        os.close(w)
        f = file_io(r); f.readall(); f.close()
        try:
            open_(root)
        except IsADirectoryError:
            pass

    for name in sys.argv[2:]:
        flows(*sides[name])
        os.write(2, f"BEGIN {name}\\n".encode())
        flows(*sides[name])
        os.write(2, b"END\\n")
    """
)


def test_system_calls_match_fileio(tmp_path: pathlib.Path) -> None:
    """Under strace, io.open and make_open(os) make the same system calls with the same sizes."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    log = tmp_path / "strace.log"
    calls = "openat,read,write,lseek,newfstatat,fstat,ftruncate,close,ioctl,fcntl"
    command = [strace, "-qq", "-e", f"trace={calls}", "-o", str(log), sys.executable]
    result = subprocess.run(
        [*command, "-c", STRACE_SCRIPT, str(tmp_path), "io", "raw"],
        capture_output=True,
        text=True,
        check=False,
        cwd=pathlib.Path(fileio.__file__).parents[2],
    )
    if result.returncode != 0 and "ptrace" in result.stderr:
        pytest.skip(f"strace cannot trace here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    segments: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in log.read_text().splitlines():
        if "BEGIN " in line:
            current = segments.setdefault(line.split("BEGIN ")[1].split("\\")[0], [])
        elif "END\\n" in line:
            current = None
        elif current is not None:
            current.append(re.sub(r"0x[0-9a-f]+", "0x?", line))
    assert segments["io"], "nothing traced"
    assert segments["raw"] == segments["io"]
    reads = [line for line in segments["io"] if line.startswith("read(")]
    assert len(reads) > 5


# --- Hypothesis: random operation sequences, op by op -----------------------------------------

BINARY_OPS = st.one_of(
    st.tuples(st.just("write"), st.binary(max_size=40)),
    st.tuples(st.just("read"), st.one_of(st.none(), st.integers(-1, 50))),
    st.tuples(st.just("readinto"), st.integers(0, 50)),
    st.tuples(st.just("seek"), st.integers(-5, 90), st.sampled_from([0, 1, 2])),
    st.tuples(st.just("tell")),
    st.tuples(st.just("truncate"), st.one_of(st.none(), st.integers(0, 90))),
    st.tuples(st.just("flush")),
    st.tuples(st.just("readline"), st.integers(-1, 20)),
)


def apply(t: Trace, f: Any, op: tuple[Any, ...]) -> None:
    name, *args = op
    if name == "readinto":
        buffer = bytearray(args[0])
        t("readinto", f.readinto, buffer)
        t.note("buffer", buffer)
    else:
        t(name, getattr(f, name), *args)


@contextmanager
def paired(mode: str, initial: bytes, double: bool, **kwargs: Any) -> Iterator[Any]:
    """The same file twice: opened by io.open and by make_open; yields both and their traces."""
    kind = "double" if double else "os"
    with make_env("io", collect=False) as env_io, make_env(kind, collect=False) as env_us:
        files = []
        for env in (env_io, env_us):
            env.write_file("f", initial)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                files.append((env.open(env.path("f"), mode, **kwargs), Trace(env), env))
        yield files
        for f, _, _ in files:
            f.close()
        assert env_io.content("f") == env_us.content("f")


@given(
    mode=st.sampled_from(["r+b", "w+b", "a+b", "rb", "wb", "ab"]),
    buffering=st.sampled_from([0, 2, 16, -1]),
    initial=st.binary(max_size=60),
    ops=st.lists(BINARY_OPS, max_size=30),
    double=st.booleans(),
)
def test_random_binary_operations(
    mode: str, buffering: int, initial: bytes, ops: list[tuple[Any, ...]], double: bool
) -> None:
    with paired(mode, initial, double, buffering=buffering) as ((f_io, t_io, _), (f_us, t_us, _)):
        for op in ops:
            apply(t_io, f_io, op)
            apply(t_us, f_us, op)
            assert t_us.steps[-1] == t_io.steps[-1], op


TEXT_OPS = st.one_of(
    st.tuples(st.just("write"), st.text(alphabet="ab\n\r\xe9\u20ac", max_size=20)),
    st.tuples(st.just("read"), st.one_of(st.none(), st.integers(-1, 30))),
    st.tuples(st.just("readline")),
    st.tuples(st.just("tell")),
    st.tuples(st.just("seek"), st.integers(0, 40)),
    st.tuples(st.just("seek"), st.just(0), st.sampled_from([1, 2])),
    st.tuples(st.just("seek_told"), st.integers(0, 10)),
    st.tuples(st.just("truncate")),
    st.tuples(st.just("flush")),
)


TEXT_SETUP = st.fixed_dictionaries(
    {
        "encoding": st.sampled_from(["utf-8", "utf-16", "latin-1", "utf-8-sig"]),
        "newline": st.sampled_from([None, "", "\n", "\r", "\r\n"]),
        "buffering": st.sampled_from([-1, 1, 2, 64]),
    }
)


@given(
    mode=st.sampled_from(["w+", "r+", "a+"]),
    setup=TEXT_SETUP,
    initial=st.binary(max_size=40),
    ops=st.lists(TEXT_OPS, max_size=25),
    double=st.booleans(),
)
def test_random_text_operations(
    mode: str, setup: dict[str, Any], initial: bytes, ops: list[tuple[Any, ...]], double: bool
) -> None:
    told: list[int] = [0]
    with paired(mode, initial, double, **setup) as ((f_io, t_io, _), (f_us, t_us, _)):
        for drawn in ops:
            op = ("seek", told[drawn[1] % len(told)]) if drawn[0] == "seek_told" else drawn
            apply(t_io, f_io, op)
            apply(t_us, f_us, op)
            assert t_us.steps[-1] == t_io.steps[-1], op
            result = t_io.steps[-1][1]
            if op[0] == "tell" and result[0] == "ok":
                told.append(result[1])


# --- typing: the real os module is an OsLike --------------------------------------------------


def test_the_os_module_and_the_double_fit_the_protocol() -> None:
    real: fileio.OsLike = os
    fake: fileio.OsLike = CountingOs()
    assert make_open(real).__name__ == make_open(fake).__name__ == "open"
    assert functools.partial(RawFile, os_module=real)
