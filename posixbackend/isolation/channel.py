"""The result channel as the parent reads it: frames and snapshot in order, within bounds.

The grammar is ``setup_error`` alone, or ``confined``, ``finished``, the snapshot archive and
the end of the stream. What precedes ``confined`` was written before any guest code ran and is
trusted (a malformed frame there is the child's own failure, :attr:`Channel.child_error`);
everything after it is the guest's to forge: a frame out of place, a field of the wrong type,
a malformed archive is a :attr:`Channel.protocol_error`, and reading stops there. More bytes
than the run's bounds allow stop it too (:attr:`Channel.oversized`). The stream may end
anywhere (the child was killed, or the guest ended its process): only a complete snapshot
gives files.

The parent reads the channel as its bytes come, in the thread that drains stdout and stderr
and watches the clock (:class:`ChannelParser`, fed by the supervision's selector: a thread of
its own per guest cost ~0.5 ms of the caller's CPU in thread starts and wake-ups). What has
come is kept until the piece the parser waits for (a frame, a header, a file's data) is
whole; each step of the parse reads all it needs before it changes anything, so a step that
finds its bytes missing is run again, from where it began, once they are there. What is kept
is bounded: the piece waited for (no larger than the run's bounds allow, checked on the size
it declares, before its bytes come) and one read more. :func:`read_channel` reads a whole
stream from a blocking source with the same steps.
"""

from __future__ import annotations

import ctypes
import os
import socket
import time
from typing import Any, Final

import attrs

from posixbackend.isolation.archive import (
    MAX_MEMBERS,
    ArchiveReader,
    ChannelEnded,
    Metered,
    Oversized,
    Snapshot,
    Source,
)
from posixbackend.isolation.frames import (
    HEADER,
    MAX_FRAME,
    ProtocolViolation,
    check_fields,
    parse_frame,
    printable_name,
)
from posixbackend.isolation.limits import Limits

SNAPSHOT_SLACK: Final = 16 << 20
"""The channel may carry this much beyond the memory limit (frames and archive headers)."""
SINGLE_READ: Final = 1 << 30
"""The most one recv call is asked for (the kernel returns at most about 2 GiB at once)."""
ANCILLARY: Final = "a stream that carried ancillary or out-of-band data"
"""The protocol error of a channel along which descriptors (or out-of-band data) were sent."""
_REPORTABLE: Final = {
    "memory": "memory_bytes",
    "file_size": "file_size_bytes",
    "open_files": "open_files",
    "wall": "wall_seconds",
}
"""The limits the child may say the guest ran into, and the Limits field each needs set."""


def physical_memory() -> int:
    """The machine's memory in bytes: no file of a guest without a memory limit is larger."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


@attrs.frozen
class Bounds:
    """How much the parent accepts from one run's channel."""

    total: int
    """Bytes, frames and archive included."""
    largest_file: int
    """The largest file a guest could hold (its memory): a larger one is forged."""
    reportable: frozenset[str]
    """The limit kinds the guest may report running into (those this run has)."""
    members: int = MAX_MEMBERS

    @classmethod
    def for_limits(cls, limits: Limits) -> Bounds:
        """The memory limit plus :data:`SNAPSHOT_SLACK` (the machine's memory without one)."""
        largest = limits.memory_bytes or physical_memory()
        reportable = {kind for kind, field in _REPORTABLE.items() if getattr(limits, field)}
        return cls(largest + SNAPSHOT_SLACK, largest, frozenset(reportable))


@attrs.frozen
class Finished:
    """The finished frame: how the guest ended, by the child's (so the guest's) word."""

    status: int
    exception: str | None
    """The type name of the exception that ended the guest, if one did."""
    reported_limit: str | None
    """The limit that exception came from, if any (one of :attr:`Bounds.reportable`)."""


@attrs.define
class Channel:
    """What the parent made of the channel."""

    setup_error: str | None = None
    """The child could not prepare the run (a trusted frame before the confinement)."""
    child_error: str | None = None
    """A malformed frame before the confinement: the child itself failed."""
    applied: tuple[str, ...] | None = None
    """The confinement steps applied (None until the confined frame came)."""
    not_applied: dict[str, str] = attrs.Factory(dict)
    confined_at: float | None = None
    """When the confined frame arrived (time.monotonic): the guest starts right after."""
    finished: Finished | None = None
    snapshot: Snapshot | None = None
    """The guest's files, when the whole archive arrived and was well formed."""
    protocol_error: str | None = None
    oversized: str | None = None
    """Why the channel was not read to its end: it would have passed the bounds."""
    ended: str | None = None
    """Where the stream ended early, if it did ('before the finished frame'...)."""
    received: int = 0
    """Bytes read."""


def read_channel(source: Source, bounds: Bounds) -> Channel:
    """Read the whole channel from ``source`` (blocking reads); never raises for what the
    stream holds."""
    steps = _Steps(bounds)
    metered = Metered(source, bounds.total)
    try:
        while not steps.step(metered):
            pass
    except (ProtocolViolation, Oversized, ChannelEnded) as error:
        steps.fail(error)
    finally:
        steps.channel.received = metered.received
    return steps.channel


class _Steps:
    """The channel's grammar, one piece at a time; each step reads all it needs before it
    changes anything, so that one whose bytes have not come yet can be run again."""

    def __init__(self, bounds: Bounds) -> None:
        self.bounds = bounds
        self.channel = Channel()
        self.stage = "before the confinement"
        self.archive: ArchiveReader | None = None

    def step(self, source: Source) -> bool:
        """Read the next piece from ``source``: whether the channel is complete."""
        channel = self.channel
        if self.stage == "before the confinement":
            first = _frame(source)
            if first["kind"] == "setup_error":
                check_fields(first, {"message": (str,)})
                channel.setup_error = first["message"]
                return True
            _confined(first, channel)
            self.stage = "before the finished frame"
        elif self.stage == "before the finished frame":
            channel.finished = _finished(_frame(source), self.bounds)
            self.stage = "inside the snapshot"
            self.archive = ArchiveReader(source, self.bounds.largest_file, self.bounds.members)
        else:
            assert self.archive is not None, "made with the finished frame"
            self.archive.source = source
            snapshot = self.archive.step()
            if snapshot is None:
                return False
            channel.snapshot = snapshot
            return True
        return False

    def fail(self, error: ProtocolViolation | Oversized | ChannelEnded) -> None:
        """What ``error`` makes of the channel (reading stops there)."""
        channel = self.channel
        if isinstance(error, ProtocolViolation):
            if channel.applied is None:
                channel.child_error = str(error)
            else:
                channel.protocol_error = str(error)
                channel.finished = None  # nothing after the confinement counts any more
        elif isinstance(error, Oversized):
            channel.oversized = str(error)
        else:
            channel.ended = self.stage


class _Missing(Exception):
    """The bytes a step asked for have not all come yet (the stream goes on)."""

    def __init__(self, until: int) -> None:
        super().__init__(until)
        self.until = until
        """How many bytes the stream must have brought before the step can be run again."""


LARGE_PIECE: Final = 1 << 20
"""A piece at least this large (a file's data) is received straight into the bytes object the
result keeps (:class:`_Piece`), not gathered and then copied: the parent holds it once."""
_new_bytes = ctypes.pythonapi.PyBytes_FromStringAndSize
_new_bytes.restype = ctypes.py_object
_new_bytes.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t)
_bytes_address = ctypes.pythonapi.PyBytes_AsString
_bytes_address.restype = ctypes.c_void_p
_bytes_address.argtypes = (ctypes.py_object,)


class _Piece:
    """A large piece the running step waits for, filled as its bytes come: a bytes object made
    with its contents uninitialised (``PyBytes_FromStringAndSize(NULL, size)``, as
    ``socket.recv`` makes the object it receives into) and written through a view on its
    buffer until it is whole; nobody else holds it before then."""

    def __init__(self, start: int, size: int) -> None:
        self.start = start
        self.size = size
        self.filled = 0
        try:
            self.data: bytes = _new_bytes(None, size)
        except MemoryError:
            raise Oversized(f"{size} bytes, more than the parent could allocate") from None
        self._view: memoryview | None = memoryview(
            (ctypes.c_char * size).from_address(_bytes_address(self.data))
        ).cast("B")

    def fill(self, data: bytes | bytearray | memoryview) -> int:
        """Take what of ``data`` the piece still lacks: how many bytes that was."""
        assert self._view is not None, "filled until whole, then no more"
        count = min(len(data), self.size - self.filled)
        self._view[self.filled : self.filled + count] = data[:count]
        self.filled += count
        if self.filled == self.size:
            self._view.release()
            self._view = None
        return count


class _Received:
    """The bytes received and not yet taken by a complete step, as a source with a budget
    (as :class:`~posixbackend.isolation.archive.Metered`): a read that would pass it is
    Oversized before its bytes come; one beyond what has come is :class:`_Missing` (or, at
    the end of the stream, ChannelEnded). Positions count from the start of the stream: what
    came before a large piece is in :attr:`before`, the piece in :attr:`piece`, what came
    after it in :attr:`after`."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.taken = 0
        """Bytes taken by complete steps (dropped)."""
        self.position = 0
        """Where the running step reads."""
        self.before = bytearray()
        """The bytes from :attr:`taken` on (up to the piece's start, when there is one)."""
        self.piece: _Piece | None = None
        self.after = bytearray()
        """The bytes after the piece."""
        self.ended = False

    @property
    def received(self) -> int:
        """Bytes read by the parser (complete steps, and the running one's so far)."""
        return self.position

    @property
    def arrived(self) -> int:
        """Bytes that came through the channel."""
        if self.piece is None:
            return self.taken + len(self.before)
        return self.piece.start + self.piece.filled + len(self.after)

    @property
    def kept(self) -> int:
        """Bytes held (the piece counted whole: it is allocated so)."""
        piece = 0 if self.piece is None else self.piece.size
        return len(self.before) + piece + len(self.after)

    def add(self, data: bytes) -> None:
        """Bytes that came."""
        piece = self.piece
        if piece is None:
            self.before += data
            return
        used = piece.fill(data) if piece.filled < piece.size else 0
        self.after += data[used:] if used else data

    def rewind(self) -> None:
        """The running step starts again from its beginning."""
        self.position = self.taken

    def read(self, size: int) -> bytes:
        if size > self.budget - self.received:
            raise Oversized(f"{self.received + size} bytes or more")
        start, piece = self.position, self.piece
        if piece is not None and start >= piece.start:
            return self._read_piece_or_after(size, piece)
        available = self.taken + len(self.before) - start
        if size > available:
            if self.ended:
                raise ChannelEnded(available)
            if size >= LARGE_PIECE:  # (once its header is read: little of it has come)
                assert piece is None, "one large piece at a time"
                self.piece = piece = _Piece(start, size)
                at = start - self.taken
                with memoryview(self.before) as view:
                    piece.fill(view[at:])
                del self.before[at:]
            raise _Missing(start + size)
        at = start - self.taken
        with memoryview(self.before) as view:
            data = bytes(view[at : at + size])  # (one copy: the piece's own bytes)
        self.position += size
        return data

    def _read_piece_or_after(self, size: int, piece: _Piece) -> bytes:
        start = self.position
        end = piece.start + piece.size
        if start == piece.start:
            # the same step runs again from its beginning: it asks for the same piece
            assert size == piece.size, "a step reads the same pieces each time it runs"
            if piece.filled < piece.size:
                if self.ended:
                    raise ChannelEnded(piece.filled)
                raise _Missing(end)
            self.position = end
            return piece.data
        at = start - end
        available = len(self.after) - at
        if size > available:
            if self.ended:
                raise ChannelEnded(available)
            raise _Missing(start + size)
        with memoryview(self.after) as view:
            data = bytes(view[at : at + size])
        self.position += size
        return data

    def commit(self) -> None:
        """The running step is complete: drop what it read."""
        piece = self.piece
        if piece is not None and self.position >= piece.start + piece.size:
            # past the piece (now the result's): what came after it is all there is
            self.before, self.after = self.after, bytearray()
            self.taken = piece.start + piece.size
            self.piece = None
        del self.before[: self.position - self.taken]  # (a bytearray drops its head in place)
        self.taken = self.position

    def drop(self) -> None:
        """Keep nothing more (reading is over)."""
        self.before, self.after, self.piece = bytearray(), bytearray(), None


class ChannelParser:
    """The channel read as its bytes come (:meth:`feed`, then :meth:`end`), by the thread
    that supervises the child; :attr:`done` once nothing more is read from it (the whole
    channel, or where it broke: a protocol violation or the bounds)."""

    def __init__(self, bounds: Bounds) -> None:
        self._steps = _Steps(bounds)
        self._received = _Received(bounds.total)
        self._until = 0
        """The step waits until this many bytes have come."""
        self.done = False

    @property
    def channel(self) -> Channel:
        """What the parser made of the channel so far (whole once :attr:`done`)."""
        return self._steps.channel

    def feed(self, data: bytes) -> None:
        """Bytes that came through the channel (nothing once :attr:`done`)."""
        if self.done:
            return
        self._received.add(data)
        if self._received.arrived >= self._until:  # (the step waited for can be whole)
            self._parse()

    def carried_ancillary(self) -> None:
        """Descriptors came along the bytes (the kernel closed them): a protocol error."""
        if not self.done:
            self._steps.fail(ProtocolViolation(ANCILLARY))
            self._finish()

    def end(self) -> None:
        """The stream ended (the child closed it or was killed, or the parent stopped
        reading): the steps left end it."""
        if not self.done:
            self._received.ended = True
            self._parse()

    def _parse(self) -> None:
        received = self._received
        try:
            while True:
                received.rewind()
                complete = self._steps.step(received)
                received.commit()
                if complete:
                    break
        except _Missing as missing:
            self._until = missing.until
            return
        except (ProtocolViolation, Oversized, ChannelEnded) as error:
            self._steps.fail(error)
        self._finish()

    def _finish(self) -> None:
        self.done = True
        self.channel.received = self._received.received
        self._received.drop()  # (what was not taken is not kept)


def _frame(source: Source) -> dict[str, Any]:
    """The next frame."""
    (size,) = HEADER.unpack(source.read(HEADER.size))
    if size > MAX_FRAME:
        raise ProtocolViolation(f"a frame of {size} bytes (at most {MAX_FRAME})")
    return parse_frame(source.read(size))


def _confined(frame: dict[str, Any], channel: Channel) -> None:
    """Take the confined frame (the first one, trusted, checked all the same)."""
    if frame["kind"] != "confined":
        raise ProtocolViolation(f"a first frame of kind {frame['kind'][:40]!r}")
    check_fields(frame, {"applied": (list,), "not_applied": (dict,)})
    applied, not_applied = frame["applied"], frame["not_applied"]
    if not all(isinstance(name, str) for name in applied) or not all(
        isinstance(why, str) for why in not_applied.values()
    ):
        raise ProtocolViolation("a confined frame whose names are not all str")
    channel.applied = tuple(applied)
    channel.not_applied = dict(not_applied)
    channel.confined_at = time.monotonic()


def _finished(frame: dict[str, Any], bounds: Bounds) -> Finished:
    """The finished frame, checked field by field."""
    kind = frame["kind"]
    if kind != "finished":
        raise ProtocolViolation(f"a {kind[:40]!r} frame where the finished frame belongs")
    check_fields(frame, {"status": (int,), "exception": (str, type(None)),
                         "limit": (str, type(None))})  # fmt: skip
    limit = frame["limit"]
    if limit is not None and limit not in bounds.reportable:
        raise ProtocolViolation(f"a reported limit {limit[:40]!r} this run does not have")
    exception = printable_name(frame["exception"], "an exception")
    return Finished(frame["status"], exception, limit)


class SocketSource:
    """The parent's end of the channel: blocking reads of exactly the size asked for."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def read(self, size: int) -> bytes:
        if size <= SINGLE_READ:
            data = self._recv(size)
            if len(data) < size:
                self._short(len(data))
            return data
        # beyond what one recv returns: gathered, then copied once into bytes
        try:
            buffer = bytearray(size)
        except MemoryError:
            raise Oversized(f"{size} bytes, more than the parent could allocate") from None
        with memoryview(buffer) as view:
            done = 0
            while done < size:
                wanted = min(size - done, SINGLE_READ)
                try:
                    got = self.sock.recv_into(view[done:], wanted, socket.MSG_WAITALL)
                except OSError:  # as in _recv
                    raise ChannelEnded(done) from None
                done += got
                if got < wanted:
                    self._short(done)
        try:
            return bytes(buffer)
        except MemoryError:
            raise Oversized(f"{size} bytes, more than the parent could copy") from None

    def _recv(self, size: int) -> bytes:
        try:
            return self.sock.recv(size, socket.MSG_WAITALL)
        except MemoryError:
            raise Oversized(f"{size} bytes, more than the parent could allocate") from None
        except OSError:  # the parent shut the socket down, or the kernel failed it
            raise ChannelEnded(0) from None

    def _short(self, received: int) -> None:
        """A read that returned less than asked: the end of the stream, or a message boundary
        only the guest can make (descriptors or out-of-band data sent along)."""
        try:
            more = self.sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK)
        except BlockingIOError:
            more = b"?"
        except OSError:
            more = b""
        if more:
            raise ProtocolViolation(ANCILLARY)
        raise ChannelEnded(received)
