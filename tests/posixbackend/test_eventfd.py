"""os.eventfd, os.eventfd_read and os.eventfd_write on the emulated backend, against real os.

``select``/``poll`` on an emulated eventfd cannot work (they ask the real kernel about a
descriptor number it does not know): that is the gap emulated.fds.virtual, not tested here.
"""

from __future__ import annotations

import os
import struct
import threading
import time

from tests.posixbackend.sides import Side, compare, sides

__all__ = ["sides"]  # the fixture, imported for the tests below

LARGEST = 2**64 - 2


def value(n: int) -> bytes:
    return struct.pack("@Q", n)


class Index:
    def __index__(self) -> int:
        return 3


def test_arguments(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        for args in [
            (-1,), (2**32,), (2**64,), (2**32 - 1,), ("x",), (1.5,), (Index(),), (True,),
            (0, -1), (0, 0xFFFF), (0, 2**31), (0, "a"), (0, Index()),
            (0, os.EFD_SEMAPHORE | os.EFD_NONBLOCK | os.EFD_CLOEXEC), (0, 0),
        ]:  # fmt: skip
            s.call("eventfd", *args)
        fd = s.fd("eventfd", 0, os.EFD_NONBLOCK)
        for args in [
            (fd, -1), (fd, 2**64), (fd, "x"), (fd, 1.0), (fd, Index()), (9999, 1), ("x", 1),
            (-1, 1), (fd, 2**64 - 1), (fd, True),
        ]:  # fmt: skip
            s.call("eventfd_write", *args)
        for bad in (9999, "x", -1, None):
            s.call("eventfd_read", bad)
        s.call("eventfd", initval=1, flags=os.EFD_NONBLOCK)

    compare(scenario, sides)


def test_counting(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        fd = s.fd("eventfd", 42)
        s.call("get_inheritable", fd)
        s.call("get_blocking", fd)
        s.call("read", fd, 8)
        s.call("write", fd, value(23))
        s.call("read", fd, 100)
        s.call("write", fd, value(40))
        s.call("write", fd, value(2))
        s.call("read", fd, 8)
        s.call("eventfd_write", fd, 20)
        s.call("eventfd_write", fd, 3)
        s.call("eventfd_read", fd)
        s.call("set_blocking", fd, False)
        for size in (0, 4, 7, 9, 16):
            s.call("write", fd, b"\x01" * size)
            s.call("read", fd, size)
        s.call("set_blocking", fd, True)
        s.call("write", fd, value(2**64 - 1))
        s.call("write", fd, value(5))
        copy = s.fd("dup", fd)
        s.call("eventfd_read", copy)

    compare(scenario, sides)


def test_limits_and_nonblocking(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        fd = s.fd("eventfd", 0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        s.call("get_inheritable", fd)
        s.call("get_blocking", fd)
        s.call("read", fd, 8)
        s.call("eventfd_read", fd)
        s.call("eventfd_write", fd, LARGEST)
        s.call("eventfd_write", fd, 1)
        s.call("eventfd_write", fd, 0)
        s.call("eventfd_read", fd)
        s.call("eventfd_write", fd, 7)
        s.call("set_blocking", fd, True)
        s.call("get_blocking", fd)
        s.call("eventfd_read", fd)
        inheritable = s.fd("eventfd", 0, 0)
        s.call("get_inheritable", inheritable)

    compare(scenario, sides)


def test_semaphore(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        fd = s.fd("eventfd", 2, os.EFD_CLOEXEC | os.EFD_SEMAPHORE | os.EFD_NONBLOCK)
        s.call("eventfd_read", fd)
        s.call("eventfd_read", fd)
        s.call("eventfd_read", fd)
        s.call("read", fd, 8)
        s.call("eventfd_write", fd, 1)
        s.call("read", fd, 8)
        s.call("eventfd_read", fd)

    compare(scenario, sides)


def test_what_an_eventfd_is_not(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        fd = s.fd("eventfd", 5)
        st = s.call("fstat", fd)
        s.note("links and owner", (st.st_nlink, st.st_uid, st.st_gid, st.st_blksize))
        s.call("lseek", fd, 10, os.SEEK_SET)
        s.call("lseek", fd, 0, os.SEEK_END)
        s.call("lseek", fd, 0, 7)
        s.call("pread", fd, 8, 0)
        s.call("pwrite", fd, value(1), 0)
        s.call("ftruncate", fd, 0)
        s.call("fsync", fd)
        s.call("fdatasync", fd)
        s.call("fchmod", fd, 0o644)
        s.call("fchown", fd, -1, -1)
        s.call("isatty", fd)
        s.call("fstatvfs", fd)
        s.call("read", fd, 8)

    compare(scenario, sides)


def test_any_descriptor_can_be_read_and_written_as_a_counter(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        fd = s.file("f", b"")
        s.call("eventfd_write", fd, 7)
        s.call("eventfd_read", fd)
        s.call("lseek", fd, 0, os.SEEK_SET)
        s.call("eventfd_read", fd)
        r, w = s.pipe()
        s.call("eventfd_write", w, 1 << 40)
        s.call("read", r, 100)
        s.call("write", w, b"1234567890")
        s.call("eventfd_read", r)
        s.call("read", r, 100)
        s.call("write", w, b"abc")
        s.call("eventfd_read", r)  # a short read: glibc fails without setting errno

    compare(scenario, sides)


def test_blocking_read_and_write_wait_for_each_other(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        fd = s.fd("eventfd", 0)

        def later(action: str) -> None:
            time.sleep(0.05)
            if action == "write":
                s.os.eventfd_write(fd, 9)
            else:
                s.os.eventfd_read(fd)

        writer = threading.Thread(target=later, args=("write",))
        writer.start()
        s.call("eventfd_read", fd)  # waits for the writer
        writer.join()
        s.call("eventfd_write", fd, LARGEST)
        reader = threading.Thread(target=later, args=("read",))
        reader.start()
        s.call("eventfd_write", fd, 3)  # waits until the reader emptied the counter
        reader.join()
        s.call("eventfd_read", fd)

    compare(scenario, sides)
