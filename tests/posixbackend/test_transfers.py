"""os.sendfile, os.splice and os.copy_file_range on the emulated backend, against real os.

Each scenario runs on real ``os`` in a host directory and on an EmulatedBackend (host and
memory providers); results, errors and the offsets and contents they leave must agree,
including how much one call moves into or out of a pipe.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.posixbackend.sides import Side, compare, opened_sides, sides

__all__ = ["sides"]  # the fixture, imported for the tests below

DATA = bytes(range(256)) * 40
"""10240 bytes: two and a half pages."""
OFF_T_MAX = (1 << 63) - 1


def test_sendfile_between_files(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        source = s.file("in", DATA)
        target = s.file("out")
        s.call("lseek", source, 100, os.SEEK_SET)
        s.call("sendfile", target, source, None, 5000)
        s.call("lseek", source, 0, os.SEEK_CUR)
        s.call("lseek", target, 0, os.SEEK_CUR)
        s.call("sendfile", target, source, 10000, 1000)
        s.call("lseek", source, 0, os.SEEK_CUR)
        s.call("sendfile", target, source, None, 100000)
        s.call("sendfile", target, source, None, 10)
        s.call("sendfile", target, source, 50000, 10)
        s.call("sendfile", target, source, 0, 0)
        s.call("sendfile", out_fd=target, in_fd=source, offset=3, count=4)
        s.call("sendfile", source, source, 0, 4)
        s.call("lseek", source, 0, os.SEEK_CUR)
        s.call("pread", target, 20000, 0)

    compare(scenario, sides)


def test_sendfile_checks_in_the_kernels_order(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        source = s.file("in", b"0123456789")
        target = s.file("out")
        r, w = s.pipe()
        s.call("mkdir", s.path("d"))
        directory = s.fd("open", s.path("d"), os.O_RDONLY)
        eventfd = s.fd("eventfd", 5)
        s.call("write", w, b"pipe")
        for out_fd, in_fd, offset, count in [
            (9999, 9998, -1, 5), (9999, source, -1, 5), (9999, source, None, -1),
            (9999, source, 0, -1), (9999, source, OFF_T_MAX - 2, 5), (9999, source, 0, 5),
            (9999, r, 0, 5), (target, w, None, 5), (r, source, 0, 5), (target, r, None, 5),
            (w, r, None, 5), (target, directory, None, 5), (w, directory, None, 5),
            (eventfd, source, None, 5), (eventfd, source, 100, 5), (target, eventfd, None, 8),
            (target, source, 0, 0), (eventfd, source, 0, 0),
        ]:  # fmt: skip
            s.call("sendfile", out_fd, in_fd, offset, count)
        s.call("lseek", source, 0, os.SEEK_CUR)
        for bad in ((target, source, "x", 5), (target, source, 1 << 63, 5), ("1", source, 0, 1)):
            s.call("sendfile", *bad)
        s.call("sendfile", target, source, None, 1 << 63)
        appending = s.fd("open", s.path("out"), os.O_WRONLY | os.O_APPEND)
        s.call("sendfile", appending, source, 0, 4)
        read_only = s.fd("open", s.path("out"), os.O_RDONLY)
        s.call("sendfile", target, read_only, 0, 4)
        s.call("sendfile", read_only, source, 0, 4)

    compare(scenario, sides)


def test_sendfile_into_pipes(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        source = s.file("in", DATA * 10)
        r, w = s.pipe(os.O_NONBLOCK)
        s.call("sendfile", w, source, 100, 200000)
        s.call("sendfile", w, source, 0, 10)
        s.call("read", r, 5000)
        s.call("sendfile", w, source, 7, 10)
        s.call("read", r, 100000)
        s.call("write", w, b"x" * 5000)
        s.call("sendfile", w, source, None, 200000)
        s.call("lseek", source, 0, os.SEEK_CUR)
        s.call("read", r, 100000)
        s.call("close", r)
        s.call("sendfile", w, source, None, 10)

    compare(scenario, sides)


def test_splice_checks(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        source = s.file("in", b"0123456789")
        target = s.file("out")
        r, w = s.pipe()
        r2, w2 = s.pipe()
        eventfd = s.fd("eventfd", 5)
        s.call("mkdir", s.path("d"))
        directory = s.fd("open", s.path("d"), os.O_RDONLY)
        s.call("write", w, b"pipe data")
        calls: list[tuple[tuple[object, ...], dict[str, Any]]] = [
            ((0, 1, -10), {}), ((9999, 9998, 0), {}), ((9999, 9998, 5), {}),
            ((9999, 9998, 5), {"flags": 16}), ((9999, 9998, 5), {"flags": -1}),
            ((9999, 9998, 5), {"flags": "a"}), ((9999, 9998, 5), {"flags": 1 << 32}),
            ((9999, 9998, 5, "x"), {}), ((9999, 9998, 1 << 63), {}), (("x", 9998, 5), {}),
            ((source, target, 5), {}), ((source, w2, 5, -3), {}),
            ((source, w2, 5, OFF_T_MAX - 1), {}), ((source, w2, 5, 1 << 63), {}),
            ((source, w2, 5, None, 0), {}), ((r, target, 5, 0), {}), ((source, r2, 5), {}),
            ((w, target, 5), {}), ((r, w, 5), {}), ((r, target, 5, None, -2), {}),
            ((eventfd, w2, 8), {}), ((r, eventfd, 8), {}), ((directory, w2, 5), {}),
            ((source, w2, 0), {}),
        ]  # fmt: skip
        for args, kwargs in calls:
            s.call("splice", *args, **kwargs)
        appending = s.fd("open", s.path("out"), os.O_WRONLY | os.O_APPEND)
        s.call("splice", r, appending, 4)
        s.call("splice", r, target, 4, None, 3)
        s.call("splice", r, target, 100, flags=os.SPLICE_F_NONBLOCK | os.SPLICE_F_MOVE)
        s.call("splice", r, target, 100, flags=os.SPLICE_F_NONBLOCK)
        s.call("pread", target, 100, 0)
        s.call("lseek", target, 0, os.SEEK_CUR)
        s.call("splice", r2, w2, 5)

    compare(scenario, sides)


def test_splice_files_and_pipes(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        source = s.file("in", DATA * 10)
        target = s.file("out")
        r, w = s.pipe(os.O_NONBLOCK)
        r2, w2 = s.pipe(os.O_NONBLOCK)
        s.call("lseek", source, 1000, os.SEEK_SET)
        s.call("splice", source, w, 5)
        s.call("lseek", source, 0, os.SEEK_CUR)
        s.call("splice", source, w, 300000, 50)
        s.call("lseek", source, 0, os.SEEK_CUR)
        s.call("splice", source, w, 10)
        s.call("splice", r, target, 7)
        s.call("splice", r, target, 4096, None, 20)
        s.call("lseek", target, 0, os.SEEK_CUR)
        s.call("splice", r, w2, 10000)
        s.call("splice", r, w2, 100000)
        s.call("splice", r, w2, 100000)
        s.call("read", r2, 50)
        s.call("splice", r, w2, 100000)
        s.call("splice", r2, target, 1 << 20)
        s.call("close", w)
        s.call("splice", r, target, 1 << 20)
        s.call("splice", r, target, 1 << 20)
        s.call("close", r2)
        s.call("splice", source, w2, 10)
        s.call("pread", target, 1 << 20, 0)

    compare(scenario, sides)


def test_copy_file_range(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        source = s.file("in", b"0123456789")
        target = s.file("out", b"")
        s.call("copy_file_range", source, target, 5)
        s.call("copy_file_range", source, target, 6, offset_src=3, offset_dst=5)
        s.call("lseek", source, 0, os.SEEK_CUR)
        s.call("lseek", target, 0, os.SEEK_CUR)
        s.call("copy_file_range", source, target, 100)
        s.call("copy_file_range", source, target, 100)
        s.call("copy_file_range", source, source, 5, 0, 2)
        s.call("copy_file_range", source, source, 2, 0, 2)
        s.call("copy_file_range", source, source, 2, 0, 20)
        s.call("copy_file_range", source, target, 0)
        s.call("pread", target, 100, 0)
        s.call("pread", source, 100, 0)

    compare(scenario, sides)


def test_copy_file_range_checks(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        source = s.file("in", b"0123456789")
        target = s.file("out")
        r, _ = s.pipe()
        s.call("mkdir", s.path("d"))
        directory = s.fd("open", s.path("d"), os.O_RDONLY)
        appending = s.fd("open", s.path("out"), os.O_WRONLY | os.O_APPEND)
        read_only = s.fd("open", s.path("out"), os.O_RDONLY)
        write_only = s.fd("open", s.path("in"), os.O_WRONLY)
        for args in [
            (0, 1, -10), (9999, 9998, 0), (9999, target, 5), (source, 9998, 5),
            (9999, 9998, 5, "x"), (source, target, 5, 1 << 63), (source, target, 5, -1),
            (source, target, 0, -1), (source, target, 5, None, -3), (source, target, 5, -5),
            (source, r, 5), (r, target, 5), (directory, target, 5), (source, directory, 5),
            (source, appending, 5), (source, read_only, 5), (write_only, target, 5),
            (source, target, 5, OFF_T_MAX - 2), (source, target, 5, 0, OFF_T_MAX),
            (source, target, 1 << 63),
        ]:  # fmt: skip
            s.call("copy_file_range", *args)
        s.call("pread", target, 100, 0)

    compare(scenario, sides)


def test_sendfile_within_one_file(sides: tuple[Side, Side]) -> None:
    """Linux reads a file through its page cache while it writes the same file: a copy onto
    itself changes nothing, a copy forward into its own source repeats what it already
    copied, and a copy that keeps its source ahead of the end grows the file as it goes."""

    def scenario(s: Side) -> None:
        fd = s.file("f", DATA[:10000])
        s.call("sendfile", fd, fd, None, 5000)  # one offset for both ends: rewritten in place
        s.call("lseek", fd, 0, os.SEEK_CUR)
        s.call("pread", fd, 20000, 0)
        s.call("sendfile", fd, fd, None, 100000)
        s.call("lseek", fd, 0, os.SEEK_CUR)
        s.call("lseek", fd, 4, os.SEEK_SET)
        s.call("sendfile", fd, fd, 1, 7)  # forward by 3: a repeating pattern
        s.call("lseek", fd, 0, os.SEEK_CUR)
        s.call("pread", fd, 20000, 0)
        other = s.fd("open", s.path("f"), os.O_RDWR)  # another description of the same file
        s.call("lseek", other, 9000, os.SEEK_SET)
        s.call("sendfile", other, fd, 8000, 50000)  # its source stays ahead of the end
        s.call("lseek", other, 0, os.SEEK_CUR)
        s.call("fstat", fd)
        s.call("pread", fd, 100000, 0)
        s.call("sendfile", fd, other, 5000, 3000)  # backwards: nothing read is overwritten
        s.call("lseek", fd, 0, os.SEEK_CUR)
        s.call("pread", fd, 100000, 0)

    compare(scenario, sides)


def test_copy_file_range_refuses_overlap_within_one_file(sides: tuple[Side, Side]) -> None:
    """EINVAL when the ranges overlap once the count is cut at the end of the file, through
    one description or two; ranges that do not overlap are copied."""

    def scenario(s: Side) -> None:
        fd = s.file("f", DATA[:10000])
        other = s.fd("open", s.path("f"), os.O_RDWR)
        s.call("copy_file_range", fd, fd, 100)  # both at offset 0
        s.call("copy_file_range", fd, other, 10, 0, 5)
        s.call("copy_file_range", fd, other, 100000, 9000, 9500)  # 1000 left: overlaps
        s.call("copy_file_range", fd, other, 100000, 9000, 10000)  # adjacent: copied
        s.call("copy_file_range", fd, other, 10, 20000, 0)  # nothing left to copy: 0
        s.call("fstat", fd)
        s.call("pread", fd, 100000, 0)

    compare(scenario, sides)


@given(
    size=st.integers(1, 20000),
    source=st.integers(0, 20000),
    distance=st.sampled_from([-5000, -1, 0, 1, 3, 8, 17, 4095, 4096, 5000, 70000]),
    count=st.integers(1, 150000),
)
def test_sendfile_within_one_file_moves_what_linux_moves(
    tmp_path_factory: pytest.TempPathFactory, size: int, source: int, distance: int, count: int
) -> None:
    root = tmp_path_factory.mktemp("sendfile")

    def scenario(s: Side) -> None:
        fd = s.file("f", bytes(range(251)) * (size // 251) + bytes(size % 251))
        s.call("lseek", fd, max(0, source + distance), os.SEEK_SET)
        s.call("sendfile", fd, fd, source, count)
        s.call("lseek", fd, 0, os.SEEK_CUR)
        s.call("pread", fd, 400000, 0)

    with opened_sides(root, "memory") as pair:
        compare(scenario, pair)


@given(
    size=st.sampled_from([0, 1, 1024, 4096, 10000, (1 << 20) - 1, (1 << 20) + 1]),
    offset=st.sampled_from([0, 1, 1000, 4096, 9999, 10001, 1 << 20]),
    count=st.sampled_from([0, 1, 1024, 4096, 1 << 20, 1 << 23]),
    target=st.tuples(st.sampled_from([0, 7, 5000]), st.integers(1, 3)),
)
def test_sendfile_from_an_offset_moves_what_linux_moves(
    tmp_path_factory: pytest.TempPathFactory,
    size: int,
    offset: int,
    count: int,
    target: tuple[int, int],
) -> None:
    """shutil.copyfile's calls (a given source offset, the target's own offset, counts past
    the end): the one-read-one-write path of memory files agrees with Linux, on both sides
    of the chunk it serves whole."""
    root = tmp_path_factory.mktemp("sendfile")
    at, repeat = target

    def scenario(s: Side) -> None:
        source = s.file("in", bytes(range(251)) * (size // 251) + bytes(size % 251))
        out = s.file("out", b"t" * 100)
        s.call("lseek", out, at, os.SEEK_SET)
        for _ in range(repeat):
            s.call("sendfile", out, source, offset, count)
        s.call("lseek", source, 0, os.SEEK_CUR)
        s.call("lseek", out, 0, os.SEEK_CUR)
        s.call("fstat", out)
        s.call("pread", out, 1 << 22, 0)

    with opened_sides(root, "memory") as pair:
        compare(scenario, pair)


@given(
    writes=st.lists(st.integers(1, 9000), max_size=12),
    moves=st.lists(st.integers(1, 70000), min_size=1, max_size=6),
    read_first=st.integers(0, 5000),
)
def test_pipe_to_pipe_moves_what_a_real_pipe_moves(
    tmp_path_factory: pytest.TempPathFactory, writes: list[int], moves: list[int], read_first: int
) -> None:
    """How much a splice between two pipes moves depends on how the source's writes were cut
    into buffers and how full the target is: the emulated pipes agree with Linux's."""
    root = tmp_path_factory.mktemp("pipes")

    def scenario(s: Side) -> None:
        r, w = s.pipe(os.O_NONBLOCK)
        r2, w2 = s.pipe(os.O_NONBLOCK)
        s.call("write", w2, b"t" * 3000)
        for size in writes:
            s.call("write", w, b"s" * size)
        for count in moves:
            s.call("splice", r, w2, count)
            s.call("read", r2, read_first)

    with opened_sides(root, "memory") as pair:
        compare(scenario, pair)


def test_splice_waits_for_data_and_room(sides: tuple[Side, Side]) -> None:
    """A blocking splice from an empty pipe returns once a writer writes (or closes)."""

    def scenario(s: Side) -> None:
        target = s.file("out")
        r, w = s.pipe()

        def later() -> None:
            time.sleep(0.05)
            s.os.write(w, b"late")

        writer = threading.Thread(target=later)
        writer.start()
        s.call("splice", r, target, 100)
        writer.join()
        s.call("pread", target, 100, 0)

    compare(scenario, sides)


@given(
    writes=st.lists(st.integers(1, 9000), max_size=8),
    offsets=st.lists(st.integers(0, 30000), min_size=1, max_size=4),
    count=st.integers(1, 80000),
)
def test_file_to_pipe_moves_what_a_real_pipe_takes(
    tmp_path_factory: pytest.TempPathFactory, writes: list[int], offsets: list[int], count: int
) -> None:
    """What one splice from a file takes depends on the free slots and on where in its page
    the file offset is: the emulated pipes agree with Linux's."""
    root = tmp_path_factory.mktemp("splice")

    def scenario(s: Side) -> None:
        source = s.file("in", DATA * 3)
        r, w = s.pipe(os.O_NONBLOCK)
        for size in writes:
            s.call("write", w, b"w" * size)
        for offset in offsets:
            s.call("splice", source, w, count, offset)
        s.call("read", r, 1 << 20)

    with opened_sides(root, "host") as pair:
        compare(scenario, pair)
