"""The remote provider's wire format: length-prefixed frames of plain values.

A frame is a 4-byte big-endian length and that many bytes of one encoded value. Values are
None, bool, int, float, str, bytes and tuples of values (lists are sent as tuples), each a tag
byte and its content; nothing else can be encoded or decoded, so decoding a peer's frame runs
none of its code (no pickle, no marshal). Decoding is bounded: a frame longer than
:data:`MAX_FRAME`, a truncated value, an unknown tag, bytes left over or nesting deeper than
:data:`MAX_DEPTH` is a :class:`WireError`.
"""

from __future__ import annotations

import fcntl
import posix
import resource
import struct
from collections.abc import Callable
from typing import Any, Final

MAX_FRAME: Final = 64 << 20
"""The longest frame either side accepts (a read or write is split to stay below it)."""
MAX_DEPTH: Final = 8
"""How deeply tuples may nest in one value."""
MAX_INT_BYTES: Final = 64
"""The longest integer encoding (512 bits: more than any file size, time or inode)."""

_LENGTH = struct.Struct(">I")
_FLOAT = struct.Struct(">d")

Value = None | bool | int | float | str | bytes | tuple["Value", ...]
"""What a frame can carry."""


class WireError(ValueError):
    """A frame that is not a well-formed encoding (the connection it came on is ended)."""


class ConnectionClosed(EOFError):
    """The peer closed the connection (between frames, or in the middle of one)."""


def encode(value: object) -> bytes:
    """The frame (length included) that carries ``value``; TypeError for what cannot go."""
    body = bytearray()
    _encode(value, body, 0)
    if len(body) > MAX_FRAME:
        raise OverflowError(f"a frame of {len(body)} bytes exceeds the limit of {MAX_FRAME}")
    return _LENGTH.pack(len(body)) + body


def _encode(value: object, out: bytearray, depth: int) -> None:
    if value is None:
        out += b"N"
    elif value is True:
        out += b"T"
    elif value is False:
        out += b"F"
    elif type(value) is int:
        size = (value.bit_length() + 8) // 8  # one sign bit more than the magnitude needs
        if size > MAX_INT_BYTES:
            raise OverflowError(f"an integer of {value.bit_length()} bits cannot be sent")
        out += b"i" + bytes((size,)) + value.to_bytes(size, "big", signed=True)
    elif type(value) is float:
        out += b"f" + _FLOAT.pack(value)
    elif type(value) is str:
        data = value.encode("utf-8", "surrogatepass")  # lone surrogates (fsdecoded names) too
        out += b"s" + _LENGTH.pack(len(data)) + data
    elif type(value) is bytes:
        out += b"b" + _LENGTH.pack(len(value)) + value
    elif type(value) in (tuple, list):
        if depth >= MAX_DEPTH:
            raise ValueError(f"values nest deeper than {MAX_DEPTH}")
        items: tuple[object, ...] | list[object] = value  # type: ignore[assignment]
        out += b"l" + _LENGTH.pack(len(items))
        for item in items:
            _encode(item, out, depth + 1)
    else:
        raise TypeError(f"{type(value).__name__} cannot be sent to a remote file system")


def decode(body: bytes) -> Value:
    """The value a frame's body (without its length) carries; WireError if malformed."""
    value, end = _decode(memoryview(body), 0, 0)
    if end != len(body):
        raise WireError(f"{len(body) - end} bytes after the value")
    return value


def _take(body: memoryview, start: int, size: int) -> tuple[bytes, int]:
    end = start + size
    if end > len(body):
        raise WireError("truncated value")
    return bytes(body[start:end]), end


def _length(body: memoryview, start: int) -> tuple[int, int]:
    data, end = _take(body, start, _LENGTH.size)
    return _LENGTH.unpack(data)[0], end


def _decode(body: memoryview, start: int, depth: int) -> tuple[Value, int]:
    tag, start = _take(body, start, 1)
    if tag == b"N":
        return None, start
    if tag == b"T":
        return True, start
    if tag == b"F":
        return False, start
    if tag == b"i":
        size_byte, start = _take(body, start, 1)
        if not 0 < size_byte[0] <= MAX_INT_BYTES:
            raise WireError(f"bad integer size {size_byte[0]}")
        data, start = _take(body, start, size_byte[0])
        return int.from_bytes(data, "big", signed=True), start
    if tag == b"f":
        data, start = _take(body, start, _FLOAT.size)
        return _FLOAT.unpack(data)[0], start
    if tag in (b"s", b"b"):
        size, start = _length(body, start)
        data, start = _take(body, start, size)
        if tag == b"b":
            return data, start
        try:
            return data.decode("utf-8", "surrogatepass"), start
        except UnicodeDecodeError as error:
            raise WireError(f"bad text: {error}") from None
    if tag == b"l":
        if depth >= MAX_DEPTH:
            raise WireError(f"values nest deeper than {MAX_DEPTH}")
        count, start = _length(body, start)
        if count > len(body) - start:  # every item takes at least a byte
            raise WireError("truncated value")
        items = []
        for _ in range(count):
            item, start = _decode(body, start, depth + 1)
            items.append(item)
        return tuple(items), start
    raise WireError(f"unknown tag {tag!r}")


def _real(function: Callable[..., Any]) -> Callable[..., Any]:
    """The function itself, or the real one a stand-in installed over it wraps."""
    wrapped: Callable[..., Any] = getattr(function, "__wrapped__", function)
    return wrapped


_fcntl: Final = _real(fcntl.fcntl)
# Bound at import: a server may run on a library thread outside any permissions, and a
# program can replace a module's attributes (the real posix module's too, which the import
# system holds), but not what these names hold.
_READ: Final = _real(posix.read)
_WRITE: Final = _real(posix.write)
_GETRLIMIT: Final = resource.getrlimit


def high_duplicate(fd: int) -> int:
    """A close-on-exec duplicate of ``fd`` numbered near the top of the process's range (a
    plain duplicate when none is free there).

    Low numbers are the ones an emulated backend hands out as its own descriptors, and C code
    that is given such a number (CPython's traceback printer dups and reads it) would reach
    the real descriptor of that number: a connection must never be it."""
    soft = _GETRLIMIT(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY or not 0 < soft <= 1 << 16:
        soft = 1 << 16
    try:
        return int(_fcntl(fd, fcntl.F_DUPFD_CLOEXEC, max(soft - 64, 3)))
    except OSError:  # none free up there (a low limit)
        return int(_fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3))


def moved_high(fd: int) -> int:
    """``fd`` moved to :func:`high_duplicate`'s number (``fd`` itself is closed)."""
    high = high_duplicate(fd)
    posix.close(fd)
    return high


def send_all(fd: int, frame: bytes) -> None:
    """Write the whole of ``frame`` to ``fd`` (a connected stream socket)."""
    view = memoryview(frame)
    while view:
        written = _WRITE(fd, view)
        view = view[written:]


def receive(fd: int) -> bytes:
    """Read one frame's body from ``fd``; ConnectionClosed at end of stream, WireError for a
    length over :data:`MAX_FRAME` (nothing that large is ever allocated)."""
    header = _read_exactly(fd, _LENGTH.size, at_start=True)
    size = _LENGTH.unpack(header)[0]
    if size > MAX_FRAME:
        raise WireError(f"a frame of {size} bytes exceeds the limit of {MAX_FRAME}")
    return _read_exactly(fd, size, at_start=False)


def _read_exactly(fd: int, size: int, *, at_start: bool) -> bytes:
    """``size`` bytes, read as they arrive (the buffer grows with what came, not with what
    the peer announced)."""
    data = bytearray()
    while len(data) < size:
        part = _READ(fd, min(size - len(data), 1 << 20))
        if not part:
            where = "between frames" if at_start and not data else "in the middle of a frame"
            raise ConnectionClosed(f"the peer closed the connection {where}")
        data += part
    return bytes(data)
