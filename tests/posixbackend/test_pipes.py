"""In-memory pipes against real Linux pipes: same results, same errors, same poll states.

Most scenarios run through one small adapter on a real ``os.pipe()`` and on an emulated
:class:`Pipe`, and expect the values Linux gives; a Hypothesis machine drives both with random
nonblocking sequences and compares every outcome. Threaded tests cover blocking, wake-ups and
atomicity. ``python -m tests.posixbackend.test_pipes`` prints the throughput benchmark.
"""

from __future__ import annotations

import abc
import errno
import fcntl
import functools
import io
import os
import platform
import random
import re
import select
import signal
import stat
import statistics
import struct
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from posixbackend.emulated.pipes import (
    PAGE_SIZE,
    PIPE_DEVICE,
    PIPE_MODE,
    Pipe,
    PipeEnd,
    Readiness,
    wait_ready,
)

ALL_EVENTS = select.POLLIN | select.POLLRDNORM | select.POLLOUT | select.POLLWRNORM
IN = select.POLLIN | select.POLLRDNORM
OUT = select.POLLOUT | select.POLLWRNORM
EAGAIN = ("raise", BlockingIOError, (errno.EAGAIN, os.strerror(errno.EAGAIN)))
EPIPE = ("raise", BrokenPipeError, (errno.EPIPE, os.strerror(errno.EPIPE)))
PATTERN = bytes(range(251)) * 400
"""Payload source: bytes of period 251 (prime), so a byte out of place shows in any slice."""
JOIN_TIMEOUT = 10.0


def kernel_at_least(major: int, minor: int) -> bool:
    """Whether the running Linux kernel is at least ``major.minor``."""
    found = re.match(r"(\d+)\.(\d+)", platform.release())
    return found is not None and (int(found[1]), int(found[2])) >= (major, minor)


# -- one pipe, real or emulated, behind the same calls -----------------------------------------


class PipeUnderTest(abc.ABC):
    """A pipe driven as ``os.read``/``os.write`` drive a descriptor, status flags per call."""

    reader_open = writer_open = True

    @abc.abstractmethod
    def write(self, data: bytes, nonblocking: bool = False) -> int: ...

    @abc.abstractmethod
    def read(self, n: int, nonblocking: bool = False) -> bytes: ...

    @abc.abstractmethod
    def available(self) -> int:
        """FIONREAD."""

    @abc.abstractmethod
    def reader_events(self) -> int: ...

    @abc.abstractmethod
    def writer_events(self) -> int: ...

    @abc.abstractmethod
    def stat(self) -> os.stat_result: ...

    @abc.abstractmethod
    def _close(self, reader: bool) -> None: ...

    def close_reader(self) -> None:
        self._close(reader=True)
        self.reader_open = False

    def close_writer(self) -> None:
        self._close(reader=False)
        self.writer_open = False

    def close(self) -> None:
        """Close whatever end is still open."""
        if self.reader_open:
            self.close_reader()
        if self.writer_open:
            self.close_writer()

    def fill(self, chunk: int) -> int:
        """Write ``chunk``-byte pieces without blocking until one fails or falls short."""
        total = 0
        while total <= 1 << 20:  # a pipe that never fills fails the test instead of hanging
            try:
                written = self.write(PATTERN[:chunk], nonblocking=True)
            except BlockingIOError:
                return total
            total += written
            if written < chunk:
                return total
        return total


class RealPipe(PipeUnderTest):
    """A Linux pipe from ``os.pipe()``."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        self._nonblocking = {self.r: False, self.w: False}

    def _mode(self, fd: int, nonblocking: bool) -> int:
        if self._nonblocking[fd] != nonblocking:
            os.set_blocking(fd, not nonblocking)
            self._nonblocking[fd] = nonblocking
        return fd

    def write(self, data: bytes, nonblocking: bool = False) -> int:
        return os.write(self._mode(self.w, nonblocking), data)

    def read(self, n: int, nonblocking: bool = False) -> bytes:
        return os.read(self._mode(self.r, nonblocking), n)

    def available(self) -> int:
        fd = self.r if self.reader_open else self.w
        result = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
        return int(struct.unpack("i", result)[0])

    def _events(self, fd: int) -> int:
        poller = select.poll()
        poller.register(fd, ALL_EVENTS)
        return sum(events for _, events in poller.poll(0))

    def reader_events(self) -> int:
        return self._events(self.r)

    def writer_events(self) -> int:
        return self._events(self.w)

    def stat(self) -> os.stat_result:
        return os.fstat(self.r if self.reader_open else self.w)

    def _close(self, reader: bool) -> None:
        os.close(self.r if reader else self.w)


class EmulatedPipe(PipeUnderTest):
    """An in-memory :class:`Pipe`."""

    def __init__(self) -> None:
        self.pipe = Pipe()

    def write(self, data: bytes, nonblocking: bool = False) -> int:
        return self.pipe.writer.write(data, nonblocking=nonblocking)

    def read(self, n: int, nonblocking: bool = False) -> bytes:
        return self.pipe.reader.read(n, nonblocking=nonblocking)

    def available(self) -> int:
        end: PipeEnd = self.pipe.reader if self.reader_open else self.pipe.writer
        return end.available()

    def reader_events(self) -> int:
        return self.pipe.reader.poll()

    def writer_events(self) -> int:
        return self.pipe.writer.poll()

    def stat(self) -> os.stat_result:
        return self.pipe.stat()

    def _close(self, reader: bool) -> None:
        (self.pipe.reader if reader else self.pipe.writer).close()


MakePipe = Callable[[], PipeUnderTest]
KINDS: dict[str, MakePipe] = {"real": RealPipe, "emulated": EmulatedPipe}


@pytest.fixture(params=sorted(KINDS))
def make_pipe(request: pytest.FixtureRequest) -> Iterator[MakePipe]:
    """A factory of pipes of one kind; every pipe it made is closed afterwards."""
    made: list[PipeUnderTest] = []

    def make() -> PipeUnderTest:
        made.append(KINDS[request.param]())
        return made[-1]

    yield make
    for pipe in made:
        pipe.close()


def outcome(call: Callable[..., object], *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """What a call gave: ("ok", value), or ("raise", exception class, exception args)."""
    try:
        return ("ok", call(*args, **kwargs))
    except OSError as error:
        return ("raise", type(error), error.args)


def in_thread(call: Callable[[], object]) -> tuple[threading.Thread, list[tuple[Any, ...]]]:
    """Start ``call`` in a daemon thread; its outcome lands in the returned list."""
    result: list[tuple[Any, ...]] = []
    thread = threading.Thread(target=lambda: result.append(outcome(call)), daemon=True)
    thread.start()
    return thread, result


def finish(thread: threading.Thread, result: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """Join a thread started by :func:`in_thread` (failing, not hanging) and give its outcome."""
    thread.join(JOIN_TIMEOUT)
    assert not thread.is_alive(), "the blocked call was never woken"
    return result[0]


def assert_blocked(thread: threading.Thread) -> None:
    """The thread's call is still waiting a little while after it started."""
    thread.join(0.05)
    assert thread.is_alive(), "the call should have blocked"


# -- single-threaded scenarios: the values Linux gives, on both kinds --------------------------


def test_read_returns_data_then_eof_after_the_writer_closes(make_pipe: MakePipe) -> None:
    pipe = make_pipe()
    assert pipe.write(b"abc") == 3
    pipe.close_writer()
    assert pipe.read(10) == b"abc"
    assert pipe.read(10) == b""
    assert pipe.read(10, nonblocking=True) == b""


def test_write_without_reader_is_broken_pipe_but_an_empty_write_is_not(make_pipe: MakePipe) -> None:
    pipe = make_pipe()
    pipe.close_reader()
    assert outcome(pipe.write, b"x") == EPIPE
    assert outcome(pipe.write, b"x" * 100000, nonblocking=True) == EPIPE
    assert outcome(pipe.write, b"") == ("ok", 0)


def test_nonblocking_read_of_an_empty_pipe_is_eagain_but_an_empty_read_is_not(
    make_pipe: MakePipe,
) -> None:
    pipe = make_pipe()
    assert outcome(pipe.read, 1, nonblocking=True) == EAGAIN
    assert outcome(pipe.read, 0, nonblocking=True) == ("ok", b"")
    assert outcome(pipe.read, 0) == ("ok", b"")


def test_reads_return_what_is_there_up_to_the_size_asked(make_pipe: MakePipe) -> None:
    pipe = make_pipe()
    pipe.write(PATTERN[:5000])
    pipe.write(PATTERN[5000:5010])
    assert pipe.available() == 5010
    assert pipe.read(4) == PATTERN[:4]
    assert pipe.read(100000) == PATTERN[4:5010]
    assert pipe.available() == 0


def prefix_write(size: int) -> Callable[[PipeUnderTest], object]:
    return lambda pipe: pipe.write(PATTERN[:size])


def prefix_read(size: int) -> Callable[[PipeUnderTest], object]:
    return lambda pipe: pipe.read(size)


@pytest.mark.parametrize(
    ("before", "chunk", "fits"),
    [
        ((), 4096, 65536),
        ((), 100, 64000),  # 40 writes per page: the 41st does not fit in the page's rest
        ((), 100000, 65536),
        ((prefix_write(1),), 4096, 61440),  # the 1-byte page takes a whole slot
        ((prefix_write(1),), 100000, 63136),  # 100000 % 4096 = 1696 joins the first page
        ((prefix_write(5000),), 3000, 45000),  # one 3000 joins the 904-byte page
        ((prefix_write(4000), prefix_read(3999)), 100, 60000),  # read bytes are not reused
        ((prefix_write(4000), prefix_read(4000)), 100, 64000),  # a read-out page is freed
    ],
)
def test_capacity_depends_on_how_writes_were_cut_into_pages(
    make_pipe: MakePipe,
    before: tuple[Callable[[PipeUnderTest], object], ...],
    chunk: int,
    fits: int,
) -> None:
    pipe = make_pipe()
    for step in before:
        step(pipe)
    assert pipe.fill(chunk) == fits


def test_nonblocking_writes_up_to_pipe_buf_are_all_or_nothing(make_pipe: MakePipe) -> None:
    pipe = make_pipe()
    assert pipe.fill(4096) == 61440 + 4096
    pipe.read(4096)
    assert pipe.write(PATTERN[:4000], nonblocking=True) == 4000  # the last free slot
    assert outcome(pipe.write, PATTERN[:97], nonblocking=True) == EAGAIN  # 96 would fit
    assert pipe.write(PATTERN[:96], nonblocking=True) == 96
    assert outcome(pipe.write, PATTERN[:1], nonblocking=True) == EAGAIN
    pipe.read(4096)
    assert pipe.write(PATTERN[:9000], nonblocking=True) == 4096  # longer: partial
    assert outcome(pipe.write, PATTERN[:9000], nonblocking=True) == EAGAIN


def test_poll_events_follow_data_room_and_closed_ends(make_pipe: MakePipe) -> None:
    pipe = make_pipe()
    assert (pipe.reader_events(), pipe.writer_events()) == (0, OUT)
    pipe.write(b"x")
    assert (pipe.reader_events(), pipe.writer_events()) == (IN, OUT)
    pipe.read(1)
    assert (pipe.reader_events(), pipe.writer_events()) == (0, OUT)
    pipe.fill(4096)
    assert (pipe.reader_events(), pipe.writer_events()) == (IN, 0)
    pipe.read(4095)  # the first page still holds a byte: no slot is free
    assert pipe.writer_events() == 0
    pipe.read(1)
    assert pipe.writer_events() == OUT
    pipe.close_writer()
    assert pipe.reader_events() == IN | select.POLLHUP
    pipe.read(100000)
    assert pipe.reader_events() == select.POLLHUP


def test_poll_of_the_write_end_without_reader_is_an_error_even_when_full(
    make_pipe: MakePipe,
) -> None:
    pipe = make_pipe()
    pipe.close_reader()
    assert pipe.writer_events() == OUT | select.POLLERR
    full = make_pipe()
    full.fill(4096)
    full.close_reader()
    assert full.writer_events() == select.POLLERR
    assert outcome(full.write, b"x", nonblocking=True) == EPIPE


def test_fstat_fields_match_a_real_pipe() -> None:
    real, emulated = RealPipe(), EmulatedPipe()
    try:
        fields = ("st_mode", "st_nlink", "st_size", "st_uid", "st_gid", "st_blksize", "st_rdev")
        for pipe in (real, emulated):
            pipe.write(b"data")  # st_size stays 0 whatever is buffered
        mine, linux = emulated.stat(), real.stat()
        assert {f: getattr(mine, f) for f in fields} == {f: getattr(linux, f) for f in fields}
        assert mine.st_blocks == linux.st_blocks == 0
        assert mine.st_mode == PIPE_MODE and stat.S_ISFIFO(mine.st_mode)
    finally:
        real.close()
        emulated.close()


def test_both_ends_report_one_inode_on_a_pseudo_device() -> None:
    first, second = Pipe(), Pipe()
    assert first.reader.stat() == first.writer.stat() == first.stat()
    assert first.stat().st_ino == first.ino != second.ino == second.stat().st_ino
    assert first.stat().st_dev == PIPE_DEVICE
    owned = Pipe(uid=1000, gid=100, created_ns=1_500_000_000_123_456_789)
    result = owned.stat()
    assert (result.st_uid, result.st_gid) == (1000, 100)
    assert (
        result.st_atime_ns == result.st_mtime_ns == result.st_ctime_ns == 1_500_000_000_123_456_789
    )
    assert result[8] == 1_500_000_000 and result.st_mtime == pytest.approx(1_500_000_000.123)


def times(result: os.stat_result) -> tuple[int, int, int]:
    return result.st_atime_ns, result.st_mtime_ns, result.st_ctime_ns


@pytest.mark.skipif(not kernel_at_least(6, 15), reason="Linux < 6.15 updates pipe times")
def test_times_stay_at_creation_through_reads_and_writes(make_pipe: MakePipe) -> None:
    pipe = make_pipe()
    created = times(pipe.stat())
    assert len(set(created)) == 1
    time.sleep(0.02)  # longer than a jiffy, so a real update would show
    pipe.write(b"x")
    pipe.read(1)
    assert times(pipe.stat()) == created


# -- threads: blocking, wake-ups, atomicity -----------------------------------------------------


@pytest.fixture
def switch_often() -> Iterator[None]:
    """Make the interpreter switch threads every few bytecodes, so races really interleave."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(old)


def test_blocking_read_is_woken_by_a_write(make_pipe: MakePipe) -> None:
    pipe = make_pipe()
    thread, result = in_thread(lambda: pipe.read(10))
    assert_blocked(thread)
    pipe.write(b"hi")
    assert finish(thread, result) == ("ok", b"hi")


def test_blocking_read_is_woken_by_the_last_writer_closing(make_pipe: MakePipe) -> None:
    pipe = make_pipe()
    thread, result = in_thread(lambda: pipe.read(10))
    assert_blocked(thread)
    pipe.close_writer()
    assert finish(thread, result) == ("ok", b"")


def test_blocked_writer_is_woken_when_the_reader_drains(make_pipe: MakePipe) -> None:
    pipe = make_pipe()
    pipe.fill(4096)
    thread, result = in_thread(lambda: pipe.write(PATTERN[:100]))
    assert_blocked(thread)
    pipe.read(4096)
    assert finish(thread, result) == ("ok", 100)


@pytest.mark.parametrize(
    ("prefill", "size", "expected"),
    [
        (0, 100000, ("ok", 65536)),  # some bytes went in: their count, EPIPE on the next write
        (65536, 100, EPIPE),  # nothing went in: BrokenPipeError
    ],
)
def test_reader_closing_releases_a_blocked_writer(
    make_pipe: MakePipe, prefill: int, size: int, expected: tuple[Any, ...]
) -> None:
    pipe = make_pipe()
    if prefill:
        assert pipe.fill(4096) == prefill
    thread, result = in_thread(lambda: pipe.write(PATTERN[:size]))
    assert_blocked(thread)
    pipe.close_reader()
    assert finish(thread, result) == expected
    assert outcome(pipe.write, b"x") == EPIPE


def test_a_large_write_is_consumed_by_a_reader_thread(make_pipe: MakePipe) -> None:
    pipe = make_pipe()
    payload = random.Random(7).randbytes(1 << 20)

    def drain() -> bytes:
        parts = []
        while part := pipe.read(65536):
            parts.append(part)
        return b"".join(parts)

    thread, result = in_thread(drain)
    assert pipe.write(payload) == len(payload)
    pipe.close_writer()
    assert finish(thread, result) == ("ok", payload)


def record(writer: int, seq: int) -> bytes:
    """A self-describing record of at most PIPE_BUF bytes: header, then filler of one letter."""
    size = random.Random(writer * 1000 + seq).randint(16, 4096)
    header = f"<{writer}:{seq}:{size}>".encode()
    return header + bytes([65 + writer]) * (size - len(header))


def parse_records(stream: bytes) -> list[tuple[int, int]]:
    """Split the stream back into records; fail on any torn or interleaved one."""
    found, position = [], 0
    while position < len(stream):
        header = re.match(rb"<(\d+):(\d+):(\d+)>", stream[position : position + 20])
        assert header, f"no record starts at {position}"
        writer, seq, size = (int(group) for group in header.groups())
        assert stream[position : position + size] == record(writer, seq), "torn record"
        found.append((writer, seq))
        position += size
    return found


@pytest.mark.usefixtures("switch_often")
def test_writes_up_to_pipe_buf_are_atomic_among_eight_writers(make_pipe: MakePipe) -> None:
    pipe = make_pipe()
    writers, per_writer = 8, 150
    thread, result = in_thread(lambda: b"".join(iter(lambda: pipe.read(65536), b"")))
    barrier = threading.Barrier(writers)

    def write_records(writer: int) -> tuple[int, ...]:
        barrier.wait()
        return tuple(pipe.write(record(writer, seq)) for seq in range(per_writer))

    workers = [in_thread(functools.partial(write_records, w)) for w in range(writers)]
    deadline = time.monotonic() + JOIN_TIMEOUT
    for worker, _ in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    pipe.close_writer()
    for writer, (worker, written) in enumerate(workers):
        lengths = tuple(len(record(writer, seq)) for seq in range(per_writer))
        assert finish(worker, written) == ("ok", lengths)
    assert finish(thread, result)[0] == "ok"
    found = parse_records(result[0][1])
    assert sorted(found) == [(w, s) for w in range(writers) for s in range(per_writer)]
    for writer in range(writers):  # each writer's records arrive in the order written
        assert [s for w, s in found if w == writer] == list(range(per_writer))


# -- emulation only: timeouts, interruption, descriptions, readiness, io ------------------------


def test_timeouts_raise_timeout_error_unless_something_was_written() -> None:
    pipe = Pipe()
    with pytest.raises(TimeoutError) as caught:
        pipe.reader.read(1, timeout=0.02)
    assert caught.value.errno == errno.ETIMEDOUT
    assert pipe.writer.write(PATTERN[:100000], timeout=0.02) == 65536
    with pytest.raises(TimeoutError):
        pipe.writer.write(b"x", timeout=0)
    with pytest.raises(ValueError, match="non-negative"):
        pipe.reader.read(1, timeout=-1)
    assert len(pipe.reader.read(100000, timeout=0)) == 65536


@pytest.fixture
def interrupt_soon() -> Iterator[None]:
    """Raise KeyboardInterrupt in the main thread 50 ms from now, as Ctrl-C would."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread only")

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.usefixtures("interrupt_soon")
@pytest.mark.parametrize("blocked", ["read", "write"])
def test_a_blocking_wait_is_interrupted_by_keyboard_interrupt(blocked: str) -> None:
    pipe = Pipe()
    if blocked == "write":
        pipe.writer.write(PATTERN[:65536])
    interrupted = threading.Event()

    def rescue() -> None:  # if the interrupt never comes, unblock instead of hanging
        if not interrupted.wait(5):
            (pipe.writer if blocked == "read" else pipe.reader).close()

    rescuer = threading.Thread(target=rescue, daemon=True)
    rescuer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            if blocked == "read":
                pipe.reader.read(1)
            else:
                pipe.writer.write(b"x")
    finally:
        interrupted.set()
        rescuer.join()
    if blocked == "write":  # the interrupted write left nothing behind
        assert pipe.reader.read(100000, nonblocking=True) == PATTERN[:65536]
    assert outcome(pipe.reader.read, 1, nonblocking=True) == EAGAIN
    assert pipe.writer.write(b"still works") == 11
    assert pipe.reader.read(100) == b"still works"


def test_closed_ends_fail_with_ebadf_and_close_twice_is_harmless() -> None:
    pipe = Pipe()
    pipe.reader.close()
    pipe.reader.close()
    pipe.writer.close()
    for call in (
        lambda: pipe.reader.read(1),
        lambda: pipe.reader.readinto(bytearray(1)),
        lambda: pipe.writer.write(b"x"),
        pipe.reader.stat,
        pipe.writer.available,
        pipe.reader.poll,
        pipe.writer.writable,
    ):
        assert outcome(call) == ("raise", OSError, (errno.EBADF, os.strerror(errno.EBADF)))
    assert pipe.reader.closed and pipe.writer.closed


def test_each_end_object_is_one_description_and_the_last_of_a_kind_decides() -> None:
    pipe = Pipe()
    second_writer, second_reader = pipe.open_writer(), pipe.open_reader()
    pipe.writer.close()
    assert outcome(pipe.reader.read, 1, nonblocking=True) == EAGAIN  # a writer is still open
    assert second_writer.write(b"ab") == 2
    pipe.reader.close()
    assert second_writer.write(b"c") == 1  # a reader is still open
    assert second_reader.read(10) == b"abc"
    second_writer.close()
    second_writer.close()  # closing twice must not count twice
    assert second_reader.read(10) == b""
    assert outcome(pipe.open_writer().write, b"x") == ("ok", 1)


def test_readinto_and_the_io_wrappers() -> None:
    pipe = Pipe()
    buffer = bytearray(8)
    pipe.writer.write(b"0123456789")
    assert pipe.reader.readinto(buffer) == 8 and buffer == b"01234567"
    assert pipe.reader.readinto(memoryview(buffer)[:4]) == 2 and buffer[:2] == b"89"
    assert pipe.reader.readinto(bytearray()) == 0

    class RawPipeReader(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, target: Any) -> int:
            return pipe.reader.readinto(target)

    text = io.TextIOWrapper(io.BufferedReader(RawPipeReader()), encoding="utf-8")
    pipe.writer.write("first line\nsecond ligne é\n".encode())
    pipe.writer.close()
    assert text.readline() == "first line\n"
    assert text.read() == "second ligne é\n"


def test_capacity_is_rounded_up_to_whole_pages() -> None:
    pipe = Pipe(capacity=1)
    assert pipe.capacity == PAGE_SIZE
    assert pipe.writer.write(PATTERN[:5000], nonblocking=True) == 4096
    assert not pipe.writer.writable()
    with pytest.raises(ValueError, match="positive"):
        Pipe(capacity=0)
    with pytest.raises(ValueError, match="negative"):
        pipe.reader.read(-1)


def test_wait_ready_returns_the_ends_that_became_ready() -> None:
    first, second = Pipe(), Pipe()
    ends: list[PipeEnd] = [first.reader, second.reader]
    assert wait_ready(ends, timeout=0.02) == []
    timer = threading.Timer(0.05, lambda: second.writer.write(b"x"))
    timer.start()
    assert wait_ready(ends, timeout=JOIN_TIMEOUT) == [second.reader]
    timer.join()
    second.writer.write(PATTERN[: 65536 - 1], nonblocking=True)  # now every slot is taken
    assert wait_ready([second.writer], timeout=0) == []
    timer = threading.Timer(0.05, second.reader.close)  # POLLERR: ready for select
    timer.start()
    assert wait_ready([second.writer, first.reader], timeout=JOIN_TIMEOUT) == [second.writer]
    timer.join()
    timer = threading.Timer(0.05, first.writer.close)  # POLLHUP: end of file is ready too
    timer.start()
    assert wait_ready([first.reader], timeout=JOIN_TIMEOUT) == [first.reader]
    timer.join()


def test_readiness_sequence_closes_the_gap_between_check_and_wait() -> None:
    pipe = Pipe()
    readiness = Readiness()
    pipe.reader.watch(readiness)
    seen = readiness.sequence
    pipe.writer.write(b"x")  # the change happens after the check, before the wait
    assert readiness.wait(seen, timeout=0)
    pipe.reader.unwatch(readiness)
    seen = readiness.sequence
    pipe.writer.close()
    assert not readiness.wait(seen, timeout=0)
    with pytest.raises(ValueError):
        pipe.reader.unwatch(readiness)


# -- random sequences on a real and an emulated pipe ------------------------------------------

sizes = st.sampled_from([0, 1, 2, 100, 1000, 4095, 4096, 4097, 5000, 8192, 65536, 70000])
sizes |= st.integers(0, 70000)


class PipesAgree(RuleBasedStateMachine):
    """A real and an emulated pipe given the same calls; every outcome must match.

    Blocking calls are made only when the real pipe says they would not block, so nothing hangs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0
        self.pipes: list[PipeUnderTest] = [RealPipe(), EmulatedPipe()]

    @property
    def real(self) -> PipeUnderTest:
        return self.pipes[0]

    def same(self, action: Callable[[PipeUnderTest], object]) -> None:
        real, emulated = (outcome(action, pipe) for pipe in self.pipes)
        assert emulated == real

    def payload(self, n: int) -> bytes:
        start = self.offset % 251
        self.offset += n
        return PATTERN[start : start + n]

    @precondition(lambda self: self.real.writer_open)
    @rule(n=sizes)
    def write_nonblocking(self, n: int) -> None:
        data = self.payload(n)
        self.same(lambda pipe: pipe.write(data, nonblocking=True))

    @precondition(
        lambda self: (
            self.real.writer_open
            and (not self.real.reader_open or self.real.writer_events() & select.POLLOUT)
        )
    )
    @rule(n=st.integers(0, PAGE_SIZE))
    def write_blocking_when_a_slot_is_free(self, n: int) -> None:
        data = self.payload(n)
        self.same(lambda pipe: pipe.write(data))

    @precondition(lambda self: self.real.reader_open)
    @rule(n=sizes)
    def read_nonblocking(self, n: int) -> None:
        self.same(lambda pipe: pipe.read(n, nonblocking=True))

    @precondition(
        lambda self: (
            self.real.reader_open and (not self.real.writer_open or self.real.available() > 0)
        )
    )
    @rule(n=sizes)
    def read_blocking_when_data_or_eof(self, n: int) -> None:
        self.same(lambda pipe: pipe.read(n))

    @precondition(lambda self: self.real.reader_open)
    @rule()
    def close_reader(self) -> None:
        self.same(lambda pipe: pipe.close_reader())

    @precondition(lambda self: self.real.writer_open)
    @rule()
    def close_writer(self) -> None:
        self.same(lambda pipe: pipe.close_writer())

    @rule()
    def start_over(self) -> None:
        self.teardown()
        self.pipes = [RealPipe(), EmulatedPipe()]

    @invariant()
    def same_state(self) -> None:
        if self.real.reader_open or self.real.writer_open:
            self.same(lambda pipe: pipe.available())
        if self.real.reader_open:
            self.same(lambda pipe: pipe.reader_events())
        if self.real.writer_open:
            self.same(lambda pipe: pipe.writer_events())

    def teardown(self) -> None:
        for pipe in self.pipes:
            pipe.close()


TestPipesAgree = PipesAgree.TestCase
TestPipesAgree.settings = settings(settings(), stateful_step_count=40)


# -- benchmark ----------------------------------------------------------------------------------


def throughput_mb_s(kind: str, total: int = 64 << 20, chunk: int = 64 << 10) -> float:
    """MB/s of a writer thread pushing ``total`` bytes in ``chunk``-byte writes to a reader."""
    pipe = KINDS[kind]()
    data = PATTERN[:chunk]

    def produce() -> None:
        for _ in range(total // chunk):
            pipe.write(data)
        pipe.close_writer()

    producer = threading.Thread(target=produce)
    start = time.perf_counter()
    producer.start()
    received = 0
    while part := pipe.read(chunk):
        received += len(part)
    elapsed = time.perf_counter() - start
    producer.join()
    pipe.close()
    assert received == total // chunk * chunk
    return received / elapsed / 1e6


def test_the_throughput_helper_moves_every_byte() -> None:
    for kind in KINDS:
        assert throughput_mb_s(kind, total=1 << 20) > 0


def main() -> None:
    """Print pipe throughput, emulated and native: median (and range) of 7 runs."""
    for kind in ("emulated", "real"):
        runs = sorted(throughput_mb_s(kind) for _ in range(7))
        print(
            f"{kind:>8} pipe: {statistics.median(runs):6.0f} MB/s median "
            f"({runs[0]:.0f}-{runs[-1]:.0f}), 64 MiB in 64 KiB writes to a reader thread"
        )


if __name__ == "__main__":
    main()
