"""A file written in chunks and read back, with the accelerator: the first read after a write
(which moves atime under relatime) is served by the C read paths, copying the bytes once, as
the Python path would answer it; and once its last handle closes, the file keeps no growth
slack (CPython's bytearray over-allocates an eighth for the next appends)."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from posixbackend.emulated import EmulatedBackend, accelerator
from tests.posixbackend.test_accelerator import make_backend
from vfs.memory.handle import MemoryHandle

NEEDS_C = pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
MIB = 1 << 20


def node_of(backend: EmulatedBackend, path: str) -> Any:
    """The inode behind ``path`` in the backend's memory file system."""
    fs: Any = backend.file_system
    directory, name, _ = fs._names.quick(path)
    return directory.entries[name]


def write_chunks(backend: EmulatedBackend, path: str, chunks: int) -> int:
    """Write ``chunks`` MiB in 1 MiB writes; the descriptor, still open."""
    fd = backend.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    for n in range(chunks):
        assert backend.write(fd, bytes([n]) * MIB) == MIB
    return fd


@NEEDS_C
def test_a_closed_file_keeps_no_growth_slack() -> None:
    """While a handle writes, the content may keep slack for the next appends; after the last
    close it is gone, and the bytes are those written. Appending afterwards works as ever."""
    backend = make_backend(True)
    fd = write_chunks(backend, "/d/big", 11)
    data = node_of(backend, "/d/big").data
    assert sys.getsizeof(data) - len(data) > MIB  # the appends' slack (CPython's choice)
    other = backend.open("/d/big", os.O_RDONLY)
    backend.close(fd)
    assert sys.getsizeof(data) - len(data) > MIB  # a handle is still open
    backend.close(other)
    assert node_of(backend, "/d/big").data is data
    assert len(data) == 11 * MIB
    assert sys.getsizeof(data) - len(data) < 4096
    assert [data[n * MIB] for n in range(11)] == list(range(11))
    fd = backend.open("/d/big", os.O_WRONLY | os.O_APPEND)
    assert backend.write(fd, b"end") == 3
    backend.close(fd)
    assert backend.stat("/d/big").st_size == 11 * MIB + 3
    assert bytes(node_of(backend, "/d/big").data[-4:]) == bytes([10]) + b"end"


@NEEDS_C
def test_an_exported_content_is_left_alone() -> None:
    """Content someone holds a buffer of (a memoryview) is not moved by the last close."""
    backend = make_backend(True)
    fd = write_chunks(backend, "/d/big", 11)
    data = node_of(backend, "/d/big").data
    slack = sys.getsizeof(data) - len(data)
    with memoryview(data) as view:
        backend.close(fd)
        assert sys.getsizeof(data) - len(data) == slack
        assert slack > MIB and view[10 * MIB] == 10


def read_back(backend: EmulatedBackend, how: str) -> bytes:
    """The file's bytes, read the way ``how`` says."""
    if how == "read":
        fd = backend.open("/d/big", os.O_RDONLY)
        data = backend.read(fd, MIB) + backend.read(fd, 2 * MIB)
        backend.close(fd)
        return data
    raw: Any
    with backend.io_open("/d/big", "rb", buffering=0) as raw:
        if how == "readall":
            return bytes(raw.readall())
        buffer = bytearray(2 * MIB + 1)
        return bytes(buffer[: raw.readinto(buffer)])


@NEEDS_C
@pytest.mark.parametrize("how", ["read", "readinto", "readall"])
def test_the_first_read_after_a_write_moves_atime_in_c(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first read after a write, which relatime lets move atime, is the C read's (no
    Python read, whose pread copies the bytes before they are copied into the caller's
    buffer) and moves atime as the Python read does."""
    python_reads: list[tuple[int, int]] = []
    pread = MemoryHandle.pread

    def counted(handle: MemoryHandle, n: int, offset: int) -> bytes:
        python_reads.append((n, offset))
        return pread(handle, n, offset)

    monkeypatch.setattr(MemoryHandle, "pread", counted)
    results = {}
    for accelerated in (True, False):
        backend = make_backend(accelerated)
        backend.close(write_chunks(backend, "/d/big", 2))
        before = backend.stat("/d/big")
        node = node_of(backend, "/d/big")
        python_reads.clear()
        data = read_back(backend, how)
        assert (python_reads == []) == accelerated
        assert data == bytes(MIB) + b"\x01" * MIB
        after = backend.stat("/d/big")
        assert after.st_atime_ns >= before.st_mtime_ns and node.atime > node.mtime
        results[accelerated] = (after.st_size, after.st_mtime_ns == before.st_mtime_ns)
    assert results[True] == results[False]
