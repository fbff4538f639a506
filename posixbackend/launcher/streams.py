"""The standard streams of a process an emulated backend serves whole, on its descriptors.

Python builds ``sys.stdin``, ``sys.stdout`` and ``sys.stderr`` at start-up on the real
descriptors 0, 1 and 2. Once a session puts an emulated backend in charge of the whole process
(the launcher's, a child's start-up), the program's descriptors 0 to 2 are the backend's:
``os.close(1)`` and ``os.dup2(fd, 1)`` change those, never the real ones, so the streams
python built would go on writing to the real stdout. They are built again here the way
python builds them (``create_stdio``: the same buffering, line buffering, write-through,
encoding, errors, names and modes) on the backend's descriptors: after ``os.close(1)`` the
next write fails with EBADF and python's "Exception ignored" line comes at exit; after a
``dup2`` onto 1, print goes where the program sent it.
"""

from __future__ import annotations

import _io
import functools
import io
import os
import posix
import sys
from collections.abc import Callable
from typing import Any, Final, TextIO, TypeVar, cast

import compat
from posixbackend.emulated import EmulatedBackend
from posixbackend.emulated.fileio import OsLike, RawFile

STREAMS: Final = ((0, "stdin"), (1, "stdout"), (2, "stderr"))
CALLS: Final = (
    "close", "fileno", "flush", "isatty", "read", "readable", "readall", "readinto", "seek",
    "seekable", "tell", "truncate", "writable", "write",
)  # fmt: skip
"""The raw file's methods the buffered layers and programs call."""
TERMINAL_INPUT = compat.declare(
    id="launcher.terminal_input",
    function="builtins.input",
    aspect="input() at a terminal on the emulated backend",
    level=compat.Level.FINE,
    explanation="when sys.stdin and sys.stdout are on descriptors 0 and 1 and the real ones "
    "are a terminal, input() reads and prompts with the C readline on the real descriptors, "
    "as python does: a program that moved another file onto its (the emulated backend's) "
    "descriptor 0 or 1 with os.dup2 still reads and prompts at the terminal there; "
    "sys.stdin.readline() and print() follow the move",
)
LAZY_START_STREAMS = compat.declare(
    id="launcher.lazy_start_streams",
    function="sys.stdout",
    aspect="standard streams a program keeps from before a lazy start's build",
    level=compat.Level.INFO,
    explanation="posixbackend-managed -c (or stdin) builds its emulated backend at the "
    "program's first use of it, and the standard streams on its descriptors then: a stream "
    "object taken from sys.stdin, sys.stdout or sys.stderr before that first use (before any "
    "import or file call) stays python's, on the real descriptor, so it does not follow a "
    "later os.dup2 or os.close of the program's descriptor 0, 1 or 2 "
    "(POSIXBACKEND_EAGER_START=1 builds the backend first)",
)
# (lazystart.py has this gap, but imports no compat: it exists to put such imports off)
LAZY_START_MODULES = compat.declare(
    id="launcher.lazy_start_modules",
    function="sys.modules",
    aspect="posix and _io before a lazy start's build",
    level=compat.Level.INFO,
    explanation="posixbackend-managed -c (or stdin) takes 'posix' and '_io' out of "
    "sys.modules until the program's first use of the operating-system interface, so that "
    "importing them builds the emulated backend first: until then sys.modules has no such "
    "keys ('posix' in sys.modules is False; import posix and import _io work and build); "
    "POSIXBACKEND_EAGER_START=1 builds the backend first",
)

Method = TypeVar("Method", bound=Callable[..., Any])


def _without_frames(method: Method) -> Method:
    """``method``, raising its errors without the library's frames: a standard stream's error
    comes from C code under python (FileIO), where no frame of it shows in a traceback."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except BaseException as error:
            error.__traceback__ = None
            raise  # a bare raise adds no entry for this frame either

    return cast(Method, call)


class FileIO(RawFile):
    """The raw file of a standard stream on an emulated backend: ``io.FileIO``'s look-alike
    (named as it is, an ``io.FileIO`` to isinstance) whose errors leave without the library's
    frames, as the C FileIO's do under python."""

    repr_name = "_io.FileIO"


FileIO.__module__ = "_io"  # as io.FileIO's stand-in: the class shows as python's
for _name in CALLS:
    setattr(FileIO, _name, _without_frames(getattr(RawFile, _name)))


class _StreamCalls:
    """The calls the standard streams' raw files make: the backend's, except the fstat each
    makes as it is built, which is asked of the real descriptor (the backend's 0 to 2 are
    still the process's then) so that the launcher's own look at them does not count as
    the program meeting the backend's time truncation."""

    def __init__(self, backend: EmulatedBackend) -> None:
        self._backend = backend
        self.building = True
        # Bound once: a line-buffered stream calls write for every line.
        self.read = backend.read
        self.write = backend.write
        self.lseek = backend.lseek

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def fstat(self, fd: int) -> os.stat_result:
        return posix.fstat(fd) if self.building else self._backend.fstat(fd)


def rebuild_standard_streams(backend: EmulatedBackend | None) -> None:
    """Build ``sys.stdin``/``stdout``/``stderr`` (and their ``__std*__`` originals) again on
    ``backend``'s descriptors 0 to 2, or on the real ones for None (a session that runs
    natively after one from the environment served the process emulated).

    A stream python left None (its descriptor was closed at start-up), one the backend has
    no descriptor for, and one that is neither python's own text stream on that descriptor
    nor built here (an embedding application's) is left as it is."""
    calls = None if backend is None else _StreamCalls(backend)
    for fd, name in STREAMS:
        original = getattr(sys, f"__{name}__")
        raw = _raw_of(original, fd)
        if raw is None or (calls is None and not isinstance(raw, FileIO)):
            continue
        mode = "rb" if fd == 0 else "wb"
        try:
            if calls is None:
                new_raw: Any = _io.FileIO(fd, mode, closefd=False)
            else:
                new_raw = FileIO(fd, mode, closefd=False, os_module=cast(OsLike, calls))
        except OSError:  # not in the backend's table: the program has no such descriptor
            continue
        original.flush()
        stream = _stream_like(original, new_raw)
        setattr(sys, f"__{name}__", stream)
        if getattr(sys, name) is original:
            setattr(sys, name, stream)
    if calls is not None:
        calls.building = False


def _raw_of(stream: object, fd: int) -> Any:
    """The raw file of ``stream`` if it is a text stream python built on descriptor ``fd`` (or
    one built here); None otherwise."""
    if not isinstance(stream, io.TextIOWrapper):
        return None
    buffer = stream.buffer
    raw = getattr(buffer, "raw", buffer)
    if not isinstance(raw, (_io.FileIO, FileIO)) or raw.closed or raw.fileno() != fd:
        return None
    return raw


def _stream_like(original: io.TextIOWrapper, raw: Any) -> TextIO:
    """A text stream on ``raw`` set up as ``original`` is (``create_stdio``'s steps)."""
    writing = raw.writable()
    raw.name = original.buffer.name
    buffer: Any = raw
    if not (writing and not hasattr(original.buffer, "raw")):  # -u: writes go straight to raw
        size = getattr(raw, "_blksize", io.DEFAULT_BUFFER_SIZE)  # what io.open reads too
        buffered = io.BufferedWriter if writing else io.BufferedReader
        buffer = buffered(raw, size if size > 1 else io.DEFAULT_BUFFER_SIZE)
    stream = io.TextIOWrapper(
        buffer, original.encoding, original.errors, "\n", original.line_buffering,
        original.write_through,
    )  # fmt: skip
    stream.mode = original.mode  # type: ignore[misc]  # python sets it on its streams too
    return stream
