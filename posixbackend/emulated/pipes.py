"""In-memory pipes with Linux semantics: what ``os.pipe()`` creates on the emulated backend.

A pipe keeps its bytes in a ring of page-sized buffers filled and drained by the rules of
Linux's ``fs/pipe.c``, so capacity, partial writes, EAGAIN and poll states match a real pipe
byte for byte (checked against ``os.pipe()`` by tests/posixbackend/test_pipes.py):

- 16 slots of one 4096-byte page each (64 KiB). A write first tops up the last page with the
  part of its length beyond whole pages (``len % 4096``) if that part fits there, then fills
  fresh pages; a page's slot is freed only when it has been read completely. So what fits
  depends on how earlier writes were cut: after ``write(1)``, only 61441 bytes more fit in
  4096-byte writes (15 fresh pages), yet 63136 in one 100000-byte write.
- Writes of at most PIPE_BUF bytes go in one step, never interleaved; a nonblocking one is
  all or nothing (EAGAIN). Longer writes may interleave with other writers at page borders.
- A writer blocked when the last reader closes returns what it wrote so far, or raises
  BrokenPipeError if that is nothing; no SIGPIPE is sent (Python ignores it anyway). A write
  of zero bytes returns 0 even without readers; a read of zero bytes returns ``b''`` at once.
- fstat: ``S_IFIFO | 0o600``, one link, size 0, st_blksize 4096; all three times are the
  creation time and stay so, as on Linux since 6.15 (commit f017b0a4951f "pipe: don't update
  {a,c,m}time for anonymous pipes"; older kernels moved them on each read and write).
- poll: the read end reports POLLIN with data and POLLHUP without writers, the write end
  POLLOUT while a slot is free and POLLERR without readers.

- splice: data spliced in from a file goes into fresh pages cut at the file's page borders
  (``PipeWriter.splice_in``), once a slot is free, as much as the free slots hold; spliced out
  to a file, what the file takes leaves the pipe (``PipeReader.splice_out``); between two
  pipes whole buffers move, the last one perhaps split (``PipeReader.splice_to``), so a
  part-filled page still takes a slot of its own, as in Linux's splice_pipe_to_pipe.

One end object is one open file description: ``dup`` shares it (the backend counts the
descriptors), and the pipe treats an end as gone when its object is closed, or, if a read,
write or splice on it is still in progress (blocked in another thread), when that call returns:
the kernel's reference to the file keeps the end open just as long. Opening the pipe
again, as through ``/proc/self/fd/N``, makes a new description: :meth:`Pipe.open_reader` and
:meth:`Pipe.open_writer`. Not emulated: packet mode (``pipe2(O_DIRECT)``), ``F_SETPIPE_SZ``,
the per-user pipe page limits, and FIFO opening rules.
"""

from __future__ import annotations

import abc
import errno
import itertools
import posix
import select
import stat as _stat
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Self

import compat
from posixbackend.emulated._realpipe import READ_EVENTS, WRITE_EVENTS, RealPipe
from vfs.errors import os_error

SHARED_SPLICE = compat.declare(
    id="emulated.pipe.shared_splice",
    function="os.splice",
    aspect="pipes shared with host children",
    level=compat.Level.INFO,
    explanation="splice, sendfile and copy_file_range into or out of a pipe whose end was "
    "given to a host child (it became a real pipe) are refused with ENOTSUP",
)


def _shared_splice_error() -> OSError:
    SHARED_SPLICE.hit()
    return OSError(errno.ENOTSUP, "splice on a pipe shared with a host child is not emulated")


PAGE_SIZE = 4096
"""The size of one buffer in the ring."""
PIPE_BUF = 4096
"""Writes of at most this many bytes are atomic (pipe(7))."""
DEFAULT_CAPACITY = 65536
"""Linux's default pipe capacity: 16 pages."""
PIPE_DEVICE = posix.makedev(0, 0xFF)
"""st_dev of every pipe: a pseudo device like Linux's pipefs (below the memory file systems')."""
PIPE_MODE = _stat.S_IFIFO | 0o600
REAL_SLICE = 0.005
"""Seconds between looks at promoted pipes in :func:`wait_ready` (the kernel wakes no
:class:`Readiness`)."""

Bytes = bytes | bytearray | memoryview

_inode_numbers = itertools.count(1)
_inode_lock = threading.Lock()


def _next_inode() -> int:
    """A fresh pipe inode number: never reused within the process, as pipefs numbers."""
    with _inode_lock:
        return next(_inode_numbers)


def _byte_view(data: Bytes) -> memoryview:
    """``data`` as a flat view of unsigned bytes, the way os.write sees any buffer."""
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _deadline(timeout: float | None) -> float | None:
    """The monotonic time at which a wait of ``timeout`` seconds gives up (None: never)."""
    if timeout is None:
        return None
    if timeout < 0:
        raise ValueError("timeout must be non-negative")
    return time.monotonic() + timeout


def _remaining(deadline: float | None) -> float | None:
    """Seconds left until ``deadline``, never negative."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class _Page:
    """One buffer of the ring: the bytes written into a page and how far they have been read."""

    __slots__ = ("data", "start")

    def __init__(self, data: bytearray) -> None:
        self.data = data
        self.start = 0


class PageRing:
    """The bytes in a pipe, kept the way Linux keeps them: at most ``slots`` page buffers.

    Not thread-safe on its own: :class:`Pipe` calls it under its lock.
    """

    __slots__ = ("_pages", "_slots", "size")

    def __init__(self, slots: int) -> None:
        self._pages: deque[_Page] = deque()
        self._slots = slots
        self.size = 0
        """Bytes buffered and not yet read (what FIONREAD reports)."""

    @property
    def empty(self) -> bool:
        """Whether there is nothing to read (a page is freed as soon as it is read out)."""
        return not self._pages

    @property
    def pages(self) -> int:
        """How many slots hold a page now."""
        return len(self._pages)

    def resize(self, slots: int) -> None:
        """Hold at most ``slots`` pages from now on (the caller checked they fit)."""
        self._slots = slots

    @property
    def full(self) -> bool:
        """Whether every slot holds a page, so only a merge into the last page could still fit."""
        return len(self._pages) >= self._slots

    def merge(self, view: memoryview) -> int:
        """Linux's first step of a write: the part beyond whole pages joins the last page.

        The first ``len(view) % PAGE_SIZE`` bytes are appended to the last page if they fit
        there whole; return how many bytes were taken (0 or that part's length).
        """
        chars = len(view) & (PAGE_SIZE - 1)
        if chars and self._pages:
            last = self._pages[-1]
            if len(last.data) + chars <= PAGE_SIZE:
                last.data += view[:chars]
                self.size += chars
                return chars
        return 0

    @property
    def free_slots(self) -> int:
        """How many more pages the ring can take."""
        return self._slots - len(self._pages)

    def fill(self, view: memoryview, first: int = PAGE_SIZE) -> int:
        """Copy ``view`` into fresh pages while slots are free; return how many bytes fit.

        The first page takes at most ``first`` bytes: splice cuts a file's data at the file's
        own page borders, so reading from the middle of a page fills a page partly.
        """
        pages, total, taken = self._pages, len(view), 0
        size = first
        while taken < total and len(pages) < self._slots:
            page = bytearray(view[taken : taken + size])
            pages.append(_Page(page))
            taken += len(page)
            size = PAGE_SIZE
        self.size += taken
        return taken

    def peek(self, n: int) -> bytes:
        """Up to ``n`` bytes from the front, left in place."""
        chunks: list[bytes | bytearray] = []
        for page in self._pages:
            if n <= 0:
                break
            data, start = page.data, page.start
            chunk = data[start : start + n]
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def move_to(self, other: PageRing, n: int) -> int:
        """Move up to ``n`` bytes into ``other``'s free slots, as splice moves pipe buffers:
        a page read out whole goes over as it is (part-filled pages stay part-filled, each
        taking a slot), the last one may be split; return how many bytes moved."""
        pages, moved = self._pages, 0
        while n and pages and other.free_slots:
            page = pages[0]
            data, start = page.data, page.start
            left = len(data) - start
            if left <= n:
                pages.popleft()
                if start:
                    page.data, page.start = data[start:], 0
                other._pages.append(page)
            else:
                other._pages.append(_Page(data[start : start + n]))
                page.start = start + n
                left = n
            other.size += left
            self.size -= left
            moved += left
            n -= left
        return moved

    def take(self, n: int) -> list[bytearray]:
        """Remove up to ``n`` bytes from the front, freeing the pages read out; in order."""
        chunks: list[bytearray] = []
        pages = self._pages
        while n and pages:
            page = pages[0]
            data, start = page.data, page.start
            left = len(data) - start
            if left <= n:
                chunks.append(data if start == 0 else data[start:])
                pages.popleft()
                n -= left
                self.size -= left
            else:
                chunks.append(data[start : start + n])
                page.start = start + n
                self.size -= n
                n = 0
        return chunks


class Readiness:
    """A wake-up call that many pipe ends share, for select/poll emulation.

    Watch the ends, note :attr:`sequence`, check the ends, and when none is ready wait for the
    sequence to move past the noted value: a change between the check and the wait is never
    lost. Pipes call :meth:`notify` whenever one of their ends may have become ready.
    """

    __slots__ = ("_changed", "_sequence")

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        """Guards the sequence number; poll/select waiters sleep on it between notifications.
        Pipes notify holding their own lock, so the order is always a pipe's lock, then this
        one; a waiter holds only this one while it sleeps."""
        self._sequence = 0

    @property
    def sequence(self) -> int:
        """How many notifications have been given so far."""
        return self._sequence

    def notify(self) -> None:
        """Record a change and wake every waiter."""
        with self._changed:
            self._sequence += 1
            self._changed.notify_all()

    def wait(self, seen: int, timeout: float | None = None) -> bool:
        """Wait until :attr:`sequence` differs from ``seen``; False if ``timeout`` s ran out."""
        with self._changed:
            return self._changed.wait_for(lambda: self._sequence != seen, timeout)


class Pipe:
    """One pipe: the page ring its ends share, how many of each end are open, its inode status.

    Thread-safe: one lock guards everything, with a condition for readers waiting for data
    and one for writers waiting for room. Blocking waits can be interrupted by a signal
    handler's exception (KeyboardInterrupt; what a long write had already put in stays in
    the pipe) and can be bounded by ``timeout``, after which the call raises TimeoutError
    (ETIMEDOUT) if it transferred nothing, or returns the count, as a signal would.
    """

    __slots__ = (
        "_data", "_lock", "_readers", "_real", "_ring", "_room", "_stat", "_watchers", "_writers",
        "capacity", "ino", "reader", "writer",
    )  # fmt: skip

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        *,
        uid: int | None = None,
        gid: int | None = None,
        created_ns: int | None = None,
    ) -> None:
        """A pipe of ``capacity`` bytes (rounded up to whole pages) with one end of each kind.

        ``uid`` and ``gid`` default to the process's effective ids, ``created_ns`` to now.
        """
        if capacity <= 0:
            raise ValueError(f"pipe capacity must be positive, not {capacity}")
        slots = -(-capacity // PAGE_SIZE)
        self.capacity = slots * PAGE_SIZE
        self.ino = _next_inode()
        # One lock for the ring and the end counts, as pipe->mutex in fs/pipe.c. A write that
        # finds the ring full waits on _room, which releases it: a write longer than PIPE_BUF
        # may so go in a page at a time, other writers' bytes between its pages, while one
        # of at most PIPE_BUF bytes always fits in the one free slot it waits for, so it goes
        # in one step, never interleaved.
        self._lock = threading.Lock()
        self._data = threading.Condition(self._lock)
        """Readers sleep here until bytes arrive or the last writer goes."""
        self._room = threading.Condition(self._lock)
        """Writers sleep here until a page is free or the last reader goes."""
        self._ring = PageRing(slots)
        self._watchers: list[Readiness] = []
        self._readers = self._writers = 0
        self._real: RealPipe | None = None
        """The kernel pipe every end goes through once promoted (see :meth:`promote`)."""
        self._stat = self._make_stat(
            posix.geteuid() if uid is None else uid,
            posix.getegid() if gid is None else gid,
            time.time_ns() if created_ns is None else created_ns,
        )
        self.reader = self.open_reader()
        self.writer = self.open_writer()

    def _make_stat(self, uid: int, gid: int, now: int) -> posix.stat_result:
        """The fstat record, fixed for the pipe's life (Linux >= 6.15 never updates its times)."""
        return posix.stat_result(
            (
                PIPE_MODE, self.ino, PIPE_DEVICE, 1, uid, gid, 0,
                now // 1_000_000_000, now // 1_000_000_000, now // 1_000_000_000,
                now / 1e9, now / 1e9, now / 1e9,
                now, now, now,
                PAGE_SIZE, 0, 0,
            )
        )  # fmt: skip

    def open_reader(self) -> PipeReader:
        """A new open file description for reading (as opening /proc/self/fd/N for reading)."""
        with self._lock:
            self._readers += 1
        return PipeReader(self)

    def open_writer(self) -> PipeWriter:
        """A new open file description for writing."""
        with self._lock:
            self._writers += 1
        return PipeWriter(self)

    def stat(self) -> posix.stat_result:
        """The pipe's status, the same through either end."""
        return self._stat

    @property
    def real(self) -> RealPipe | None:
        """The kernel pipe behind this one, once :meth:`promote` made it."""
        return self._real

    def promote(self) -> RealPipe:
        """Move this pipe into a real kernel pipe (once; later calls return the same one).

        The bytes buffered so far go into it first, then every end switches to it in one
        step: an interrupt before that leaves the emulated pipe as it was. Calls waiting in
        the emulated pipe wake and go on through the real one.
        """
        with self._lock:
            real = self._real
            if real is not None:
                return real
            real = RealPipe.holding(self._ring.peek(self._ring.size), self.capacity)
            try:
                if not self._readers:
                    real.close_reader()
                if not self._writers:
                    real.close_writer()
            except BaseException:
                real.close_reader()
                real.close_writer()
                raise
            self._real = real  # the switch
            self._ring = PageRing(self._ring.free_slots + self._ring.pages)
            self._data.notify_all()
            self._became_writable()
            return real

    def _enter(self, end: PipeEnd) -> RealPipe | None:
        """Start a call on ``end`` that may go to the real pipe: EBADF if it is closed; the
        real pipe if promoted. The caller must :meth:`_exit` (the count keeps the real
        descriptors open until then)."""
        with self._lock:
            if end._closed:
                raise os_error(errno.EBADF)
            end._calls += 1
            return self._real

    def _exit(self, end: PipeEnd) -> None:
        with self._lock:
            self._leave(end)

    def _read_real(
        self, end: PipeEnd, n: int, nonblocking: bool, timeout: float | None
    ) -> list[bytearray]:
        """:meth:`_read` of a promoted pipe."""
        deadline = _deadline(timeout)
        buffer = bytearray(n)
        real = self._enter(end)
        try:
            assert real is not None
            count = real.readinto(memoryview(buffer), nonblocking, deadline)
        finally:
            self._exit(end)
        del buffer[count:]
        return [buffer] if count else []

    def _write_real(
        self, end: PipeEnd, view: memoryview, nonblocking: bool, timeout: float | None
    ) -> int:
        """:meth:`_write` of a promoted pipe."""
        deadline = _deadline(timeout)
        real = self._enter(end)
        try:
            assert real is not None
            return real.write(view, nonblocking, deadline)
        finally:
            self._exit(end)

    # -- called by the ends ------------------------------------------------------------------

    def _read(
        self, end: PipeEnd, n: int, nonblocking: bool, timeout: float | None
    ) -> list[bytearray]:
        """Take up to ``n`` bytes once some are there; ``[]`` at end of file."""
        deadline = _deadline(timeout)
        if self._real is None:
            chunks = self._read_ring(end, n, nonblocking, deadline)
            if chunks is not None:
                return chunks
        left = _remaining(deadline)
        return self._read_real(end, n, nonblocking, left)

    def _read_ring(
        self, end: PipeEnd, n: int, nonblocking: bool, deadline: float | None
    ) -> list[bytearray] | None:
        """:meth:`_read` from the emulated ring; None if the pipe is (or became) promoted."""
        with self._lock:
            if end._closed:
                raise os_error(errno.EBADF)
            end._calls += 1  # nothing is called before the try: no exception lands between
            try:
                ring = self._ring
                if (
                    self._real is None
                    and ring.empty
                    and not self._await_data(nonblocking, deadline)
                ):
                    return []
                if self._real is not None:
                    return None
                was_full = ring.full
                chunks = ring.take(n)
                if was_full and not ring.full:
                    self._became_writable()
                return chunks
            finally:
                self._leave(end)

    def _await_data(self, nonblocking: bool, deadline: float | None) -> bool:
        """Under the lock, with the ring empty: wait for data; False at end of file (no
        writer left and nothing in the pipe). EAGAIN when non-blocking, ETIMEDOUT past
        ``deadline``."""
        if not self._writers:
            return False
        if nonblocking:
            raise os_error(errno.EAGAIN)
        if not self._data.wait_for(self._readable, _remaining(deadline)):
            raise os_error(errno.ETIMEDOUT)
        return self._real is not None or not self._ring.empty

    def _write(
        self, end: PipeEnd, view: memoryview, nonblocking: bool, timeout: float | None
    ) -> int:
        """Write ``view`` by Linux's rules (see the module docstring); return the count."""
        deadline = _deadline(timeout)
        written = 0
        if self._real is None:
            written, done = self._write_ring(end, view, nonblocking, deadline)
            if done:
                return written
        try:
            rest = self._write_real(end, view[written:], nonblocking, _remaining(deadline))
        except OSError:
            if written:  # what went into the ring before the promotion counts
                return written
            raise
        return written + rest

    def _write_ring(
        self, end: PipeEnd, view: memoryview, nonblocking: bool, deadline: float | None
    ) -> tuple[int, bool]:
        """:meth:`_write` into the emulated ring: the count, and False if the pipe is (or
        became) promoted before all of ``view`` went in (the rest goes to the real pipe)."""
        total = len(view)
        with self._lock:
            if end._closed:
                raise os_error(errno.EBADF)
            end._calls += 1  # nothing is called before the try: no exception lands between
            try:
                if self._real is not None:
                    return 0, False
                if not self._readers:
                    raise os_error(errno.EPIPE)
                written = self._put(view, merge=True)
                while written < total:  # the ring is full here
                    if nonblocking:
                        return self._stopped(written, errno.EAGAIN), True
                    if not self._room.wait_for(self._writable, _remaining(deadline)):
                        return self._stopped(written, errno.ETIMEDOUT), True
                    if self.real is not None:  # promoted while waiting
                        return written, False
                    if not self._readers:
                        return self._stopped(written, errno.EPIPE), True
                    written += self._put(view[written:], merge=False)
                return written, True
            finally:
                self._leave(end)

    def _put(self, view: memoryview, merge: bool) -> int:
        """Add what fits of ``view`` (merging only on a write's first step, as Linux does)."""
        ring = self._ring
        was_empty = ring.empty
        added = ring.merge(view) if merge else 0
        added += ring.fill(view[added:])
        if added and was_empty:
            self._data.notify_all()
            self._notify_watchers()
        return added

    def _splice_in(
        self,
        end: PipeEnd,
        read: Callable[[int], bytes],
        limit: int,
        skew: int,
        *,
        nonblocking: bool,
        timeout: float | None,
    ) -> int:
        """Linux's splice_file_to_pipe: wait for a free slot, then take from ``read`` as much
        as the free slots hold (its data cut at page borders ``skew`` bytes in)."""
        deadline = _deadline(timeout)
        with self._lock:
            if end._closed:
                raise os_error(errno.EBADF)
            end._calls += 1  # nothing is called before the try: no exception lands between
            try:
                ring = self._ring
                if not self._readers:
                    raise os_error(errno.EPIPE)
                if ring.full:
                    if nonblocking:
                        raise os_error(errno.EAGAIN)
                    if not self._room.wait_for(self._writable, _remaining(deadline)):
                        raise os_error(errno.ETIMEDOUT)
                    if self._real is not None:
                        raise _shared_splice_error()
                    if not self._readers:
                        raise os_error(errno.EPIPE)
                data = read(min(limit, ring.free_slots * PAGE_SIZE - skew))
                if not data:
                    return 0
                was_empty = ring.empty
                ring.fill(memoryview(data), PAGE_SIZE - skew)
                if was_empty:
                    self._data.notify_all()
                    self._notify_watchers()
                return len(data)
            finally:
                self._leave(end)

    def _splice_out(
        self,
        end: PipeEnd,
        write: Callable[[bytes], int],
        limit: int,
        nonblocking: bool,
        timeout: float | None,
    ) -> int:
        """Linux's splice_from_pipe: wait for data (0 once no writer is left), offer up to
        ``limit`` bytes to ``write`` and remove what it took (nothing if it raises)."""
        deadline = _deadline(timeout)
        with self._lock:
            if end._closed:
                raise os_error(errno.EBADF)
            end._calls += 1  # nothing is called before the try: no exception lands between
            try:
                ring = self._ring
                if ring.empty and not self._await_data(nonblocking, deadline):
                    return 0
                if self._real is not None:
                    raise _shared_splice_error()
                taken = write(ring.peek(limit))
                was_full = ring.full
                ring.take(taken)
                if was_full and not ring.full:
                    self._became_writable()
                return taken
            finally:
                self._leave(end)

    def _splice_to(
        self,
        end: PipeEnd,
        target_end: PipeEnd,
        limit: int,
        nonblocking: bool,
        timeout: float | None,
    ) -> int:
        """Linux's splice_pipe_to_pipe: wait for data here and room there, then move whole
        buffers (the last one perhaps split) while both allow. Both ends stay open until it
        returns, whoever closes their descriptors meanwhile."""
        entered: list[PipeEnd] = []
        try:
            for held in (end, target_end):
                with held._pipe._lock:
                    if held._closed:
                        raise os_error(errno.EBADF)
                    held._calls += 1
                    entered.append(held)  # right after the count: no exception between
            return self._move_buffers(target_end._pipe, limit, nonblocking, timeout)
        finally:
            for held in entered:
                with held._pipe._lock:
                    held._pipe._leave(held)

    def _move_buffers(
        self, target: Pipe, limit: int, nonblocking: bool, timeout: float | None
    ) -> int:
        """The body of :meth:`_splice_to`."""
        deadline = _deadline(timeout)
        first, second = (self, target) if self.ino < target.ino else (target, self)
        while True:
            with self._lock:
                if self._ring.empty and not self._await_data(nonblocking, deadline):
                    return 0
            with target._lock:
                if not target._readers:
                    raise os_error(errno.EPIPE)
                if target._ring.full:
                    if nonblocking:
                        raise os_error(errno.EAGAIN)
                    if not target._room.wait_for(target._writable, _remaining(deadline)):
                        raise os_error(errno.ETIMEDOUT)
            with first._lock, second._lock:
                if not target._readers:
                    raise os_error(errno.EPIPE)
                source, sink = self._ring, target._ring
                if source.empty or sink.full:
                    continue  # another reader or writer came first: wait again
                was_full, was_empty = source.full, sink.empty
                moved = source.move_to(sink, limit)
                if was_full and not source.full:
                    self._became_writable()
                if was_empty:
                    target._data.notify_all()
                    target._notify_watchers()
                return moved

    @staticmethod
    def _stopped(written: int, code: int) -> int:
        """End a write that cannot go on: the partial count, or the error if nothing went."""
        if written:
            return written
        raise os_error(code)

    def _leave(self, end: PipeEnd) -> None:
        """A call on ``end`` returns (under the lock): the end goes if it was closed meanwhile
        and this was the last call holding it."""
        end._calls -= 1
        if end._closed and not end._calls:
            self._let_go(end)

    def _let_go(self, end: PipeEnd) -> None:
        """``end`` is gone (under the lock): readers see EOF once no writer is left, writers
        EPIPE once no reader is."""
        real = self._real
        if isinstance(end, PipeReader):
            self._readers -= 1
            if not self._readers:
                if real is not None:
                    real.close_reader()
                self._room.notify_all()
                self._notify_watchers()
        else:
            self._writers -= 1
            if not self._writers:
                if real is not None:
                    real.close_writer()
                self._data.notify_all()
                self._notify_watchers()

    def _available(self) -> int:
        with self._lock:
            real = self._real
            return self._ring.size if real is None else real.available()

    def pipe_size(self) -> int:
        """F_GETPIPE_SZ: the capacity in bytes (the kernel's, once promoted)."""
        with self._lock:
            real = self._real
            return self.capacity if real is None else real.capacity()

    def _readable(self) -> bool:
        """Whether a read would not block (data, or end of file); call under the lock."""
        return self._real is not None or not self._ring.empty or not self._writers

    def resize(self, capacity: int) -> int:
        """F_SETPIPE_SZ: hold ``capacity`` bytes (at least a page, rounded up to a power of
        two pages, as Linux rounds); EBUSY when more pages are full than that leaves room
        for; the new capacity."""
        pages = max(1, -(-capacity // PAGE_SIZE))
        pages = 1 << (pages - 1).bit_length()
        with self._lock:
            real = self._real
            if real is not None:
                self.capacity = real.resize(capacity)
                return self.capacity
            if self._ring.pages > pages:
                raise os_error(errno.EBUSY)
            self._ring.resize(pages)
            self.capacity = pages * PAGE_SIZE
            self._became_writable()
            return self.capacity

    def _writable(self) -> bool:
        """Whether a write would not block at first (a free slot, or EPIPE); under the lock."""
        return self._real is not None or not self._ring.full or not self._readers

    def _reader_events(self) -> int:
        with self._lock:
            real = self._real
            if real is not None:
                return real.events(real.read_fd, READ_EVENTS)
            events = 0 if self._ring.empty else select.POLLIN | select.POLLRDNORM
            return events if self._writers else events | select.POLLHUP

    def _writer_events(self) -> int:
        with self._lock:
            real = self._real
            if real is not None:
                return real.events(real.write_fd, WRITE_EVENTS)
            events = 0 if self._ring.full else select.POLLOUT | select.POLLWRNORM
            return events if self._readers else events | select.POLLERR

    def _became_writable(self) -> None:
        self._room.notify_all()
        self._notify_watchers()

    def _notify_watchers(self) -> None:
        for readiness in self._watchers:
            readiness.notify()

    def _watch(self, readiness: Readiness) -> None:
        with self._lock:
            self._watchers.append(readiness)

    def _unwatch(self, readiness: Readiness) -> None:
        with self._lock:
            self._watchers.remove(readiness)


class PipeEnd(abc.ABC):
    """What both ends have: closing once, status, poll events, watching for readiness.

    Every operation on a closed end raises OSError EBADF, as the system call would on a
    closed descriptor; closing again is harmless.
    """

    __slots__ = ("_calls", "_closed", "_pipe")

    def __init__(self, pipe: Pipe) -> None:
        self._pipe = pipe
        self._closed = False
        self._calls = 0
        """Reads, writes and splices in progress on this end (under the pipe's lock)."""

    @property
    def pipe(self) -> Pipe:
        """The pipe this end belongs to."""
        return self._pipe

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def close(self) -> None:
        """Give up this end; the pipe sees EOF or EPIPE once the last of a kind is gone.

        A call still in progress on this end (a read blocked in another thread) keeps it until
        that call returns, as the kernel's reference to the file does: a write meanwhile still
        reaches the blocked reader. New calls fail with EBADF at once.
        """
        pipe = self._pipe
        with pipe._lock:
            if self._closed:
                return
            self._closed = True
            if not self._calls:
                pipe._let_go(self)

    def _check_open(self) -> Pipe:
        if self._closed:
            raise os_error(errno.EBADF)
        return self._pipe

    def stat(self) -> posix.stat_result:
        """fstat of the pipe (the same record through either end)."""
        return self._check_open().stat()

    def available(self) -> int:
        """Bytes buffered in the pipe, as ioctl(FIONREAD) reports on either end."""
        return self._check_open()._available()

    @abc.abstractmethod
    def poll(self) -> int:
        """The poll(2) events this end reports now (``select.POLL*`` bits)."""

    @abc.abstractmethod
    def ready(self) -> bool:
        """Whether select(2) would report this end: its operation would not block."""

    def watch(self, readiness: Readiness) -> None:
        """Have ``readiness`` notified whenever this pipe's ends may have become ready."""
        self._check_open()._watch(readiness)

    def unwatch(self, readiness: Readiness) -> None:
        """Stop notifying ``readiness`` (once for each :meth:`watch`); works after close too."""
        self._pipe._unwatch(readiness)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PipeReader(PipeEnd):
    """The read end of a pipe: one open file description opened for reading."""

    __slots__ = ()

    def read(self, n: int, *, nonblocking: bool = False, timeout: float | None = None) -> bytes:
        """Up to ``n`` bytes, as soon as there are any; ``b''`` once every writer is closed.

        Waits while the pipe is empty and a writer is open, unless ``nonblocking`` (then
        BlockingIOError EAGAIN); gives up after ``timeout`` seconds with TimeoutError.
        """
        pipe = self._check_open()
        if n <= 0:
            if n < 0:
                raise ValueError(f"negative read size {n}")
            return b""
        return b"".join(pipe._read(self, n, nonblocking, timeout))

    def readinto(
        self,
        buffer: bytearray | memoryview,
        *,
        nonblocking: bool = False,
        timeout: float | None = None,
    ) -> int:
        """Like :meth:`read` into ``buffer`` (as ``io.RawIOBase.readinto``); the count read."""
        pipe = self._check_open()
        target = _byte_view(buffer)
        if not len(target):
            return 0
        position = 0
        for chunk in pipe._read(self, len(target), nonblocking, timeout):
            target[position : position + len(chunk)] = chunk
            position += len(chunk)
        return position

    def splice_out(
        self,
        write: Callable[[bytes], int],
        limit: int,
        *,
        nonblocking: bool = False,
        timeout: float | None = None,
    ) -> int:
        """splice(2) from this pipe to a file: once data is there (0 at end of file), hand up
        to ``limit`` bytes to ``write``, which returns how many it took; those leave the pipe."""
        pipe = self._check_open()
        if pipe._real is not None:
            raise _shared_splice_error()
        return pipe._splice_out(self, write, limit, nonblocking, timeout)

    def splice_to(
        self,
        writer: PipeWriter,
        limit: int,
        *,
        nonblocking: bool = False,
        timeout: float | None = None,
    ) -> int:
        """splice(2) from this pipe to another's write end: up to ``limit`` bytes move, whole
        buffers where they fit; ValueError for two ends of one pipe (EINVAL to callers)."""
        pipe = self._check_open()
        if writer._check_open() is pipe:
            raise ValueError("cannot splice a pipe to itself")
        if pipe._real is not None or writer._pipe._real is not None:
            raise _shared_splice_error()
        return pipe._splice_to(self, writer, limit, nonblocking, timeout)

    def readable(self) -> bool:
        """Whether a read would return at once: data buffered, or no writer left (EOF)."""
        pipe = self._check_open()
        if pipe._real is not None:
            return bool(self.poll() & (select.POLLIN | select.POLLHUP))
        with pipe._lock:
            return pipe._readable()

    def poll(self) -> int:
        """POLLIN|POLLRDNORM with data buffered, POLLHUP when no writer is left."""
        return self._check_open()._reader_events()

    def ready(self) -> bool:
        return self.readable()


class PipeWriter(PipeEnd):
    """The write end of a pipe: one open file description opened for writing."""

    __slots__ = ()

    def write(self, data: Bytes, *, nonblocking: bool = False, timeout: float | None = None) -> int:
        """Write ``data`` and return how many bytes went in.

        Blocking: all of it, waiting for room, unless the last reader closes meanwhile.
        Nonblocking: what fits (at most PIPE_BUF bytes only whole), else BlockingIOError.
        BrokenPipeError (EPIPE) when no reader is open and nothing was written.
        """
        pipe = self._check_open()
        view = _byte_view(data)
        if not len(view):
            return 0
        return pipe._write(self, view, nonblocking, timeout)

    def splice_in(
        self,
        read: Callable[[int], bytes],
        limit: int,
        *,
        offset: int = 0,
        nonblocking: bool = False,
        timeout: float | None = None,
    ) -> int:
        """splice(2) from a file into this pipe: once a page slot is free, ``read(n)`` gives
        up to ``n`` bytes (at most ``limit``, at most what the free slots hold), which go in as
        buffers cut at the file's page borders (``offset`` is the file position read from).
        BrokenPipeError without readers; ``read`` is called with the pipe locked."""
        pipe = self._check_open()
        if pipe._real is not None:
            raise _shared_splice_error()
        return pipe._splice_in(
            self, read, limit, offset % PAGE_SIZE, nonblocking=nonblocking, timeout=timeout
        )

    def writable(self) -> bool:
        """Whether a write would not block at first: a free page slot, or no reader (EPIPE)."""
        pipe = self._check_open()
        if pipe._real is not None:
            return bool(self.poll() & (select.POLLOUT | select.POLLERR))
        with pipe._lock:
            return pipe._writable()

    def poll(self) -> int:
        """POLLOUT|POLLWRNORM while a page slot is free, POLLERR when no reader is left."""
        return self._check_open()._writer_events()

    def ready(self) -> bool:
        return self.writable()


def wait_ready(ends: Sequence[PipeEnd], timeout: float | None = None) -> list[PipeEnd]:
    """select(2) over pipe ends: the ready ones, waiting up to ``timeout`` s for any to be."""
    deadline = _deadline(timeout)
    readiness = Readiness()
    watched: list[PipeEnd] = []
    try:
        for end in ends:
            end.watch(readiness)
            watched.append(end)
        while True:
            seen = readiness.sequence
            ready = [end for end in ends if end.ready()]
            if ready:
                return ready
            left = _remaining(deadline)
            if left == 0.0:
                return []
            if any(end.pipe.real is not None for end in ends):
                left = REAL_SLICE if left is None else min(left, REAL_SLICE)  # kernel states
            readiness.wait(seen, left)
    finally:
        for end in watched:
            end.unwatch(readiness)
