"""fcntl.fcntl, flock, lockf and ioctl on emulated descriptors (issue 18, item 3).

Each scenario runs natively in a host temporary directory and inside ``backend('managed')``
over memory and over a confined host directory, through the switched ``os`` and ``fcntl``
modules; the logs must agree. Locks between emulated processes (two backends) are checked
against Linux's rules directly: one process cannot run two native processes here.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import shutil
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import posixbackend
from posixbackend.emulated import EmulatedBackend
from tests.posixbackend.blocks import compare_in_blocks, managed_directory
from vfs import HostFileSystem

FLOCK = "hhllhh"
"""How Python's documentation packs a struct flock (28 bytes; the kernel's is 32)."""
FIONREAD = 0x541B
TCGETS = 0x5401


def lock_request(kind: int, start: int = 0, length: int = 0, whence: int = 0) -> bytes:
    return struct.pack(FLOCK, kind, whence, start, length, 0, 0)


def facts(call: Callable[[], Any]) -> Any:
    """A call's result, or its error's class and errno (or message)."""
    try:
        result = call()
    except OSError as error:
        return (type(error).__name__, error.errno)
    except (TypeError, ValueError, OverflowError) as error:
        return (type(error).__name__, str(error))
    if isinstance(result, bytes) and len(result) >= struct.calcsize(FLOCK):
        kind, whence, start, length, _, _ = struct.unpack(FLOCK, result[:28])
        pid = struct.unpack("i", result[24:28])[0]
        return ("flock", kind, whence, start, length, "me" if pid == os.getpid() else pid)
    return ("ok", result)


def compare(scenario: Callable[[str], list[Any]]) -> list[Any]:
    """The scenario's log natively, then on memory and on a host directory: all equal."""
    return compare_in_blocks(scenario, "fcntl")


def test_descriptor_commands() -> None:
    def scenario(root: str) -> list[Any]:
        path = f"{root}/f"
        log: list[Any] = []
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        opath = os.open(path, os.O_PATH)
        reader, writer = os.pipe()
        log.append(facts(lambda: fcntl.fcntl(fd, fcntl.F_GETFL)))
        log.append(facts(lambda: fcntl.fcntl(directory, fcntl.F_GETFL)))
        log.append(facts(lambda: fcntl.fcntl(opath, fcntl.F_GETFL)))
        log.append(facts(lambda: fcntl.fcntl(writer, fcntl.F_GETFL)))
        log.append(facts(lambda: fcntl.fcntl(fd, fcntl.F_SETFL, os.O_NONBLOCK)))
        log.append(facts(lambda: fcntl.fcntl(fd, fcntl.F_GETFL)))
        log.append(facts(lambda: os.get_blocking(fd)))
        log.append(facts(lambda: fcntl.fcntl(opath, fcntl.F_SETFL, os.O_APPEND)))
        log.append(facts(lambda: fcntl.fcntl(fd, fcntl.F_GETFD)))
        log.append(facts(lambda: fcntl.fcntl(fd, fcntl.F_SETFD, 0)))
        log.append(facts(lambda: (fcntl.fcntl(fd, fcntl.F_GETFD), os.get_inheritable(fd))))
        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 200)
        log.append((high >= 200, fcntl.fcntl(high, fcntl.F_GETFD)))
        cloexec = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 0)
        log.append(fcntl.fcntl(cloexec, fcntl.F_GETFD))
        log.append(facts(lambda: fcntl.fcntl(fd, fcntl.F_DUPFD, -1)))
        log.append(facts(lambda: fcntl.fcntl(reader, fcntl.F_GETPIPE_SZ)))
        for size in (0, 1, 4096, 5000, 65536, 1 << 20, -1):
            log.append(facts(lambda: fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, size)))  # noqa: B023
            log.append(facts(lambda: fcntl.fcntl(reader, fcntl.F_GETPIPE_SZ)))
        os.write(writer, b"x" * 10000)
        log.append(facts(lambda: fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, 4096)))
        log.append(facts(lambda: fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, 16384)))
        log.append(facts(lambda: os.read(reader, 20000)))
        log.append(facts(lambda: fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)))
        log.append(facts(lambda: fcntl.fcntl(fd, 9999)))
        log.append(facts(lambda: fcntl.fcntl(fd, fcntl.F_GETFL, "ab")))
        log.append(facts(lambda: fcntl.fcntl(fd, fcntl.F_GETFL, b"x" * 1025)))
        log.append(facts(lambda: fcntl.fcntl(-1, fcntl.F_GETFD)))
        log.append(facts(lambda: fcntl.fcntl(2**31, fcntl.F_GETFD)))
        log.append(facts(lambda: fcntl.fcntl(-(2**31) - 1, fcntl.F_GETFD)))
        log.append(facts(lambda: fcntl.fcntl(directory, fcntl.F_NOTIFY, fcntl.DN_MULTISHOT)))
        log.append(facts(lambda: fcntl.fcntl(fd, fcntl.F_NOTIFY, fcntl.DN_MODIFY)))
        log.append(facts(lambda: fcntl.fcntl(9999, fcntl.F_GETFD)))
        log.append(facts(lambda: fcntl.fcntl(fd, fcntl.F_GETFD, 1.5)))  # type: ignore[call-overload]
        with open(path, "rb") as file:
            log.append(facts(lambda: fcntl.fcntl(file, fcntl.F_GETFL)))
        for number in (fd, directory, opath, reader, writer, high, cloexec):
            os.close(number)
        return log

    compare(scenario)


def test_ioctl() -> None:
    def scenario(root: str) -> list[Any]:
        log: list[Any] = []
        fd = os.open(f"{root}/f", os.O_RDWR | os.O_CREAT, 0o644)
        os.write(fd, b"0123456789")
        os.lseek(fd, 3, os.SEEK_SET)
        reader, writer = os.pipe()
        os.write(writer, b"abc")
        log.append(facts(lambda: fcntl.ioctl(fd, FIONREAD, b"\0" * 4)))
        log.append(facts(lambda: fcntl.ioctl(reader, FIONREAD, b"\0" * 8)))
        buffer = bytearray(4)
        log.append((facts(lambda: fcntl.ioctl(reader, FIONREAD, buffer)), bytes(buffer)))
        log.append(facts(lambda: fcntl.ioctl(reader, FIONREAD, bytearray(4), False)))
        log.append(facts(lambda: fcntl.ioctl(fd, FIONREAD, 0)))
        log.append(facts(lambda: fcntl.ioctl(fd, TCGETS, bytes(64))))
        log.append(facts(lambda: fcntl.ioctl(fd, fcntl.FIOCLEX if hasattr(fcntl, "FIOCLEX")
                                             else 0x5451)))  # fmt: skip
        log.append(os.get_inheritable(fd))
        log.append(facts(lambda: fcntl.ioctl(reader, 0x5421, struct.pack("i", 1))))  # FIONBIO
        log.append(os.get_blocking(reader))
        log.append(facts(lambda: os.read(reader, 10)))
        log.append(facts(lambda: os.read(reader, 10)))
        for number in (fd, reader, writer):
            os.close(number)
        return log

    compare(scenario)


def test_record_locks_between_descriptors_of_one_process() -> None:
    """POSIX locks of one process never conflict with each other; open file description
    locks conflict with them and with each other; closing any descriptor of the file lets
    the process's POSIX locks go."""

    def scenario(root: str) -> list[Any]:
        log: list[Any] = []
        path = f"{root}/f"
        first = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        second = os.open(path, os.O_RDWR)
        reading = os.open(path, os.O_RDONLY)
        write_all = lock_request(fcntl.F_WRLCK)

        def lock(fd: int, command: int, request: bytes | int) -> None:
            log.append(facts(lambda: fcntl.fcntl(fd, command, request)))

        lock(first, fcntl.F_SETLK, lock_request(fcntl.F_WRLCK, 10, 5))
        log.append(facts(lambda: fcntl.fcntl(second, fcntl.F_SETLK, write_all)))
        log.append(facts(lambda: fcntl.fcntl(first, fcntl.F_GETLK, write_all)))
        log.append(facts(lambda: fcntl.fcntl(second, fcntl.F_OFD_SETLK, write_all)))
        lock(second, fcntl.F_OFD_GETLK, lock_request(fcntl.F_RDLCK, 12))
        log.append(facts(lambda: fcntl.fcntl(reading, fcntl.F_SETLK, write_all)))
        log.append(facts(lambda: fcntl.fcntl(first, fcntl.F_GETLK, lock_request(fcntl.F_UNLCK))))
        lock(first, fcntl.F_OFD_SETLK, struct.pack(FLOCK, 1, 0, 0, 0, 7, 0))
        os.close(os.open(path, os.O_RDONLY))  # any close lets the process's locks go
        lock(second, fcntl.F_OFD_SETLK, lock_request(fcntl.F_RDLCK, 0, 20))
        lock(first, fcntl.F_GETLK, lock_request(fcntl.F_WRLCK, 5, 1))
        lock(first, fcntl.F_SETLK, lock_request(fcntl.F_RDLCK, 0, 100))
        lock(first, fcntl.F_SETLK, lock_request(fcntl.F_WRLCK, 30, 10))
        lock(first, fcntl.F_SETLK, lock_request(fcntl.F_WRLCK, 0, -5))
        lock(first, fcntl.F_SETLK, lock_request(fcntl.F_WRLCK, 0, 3, 9))
        log.append(facts(lambda: fcntl.fcntl(first, fcntl.F_SETLK, 0)))
        os.close(second)  # the last descriptor of its description: its OFD lock goes
        third = os.open(path, os.O_RDWR)
        log.append(facts(lambda: fcntl.fcntl(third, fcntl.F_OFD_SETLK, write_all)))
        log.append(facts(lambda: fcntl.lockf(third, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 0)))
        log.append(facts(lambda: fcntl.lockf(first, fcntl.LOCK_SH | fcntl.LOCK_NB, 5, 0)))
        log.append(facts(lambda: fcntl.lockf(first, 0)))
        log.append(facts(lambda: os.lockf(first, os.F_TEST, 0)))
        for number in (first, reading, third):
            os.close(number)
        return log

    compare(scenario)


def test_flock() -> None:
    def scenario(root: str) -> list[Any]:
        log: list[Any] = []
        path = f"{root}/f"
        first = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        copy = os.dup(first)
        second = os.open(path, os.O_RDONLY)
        log.append(facts(lambda: fcntl.flock(first, fcntl.LOCK_EX | fcntl.LOCK_NB)))
        log.append(facts(lambda: fcntl.flock(copy, fcntl.LOCK_EX | fcntl.LOCK_NB)))
        log.append(facts(lambda: fcntl.flock(second, fcntl.LOCK_SH | fcntl.LOCK_NB)))
        shared = lock_request(fcntl.F_RDLCK)
        log.append(facts(lambda: fcntl.fcntl(second, fcntl.F_OFD_SETLK, shared)))
        os.close(first)  # a descriptor of the description is left: the lock stays
        log.append(facts(lambda: fcntl.flock(second, fcntl.LOCK_SH | fcntl.LOCK_NB)))
        os.close(copy)
        log.append(facts(lambda: fcntl.flock(second, fcntl.LOCK_SH | fcntl.LOCK_NB)))
        log.append(facts(lambda: fcntl.flock(second, 0)))
        log.append(facts(lambda: fcntl.flock(second, fcntl.LOCK_UN)))
        opath = os.open(path, os.O_PATH)
        log.append(facts(lambda: fcntl.flock(opath, fcntl.LOCK_SH)))
        os.close(second)
        os.close(opath)
        return log

    compare(scenario)


OPS = st.lists(
    st.tuples(
        st.sampled_from(["setlk", "getlk", "ofd_setlk", "ofd_getlk", "flock", "reopen"]),
        st.integers(0, 2),
        st.sampled_from([fcntl.F_RDLCK, fcntl.F_WRLCK, fcntl.F_UNLCK]),
        st.integers(0, 12),
        st.integers(-3, 6),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(OPS)
# F_GETLK reports the first conflicting lock in Linux's list order (each owner's locks sorted by
# start): here the OFD write lock at 1, not the OFD read lock its setting cut off at 2 (found
# by this test on 3.13; the emulation walked the locks in the order they were set)
@example([("setlk", 0, fcntl.F_RDLCK, 0, 1), ("ofd_setlk", 0, fcntl.F_RDLCK, 0, 0),
          ("ofd_setlk", 0, fcntl.F_WRLCK, 2, -1), ("setlk", 0, fcntl.F_RDLCK, 0, 0),
          ("getlk", 0, fcntl.F_WRLCK, 3, -2)])  # fmt: skip
def test_random_lock_programs_agree_with_linux(ops: list[tuple[str, int, int, int, int]]) -> None:
    def scenario(root: str) -> list[Any]:
        path = f"{root}/f"
        fds = [os.open(path, os.O_RDWR | os.O_CREAT, 0o644)]
        fds += [os.open(path, os.O_RDWR), os.dup(fds[0])]
        log: list[Any] = []
        commands = {"setlk": fcntl.F_SETLK, "getlk": fcntl.F_GETLK,
                    "ofd_setlk": fcntl.F_OFD_SETLK, "ofd_getlk": fcntl.F_OFD_GETLK}  # fmt: skip
        flocks = {fcntl.F_RDLCK: fcntl.LOCK_SH, fcntl.F_WRLCK: fcntl.LOCK_EX,
                  fcntl.F_UNLCK: fcntl.LOCK_UN}  # fmt: skip
        for name, which, kind, start, length in ops:
            fd = fds[which]
            if name == "reopen":
                os.close(fd)
                fds[which] = os.open(path, os.O_RDWR)
                log.append("reopened")
            elif name == "flock":
                operation = flocks[kind] | fcntl.LOCK_NB
                log.append(facts(functools.partial(fcntl.flock, fd, operation)))
            else:
                request = lock_request(kind, start, length)
                log.append(facts(functools.partial(fcntl.fcntl, fd, commands[name], request)))
        for fd in fds:
            os.close(fd)
        return log

    compare(scenario)


def test_a_waiting_lock_is_granted_when_the_holder_lets_go() -> None:
    """F_OFD_SETLKW and a blocking flock sleep until the other description's lock is gone."""
    with managed_directory("memory", "fcntl") as root:
        holder = os.open(f"{root}/f", os.O_RDWR | os.O_CREAT, 0o644)
        waiter = os.open(f"{root}/f", os.O_RDWR)
        fcntl.fcntl(holder, fcntl.F_OFD_SETLK, lock_request(fcntl.F_WRLCK))
        fcntl.flock(holder, fcntl.LOCK_EX)
        order: list[str] = []

        def wait() -> None:
            fcntl.fcntl(waiter, fcntl.F_OFD_SETLKW, lock_request(fcntl.F_WRLCK))
            order.append("record")
            fcntl.flock(waiter, fcntl.LOCK_EX)
            order.append("flock")

        thread = threading.Thread(target=wait)
        thread.start()
        time.sleep(0.1)
        order.append("releasing")
        fcntl.fcntl(holder, fcntl.F_OFD_SETLK, lock_request(fcntl.F_UNLCK))
        time.sleep(0.1)
        order.append("closing")
        os.close(holder)
        thread.join(5)
        assert order == ["releasing", "record", "closing", "flock"]
        os.close(waiter)


def test_locks_between_emulated_processes() -> None:
    """Two backends over one host directory are two processes: their POSIX locks conflict,
    F_GETLK names the holder, and a process's close lets only its own locks go."""
    host = tempfile.mkdtemp(prefix="fcntl-processes-")
    try:
        first = EmulatedBackend(HostFileSystem(root=host), cwd="/")
        second = EmulatedBackend(HostFileSystem(root=host), cwd="/")
        a = first.open("/f", os.O_RDWR | os.O_CREAT, 0o644)
        b = second.open("/f", os.O_RDWR)
        first.fcntl_fcntl(a, fcntl.F_SETLK, lock_request(fcntl.F_WRLCK, 0, 10))
        with pytest.raises(BlockingIOError) as refused:
            second.fcntl_fcntl(b, fcntl.F_SETLK, lock_request(fcntl.F_RDLCK, 5, 1))
        assert refused.value.errno == errno.EAGAIN
        answer = second.fcntl_fcntl(b, fcntl.F_GETLK, lock_request(fcntl.F_RDLCK))
        holder = struct.unpack(FLOCK, answer)
        assert holder[:4] == (fcntl.F_WRLCK, 0, 0, 10)
        with pytest.raises(PermissionError):
            second.lockf(b, os.F_TEST, 0)
        second.close(second.open("/f", os.O_RDONLY))  # the second process's close: no effect
        with pytest.raises(BlockingIOError):
            second.fcntl_fcntl(b, fcntl.F_SETLK, lock_request(fcntl.F_WRLCK, 0, 1))
        first.close(first.open("/f", os.O_RDONLY))
        second.fcntl_fcntl(b, fcntl.F_SETLK, lock_request(fcntl.F_WRLCK, 0, 1))
        first.close(a)
        second.close(b)
    finally:
        shutil.rmtree(host)


def test_an_emulated_number_never_reaches_the_real_descriptor() -> None:
    """fd 3 may be the process's own real descriptor: fcntl on the emulated 3 acts on the
    emulated file (the real one keeps its flags and locks)."""
    real = os.open(os.devnull, os.O_RDONLY)
    try:
        real_flags = fcntl.fcntl(real, fcntl.F_GETFL)
        with posixbackend.backend("managed"):
            emulated = os.open("/tmp/number", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                mine = [fcntl.fcntl(number, fcntl.F_GETFL) for number in range(3, emulated + 1)]
                fcntl.fcntl(emulated, fcntl.F_SETFL, os.O_NONBLOCK)
                fcntl.flock(emulated, fcntl.LOCK_EX)
            finally:
                os.close(emulated)
        assert os.O_APPEND & mine[-1]
        assert fcntl.fcntl(real, fcntl.F_GETFL) == real_flags
    finally:
        os.close(real)


def test_sockets_from_descriptor_numbers() -> None:
    """socket.socket(fileno=N) answers for the program's own N: ENOTSOCK for its file, EBADF
    for a number it has not opened -- never the process's real descriptor N; a socket's own
    dup and socketpair still work."""
    import socket

    def scenario(root: str) -> list[Any]:
        fd = os.open(f"{root}/f", os.O_RDWR | os.O_CREAT, 0o644)
        free = fd + 50
        log = [facts(lambda: socket.socket(fileno=fd)), facts(lambda: socket.socket(fileno=free))]
        first, second = socket.socketpair()
        copy = first.dup()
        copy.sendall(b"x")
        log.append(second.recv(1))
        for item in (first, second, copy):
            item.close()
        os.close(fd)
        return log

    # real sockets under the numbers the emulated program's descriptors get
    real = [end for _ in range(30) for end in socket.socketpair()]
    try:
        compare(scenario)
    finally:
        for end in real:
            end.close()
