"""Argument conversion for the emulated backend, exactly as CPython's posixmodule does it.

Each converter takes what a caller passed to an ``os`` function and returns the value CPython
would hand to the system call, or raises what CPython raises: the same exception class, the same
message, the same warnings. CPython's own converters are named in each docstring
(``Modules/posixmodule.c`` and the Argument Clinic converters it uses). Where Python versions
differ, the running interpreter's behaviour is followed:

* 3.11 accepts any buffer (bytearray, memoryview...) as a path, with a DeprecationWarning;
  3.12 refuses it.
* 3.13 reports a NUL in a str path as ``"<function>: embedded null character in <argument>"``
  (3.11 and 3.12 say ``"embedded null byte"``), treats ``__fspath__ = None`` as "not PathLike",
  warns ``RuntimeWarning("bool is used as a file descriptor")``, and accepts -1 (NODEV) as
  a device number.

The C types are Linux's on 64-bit machines: 32-bit uid_t and gid_t, 64-bit time_t, off_t and
dev_t. Conversions that can only fail the way a system call fails (EBADF for a closed fd,
EINVAL for a negative read length...) are left to the backend. Call the converters in the
order of the ``os`` function's parameters, then the ``check_*`` functions, as CPython does.
"""

from __future__ import annotations

import enum
import errno
import math
import operator
import os
import struct
import sys
import warnings
from typing import Any, Final, cast

import attrs

_PY312: Final = sys.version_info >= (3, 12)
_PY313: Final = sys.version_info >= (3, 13)

AT_FDCWD: Final = -100
"""Linux's AT_FDCWD: CPython's ``dir_fd`` default, so passing it is the same as passing None."""
DEFAULT_DIR_FD: Final = None
"""What :func:`dir_fd_arg` returns for "relative to the current directory"."""
NODEV: Final = 2**64 - 1
"""``(dev_t)-1``: the device number 3.13 accepts when given as -1."""
_ID_BITS: Final = 32
"""Width of uid_t and gid_t on Linux."""
_NANOSECONDS: Final = 10**9
_TIME_T_LIMIT: Final = 2**63
"""time_t is 64-bit: valid seconds are ``-2**63 <= s < 2**63``."""
_NS_LIMIT: Final = _TIME_T_LIMIT * _NANOSECONDS
"""ns values whose seconds fit a time_t: -2**63 s <= value // 10**9 < 2**63 s."""


class _NotGiven(enum.Enum):
    NOT_GIVEN = "NOT_GIVEN"


NOT_GIVEN: Final = _NotGiven.NOT_GIVEN
"""Default for an argument whose absence CPython tells apart from None (``os.utime``'s ``ns``)."""

_MISSING: Final = object()


@attrs.frozen
class CInteger:
    """A signed C integer type: its range, and its name in CPython's OverflowError message."""

    name: str
    size: int
    """Bytes, as ``struct.calcsize`` gives them."""
    # Fields, not properties: every integer argument reads both (no call per argument).
    min: int = attrs.field(init=False)
    max: int = attrs.field(init=False)

    @min.default
    def _min(self) -> int:
        return -(1 << (8 * self.size - 1))

    @max.default
    def _max(self) -> int:
        return (1 << (8 * self.size - 1)) - 1


C_INT: Final = CInteger("int", struct.calcsize("i"))
C_LONG: Final = CInteger("long", struct.calcsize("l"))
C_SSIZE_T: Final = CInteger("ssize_t", struct.calcsize("n"))
C_OFF_T: Final = C_LONG if struct.calcsize("l") == 8 else CInteger("long long", 8)
"""Py_off_t: ``PyLong_AsLong`` on LP64 Linux, ``PyLong_AsLongLong`` where long is 32-bit."""


@attrs.frozen
class PathArg:
    """A converted path argument (CPython's ``path_t``)."""

    original: object
    """What CPython reports as the error's ``filename``: the str/bytes after ``__fspath__``, the
    fd object exactly as given (True, an ``__index__`` object...), or None."""
    path: str | None
    """The path as str (bytes decoded with ``os.fsdecode``); None for an fd or None."""
    fd: int | None
    """The descriptor when an integer was given (``allow_fd``), else None."""
    is_bytes: bool
    """The caller gave bytes (or a PathLike returning bytes): listdir, readlink... answer bytes."""

    @property
    def is_null(self) -> bool:
        """CPython hands the system call a NULL path: None was given, or fd -1, which CPython
        cannot tell from "no fd". stat then fails with EFAULT, listdir and scandir list "."."""
        return self.path is None and self.fd in (None, -1)


@attrs.frozen
class _PathSpec:
    """Who is converting a path: the names and the permissions for CPython's messages."""

    function: str | None
    argument: str
    allow_fd: bool
    nullable: bool

    def prefix(self) -> str:
        return f"{self.function}: " if self.function else ""

    def wrong_type(self, value: object) -> str:
        """``path_converter``'s "should be ..." text, also its DeprecationWarning for buffers."""
        if self.allow_fd and self.nullable:
            allowed = "string, bytes, os.PathLike, integer or None"
        elif self.allow_fd:
            allowed = "string, bytes, os.PathLike or integer"
        elif self.nullable:
            allowed = "string, bytes, os.PathLike or None"
        else:
            allowed = "string, bytes or os.PathLike"
        return f"{self.prefix()}{self.argument} should be {allowed}, not {_type_name(value)}"

    def embedded_null(self) -> ValueError:
        return ValueError(f"{self.prefix()}embedded null character in {self.argument}")


# -- paths --------------------------------------------------------------------------------------


_PATHLIB_CLASSES: Final = frozenset({"PosixPath", "PurePosixPath"})
_PATHLIB_MODULES: Final = frozenset({"pathlib", "pathlib._local"})  # 3.11-3.12, 3.13
"""Where pathlib's concrete POSIX classes live (by name: args.py does not import pathlib)."""
_DIRENTRY_MODULES: Final = frozenset({"posixbackend._direntry", "posixbackend.emulated.direntry"})
"""Where the emulated backend's os.DirEntry classes live (C and Python; by name, as above)."""


def path_arg(
    value: object,
    function: str | None,
    *,
    argument: str = "path",
    allow_fd: bool = False,
    nullable: bool = False,
) -> PathArg:
    """Convert a path argument as CPython's ``path_converter`` does: str, bytes, PathLike, an
    fd when ``allow_fd``, None when ``nullable``."""
    if type(value) is str and value.isascii() and "\0" not in value:
        return PathArg(original=value, path=value, fd=None, is_bytes=False)
    if type(value) is int and allow_fd and C_INT.min <= value <= C_INT.max:
        return PathArg(original=value, path=None, fd=value, is_bytes=False)
    if value is None and nullable:
        return PathArg(original=None, path=None, fd=None, is_bytes=False)
    cls = type(value)
    name = cls.__name__
    if (name in _PATHLIB_CLASSES and cls.__module__ in _PATHLIB_MODULES) or (
        name == "DirEntry" and cls.__module__ in _DIRENTRY_MODULES
    ):
        # pathlib's own classes and the backend's DirEntry (shutil.copytree hands those on):
        # no buffer, no __index__, and __fspath__ gives a str (a DirEntry of a bytes listing
        # gives bytes: the general path) -- what the general path below would find, without
        # its look-ups
        text = value.__fspath__()  # type: ignore[attr-defined]
        if type(text) is str and text.isascii() and "\0" not in text:
            return PathArg(original=text, path=text, fd=None, is_bytes=False)
    spec = _PathSpec(function, argument, allow_fd, nullable)
    if not isinstance(value, (str, bytes)):
        # CPython's order: a buffer (3.11) before an fd, and __fspath__ only for neither
        if not _PY312 and _has_buffer(value):
            return _buffer_path(value, spec)
        if allow_fd and _type_has(value, "__index__"):
            return PathArg(original=value, path=None, fd=_fd_number(value), is_bytes=False)
        value = _fspath(value, spec)
    if isinstance(value, str):
        return _str_path(value, spec)
    return _bytes_path(value, value, spec)


def _fspath(value: object, spec: _PathSpec) -> str | bytes:
    """``__fspath__()``, looked up on the type as CPython does, with its TypeErrors."""
    method = _special(value, "__fspath__")
    if method is _MISSING or (_PY313 and method is None):
        raise TypeError(spec.wrong_type(value))
    result = _call(method)
    if not isinstance(result, (str, bytes)):
        raise TypeError(
            f"expected {_type_name(value)}.__fspath__() to return str or bytes, "
            f"not {_type_name(result)}"
        )
    return result


def _str_path(text: str, spec: _PathSpec) -> PathArg:
    """A str path: encodable with the file system encoding, without NUL."""
    encoded = str.encode(text, sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
    if b"\0" in encoded:
        raise spec.embedded_null() if _PY313 else ValueError("embedded null byte")
    return PathArg(original=text, path=_decode(encoded), fd=None, is_bytes=False)


def _bytes_path(data: bytes, original: object, spec: _PathSpec) -> PathArg:
    """A bytes path (or a 3.11 buffer's bytes), without NUL."""
    if b"\0" in data:
        raise spec.embedded_null()
    return PathArg(original=original, path=_decode(data), fd=None, is_bytes=True)


def _buffer_path(value: object, spec: _PathSpec) -> PathArg:
    """3.11 only: a bytes-like object other than bytes, deprecated but still accepted."""
    _warn(spec.wrong_type(value), DeprecationWarning)
    with memoryview(cast(bytes, value)) as view:
        data = view.tobytes()
    return _bytes_path(data, value, spec)


def _decode(data: bytes) -> str:
    """``os.fsdecode``, immune to subclasses that override ``decode``."""
    return bytes.decode(data, sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())


def _has_buffer(value: object) -> bool:
    """Whether ``value`` exports a buffer (CPython's ``PyObject_CheckBuffer``)."""
    try:
        memoryview(cast(bytes, value)).release()
    except TypeError:
        return False
    except BufferError:
        return True  # it has a buffer, which refused this request: converting will say so
    return True


# -- descriptors --------------------------------------------------------------------------------


def fd_arg(value: object) -> int:
    """A descriptor given as a C int (Argument Clinic ``int``: os.read, os.close, os.fstat...)."""
    return int_arg(value)


def dir_fd_arg(value: object) -> int | None:
    """A ``dir_fd`` argument (``dir_fd_converter``): None (or AT_FDCWD itself) for the current
    directory, else an fd that fits a C int."""
    if value is None:
        return DEFAULT_DIR_FD
    if not _type_has(value, "__index__"):
        raise TypeError(f"argument should be integer or None, not {_type_name(value)}")
    fd = _fd_number(value)
    return DEFAULT_DIR_FD if fd == AT_FDCWD else fd


def fildes_arg(value: object) -> int:
    """A descriptor as ``PyObject_AsFileDescriptor`` takes it (os.fsync, os.fdatasync,
    os.fchdir, os.fpathconf): an int, or an object with a ``fileno()`` method; never negative."""
    if isinstance(value, int):
        _warn_if_bool(value)
        fd = int_arg(value)
    else:
        fileno = getattr(value, "fileno", _MISSING)
        if fileno is _MISSING:
            raise TypeError("argument must be an int, or have a fileno() method.")
        result = _call(fileno)
        if not isinstance(result, int):
            raise TypeError("fileno() returned a non-integer")
        fd = int_arg(result)
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


def _fd_number(value: object) -> int:
    """CPython's ``_fd_converter`` (fds given as paths, and dir_fd): any integer in C int range."""
    _warn_if_bool(value)
    number = _index(value)
    if number > C_INT.max:
        raise OverflowError("fd is greater than maximum")
    if number < C_INT.min:
        raise OverflowError("fd is less than minimum")
    return number


def _warn_if_bool(value: object) -> None:
    """3.13 warns when True or False is used as a descriptor."""
    if _PY313 and isinstance(value, bool):
        _warn("bool is used as a file descriptor", RuntimeWarning)


# -- integers -----------------------------------------------------------------------------------


def int_arg(value: object, *, ctype: CInteger = C_INT) -> int:
    """An integer argument through ``__index__`` that must fit ``ctype`` (Argument Clinic's
    ``int``, ``long``, ``Py_ssize_t`` converters): flags, modes, whence, lengths..."""
    if type(value) is int and ctype.min <= value <= ctype.max:
        return value
    number = _index(value)
    if not ctype.min <= number <= ctype.max:
        raise OverflowError(f"Python int too large to convert to C {ctype.name}")
    return number


def ssize_arg(value: object) -> int:
    """A Py_ssize_t (os.read's length, os.sendfile's count...)."""
    return int_arg(value, ctype=C_SSIZE_T)


def off_t_arg(value: object) -> int:
    """A Py_off_t (os.lseek's position, os.pread's offset, os.truncate's length...)."""
    return int_arg(value, ctype=C_OFF_T)


def uid_arg(value: object) -> int:
    """A user id as ``_Py_Uid_Converter`` takes it; -1 (and ``(uid_t)-1``) means "unchanged"."""
    return _id_arg(value, "uid")


def gid_arg(value: object) -> int:
    """A group id as ``_Py_Gid_Converter`` takes it; -1 (and ``(gid_t)-1``) means "unchanged"."""
    return _id_arg(value, "gid")


def _id_arg(value: object, kind: str) -> int:
    """The uid/gid converter: the value is read as a C long, then as an unsigned long, and must
    survive the cast to the 32-bit id type. Its quirk is kept: 2**32 <= value < 2**63 is
    reported as "less than minimum" (the truncation check jumps to the underflow message)."""
    number = _index_or_none(value)
    if number is None:
        raise TypeError(f"{kind} should be integer, not {_type_name(value)}")
    all_ones = (1 << _ID_BITS) - 1
    if number in (-1, all_ones):
        return -1
    if C_LONG.min <= number <= C_LONG.max:
        if 0 <= number < all_ones:
            return number
        raise OverflowError(f"{kind} is less than minimum")
    if number < 0:
        raise OverflowError(f"{kind} is less than minimum")
    raise OverflowError(f"{kind} is greater than maximum")


def _index_or_none(value: object) -> int | None:
    """``__index__``, or None however it fails: the id converters replace its error with their
    own TypeError, leaving no trace of the first (no ``__context__``), as CPython does."""
    try:
        return _index(value)
    except Exception:  # noqa: BLE001 - discarded on purpose, see above
        return None


def dev_arg(value: object) -> int:
    """A device number (``_Py_Dev_Converter``, os.mknod): an int (no ``__index__``) that fits an
    unsigned 64-bit dev_t; 3.13 also takes -1, meaning NODEV."""
    if not isinstance(value, int):
        raise TypeError("an integer is required")
    number = operator.index(value)
    if _PY313 and number == -1:
        return NODEV
    if number < 0:
        raise OverflowError("can't convert negative int to unsigned")
    if number >= 1 << 64:
        raise OverflowError("int too big to convert")
    return number


def _index(value: object) -> int:
    """``operator.index``: CPython's messages for objects that are not integers."""
    return operator.index(value)  # type: ignore[arg-type]  # (no typing.cast call: hot)


# -- buffers ------------------------------------------------------------------------------------

_SIMPLE_BUFFER: Final = struct.Struct("")
"""Its ``unpack_from`` takes a buffer through Argument Clinic's ``Py_buffer`` converter, as
os.write does: letting it check the argument gives CPython's errors for every exporter."""


def buffer_arg(value: object) -> bytes:
    """The bytes of a bytes-like argument (os.write, os.pwrite, os.writev's buffers)."""
    if type(value) is bytes:
        return value
    _SIMPLE_BUFFER.unpack_from(cast(bytes, value))
    with memoryview(cast(bytes, value)) as view:
        return view.tobytes()


# -- combinations -------------------------------------------------------------------------------


def check_path_and_dir_fd(function: str, path: PathArg, dir_fd: int | None) -> None:
    """``path_and_dir_fd_invalid``: a dir_fd needs a path to be relative to."""
    if path.path is None and not _is_default_dir_fd(dir_fd):
        raise ValueError(f"{function}: can't specify dir_fd without matching path")


def check_dir_fd_and_fd(function: str, path: PathArg, dir_fd: int | None) -> None:
    """``dir_fd_and_fd_invalid``: an fd as the path excludes dir_fd (fd -1 counts as none)."""
    if path.fd not in (None, -1) and not _is_default_dir_fd(dir_fd):
        raise ValueError(f"{function}: can't specify both dir_fd and fd")


def check_fd_and_follow_symlinks(function: str, path: PathArg, follow_symlinks: object) -> None:
    """``fd_and_follow_symlinks_invalid``: an fd excludes follow_symlinks=False. CPython tests
    ``fd > 0``, so fd 0 passes."""
    if path.fd is not None and path.fd > 0 and not follow_symlinks:
        raise ValueError(f"{function}: cannot use fd and follow_symlinks together")


def argument_unavailable(function: str | None, argument: str) -> NotImplementedError:
    """The error for an argument the platform cannot honour (``argument_unavailable_error``)."""
    prefix = f"{function}: " if function else ""
    return NotImplementedError(f"{prefix}{argument} unavailable on this platform")


def _is_default_dir_fd(dir_fd: int | None) -> bool:
    return dir_fd is None or dir_fd == AT_FDCWD


# -- times --------------------------------------------------------------------------------------


def utime_times(function: str, times: object, ns: object = NOT_GIVEN) -> tuple[int, int] | None:
    """os.utime's ``times`` and ``ns``, as (atime_ns, mtime_ns), or None for "now".

    ``ns`` must default to :data:`NOT_GIVEN`: CPython refuses an explicit ``ns=None``. Floats
    in ``times`` are rounded towards minus infinity, as CPython's ``_PyTime_ROUND_FLOOR``.
    CPython checks these after converting path and dir_fd, before the ``check_*`` functions.
    """
    if times is None and ns.__class__ is tuple:  # ns=(int, int), shutil.copystat's call
        pair: Any = ns
        if len(pair) == 2:
            atime_ns, mtime_ns = pair
            if (
                atime_ns.__class__ is int
                and mtime_ns.__class__ is int
                and -_NS_LIMIT <= atime_ns < _NS_LIMIT
                and -_NS_LIMIT <= mtime_ns < _NS_LIMIT
            ):  # what the split below gives back whole: seconds fit a time_t
                exact: tuple[int, int] = pair
                return exact
    if times is not None and ns is not NOT_GIVEN:
        raise ValueError(f"{function}: you may specify either 'times' or 'ns' but not both")
    if times is not None:
        pair = _exact_pair(times)
        if pair is None:
            raise TypeError(f"{function}: 'times' must be either a tuple of two ints or None")
        return _timestamp_ns(pair[0]), _timestamp_ns(pair[1])
    if ns is not NOT_GIVEN:
        pair = _exact_pair(ns)
        if pair is None:
            raise TypeError(f"{function}: 'ns' must be a tuple of two ints")
        atime, mtime = _split_ns(pair[0]), _split_ns(pair[1])  # both converted, then checked
        if not (0 <= atime[1] < _NANOSECONDS and 0 <= mtime[1] < _NANOSECONDS):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))  # what utimensat(2) answers
        return atime[0] * _NANOSECONDS + atime[1], mtime[0] * _NANOSECONDS + mtime[1]
    return None


def _exact_pair(value: object) -> tuple[object, object] | None:
    """``value`` if it is a tuple (not a subclass: CPython checks exactly) of two items."""
    pair: Any = value  # (typed as Any rather than cast: no call on this path)
    if pair.__class__ is not tuple or len(pair) != 2:
        return None
    exact: tuple[object, object] = pair
    return exact


def _timestamp_ns(value: object) -> int:
    """One of ``times``: a float (floored to the nanosecond) or an integer number of seconds
    (``_PyTime_ObjectToTimespec``)."""
    if isinstance(value, float):
        return _float_seconds_ns(float.__float__(value))
    return _time_t(value) * _NANOSECONDS


def _float_seconds_ns(seconds: float) -> int:
    """Split into whole seconds and floored nanoseconds in double arithmetic, as CPython does,
    so results match bit for bit."""
    if math.isnan(seconds):
        raise ValueError("Invalid value NaN (not a number)")
    fraction, whole = math.modf(seconds)
    nanoseconds = math.floor(fraction * 1e9)
    if nanoseconds >= _NANOSECONDS:
        nanoseconds -= _NANOSECONDS
        whole += 1.0
    elif nanoseconds < 0:
        nanoseconds += _NANOSECONDS
        whole -= 1.0
    if not -_TIME_T_LIMIT <= whole < _TIME_T_LIMIT:
        raise _time_t_overflow()
    return int(whole) * _NANOSECONDS + nanoseconds


def _split_ns(value: object) -> tuple[int, int]:
    """One of ``ns``: ``divmod(value, 10**9)`` gives seconds (a time_t) and nanoseconds (a C
    long), as CPython's ``split_py_long_to_s_and_ns``; any divmod result is honoured (the
    kernel judges the nanoseconds, after both times are converted)."""
    dividend: Any = value
    pair: object = divmod(dividend, _NANOSECONDS)
    if not isinstance(pair, tuple) or len(pair) != 2:
        raise TypeError(
            f"{_type_name(value)}.__divmod__() must return a 2-tuple, not {_type_name(pair)}"
        )
    return _time_t(pair[0]), int_arg(pair[1], ctype=C_LONG)


def _time_t(value: object) -> int:
    """``_PyLong_AsTime_t``: an integer (``__index__``) that fits a 64-bit time_t."""
    try:
        number = _index(value)
    except OverflowError:
        raise _time_t_overflow() from None
    if not -_TIME_T_LIMIT <= number < _TIME_T_LIMIT:
        raise _time_t_overflow()
    return number


def _time_t_overflow() -> OverflowError:
    return OverflowError("timestamp out of range for platform time_t")


# -- helpers ------------------------------------------------------------------------------------


def _type_name(value: object) -> str:
    """CPython's ``_PyType_Name``: the type's name after its last dot."""
    return type(value).__name__.rpartition(".")[2]


def _type_has(value: object, name: str) -> bool:
    """Whether the type of ``value`` defines ``name`` (how CPython tests for ``__index__``)."""
    return _type_lookup(type(value), name) is not _MISSING


def _type_lookup(cls: type, name: str) -> object:
    """``_PyType_Lookup``: ``name`` in the class dictionaries along the MRO, not the instance."""
    for klass in cls.__mro__:
        found = vars(klass).get(name, _MISSING)
        if found is not _MISSING:
            return found
    return _MISSING


def _special(value: object, name: str) -> object:
    """``_PyObject_LookupSpecial``: a special method found on the type, bound to ``value``."""
    found = _type_lookup(type(value), name)
    if found is _MISSING:
        return _MISSING
    getter = _type_lookup(type(found), "__get__")
    return found if getter is _MISSING else _call(getter, found, value, type(value))


def _call(function: object, *arguments: object) -> object:
    """Call what the caller's object supplied; a non-callable fails as CPython's call does."""
    return cast(Any, function)(*arguments)


def _warn(message: str, category: type[Warning]) -> None:
    """Warn at the caller's call site: the first frame outside this package, as CPython's
    ``PyErr_WarnEx(..., 1)`` names the Python frame that called the ``os`` function."""
    frame = sys._getframe(1)
    level = 2
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(
        "posixbackend."
    ):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
