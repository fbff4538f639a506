"""The result channel's frames: what the child writes, and the bounded parse the parent makes.

The channel is a stream socket. The child writes JSON frames, each a 4-byte big-endian length
and an object with a ``kind``: ``confined`` (before any guest code runs, so the parent can
trust it) and then ``finished`` (after the guest ended), or ``setup_error`` alone when the
child could not prepare the run. After ``finished`` comes the snapshot of the guest's memory
file system, a tar archive written straight to the stream (its own end-of-archive blocks say
it is complete; see :mod:`posixbackend.isolation.archive`).

Everything after ``confined`` was written by a process guest code ran in, so the parent parses
it with hard bounds: a frame's size, its JSON nesting depth (checked on the raw bytes before
:func:`json.loads` can recurse), exact fields and types. A frame that breaks them is a
:class:`ProtocolViolation`.
"""

from __future__ import annotations

import json
import posix
import re
import struct
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 64 << 10
"""No frame is larger than this (frames hold names and short messages, never file data)."""
MAX_DEPTH = 3
"""The deepest nesting of JSON arrays and objects a frame may have (the frames need 2)."""
MAX_NAME = 256
"""The longest exception type name a finished frame may carry."""
BUFFER = 64 << 10
"""The child gathers snapshot writes up to this size before each system call."""

_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
"""A JSON string as the scanner reads it (possessive: linear time, whatever the input); an
unterminated one runs to the end."""
_BRACKETS = re.compile(rb"[\[\]{}]")


class ProtocolViolation(Exception):
    """The channel holds bytes the child's protocol never produces: the guest wrote them."""


class FrameWriter:
    """The child's end of the channel: frames, then the snapshot (blocking writes)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.written = 0
        """Snapshot bytes written so far."""
        self._pending = bytearray()

    def frame(self, kind: str, **fields: Any) -> None:
        """Write the frame ``kind`` with ``fields``."""
        self.frame_then(kind, b"", **fields)

    def frame_then(self, kind: str, then: bytes, /, **fields: Any) -> None:
        """Write the frame ``kind`` with ``fields``, and ``then`` after it in the same system
        call (a whole snapshot, already made: the parent wakes up once for both)."""
        body = json.dumps({"kind": kind, **fields}).encode()
        self.end()
        self._send(HEADER.pack(len(body)) + body + then)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Send ``data`` as part of the snapshot (the write of a file object, for tarfile);
        small writes are gathered, so that a member costs no system call of its own."""
        size = len(data)
        self.written += size
        if len(self._pending) + size < BUFFER:
            self._pending += data
            return size
        self.end()
        self._send(data)
        return size

    def tell(self) -> int:
        """Snapshot bytes written so far (tarfile asks)."""
        return self.written

    def end(self) -> None:
        """Send whatever is gathered (the snapshot's last bytes, when it is complete)."""
        if self._pending:
            self._send(self._pending)
            self._pending = bytearray()

    def _send(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[posix.write(self.fd, view) :]


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in the JSON text ``body`` (strings skipped as the
    JSON scanner skips them), without recursion: an upper bound of what json.loads recurses
    into, also for text it then refuses."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub(b"", body)):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def parse_frame(body: bytes) -> dict[str, Any]:
    """The JSON object ``body`` holds, with a str ``kind``; ProtocolViolation otherwise."""
    if len(body) > MAX_FRAME:
        raise ProtocolViolation(f"a frame of {len(body)} bytes (at most {MAX_FRAME})")
    depth = json_depth(body)
    if depth > MAX_DEPTH:
        raise ProtocolViolation(f"a frame nested {depth} levels deep (at most {MAX_DEPTH})")
    try:
        frame = json.loads(body)
    except ValueError as error:  # bad JSON, bad UTF-8, an integer of too many digits
        raise ProtocolViolation(f"a frame that is not JSON ({error})") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("kind"), str):
        raise ProtocolViolation("a frame that is not an object with a kind")
    return frame


def check_fields(frame: dict[str, Any], fields: dict[str, tuple[type, ...]]) -> None:
    """ProtocolViolation unless ``frame`` has exactly ``fields`` (and its kind), each of one
    of the types given (an int is never a bool here)."""
    kind = frame["kind"]
    names = set(frame) - {"kind"}
    if names != set(fields):
        unexpected = sorted(names ^ set(fields))
        raise ProtocolViolation(f"a {kind!r} frame with wrong fields: {unexpected!r}")
    for name, types in fields.items():
        value = frame[name]
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise ProtocolViolation(f"a {kind!r} frame whose {name!r} is a {type(value).__name__}")


def printable_name(value: str | None, what: str) -> str | None:
    """``value`` if it is None or a short printable str; ProtocolViolation otherwise."""
    if value is not None and not (0 < len(value) <= MAX_NAME and value.isprintable()):
        raise ProtocolViolation(f"{what} that is not a printable name: {value[:MAX_NAME]!r}")
    return value
