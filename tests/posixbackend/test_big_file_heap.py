"""A big memory file grown by appends leaves no old copy of its content resident.

glibc's realloc moves a block it cannot grow in place (malloc, copy, free); once anything
freed a mapped block of up to 32 MiB, its dynamic mmap threshold is that high and the old copy
stays in the heap, resident, until the heap's top passes a trim threshold twice as high. The
accelerated write gives such pages back (malloc_trim) after it moved a big content, so the
resident set is about the file's size once it is written, as when no old copy is left behind.
"""

from __future__ import annotations

import ctypes
import os
import platform
import posix

import pytest

from posixbackend.emulated import accelerator
from tests.posixbackend.test_accelerator import make_backend

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


def proc_self(name: str, data: bytes | None = None) -> bytes:
    """Read (or write ``data`` to) /proc/self/NAME with the real posix functions."""
    fd = posix.open(f"/proc/self/{name}", posix.O_WRONLY if data else posix.O_RDONLY)
    try:
        if data:
            posix.write(fd, data)
            return b""
        return posix.read(fd, 1 << 16)
    finally:
        posix.close(fd)


def status_kib(field: str) -> int:
    """A ``kB`` figure of /proc/self/status (VmRSS, VmHWM)."""
    for line in proc_self("status").decode().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


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
