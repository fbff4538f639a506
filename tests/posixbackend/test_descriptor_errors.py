"""Descriptor calls whose Linux answers are easy to get wrong: closerange with a bound of 0 or
below, fsync of a pipe, posix_fallocate's errors and times."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from posixbackend.emulated import EmulatedBackend
from vfs import HostFileSystem, Identity, MemoryFileSystem


@pytest.fixture
def backend() -> EmulatedBackend:
    return EmulatedBackend(MemoryFileSystem(identity=Identity.root()), standard_streams=False)


def _alive(o: object, fds: list[int]) -> list[int]:
    alive = []
    for fd in fds:
        try:
            o.fstat(fd)  # type: ignore[attr-defined]
        except OSError:
            continue
        alive.append(fd)
    return alive


def _native_closerange(low: int, high: int) -> list[bool]:
    """Which of three fresh descriptors survive closerange(low or theirs, high), in a child."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(3)]
            os.closerange(fds[1] if low < 0 else low, high)
            os.write(writer, bytes(fd in _alive(os, fds) for fd in fds))
        finally:
            os._exit(0)
    os.close(writer)
    os.waitpid(pid, 0)
    with os.fdopen(reader, "rb") as answers:
        return [bool(b) for b in answers.read()]


@pytest.mark.parametrize("high", [0, -1, -(2**31)])
def test_closerange_with_a_high_bound_of_zero_or_below_closes_everything_above_low(
    backend: EmulatedBackend, high: int
) -> None:
    fds = [backend.open("/f", os.O_CREAT | os.O_RDWR, 0o644) for _ in range(3)]
    backend.closerange(fds[1], high)
    assert [fd in _alive(backend, fds) for fd in fds] == [True, False, False]
    assert _native_closerange(-1, high) == [True, False, False]


def test_closerange_with_low_above_high_closes_nothing(backend: EmulatedBackend) -> None:
    for _ in range(3):  # 0, 1 and 2 taken: the high bound below is positive
        backend.open("/f", os.O_CREAT | os.O_RDWR, 0o644)
    fds = [backend.open("/f", os.O_CREAT | os.O_RDWR, 0o644) for _ in range(3)]
    backend.closerange(fds[2], fds[0])
    assert _alive(backend, fds) == fds


def test_fsync_of_a_pipe_is_einval(backend: EmulatedBackend) -> None:
    for end in backend.pipe():
        for call in (backend.fsync, backend.fdatasync):
            with pytest.raises(OSError) as caught:
                call(end)
            assert caught.value.errno == 22


def test_posix_fallocate_on_a_read_end_is_ebadf_on_a_write_end_espipe(
    backend: EmulatedBackend,
) -> None:
    reader, writer = backend.pipe()
    with pytest.raises(OSError) as caught:
        backend.posix_fallocate(reader, 0, 1)
    assert caught.value.errno == 9
    with pytest.raises(OSError) as caught:
        backend.posix_fallocate(writer, 0, 1)
    assert caught.value.errno == 29


@pytest.mark.parametrize("length", [10, 1000])
@pytest.mark.parametrize("provider", ["memory", "host"])
def test_posix_fallocate_changes_mtime_and_ctime_not_atime(
    length: int, provider: str, tmp_path: Path
) -> None:
    """Linux's fallocate calls file_modified(), within the size or beyond it."""
    file_system = (
        MemoryFileSystem(identity=Identity.root())
        if provider == "memory"
        else HostFileSystem(tmp_path)
    )
    backend_ns = EmulatedBackend(file_system, standard_streams=False, time_resolution_ns=1)
    fd = backend_ns.open("/f", os.O_CREAT | os.O_RDWR, 0o644)
    backend_ns.write(fd, b"x" * 100)
    backend_ns.utime("/f", ns=(1_000_000_000, 2_000_000_000))
    before = backend_ns.stat("/f")
    time.sleep(0.001)
    backend_ns.posix_fallocate(fd, 0, length)
    after = backend_ns.stat("/f")
    assert after.st_atime_ns == before.st_atime_ns
    assert after.st_mtime_ns > before.st_mtime_ns
    assert after.st_ctime_ns > before.st_ctime_ns
    assert after.st_size == max(100, length)
