"""An emulated pipe promoted to a real kernel pipe (what happens when an end goes to a host
child) behaves as ``os.pipe()`` does: the same reads, EOF, EAGAIN, EPIPE, FIONREAD and poll
events, with the bytes buffered before the promotion kept in order."""

from __future__ import annotations

import errno
import fcntl
import os
import select
import termios
import threading
from collections.abc import Callable, Iterator

import pytest

from posixbackend.emulated.pipes import Pipe, PipeReader, PipeWriter, wait_ready

Scenario = Callable[["Ends"], object]


class Ends:
    """One pipe seen through the same small surface: a real one or a promoted emulated one."""

    def __init__(self, real: bool) -> None:
        self.pipe: Pipe | None = None
        if real:
            self.r, self.w = os.pipe()
        else:
            self.pipe = Pipe()
            self.reader: PipeReader = self.pipe.reader
            self.writer: PipeWriter = self.pipe.writer

    def promote(self) -> None:
        if self.pipe is not None:
            self.pipe.promote()

    def write(self, data: bytes, nonblocking: bool = False) -> int:
        if self.pipe is None:
            os.set_blocking(self.w, not nonblocking)
            return os.write(self.w, data)
        return self.writer.write(data, nonblocking=nonblocking)

    def read(self, n: int, nonblocking: bool = False) -> bytes:
        if self.pipe is None:
            os.set_blocking(self.r, not nonblocking)
            return os.read(self.r, n)
        return self.reader.read(n, nonblocking=nonblocking)

    def available(self) -> int:
        if self.pipe is None:
            buffer = bytearray(4)
            fcntl.ioctl(self.r, termios.FIONREAD, buffer)
            return int.from_bytes(buffer, "little")
        return self.reader.available()

    def events(self, reader: bool) -> int:
        if self.pipe is None:
            poller = select.poll()
            if reader:
                poller.register(self.r, select.POLLIN | select.POLLRDNORM)
            else:
                poller.register(self.w, select.POLLOUT | select.POLLWRNORM)
            found = poller.poll(0)
            return found[0][1] if found else 0
        return self.reader.poll() if reader else self.writer.poll()

    def close(self, reader: bool) -> None:
        if self.pipe is None:
            os.close(self.r if reader else self.w)
            if reader:
                self.r = -1
            else:
                self.w = -1
        else:
            (self.reader if reader else self.writer).close()

    def finish(self) -> None:
        if self.pipe is None:
            for fd in (self.r, self.w):
                if fd >= 0:
                    os.close(fd)
        else:
            self.reader.close()
            self.writer.close()


def outcome(step: Callable[[], object]) -> object:
    try:
        return step()
    except OSError as error:
        return type(error).__name__, error.errno


def buffered_then_read(ends: Ends) -> object:
    first = ends.write(b"before")
    ends.promote()
    return [first, ends.available(), ends.write(b"-after"), ends.read(100)]


def empty_nonblocking(ends: Ends) -> object:
    ends.promote()
    return [outcome(lambda: ends.read(10, nonblocking=True)), ends.events(True), ends.events(False)]


def eof_after_writer_closes(ends: Ends) -> object:
    ends.write(b"xy")
    ends.promote()
    ends.close(reader=False)
    return [ends.events(True), ends.read(10), ends.read(10), ends.events(True)]


def epipe_after_reader_closes(ends: Ends) -> object:
    ends.promote()
    ends.close(reader=True)
    return [ends.events(False), outcome(lambda: ends.write(b"x"))]


def full_pipe(ends: Ends) -> object:
    ends.promote()
    taken = ends.write(b"z" * 100_000, nonblocking=True)
    return [
        taken,
        ends.available(),
        ends.events(False),
        outcome(lambda: ends.write(b"z", nonblocking=True)),
        len(ends.read(70_000)),
        ends.events(False),
    ]


@pytest.fixture(params=[True, False], ids=["os.pipe", "promoted"])
def real(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.mark.parametrize(
    "scenario",
    [buffered_then_read, empty_nonblocking, eof_after_writer_closes, epipe_after_reader_closes,
     full_pipe],
)  # fmt: skip
def test_promoted_pipe_matches_a_real_one(scenario: Scenario) -> None:
    results = []
    for real in (True, False):
        ends = Ends(real)
        try:
            results.append(scenario(ends))
        finally:
            ends.finish()
    assert results[1] == results[0]


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    pipe = Pipe()
    yield pipe
    pipe.reader.close()
    pipe.writer.close()


def test_a_reader_waiting_before_the_promotion_gets_what_is_written_after(pipe: Pipe) -> None:
    got: list[bytes] = []
    thread = threading.Thread(target=lambda: got.append(pipe.reader.read(10, timeout=10)))
    thread.start()
    while not pipe.reader._calls:  # the reader is waiting in the emulated pipe
        threading.Event().wait(0.001)
    pipe.promote()
    pipe.writer.write(b"late")
    thread.join(10)
    assert got == [b"late"]


def test_last_ends_close_the_real_descriptors(pipe: Pipe) -> None:
    real = pipe.promote()
    fds = (real.read_fd, real.write_fd)
    pipe.writer.close()
    pipe.reader.close()
    assert (real.read_fd, real.write_fd) == (-1, -1)
    for fd in fds:
        with pytest.raises(OSError) as caught:
            os.fstat(fd)
        assert caught.value.errno == errno.EBADF


def test_pipe_size_goes_through_the_real_descriptor(pipe: Pipe) -> None:
    pipe.resize(8192)
    real = pipe.promote()
    assert fcntl.fcntl(real.write_fd, fcntl.F_GETPIPE_SZ) == pipe.pipe_size() == 8192
    assert pipe.resize(20000) == 32768 == fcntl.fcntl(real.read_fd, fcntl.F_GETPIPE_SZ)


def test_splice_on_a_promoted_pipe_is_refused(pipe: Pipe) -> None:
    pipe.promote()
    with pytest.raises(OSError) as caught:
        pipe.reader.splice_out(len, 10, nonblocking=True)
    assert caught.value.errno == errno.ENOTSUP


def test_select_over_a_promoted_pipe_sees_the_kernels_state(pipe: Pipe) -> None:
    """readable()/wait_ready ask the kernel once promoted (an always-ready answer made
    subprocess's communicate block reading an empty pipe)."""
    pipe.promote()
    assert wait_ready([pipe.reader], 0.01) == []
    assert not pipe.reader.readable()
    assert pipe.writer.writable()
    pipe.writer.write(b"x")
    assert wait_ready([pipe.reader], 1) == [pipe.reader]
