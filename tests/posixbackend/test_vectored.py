"""os.readv, os.writev, os.preadv and os.pwritev on the emulated backend, against real os.

Each scenario runs on real ``os`` in a host directory and on an EmulatedBackend (over the host
provider and the memory provider); every outcome must agree (see ``sides.py``).
"""

from __future__ import annotations

import errno
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend.emulated import EmulatedBackend
from tests.posixbackend.sides import Side, compare, hits, sides

__all__ = ["sides"]  # the fixture, imported for the tests below

RWF_BITS = [1 << bit for bit in range(10)]
"""RWF_HIPRI .. RWF_NOSIGNAL, and one bit Linux does not know."""


def test_the_cpython_examples(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        fd = s.file("f", b"test1tt2t3t5t6t6t8")
        buffers = [bytearray(n) for n in (5, 3, 2)]
        s.call("preadv", fd, buffers, 3)
        s.note("buffers", b"|".join(buffers))
        s.call("preadv", fd, buffers, 3, os.RWF_HIPRI)
        s.note("buffers", b"|".join(buffers))
        s.call("lseek", fd, 0, os.SEEK_SET)
        s.call("pwritev", fd, [b"test1", b"tt2", b"t3"], 2)
        s.call("read", fd, 100)
        s.call("pwritev", fd, [b"x", bytearray(b"yz"), memoryview(b"w")], 1, os.RWF_SYNC)
        s.call("pread", fd, 100, 0)

    compare(scenario, sides)


def test_offsets(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        fd = s.file("f", b"0123456789")
        s.call("lseek", fd, 4, os.SEEK_SET)
        for offset in (0, 8, 10, 20, -1, -2, (1 << 63) - 1, 1 << 63):
            buffers = [bytearray(3), bytearray(2)]
            s.call("preadv", fd, buffers, offset)
            s.note("read", b"|".join(buffers))
            s.call("lseek", fd, 0, os.SEEK_CUR)
        s.call("preadv", fd, [bytearray(1)], -1, os.RWF_HIPRI)
        s.call("pwritev", fd, [b"AB"], -1)
        s.call("pwritev", fd, [b"CD"], -1, os.RWF_DSYNC)
        s.call("lseek", fd, 0, os.SEEK_CUR)
        s.call("pwritev", fd, [b"x"], -7)
        s.call("pwritev", fd, [b"x"], (1 << 63) - 1)
        s.call("pwritev", fd, [b""], (1 << 63) - 1)
        s.call("pwritev", fd, [b"far"], 30)
        s.call("pread", fd, 100, 0)

    compare(scenario, sides)


def test_flags(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        fd = s.file("f", b"0123456789")
        for flags in [*RWF_BITS, -1, 0x30, 1 << 31]:
            buffers = [bytearray(4)]
            s.call("preadv", fd, buffers, 2, flags)
            s.note("read", buffers[0])
            s.call("pwritev", fd, [b"ab"], 0, flags)
            s.call("pwritev", fd, [], 0, flags)
            s.call("pread", fd, 100, 0)
            s.call("lseek", fd, 0, os.SEEK_CUR)
        s.call("pwritev", fd, [b"end"], -1, os.RWF_APPEND)
        s.call("lseek", fd, 0, os.SEEK_CUR)
        s.call("pread", fd, 100, 0)

    compare(scenario, sides)


def test_append_descriptors(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        s.file("f", b"start;")
        fd = s.fd("open", s.path("f"), os.O_RDWR | os.O_APPEND)
        s.call("pwritev", fd, [b"one;"], 0)
        s.call("pwritev", fd, [b"two;"], 2, os.RWF_APPEND)
        s.call("lseek", fd, 0, os.SEEK_CUR)
        s.call("writev", fd, [b"three;", b"four;"])
        s.call("pread", fd, 100, 0)
        s.call("pwritev", fd, [b"no"], 0, 0x30)  # RWF_APPEND | RWF_NOAPPEND
        s.call("pread", fd, 100, 0)
        # RWF_NOAPPEND: Linux writes at the offset; providers' O_APPEND handles cannot
        s.call("pwritev", fd, [b"no"], 0, 0x20, gap="emulated.pwritev.noappend")

    compare(scenario, sides)


def test_wrong_arguments(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        fd = s.file("f", b"data")
        for buffers in ("ab", 3, [b"ab"], [bytearray(2), "x"], [memoryview(b"ro")], None):
            s.call("preadv", fd, buffers, 0)
            s.call("readv", fd, buffers)
        for gathered in (3, ["ab"], [b"ok", 1], None):
            s.call("pwritev", fd, gathered, 0)
            s.call("writev", fd, gathered)
        for bad_fd in (9999, -1, "3", 1.5):
            s.call("preadv", bad_fd, [bytearray(1)], 0)
            s.call("pwritev", bad_fd, [b"x"], 0)
            s.call("readv", bad_fd, [bytearray(1)])
        s.call("preadv", 9999, [bytearray(1)], -3)
        s.call("preadv", 9999, [bytearray(1)], -1)
        s.call("preadv", fd, [bytearray(1)], "0")
        s.call("preadv", fd, [bytearray(1)], 0, "1")
        s.call("preadv", fd, [bytearray(1)], 1 << 64)
        s.call("preadv", fd, [bytearray(1)] * 1025, 0)
        s.call("pwritev", fd, [b""] * 1025, 0)
        s.call("readv", fd, [bytearray(1)] * 1025)
        s.call("writev", fd, [b""] * 1025)
        s.call("preadv", fd, [bytearray(1)] * 1024, 0)
        s.call("preadv", fd, [memoryview(bytearray(8)).cast("i")], 0)

    compare(scenario, sides)


def test_access_modes_and_directories(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        s.file("f", b"data")
        ro = s.fd("open", s.path("f"), os.O_RDONLY)
        wo = s.fd("open", s.path("f"), os.O_WRONLY)
        s.call("pwritev", ro, [b"x"], 0)
        s.call("pwritev", ro, [b"x"], 0, 0xFFFF)
        s.call("writev", ro, [b"x"])
        s.call("preadv", wo, [bytearray(1)], 0)
        s.call("readv", wo, [bytearray(1)])
        s.call("mkdir", s.path("d"))
        directory = s.fd("open", s.path("d"), os.O_RDONLY)
        for flags in (0, os.RWF_HIPRI, os.RWF_NOWAIT, 0x400):
            s.call("preadv", directory, [bytearray(1)], 0, flags)
            s.call("preadv", directory, [bytearray(1)], -1, flags)
        s.call("preadv", directory, [], 0)
        s.call("readv", directory, [bytearray(4)])

    compare(scenario, sides)


def test_pipes(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        r, w = s.pipe()
        s.call("preadv", r, [bytearray(1)], 0)
        s.call("pwritev", w, [b"x"], 0)
        s.call("preadv", r, [bytearray(1)], -1, os.RWF_NOWAIT)
        s.call("pwritev", w, [b"ab", b"cd"], -1)
        s.call("pwritev", w, [b"ef"], -1, os.RWF_NOWAIT | os.RWF_HIPRI)
        s.call("pwritev", w, [b"gh"], -1, 0x80)  # RWF_DONTCACHE
        buffers = [bytearray(3), bytearray(10)]
        s.call("preadv", r, buffers, -1)
        s.note("read", b"|".join(buffers))
        s.call("readv", r, [bytearray(1)] * 1025)
        s.call("preadv", w, [bytearray(1)], -1)
        s.call("pwritev", r, [b"x"], -1)
        rn, wn = s.pipe(os.O_NONBLOCK)
        s.call("readv", rn, [bytearray(4)])
        s.call("writev", wn, [b"a" * 70000])
        s.call("pwritev", wn, [b"b"], -1, os.RWF_NOWAIT)

    compare(scenario, sides)


def test_eventfds(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        fd = s.fd("eventfd", 3)
        s.call("preadv", fd, [bytearray(8)], 0)
        s.call("pwritev", fd, [(5).to_bytes(8, "little")], -1, os.RWF_HIPRI)
        s.call("pwritev", fd, [(5).to_bytes(8, "little")], -1, os.RWF_NOWAIT)
        buffers = [bytearray(8)]
        s.call("preadv", fd, buffers, -1, os.RWF_NOWAIT)
        s.note("read", buffers[0])
        s.call("preadv", fd, [bytearray(8)], -1, os.RWF_NOWAIT)
        s.call("readv", fd, [bytearray(4)])

    compare(scenario, sides)


@given(
    data=st.binary(max_size=64),
    sizes=st.lists(st.integers(0, 20), max_size=5),
    offset=st.integers(-1, 80),
)
def test_scattered_reads_agree_with_pread(data: bytes, sizes: list[int], offset: int) -> None:
    backend = EmulatedBackend()
    fd = backend.open("/f", os.O_RDWR | os.O_CREAT)
    backend.write(fd, data)
    backend.lseek(fd, 3, os.SEEK_SET)
    buffers = [bytearray(size) for size in sizes]
    count = backend.preadv(fd, buffers, offset)
    start = 3 if offset == -1 else offset
    expected = data[start : start + sum(sizes)]
    assert count == len(expected)
    assert b"".join(buffers)[:count] == expected
    assert backend.lseek(fd, 0, os.SEEK_CUR) == (3 + count if offset == -1 else 3)


def test_the_noappend_gap_refuses_without_writing() -> None:
    backend = EmulatedBackend()
    fd = backend.open("/log", os.O_RDWR | os.O_CREAT | os.O_APPEND)
    backend.write(fd, b"abc")
    before = hits("emulated.pwritev.noappend")
    with pytest.raises(OSError) as caught:
        backend.pwritev(fd, [b"X"], 0, 0x20)
    assert caught.value.errno == errno.EOPNOTSUPP
    assert hits("emulated.pwritev.noappend") == before + 1
    assert backend.pread(fd, 10, 0) == b"abc"
