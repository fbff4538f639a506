"""The result channel as the parent reads it: frames and snapshot in order, within bounds.

The grammar is ``setup_error`` alone, or ``confined``, ``finished``, the snapshot archive and
the end of the stream. What precedes ``confined`` was written before any guest code ran and is
trusted (a malformed frame there is the child's own failure, :attr:`Channel.child_error`);
everything after it is the guest's to forge: a frame out of place, a field of the wrong type,
a malformed archive is a :attr:`Channel.protocol_error`, and reading stops there. More bytes
than the run's bounds allow stop it too (:attr:`Channel.oversized`). The stream may end
anywhere (the child was killed, or the guest ended its process): only a complete snapshot
gives files.

The parent reads in a thread of its own (:class:`ChannelReader`) with blocking reads of exactly
the size each piece declares, so each file's data lands once, in the bytes object the result
keeps, while the main thread goes on draining stdout and stderr and watching the clock.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
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
ALL_SIGNALS: Final = frozenset(int(number) for number in signal.valid_signals())
"""Every signal number, as plain ints, made once: the reader thread blocks them all.
signal.valid_signals() makes a Signals member of each number, through an exception for each
real-time one (~0.2 ms of the caller's CPU per guest)."""
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
    """Read the whole channel from ``source``; never raises for what the stream holds."""
    channel = Channel()
    metered = Metered(source, bounds.total)
    stage = "before the confinement"
    try:
        first = _frame(metered)
        if first["kind"] == "setup_error":
            check_fields(first, {"message": (str,)})
            channel.setup_error = first["message"]
            return channel
        _confined(first, channel)
        stage = "before the finished frame"
        channel.finished = _finished(_frame(metered), bounds)
        stage = "inside the snapshot"
        channel.snapshot = ArchiveReader(metered, bounds.largest_file, bounds.members).read()
    except ProtocolViolation as error:
        if channel.applied is None:
            channel.child_error = str(error)
        else:
            channel.protocol_error = str(error)
            channel.finished = None  # nothing after the confinement counts any more
    except Oversized as error:
        channel.oversized = str(error)
    except ChannelEnded:
        channel.ended = stage
    finally:
        channel.received = metered.received
    return channel


def _frame(source: Metered) -> dict[str, Any]:
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
            raise ProtocolViolation("a stream that carried ancillary or out-of-band data")
        raise ChannelEnded(received)


class ChannelReader:
    """Reads a channel in a thread of its own; the main thread waits on :attr:`wakeup`."""

    def __init__(self, sock: socket.socket, bounds: Bounds) -> None:
        self.sock = sock
        self.bounds = bounds
        self.channel: Channel | None = None
        self.failure: BaseException | None = None
        """An error of the reader itself (a bug), raised again by :meth:`result`."""
        self.wakeup, self._notify = os.pipe()
        """Readable once the reader is done."""
        self._thread = threading.Thread(
            target=self._run, name="posixbackend-isolation-channel", daemon=True
        )
        self._lock = threading.Lock()
        self._started = self._ended = self._abandoned = False

    def start(self) -> None:
        with self._lock:
            self._thread.start()
            self._started = True

    def _run(self) -> None:
        # Signals go to the main thread; none cuts a read here short (MSG_WAITALL).
        signal.pthread_sigmask(signal.SIG_BLOCK, ALL_SIGNALS)
        try:
            self.channel = read_channel(SocketSource(self.sock), self.bounds)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread, raised there
            self.failure = error
        finally:
            with self._lock:
                os.write(self._notify, b"\0")
                self._ended = True
                abandoned = self._abandoned
            if abandoned:  # close() was interrupted while it waited: the last one out closes
                self._release()

    def close(self) -> None:
        """Stop reading (what has not arrived yet is cut), wait for the thread, and close the
        socket and the wakeup pipe (if that wait is interrupted, the thread closes them when
        it ends: never while it may still use them)."""
        try:
            if self._started:
                with contextlib.suppress(OSError):  # not connected any more: nothing to stop
                    self.sock.shutdown(socket.SHUT_RDWR)
                self._thread.join()
        finally:
            with self._lock:
                release = self._ended or not self._started
                self._abandoned = not release
            if release:
                self._release()

    def _release(self) -> None:
        self.sock.close()
        for fd in (self.wakeup, self._notify):
            os.close(fd)

    def result(self) -> Channel:
        """The channel, once the reader is done (its own failure raised again)."""
        if self.failure is not None:
            raise self.failure
        assert self.channel is not None, "the reader is done"
        return self.channel
