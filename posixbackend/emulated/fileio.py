"""``io.FileIO``'s whole surface over any os-like object, and an ``open()`` built on it.

The emulated backend hands out virtual file descriptors that the real ``io.FileIO`` cannot use.
``RawFile`` replays FileIO's logic (``Modules/_io/fileio.c``, CPython 3.11 to 3.13) but makes
every system call through the os-like object it is given, and ``make_open`` replays ``_io.open``
(``Modules/_io/_iomodule.c``) around it, so buffering and decoding stay the standard
``io.Buffered*`` and ``io.TextIOWrapper`` classes.

Where ``RawFile`` differs from the C class, on purpose:

- It calls itself ``RawFile`` where FileIO names its type (repr, pickling refusal, argument and
  read-only attribute errors); 3.13 already shows a FileIO subclass's own name in its repr.
- ``_blksize`` and ``_finalizing`` are plain attributes; the C members type-check assignments.
- Argument-count and unknown-keyword errors are Python's, not Argument Clinic's wording.
- With ``os_module=os`` two ``open`` audit events fire (``RawFile``'s own, as FileIO raises it,
  then ``os.open``'s); only the first carries the mode string.
- When a ``ResourceWarning`` is turned into an error during finalization, FileIO reports it
  through ``sys.unraisablehook``; here it propagates out of ``close()`` (after the descriptor is
  closed), where the finalizer drops it (and reports it in development mode).
"""

from __future__ import annotations

import errno
import io
import operator
import os
import stat
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import IO, Any, Final, NamedTuple, Protocol, cast

__all__ = ["BoundRawFile", "OsLike", "RawFile", "bind", "make_open"]

#: ``SMALLCHUNK`` in fileio.c: ``BUFSIZ`` (8 KiB with glibc), the smallest read ``readall`` makes.
SMALLCHUNK = 8192
#: Above this many bytes ``readall`` grows its buffer by an eighth instead of doubling it.
LARGE_BUFFER_CUTOFF_SIZE = 65536

_C_INT_MIN, _C_INT_MAX = -(2**31), 2**31 - 1
_C_LLONG_MIN, _C_LLONG_MAX = -(2**63), 2**63 - 1
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE

# 3.12 made ``closefd`` a plain truth value (it was an int before) and pickling refusal moved to
# ``__reduce__`` with "instances"; 3.13 warns when a bool is used as a file descriptor.
_CLOSEFD_IS_TRUTH = sys.version_info >= (3, 12)
_PICKLE_WORD = "instances" if sys.version_info >= (3, 12) else "object"
_WARN_BOOL_FD = sys.version_info >= (3, 13)

Opener = Callable[[Any, int], int]
"""``opener(name, flags) -> fd``, as for ``io.open``."""


class OsLike(Protocol):
    """The part of ``os`` that ``RawFile`` calls: descriptor operations and the open flags."""

    O_RDONLY: int
    O_WRONLY: int
    O_RDWR: int
    O_CREAT: int
    O_EXCL: int
    O_TRUNC: int
    O_APPEND: int
    O_CLOEXEC: int

    def open(self, path: Any, flags: int, mode: int = ..., /) -> int:
        """Open ``path`` and return a new descriptor (raising ``OSError`` as ``os.open``)."""
        ...

    def read(self, fd: int, length: int, /) -> bytes:
        """Read at most ``length`` bytes with one call."""
        ...

    def write(self, fd: int, data: memoryview, /) -> int:
        """Write with one call; return the number of bytes written."""
        ...

    def lseek(self, fd: int, position: int, whence: int, /) -> int:
        """Move the offset; return the new one."""
        ...

    def fstat(self, fd: int) -> os.stat_result:
        """Stat an open descriptor."""
        ...

    def ftruncate(self, fd: int, length: int, /) -> None:
        """Cut or extend the file to ``length`` bytes."""
        ...

    def close(self, fd: int) -> None:
        """Release the descriptor."""
        ...

    def isatty(self, fd: int, /) -> bool:
        """True if the descriptor is a terminal (never raises)."""
        ...

    def set_inheritable(self, fd: int, inheritable: bool, /) -> None:
        """Set or clear close-on-exec (the inverse flag)."""
        ...


# --- argument conversion, with Argument Clinic's messages -------------------------------------


def _tp_name(tp: type) -> str:
    """The type's C ``tp_name`` as CPython messages show it: ``int``, ``decimal.Decimal``, ``Foo``.

    Types made by a class statement use their bare name; static types their dotted one. (Heap
    types built from a C spec, whose tp_name is dotted, come out bare: a rare, cosmetic miss.)
    """
    if tp.__module__ == "builtins" or tp.__flags__ & _HEAPTYPE:
        return tp.__name__
    return f"{tp.__module__}.{tp.__qualname__}"


def _arg_type_name(value: object) -> str:
    """How ``_PyArg_BadArgument`` names a wrong argument: ``None`` or the type's tp_name."""
    return "None" if value is None else _tp_name(type(value))


def _c_int(value: object) -> int:
    """Convert as ``PyLong_AsInt``: through ``__index__``, overflowing outside C int."""
    number = operator.index(value)  # type: ignore[arg-type]
    if not _C_INT_MIN <= number <= _C_INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    return number


def _c_long_long(value: object) -> int:
    """Convert as ``PyLong_AsLongLong`` (an ``off_t``); its message says "C long" on LP64."""
    number = operator.index(value)  # type: ignore[arg-type]
    if not _C_LLONG_MIN <= number <= _C_LLONG_MAX:
        raise OverflowError("Python int too large to convert to C long")
    return number


def _size_or_none(value: object) -> int:
    """``read``'s size: None means -1; an index must fit ``Py_ssize_t``."""
    if value is None:
        return -1
    if not hasattr(type(value), "__index__"):
        raise TypeError(f"argument should be integer or None, not '{_tp_name(type(value))}'")
    number = operator.index(value)  # type: ignore[arg-type]
    if not -sys.maxsize - 1 <= number <= sys.maxsize:
        raise OverflowError(f"cannot fit '{_tp_name(type(value))}' into an index-sized integer")
    return number


def _truth_arg(value: object) -> bool:
    """A clinic ``bool``: any truth value from 3.12, an int (via ``__index__``) before."""
    if _CLOSEFD_IS_TRUTH:
        return bool(value)
    return _c_int(value) != 0


def _str_arg(function: str, name: str, value: object, *, none_ok: bool = False) -> str | None:
    """A clinic ``str``: the right type, no NUL, encodable as UTF-8."""
    if value is None and none_ok:
        return None
    if not isinstance(value, str):
        expected = "str or None" if none_ok else "str"
        raise TypeError(
            f"{function}() argument '{name}' must be {expected}, not {_arg_type_name(value)}"
        )
    value.encode("utf-8")  # lone surrogates fail here, as in PyUnicode_AsUTF8AndSize
    if "\0" in value:
        raise ValueError("embedded null character")
    return value


def _check_writable_buffer(buffer: object) -> None:
    """Refuse ``readinto``'s argument as clinic refuses a non-writable or non-contiguous one."""
    try:
        view: memoryview | None = memoryview(buffer)  # type: ignore[arg-type]
    except TypeError:
        view = None  # raised below, outside the handler, so with no __context__ (as in C)
    if view is not None:
        with view:
            if not view.readonly and view.c_contiguous:
                return
    argument = "argument 1" if sys.version_info >= (3, 12) else "argument"
    raise TypeError(
        f"readinto() {argument} must be read-write bytes-like object, not {_arg_type_name(buffer)}"
    )


@contextmanager
def _readable_view(data: object) -> Iterator[memoryview]:
    """A contiguous view of ``write``'s argument, refused as ``PyObject_GetBuffer`` refuses."""
    try:
        view: memoryview | None = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        view = None  # raised below, outside the handler, so with no __context__ (as in C)
    if view is None:
        raise TypeError(f"a bytes-like object is required, not '{_tp_name(type(data))}'")
    with view:
        if not view.c_contiguous:
            raise BufferError("memoryview: underlying buffer is not C-contiguous")
        yield view


# --- small helpers ----------------------------------------------------------------------------


def _warn_at_caller(message: str, category: type[Warning], source: object = None) -> None:
    """Warn at the first frame outside this module, where C code's ``stacklevel=1`` points."""
    level = 1
    frame: FrameType | None = sys._getframe(0)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level, source=source)


def _retry_eintr(call: Callable[..., Any], *args: Any) -> Any:
    """Repeat a call that failed with EINTR, as ``_Py_read``/``_Py_write``/FileIO's open do.

    ``os`` already retries (PEP 475); this covers os-like objects that surface EINTR.
    """
    while True:
        try:
            return call(*args)
        except InterruptedError:
            continue


def _new_buffer_size(current: int) -> int:
    """``readall``'s next buffer size: amortised doubling, an eighth more for large buffers."""
    addend = current >> 3 if current > LARGE_BUFFER_CUTOFF_SIZE else 256 + current
    return current + max(addend, SMALLCHUNK)


def _fd_from_name(nameobj: object) -> int | None:
    """The descriptor ``file`` denotes, or None when it is a path (FileIO's ``PyLong_AsInt``)."""
    if _WARN_BOOL_FD and isinstance(nameobj, bool):
        _warn_at_caller("bool is used as a file descriptor", RuntimeWarning)
    try:
        fd = _c_int(nameobj)
    except (TypeError, ValueError, ArithmeticError):
        return None  # C clears the error and treats the object as a path
    if fd < 0:
        raise ValueError("negative file descriptor")
    return fd


def _check_path(nameobj: object) -> None:
    """Refuse what ``PyUnicode_FSConverter`` refuses: non-paths, unencodable names, NUL."""
    path = os.fspath(nameobj)  # type: ignore[call-overload]
    if b"\0" in os.fsencode(path):
        raise ValueError("embedded null byte")


class _RepeatedRepr:
    """``Py_ReprEnter``: notice a repr that (through ``name``) asks for itself again."""

    _local = threading.local()

    @classmethod
    @contextmanager
    def guard(cls, obj: object) -> Iterator[bool]:
        """Yield True on the outermost call for ``obj`` in this thread, False on a re-entry."""
        active: set[int] = cls._local.__dict__.setdefault("active", set())
        if id(obj) in active:
            yield False
            return
        active.add(id(obj))
        try:
            yield True
        finally:
            active.discard(id(obj))


class _RawMode(NamedTuple):
    """What one letter of FileIO's mode asks for (and, for the whole mode, their union)."""

    created: bool = False
    readable: bool = False
    writable: bool = False
    appending: bool = False
    truncating: bool = False


_RAW_MODE_LETTERS = {
    "x": _RawMode(created=True, writable=True),
    "r": _RawMode(readable=True),
    "w": _RawMode(writable=True, truncating=True),
    "a": _RawMode(writable=True, appending=True),
}
_BAD_RAW_MODE = "Must have exactly one of create/read/write/append mode and at most one plus"


def _parse_raw_mode(mode: str) -> _RawMode:
    """Parse a FileIO mode ('r', 'w', 'x', 'a', optional '+', any 'b') with fileio.c's errors."""
    letter: _RawMode | None = None
    plus = False
    for char in mode:
        if char in _RAW_MODE_LETTERS:
            if letter is not None:
                raise ValueError(_BAD_RAW_MODE)
            letter = _RAW_MODE_LETTERS[char]
        elif char == "+":
            if plus:
                raise ValueError(_BAD_RAW_MODE)
            plus = True
        elif char != "b":
            raise ValueError(f"invalid mode: {mode[:200]}")
    if letter is None:
        raise ValueError(_BAD_RAW_MODE)
    return letter._replace(readable=True, writable=True) if plus else letter


# --- the raw file -----------------------------------------------------------------------------


class RawFile(io.RawIOBase):
    """``io.FileIO`` over an os-like object: same arguments, attributes, results and errors.

    Every system call goes through ``os_module``, so the class serves the real ``os`` and the
    emulated backend's virtual descriptors alike.
    """

    __slots__ = (
        "_appending",
        "_blksize",
        "_closefd",
        "_created",
        "_fd",
        "_finalizing",
        "_os",
        "_readable",
        "_seekable",
        "_writable",
    )
    # read by offset in posixbackend's C code
    __accelerated_slots__ = (
        "_appending", "_blksize", "_closefd", "_created", "_fd", "_finalizing", "_os",
        "_readable", "_seekable", "_writable",
    )  # fmt: skip

    _os: OsLike
    _fd: int
    _created: bool
    _readable: bool
    _writable: bool
    _appending: bool
    _seekable: int
    _closefd: bool
    _finalizing: bool
    _blksize: int
    name: Any

    def __new__(cls, *args: Any, **kwargs: Any) -> RawFile:
        """Start closed, as ``fileio_new`` does; ``__init__`` only ever adds to this state."""
        self = super().__new__(cls)
        self._fd = -1
        self._created = self._readable = self._writable = self._appending = False
        self._seekable = -1  # unknown until the first lseek
        self._closefd = True
        self._finalizing = False
        self._blksize = 0
        return self

    def __init__(
        self,
        file: Any,
        mode: str = "r",
        closefd: bool = True,
        opener: Opener | None = None,
        *,
        os_module: OsLike,
    ) -> None:
        """Open a path or a descriptor, as ``io.FileIO(file, mode, closefd, opener)`` does."""
        mode = cast(str, _str_arg(type(self).__name__, "mode", mode))
        closefd = _truth_arg(closefd)
        self._close_previous()
        self._os = os_module
        fd = _fd_from_name(file)
        if fd is None:
            _check_path(file)
        flags = self._take_mode(mode)
        sys.audit("open", file, mode, flags)
        own = fd is None
        try:
            if fd is None:
                self._closefd = True
                if not closefd:
                    raise ValueError("Cannot use closefd=False with file name")
                self._open_fd(file, flags, opener)
            else:
                self._fd, self._closefd = fd, closefd
            self._finish_open(file)
        except BaseException:
            if not own:
                self._fd = -1  # never close a descriptor the caller lent us
            self._internal_close()
            raise

    def _close_previous(self) -> None:
        """A second ``__init__`` first lets go of the descriptor the first one opened."""
        if self._fd >= 0:
            if self._closefd:
                self._internal_close()
            else:
                self._fd = -1

    def _take_mode(self, mode: str) -> int:
        """Record the mode on the object (adding to earlier state, as C does) and return flags."""
        parsed = _parse_raw_mode(mode)
        self._created |= parsed.created
        self._readable |= parsed.readable
        self._writable |= parsed.writable
        self._appending |= parsed.appending
        osm = self._os
        flags = osm.O_CLOEXEC
        flags |= (osm.O_EXCL | osm.O_CREAT) if parsed.created else 0
        flags |= (osm.O_CREAT | osm.O_TRUNC) if parsed.truncating else 0
        flags |= (osm.O_APPEND | osm.O_CREAT) if parsed.appending else 0
        if self._readable and self._writable:
            return flags | osm.O_RDWR
        return flags | (osm.O_RDONLY if self._readable else osm.O_WRONLY)

    def _open_fd(self, file: Any, flags: int, opener: Opener | None) -> None:
        """Open by name, through ``os_module.open`` or the caller's opener; never inheritable."""
        if opener is None:
            # O_CLOEXEC is in the flags, so like FileIO no set_inheritable call follows.
            self._fd = _retry_eintr(self._os.open, file, flags, 0o666)
            return
        fdobj = opener(file, flags)
        if not isinstance(fdobj, int):
            raise TypeError("expected integer from opener")
        fd = _c_int(fdobj)
        if fd < 0:
            raise ValueError(f"opener returned {fd}")
        self._fd = fd
        self._os.set_inheritable(fd, False)  # the opener may have dropped O_CLOEXEC

    def _finish_open(self, file: Any) -> None:
        """Stat the new descriptor (refusing directories), set ``name``, go to the end to append."""
        self._blksize = io.DEFAULT_BUFFER_SIZE
        try:
            status = self._os.fstat(self._fd)
        except OSError as exc:
            if exc.errno == errno.EBADF:
                raise
            status = None  # tolerated, as for odd file systems (bpo-25717)
        if status is not None:
            if stat.S_ISDIR(status.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), file)
            if status.st_blksize > 1:
                self._blksize = status.st_blksize
        self.name = file
        if self._appending:
            self._lseek(0, io.SEEK_END, suppress_pipe_error=True)

    # --- state and attributes -----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True if the file is closed."""
        return self._fd < 0

    @closed.setter
    def closed(self, value: object) -> None:
        self._refuse_write("closed")

    @closed.deleter
    def closed(self) -> None:
        self._refuse_write("closed")

    @property
    def closefd(self) -> bool:
        """True if the file descriptor will be closed by close()."""
        return self._closefd

    @closefd.setter
    def closefd(self, value: object) -> None:
        self._refuse_write("closefd")

    @closefd.deleter
    def closefd(self) -> None:
        self._refuse_write("closefd")

    @property
    def mode(self) -> str:
        """String giving the file mode: 'rb', 'rb+', 'wb', 'xb', 'xb+', 'ab' or 'ab+'."""
        if self._created:
            return "xb+" if self._readable else "xb"
        if self._appending:
            return "ab+" if self._readable else "ab"
        if self._readable:
            return "rb+" if self._writable else "rb"
        return "wb"

    @mode.setter
    def mode(self, value: object) -> None:
        self._refuse_write("mode")

    @mode.deleter
    def mode(self) -> None:
        self._refuse_write("mode")

    @classmethod
    def _refuse_write(cls, attribute: str) -> None:
        """Refuse to set or delete a read-only attribute with the C getset's message."""
        raise AttributeError(f"attribute '{attribute}' of '{cls.__name__}' objects is not writable")

    def _check_open(self) -> int:
        """The descriptor, or FileIO's ValueError (no final full stop, unlike IOBase's)."""
        if self._fd < 0:
            raise ValueError("I/O operation on closed file")
        return self._fd

    def _check_mode(self, allowed: bool, action: str) -> None:
        """Refuse reading or writing the file was not opened for."""
        if not allowed:
            raise io.UnsupportedOperation(f"File not open for {action}")

    def fileno(self) -> int:
        """Return the underlying file descriptor (an integer)."""
        return self._check_open()

    def readable(self) -> bool:
        """True if file was opened in a read mode."""
        self._check_open()
        return self._readable

    def writable(self) -> bool:
        """True if file was opened in a write mode."""
        self._check_open()
        return self._writable

    def seekable(self) -> bool:
        """True if file supports random-access (asked once, with an lseek, then remembered)."""
        self._check_open()
        if self._seekable < 0:
            try:
                self._lseek(0, io.SEEK_CUR)
            except OSError:
                pass  # _lseek has recorded the answer: not seekable
        return bool(self._seekable)

    def isatty(self) -> bool:
        """True if the file is connected to a TTY device."""
        return bool(self._os.isatty(self._check_open()))

    # --- reading and writing ------------------------------------------------------------------

    def read(self, size: object = -1, /) -> bytes | None:
        """Read at most size bytes with one call (all of them if size is negative or None).

        In non-blocking mode, returns None if no data is available.
        """
        length = _size_or_none(size)
        fd = self._check_open()
        self._check_mode(self._readable, "reading")
        if length < 0:
            return self.readall()
        return self._read_once(fd, length)

    def _read_once(self, fd: int, length: int) -> bytes | None:
        """One read call; None when it would block."""
        try:
            return cast(bytes, _retry_eintr(self._os.read, fd, length))
        except BlockingIOError as exc:
            if exc.errno == errno.EAGAIN:
                return None
            raise

    def readall(self) -> bytes | None:  # type: ignore[override]  # None: would block
        """Read until EOF; in non-blocking mode, what is available (None if nothing)."""
        fd = self._check_open()
        bufsize = self._readall_first_size(fd)
        chunks: list[bytes] = []
        total = 0
        while True:
            if total >= bufsize:
                bufsize = _new_buffer_size(total)
            chunk = self._read_once(fd, bufsize - total)
            if chunk is None:
                return b"".join(chunks) if total else None
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)

    def _readall_first_size(self, fd: int) -> int:
        """One byte more than what remains by fstat and lseek (so EOF needs no regrowth)."""
        try:
            pos = self._os.lseek(fd, 0, io.SEEK_CUR)
        except OSError:
            pos = -1
        try:
            end = self._os.fstat(fd).st_size
        except OSError:
            return SMALLCHUNK
        if end > 0 and end >= pos >= 0 and end - pos < sys.maxsize:
            return end - pos + 1
        return SMALLCHUNK

    def readinto(self, buffer: Any, /) -> int | None:
        """Read into a writable bytes-like object with one call; None when it would block."""
        _check_writable_buffer(buffer)
        with memoryview(buffer) as pinned:  # held, as C holds the buffer, so it cannot resize
            fd = self._check_open()
            self._check_mode(self._readable, "reading")
            data = self._read_once(fd, pinned.nbytes)
            if data is None:
                return None
            return io.BytesIO(data).readinto(buffer)  # raw bytes into any buffer format

    def write(self, b: Any, /) -> int | None:
        """Write with one call; return the number of bytes written, None when it would block."""
        with _readable_view(b) as view:
            fd = self._check_open()
            self._check_mode(self._writable, "writing")
            try:
                return cast(int, _retry_eintr(self._os.write, fd, view))
            except BlockingIOError as exc:
                if exc.errno == errno.EAGAIN:
                    return None
                raise

    # --- positioning --------------------------------------------------------------------------

    def _lseek(self, pos: object, whence: int, *, suppress_pipe_error: bool = False) -> int:
        """``portable_lseek``: move, and remember on first use whether the file can seek."""
        offset = _c_long_long(pos)
        try:
            result = self._os.lseek(self._fd, offset, whence)
        except OSError as exc:
            self._seekable = max(self._seekable, 0)
            if suppress_pipe_error and exc.errno == errno.ESPIPE:
                return 0
            raise
        if self._seekable < 0:
            self._seekable = 1
        return result

    def seek(self, pos: Any, whence: Any = 0, /) -> int:
        """Move to a new file position (from the start, the current one or the end); return it."""
        how = _c_int(whence)
        self._check_open()
        return self._lseek(pos, how)

    def tell(self) -> int:
        """Current file position (OSError for files that cannot seek)."""
        self._check_open()
        return self._lseek(0, io.SEEK_CUR)

    def truncate(self, size: Any = None, /) -> Any:
        """Cut the file to ``size`` bytes (default: the position) and return ``size``.

        Unlike a buffered file's, the position does not move.
        """
        fd = self._check_open()
        self._check_mode(self._writable, "writing")
        if size is None:
            size = self._lseek(0, io.SEEK_CUR)
        self._os.ftruncate(fd, _c_long_long(size))
        return size

    # --- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """Flush and close; the descriptor only if closefd. Closing twice is harmless."""
        try:
            super().close()
        finally:
            self._release()

    def _release(self) -> None:
        """Give up the descriptor, warning first if this close is a finalizer's."""
        if not self._closefd:
            self._fd = -1
            return
        try:
            if self._finalizing:
                self._dealloc_warn(self)
        finally:
            self._internal_close()

    def _internal_close(self) -> None:
        """Close the descriptor (forgotten first, so a failing close is not retried)."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            self._os.close(fd)

    def _dealloc_warn(self, source: object) -> None:
        """Emit "unclosed file" for ``source`` (this file or its wrapper) if we own an open fd."""
        if self._fd >= 0 and self._closefd:
            _warn_at_caller(f"unclosed file {source!r}", ResourceWarning, source)

    # --- representation and pickling ---------------------------------------------------------

    def __repr__(self) -> str:
        """``<RawFile name='x' mode='rb' closefd=True>``, FileIO's structure with our name
        (the backend's own FileIO calls itself ``_io.FileIO``, as the C type does)."""
        type_name = type(self).__dict__.get("repr_name") or type(self).__name__
        if self._fd < 0:
            return f"<{type_name} [closed]>"
        tail = f"mode='{self.mode}' closefd={self._closefd}"
        try:
            name = self.name
        except AttributeError:
            return f"<{type_name} fd={self._fd} {tail}>"
        with _RepeatedRepr.guard(self) as first:
            if not first:
                raise RuntimeError(f"reentrant call inside {type_name}.__repr__")
            return f"<{type_name} name={name!r} {tail}>"

    def __reduce__(self) -> str | tuple[Any, ...]:
        """Refuse pickling, as FileIO does."""
        raise TypeError(f"cannot pickle '{type(self).__name__}' {_PICKLE_WORD}")

    def __reduce_ex__(self, protocol: Any) -> str | tuple[Any, ...]:
        """Refuse pickling (and copying), as FileIO does."""
        return self.__reduce__()


class BoundRawFile(RawFile):
    """A RawFile whose subclasses are bound to an os-like object (their ``_default_os``), so
    they take FileIO's own arguments: ``cls(file, mode, closefd, opener)``. See :func:`bind`."""

    __slots__ = ()
    _default_os: OsLike

    def __init__(
        self,
        file: Any,
        mode: str = "r",
        closefd: bool = True,
        opener: Opener | None = None,
    ) -> None:
        """Open a path or a descriptor, as ``io.FileIO(file, mode, closefd, opener)`` does."""
        RawFile.__init__(self, file, mode, closefd, opener, os_module=self._default_os)


BoundRawFile.__init__.__qualname__ = "FileIO.__init__"  # argument errors name FileIO


def bind(base: type[BoundRawFile], os_module: OsLike) -> type[BoundRawFile]:
    """A ``FileIO`` class on ``os_module``: a subclass of ``base`` named and shown as
    ``_io.FileIO`` (a backend's ``FileIO``; ``base`` may add C methods, see accelerator.py)."""
    namespace = {
        "__doc__": RawFile.__doc__,
        "__module__": __name__,
        "__slots__": (),
        "repr_name": "_io.FileIO",
        "_default_os": os_module,
    }
    metaclass: Any = type(base)  # ABCMeta, as io.RawIOBase's
    cls: type[BoundRawFile] = metaclass("FileIO", (base,), namespace)
    return cls


# --- open() -----------------------------------------------------------------------------------


class _OpenMode(NamedTuple):
    """What ``open()``'s mode string asks for."""

    creating: bool
    reading: bool
    writing: bool
    appending: bool
    updating: bool
    text: bool
    binary: bool

    @property
    def raw(self) -> str:
        """The mode handed to the raw file: the chosen letter and maybe '+', never 'b'/'t'."""
        letters = zip("xrwa+", self[:5], strict=True)
        return "".join(letter for letter, wanted in letters if wanted)


def _parse_open_mode(mode: str) -> _OpenMode:
    """Decode ``open()``'s mode: any of 'xrwa+tb', each at most once ('U' is gone since 3.11)."""
    if len(set(mode)) != len(mode) or not set(mode) <= set("xrwa+tb"):
        raise ValueError(f"invalid mode: '{mode}'")
    parsed = _OpenMode(*(letter in mode for letter in "xrwa+tb"))
    if parsed.text and parsed.binary:
        raise ValueError("can't have text and binary mode at once")
    if sum(parsed[:4]) > 1:
        raise ValueError("must have exactly one of create/read/write/append mode")
    return parsed


def _check_binary_args(
    parsed: _OpenMode, buffering: int, encoding: str | None, errors: str | None, newline: str | None
) -> None:
    """Refuse text-only arguments in binary mode; warn that buffering=1 means the default."""
    if not parsed.binary:
        return
    for value, what in ((encoding, "an encoding"), (errors, "an errors"), (newline, "a newline")):
        if value is not None:
            raise ValueError(f"binary mode doesn't take {what} argument")
    if buffering == 1:
        _warn_at_caller(
            "line buffering (buffering=1) isn't supported in binary mode, "
            "the default buffer size will be used",
            RuntimeWarning,
        )


def _is_number(file: object) -> bool:
    """``PyNumber_Check``: descriptors are numbers; anything else must be a path."""
    tp = type(file)
    return (
        hasattr(tp, "__index__")
        or hasattr(tp, "__int__")
        or hasattr(tp, "__float__")
        or isinstance(file, complex)
    )


def _buffer_size(raw: RawFile, buffering: int) -> tuple[int, bool]:
    """The buffer size and line buffering: terminals and buffering=1 get lines, -1 the blksize."""
    isatty = buffering < 0 and operator.index(raw.isatty())
    line_buffering = buffering == 1 or bool(isatty)
    if line_buffering:
        buffering = -1
    if buffering < 0:
        buffering = operator.index(raw._blksize)
    if buffering < 0:
        raise ValueError("invalid buffering size")
    return buffering, line_buffering


def _default_encoding(encoding: str | None) -> str | None:
    """Leave None alone unless EncodingWarning is on; then warn at the caller, like C open().

    TextIOWrapper would warn too (from our frame), so it gets what it would choose for None.
    """
    if encoding is not None or not sys.flags.warn_default_encoding:
        return encoding
    _warn_at_caller("'encoding' argument not specified", EncodingWarning)
    return "utf-8" if sys.flags.utf8_mode else "locale"


def _wrap(
    raw: RawFile, parsed: _OpenMode, buffering: int, text_args: tuple[Any, ...], mode: str
) -> IO[Any]:
    """Put the raw file in the buffered class the mode needs, then in a TextIOWrapper."""
    result: Any = raw
    wrapped: IO[Any]  # (annotated, not cast: this runs for every open)
    try:
        buffering, line_buffering = _buffer_size(raw, buffering)
        if buffering == 0:
            if not parsed.binary:
                raise ValueError("can't have unbuffered text I/O")
            wrapped = raw  # type: ignore[assignment]  # RawFile is an IO[bytes] in all but name
            return wrapped
        if parsed.updating:
            result = io.BufferedRandom(raw, buffering)
        elif parsed.creating or parsed.writing or parsed.appending:
            result = io.BufferedWriter(raw, buffering)
        else:
            result = io.BufferedReader(raw, buffering)
        if parsed.binary:
            wrapped = result
            return wrapped
        encoding, errors, newline = text_args
        result = io.TextIOWrapper(
            result, _default_encoding(encoding), errors, newline, line_buffering
        )
        result.mode = mode
        wrapped = result
        return wrapped
    except BaseException:
        result.close()
        raise


def _buffered_class(parsed: _OpenMode) -> Callable[..., IO[Any]] | None:
    """The buffered class :func:`_wrap` puts a binary mode's raw file in (None for text)."""
    if not parsed.binary:
        return None
    if parsed.updating:
        return io.BufferedRandom
    if parsed.creating or parsed.writing or parsed.appending:
        return io.BufferedWriter
    return io.BufferedReader


COMMON_MODES = {
    mode: (_parse_open_mode(mode), _parse_open_mode(mode).raw,
           _buffered_class(_parse_open_mode(mode)))
    for letter in "rwax"
    for mode in (letter, letter + "b", letter + "t", letter + "+", letter + "b+", letter + "+b")
}  # fmt: skip
"""The parsed modes, raw modes and (binary modes) buffered classes of ``open()``'s usual mode
strings, for its fast path (and accelerator.fast_open's)."""


_PATH_LIKE: Final = {
    "DirEntry": frozenset({"posixbackend._direntry", "posixbackend.emulated.direntry"}),
    "PosixPath": frozenset({"pathlib", "pathlib._local"}),
    "PurePosixPath": frozenset({"pathlib", "pathlib._local"}),
}
"""Path-like classes (by name and module: no import here) that are no numbers (no
``__index__``, ``__int__`` or ``__float__``) and whose ``__fspath__()`` gives a str or bytes:
the backend's DirEntry (``shutil.copytree`` opens those) and pathlib's. ``open()``'s fast path
takes them."""
_NO_MODULES: Final = frozenset[str]()


def _known_path_like(cls: type) -> bool:
    """Whether ``cls`` is one of :data:`_PATH_LIKE`'s classes itself (no subclass)."""
    return cls.__module__ in _PATH_LIKE.get(cls.__name__, _NO_MODULES)


def make_open(
    os_module: OsLike, raw_type: Callable[[Any, str, bool, Opener | None], RawFile] | None = None
) -> Callable[..., IO[Any]]:
    """Return an ``open()`` that works as ``io.open`` but opens a ``RawFile`` on ``os_module``
    (made by ``raw_type(file, mode, closefd, opener)`` when given: a class named as FileIO, or
    what makes its objects, accelerator.raw_file_maker)."""
    warn_default_encoding = sys.flags.warn_default_encoding  # fixed for the process

    def open(  # noqa: PLR0917 - open()'s own signature
        file: Any,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        closefd: bool = True,
        opener: Opener | None = None,
    ) -> IO[Any]:
        """Open a file and return a stream, exactly as ``io.open`` (see its documentation)."""
        common = COMMON_MODES.get(mode) if mode.__class__ is str else None
        if (
            common is not None
            and (file.__class__ is str or _known_path_like(file.__class__))
            and buffering.__class__ is int
            and buffering == -1
            and closefd is True
            and opener is None
            and errors is None
            and newline is None
            and (
                encoding is None
                if common[0].binary
                else (encoding.__class__ is str and encoding.isascii() and "\0" not in encoding)
                or (encoding is None and not warn_default_encoding)
            )
        ):
            # The usual call: every argument valid as it stands, so the checks below would
            # change nothing; a path, the default buffering.
            # A path-like of a known class is no number: the checks below would take its
            # __fspath__() (as io.open does) once they passed, and they pass.
            path = file if file.__class__ is str else os.fspath(file)
            if raw_type is None:
                raw = RawFile(path, common[1], True, None, os_module=os_module)
            else:
                raw = raw_type(path, common[1], True, None)
            buffered = common[2]
            if buffered is not None:
                # a binary mode: _wrap's work inline (its two frames cost as much as the rest
                # of open()); io.open asks isatty() in every mode, though line buffering
                # changes nothing for a binary file
                try:
                    raw.isatty()
                    wrapped: IO[Any] = buffered(raw, raw._blksize)
                except BaseException:
                    raw.close()
                    raise
                return wrapped
            return _wrap(raw, common[0], -1, (encoding, None, None), mode)
        mode = cast(str, _str_arg("open", "mode", mode))
        buffering = _c_int(buffering)
        encoding = _str_arg("open", "encoding", encoding, none_ok=True)
        errors = _str_arg("open", "errors", errors, none_ok=True)
        newline = _str_arg("open", "newline", newline, none_ok=True)
        closefd = _truth_arg(closefd)
        path_or_fd = file if _is_number(file) else os.fspath(file)
        parsed = _parse_open_mode(mode)
        _check_binary_args(parsed, buffering, encoding, errors, newline)
        if raw_type is None:
            raw = RawFile(path_or_fd, parsed.raw, closefd, opener, os_module=os_module)
        else:
            raw = raw_type(path_or_fd, parsed.raw, closefd, opener)
        return _wrap(raw, parsed, buffering, (encoding, errors, newline), mode)

    return open
