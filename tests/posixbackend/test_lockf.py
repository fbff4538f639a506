"""os.lockf on the emulated backend, against real os (both in this process, where a process's
own POSIX locks never conflict), and the gap: other processes do not see emulated locks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from posixbackend.emulated import EmulatedBackend
from tests.posixbackend.sides import Side, compare, hits, sides
from vfs import HostFileSystem, Identity

__all__ = ["sides"]  # the fixture, imported for the tests below

COMMANDS = (os.F_ULOCK, os.F_LOCK, os.F_TLOCK, os.F_TEST)
OFF_T_MAX = (1 << 63) - 1


def test_locking_within_the_process(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        fd = s.file("f", b"0123456789")
        for command in COMMANDS:
            for length in (0, 4, -1, OFF_T_MAX):
                s.call("lockf", fd, command, length)
        s.call("lockf", fd, os.F_LOCK, 4)
        s.call("lockf", fd, os.F_TEST, 4)
        s.call("lseek", fd, 10, os.SEEK_SET)
        for length in (-5, -10, -11, OFF_T_MAX - 9, OFF_T_MAX - 10):
            s.call("lockf", fd, os.F_TLOCK, length)
        s.call("lseek", fd, 3, os.SEEK_SET)
        s.call("lockf", fd, os.F_ULOCK, 0)

    compare(scenario, sides)


def test_checks_in_glibc_and_the_kernels_order(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        s.file("f", b"data")
        read_only = s.fd("open", s.path("f"), os.O_RDONLY)
        write_only = s.fd("open", s.path("f"), os.O_WRONLY)
        r, w = s.pipe()
        eventfd = s.fd("eventfd", 0)
        s.call("mkdir", s.path("d"))
        directory = s.fd("open", s.path("d"), os.O_RDONLY)
        for fd in (read_only, write_only, r, w, eventfd, directory):
            for command in COMMANDS:
                s.call("lockf", fd, command, 0)
            s.call("lockf", fd, os.F_LOCK, -1)
        for args in [
            (9999, 99, 0), (read_only, 99, 0), (read_only, -1, 0), (9999, os.F_LOCK, 0),
            (9999, os.F_LOCK, -1), ("x", 1, 0), (read_only, "1", 0), (read_only, 1, 1.5),
            (read_only, 1, 1 << 63), (read_only, 1 << 31, 0),
        ]:  # fmt: skip
            s.call("lockf", *args)

    compare(scenario, sides)


def test_other_processes_do_not_see_the_locks(tmp_path: Path) -> None:
    """On Linux a second process could not take this range (EAGAIN); a host program still
    can here (the gap), while a second emulated process cannot, as on Linux."""
    (tmp_path / "f").write_bytes(b"data")
    backend = EmulatedBackend(HostFileSystem(tmp_path), identity=Identity.current())
    fd = backend.open("/f", os.O_RDWR)
    before = hits("emulated.fcntl.host_processes")
    backend.lockf(fd, os.F_LOCK, 4)
    assert hits("emulated.fcntl.host_processes") == before + 1
    second = EmulatedBackend(HostFileSystem(tmp_path), identity=Identity.current())
    theirs = second.open("/f", os.O_RDWR)
    with pytest.raises(BlockingIOError):
        second.lockf(theirs, os.F_TLOCK, 4)
    with pytest.raises(PermissionError):
        second.lockf(theirs, os.F_TEST, 4)
    second.close(theirs)
    other = subprocess.run(
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'r+');"
         " fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 4); print('locked')",
         str(tmp_path / "f")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert other.stdout.strip() == "locked", other.stderr
    backend.close(fd)
