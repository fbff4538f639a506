"""The result pipe: JSON frames from the child, then the snapshot of its memory file system.

Each frame is a 4-byte big-endian length and a JSON object with a ``kind``: ``confined``
(written before any guest code runs, so the parent can trust it), then ``finished`` (written
after the guest ended), or ``setup_error`` when the child could not prepare the run. After
``finished`` comes the snapshot, a tar archive sent in chunks (a length, then that many bytes)
ended by an empty chunk, so that a snapshot cut short is known to be. The parent reads what
arrives; whatever follows the confinement frame came from a process guest code ran in, so it
is parsed defensively and never trusted for the limits the parent itself observes.
"""

from __future__ import annotations

import json
import posix
import struct
from typing import Any

import attrs

HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 20
"""No frame is larger than this (frames hold names and short messages, not file data)."""


class FrameWriter:
    """Writes frames, then the snapshot's chunks, to a pipe descriptor (blocking writes)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.written = 0
        """Snapshot bytes written so far."""

    def frame(self, kind: str, **fields: Any) -> None:
        """Write the frame ``kind`` with ``fields``."""
        body = json.dumps({"kind": kind, **fields}).encode()
        self._send(HEADER.pack(len(body)) + body)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Send ``data`` as one snapshot chunk (the write of a file object, for tarfile)."""
        if data:
            self._send(HEADER.pack(len(data)) + bytes(data))
            self.written += len(data)
        return len(data)

    def tell(self) -> int:
        """Snapshot bytes written so far (tarfile asks)."""
        return self.written

    def end(self) -> None:
        """Mark the snapshot complete (an empty chunk)."""
        self._send(HEADER.pack(0))

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[posix.write(self.fd, view) :]


@attrs.frozen
class ResultStream:
    """What the parent made of the result pipe."""

    frames: dict[str, dict[str, Any]]
    """The frames read, by kind."""
    snapshot: bytes | None
    """The complete snapshot archive (None if it did not all arrive)."""
    problem: str | None
    """Why the stream could not be read to its end, if it could not."""


def read_result_stream(data: bytes) -> ResultStream:
    """Split what the child wrote into its frames and the snapshot that follows them."""
    frames: dict[str, dict[str, Any]] = {}
    reader = _Reader(data)
    while reader.more() and "finished" not in frames:
        body = reader.chunk(MAX_FRAME)
        if body is None:
            return ResultStream(frames, None, reader.problem)
        try:
            frame = json.loads(body)
        except ValueError:
            return ResultStream(frames, None, "the result holds a frame that is not JSON")
        if not isinstance(frame, dict) or not isinstance(frame.get("kind"), str):
            return ResultStream(frames, None, "the result holds a frame without a kind")
        frames.setdefault(frame["kind"], frame)
    if "finished" not in frames:
        return ResultStream(frames, None, None)
    chunks: list[bytes] = []
    while True:
        chunk = reader.chunk(None)
        if chunk is None:
            return ResultStream(frames, None, reader.problem or "the snapshot is incomplete")
        if not chunk:
            return ResultStream(frames, b"".join(chunks), None)
        chunks.append(chunk)


class _Reader:
    """Length-prefixed pieces of a byte string, read in order."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0
        self.problem: str | None = None

    def more(self) -> bool:
        return self.offset < len(self.data)

    def chunk(self, limit: int | None) -> bytes | None:
        """The next piece; None (with :attr:`problem` set if it is damaged) when there is none."""
        if len(self.data) - self.offset < HEADER.size:
            if self.more():
                self.problem = "the result ends inside a frame header"
            return None
        (size,) = HEADER.unpack_from(self.data, self.offset)
        start = self.offset + HEADER.size
        if (limit is not None and size > limit) or start + size > len(self.data):
            self.problem = "the result holds a truncated or oversized frame"
            return None
        self.offset = start + size
        return self.data[start : self.offset]
