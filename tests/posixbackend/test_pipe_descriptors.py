"""A pipe's descriptor closed or replaced while another thread is blocked on it, against Linux.

On Linux a blocked read or write holds the open file description (``fdget``): ``close`` or
``dup2`` over its descriptor frees the number at once, but the pipe keeps that end until the
call returns. So a write after the read end's descriptor was closed still reaches the blocked
reader, and only the write after that one finds no reader (EPIPE); a blocked write finishes
into a pipe whose write end's descriptor was closed meanwhile. Each scenario runs on real
``os.pipe()`` descriptors and on the emulated backend's.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from typing import Any

import pytest

from posixbackend.emulated import EmulatedBackend
from tests.posixbackend.test_pipes import assert_blocked, finish, in_thread, outcome
from vfs import MemoryFileSystem

EPIPE = ("raise", BrokenPipeError, (errno.EPIPE, os.strerror(errno.EPIPE)))


class Side:
    """``os`` or an emulated backend, with a file to dup2 over a pipe's descriptor."""

    def __init__(self, osm: Any, spare: str) -> None:
        self.os = osm
        self.spare = spare
        self.fds: set[int] = set()

    def pipe(self) -> tuple[int, int]:
        r, w = self.os.pipe()
        self.fds.update((r, w))
        return r, w

    def replace(self, fd: int, how: str) -> None:
        """Close ``fd``, or make it another file's descriptor with dup2."""
        if how == "close":
            self.os.close(fd)
            self.fds.discard(fd)
            return
        other = self.os.open(self.spare, os.O_RDONLY | os.O_CREAT, 0o600)
        try:
            self.os.dup2(other, fd)
        finally:
            self.os.close(other)

    def close_all(self) -> None:
        for fd in self.fds:
            try:
                self.os.close(fd)
            except OSError:
                continue


@pytest.fixture(params=["native", "emulated"])
def side(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Side]:
    if request.param == "native":
        made = Side(os, str(tmp_path / "spare"))
    else:
        made = Side(EmulatedBackend(MemoryFileSystem(), standard_streams=False), "/spare")
    yield made
    made.close_all()


@pytest.mark.parametrize("how", ["close", "dup2"])
def test_a_write_reaches_a_reader_blocked_on_a_descriptor_closed_meanwhile(
    side: Side, how: str
) -> None:
    r, w = side.pipe()
    thread, result = in_thread(lambda: side.os.read(r, 100))
    assert_blocked(thread)
    side.replace(r, how)
    assert outcome(side.os.write, w, b"hello") == ("ok", 5)
    assert finish(thread, result) == ("ok", b"hello")
    assert outcome(side.os.write, w, b"again") == EPIPE  # the end went with the read


@pytest.mark.parametrize("how", ["close", "dup2"])
def test_the_last_write_end_stays_open_until_a_blocked_write_returns(side: Side, how: str) -> None:
    r, w = side.pipe()
    side.os.set_blocking(w, False)
    filled = 0
    while True:
        try:
            filled += side.os.write(w, b"x" * 4096)
        except BlockingIOError:
            break
    side.os.set_blocking(w, True)
    thread, result = in_thread(lambda: side.os.write(w, b"y" * 10))
    assert_blocked(thread)
    side.replace(w, how)
    received = side.os.read(r, 1 << 20)
    assert finish(thread, result) == ("ok", 10)
    while chunk := side.os.read(r, 1 << 20):  # then end of file: no writer is left
        received += chunk
    assert received == b"x" * filled + b"y" * 10


def test_a_read_end_closed_by_nobody_blocked_is_gone_at_once(side: Side) -> None:
    r, w = side.pipe()
    side.replace(r, "close")
    assert outcome(side.os.write, w, b"x") == EPIPE
