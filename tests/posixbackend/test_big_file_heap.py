"""A big memory file grown by appends leaves no old copy of its content resident.

glibc's realloc moves a block it cannot grow in place (malloc, copy, free); once anything
freed a mapped block of up to 32 MiB, its dynamic mmap threshold is that high and the old copy
stays in the heap, resident, until the heap's top passes a trim threshold twice as high. The
accelerated write gives such pages back (malloc_trim) after it moved a big content, so the
resident set is about the file's size once it is written, as when no old copy is left behind.
Big writes and reservations through the C writer (whose moves trim the heap) stay what the
Python method and a real file give.
"""

from __future__ import annotations

import ctypes
import os
import platform

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from benchmarks.group_scale import status_kib
from posixbackend.emulated import accelerator
from tests.posixbackend.test_accelerator import make_backend
from tests.posixbackend.test_memory_writer import agree_with_python_and_linux

MIB = 1 << 20
FILE_MIB = 48


def glibc() -> ctypes.CDLL | None:
    """The process's C library when it is glibc (whose heap this is about), else None."""
    if platform.libc_ver()[0] != "glibc":
        return None
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    return libc


LIBC = glibc()


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
@pytest.mark.skipif(LIBC is None or not os.path.exists("/proc/self/status"),
                    reason="about glibc's heap, measured through Linux's /proc")  # fmt: skip
def test_appends_that_move_the_content_leave_no_old_copy_resident() -> None:
    """With glibc's mmap threshold raised (a freed 31 MiB mapped block) and a small heap block
    allocated after each append, the content moves out of the heap once it passes the
    threshold; afterwards the resident set has grown by at most 1.15x the file's size (1.75x
    when the old copy stayed), and the file holds what was written. (During the move itself
    both copies are resident, as for any bytearray that realloc moves.)"""
    assert LIBC is not None
    backend = make_backend(True)
    LIBC.free(LIBC.malloc(31 * MIB))  # glibc's threshold rises to the freed block's size
    blockers: list[int] = []
    before = status_kib("VmRSS")
    try:
        with backend.io_open("/d/big", "wb", buffering=0) as raw:  # the C write path
            for n in range(FILE_MIB):
                assert raw.write(bytes([n]) * MIB) == MIB
                blockers.append(LIBC.malloc(64 * 1024))  # after the content, in the heap
            growth = (status_kib("VmRSS") - before) * 1024
    finally:
        for block in blockers:
            LIBC.free(block)
    fd = backend.open("/d/big", os.O_RDONLY)
    assert [backend.pread(fd, 1, n * MIB) for n in range(FILE_MIB)] == [
        bytes([n]) for n in range(FILE_MIB)
    ]
    backend.close(fd)
    assert growth <= 1.15 * FILE_MIB * MIB, growth / (FILE_MIB * MIB)


BIG_STEPS = st.lists(
    st.one_of(
        # a write: (byte, length, offset), past a MiB so that growth moves big buffers
        st.tuples(st.integers(0, 255), st.integers(1, 3 * MIB // 2), st.integers(0, 3 * MIB)),
        st.integers(MIB, 6 * MIB),  # a reservation (SQLite's size hint) between writes
    ),
    min_size=1,
    max_size=8,
)


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
@settings(max_examples=15, deadline=None)
@given(steps=BIG_STEPS)
@example(steps=[(1, MIB + 5, 0), (2, MIB, MIB), 5 * MIB, (3, MIB, 3 * MIB), (4, MIB, 5 * MIB)])
def test_big_writes_and_reservations_give_what_python_and_linux_give(
    steps: list[tuple[int, int, int] | int], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Writes of up to 1.5 MiB anywhere in the first 3 MiB and reservations of up to 6 MiB
    through the C writer (whose growth moves big buffers, and then trims glibc's heap) give
    the Python method's and a real file's results, size, content and pages counted."""
    writes = [
        step if isinstance(step, int) else (bytes([step[0]]) * step[1], step[2]) for step in steps
    ]
    agree_with_python_and_linux(writes, tmp_path_factory.mktemp("w"), every_write=False)
