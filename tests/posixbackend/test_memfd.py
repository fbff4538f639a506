"""os.memfd_create on the emulated backend, against real os."""

from __future__ import annotations

import os
from typing import Any

import pytest

from posixbackend.emulated import EmulatedBackend
from tests.posixbackend.sides import Side, compare, hits, sides
from vfs import Identity, MemoryFileSystem

__all__ = ["sides"]  # the fixture, imported for the tests below


def test_arguments(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        for args in [
            ("x" * 249,), ("x" * 250,), ("é" * 125,), ("é" * 124,), ("a/b",), ("",),
            (b"bytes",), (bytearray(b"x"),), (1,), (None,), ("a\0b",), (b"a\0",),
            ("x", 0xFFFF), ("x", -1), ("x", 1 << 32), ("x", "1"), ("x", 1.0), ("x", 8 | 16),
            ("x", os.MFD_ALLOW_SEALING), ("x", 0), ("x", os.MFD_HUGE_2MB),
            ("x", os.MFD_HUGE_2MB | 1 << 20),
        ]:  # fmt: skip
            s.call("memfd_create", *args)
        s.call("memfd_create", name="kw", flags=0)

    compare(scenario, sides)


def test_a_memfd_is_an_anonymous_regular_file(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        fd = s.fd("memfd_create", "Hi", os.MFD_CLOEXEC)
        s.call("get_inheritable", fd)
        opener: Any = s.os.io_open if s.emulated else open
        with opener(fd, "wb", closefd=False) as f:
            f.write(b"memfd_create")
            s.note("tell", f.tell())
        st = s.call("fstat", fd)
        s.note("links, owner", (st.st_nlink, st.st_uid, st.st_gid))
        s.call("lseek", fd, 0, os.SEEK_SET)
        s.call("read", fd, 100)
        s.call("pwrite", fd, b"MEM", 0)
        s.call("ftruncate", fd, 5)
        s.call("pread", fd, 100, 0)
        s.call("ftruncate", fd, 10000)
        s.call("lseek", fd, 0, os.SEEK_END)
        s.call("fstat", fd)
        s.call("fchmod", fd, 0o600)
        s.call("fstat", fd)
        copy = s.fd("dup", fd)
        s.call("lseek", copy, 1, os.SEEK_SET)
        s.call("read", fd, 4)
        other = s.fd("memfd_create", "Hi", 0)
        s.call("get_inheritable", other)
        s.call("read", other, 10)
        s.note("another file", s.os.fstat(other).st_ino != st.st_ino)
        s.note("same device", s.os.fstat(other).st_dev == st.st_dev)
        sealed = s.fd("memfd_create", "x", os.MFD_ALLOW_SEALING | 8)  # MFD_NOEXEC_SEAL
        s.call("fstat", sealed)
        executable = s.fd("memfd_create", "x", 16)  # MFD_EXEC
        s.call("fstat", executable)

    compare(scenario, sides)


def test_memfds_are_not_in_the_file_system() -> None:
    backend = EmulatedBackend(MemoryFileSystem())
    before = backend.listdir("/")
    fd = backend.memfd_create("name")
    backend.write(fd, b"data")
    assert backend.listdir("/") == before
    assert backend.fstat(fd).st_dev != backend.stat("/").st_dev
    backend.close(fd)


def test_memfds_belong_to_the_backends_user() -> None:
    me = Identity(uid=1234, gid=567, groups=[567])
    backend = EmulatedBackend(MemoryFileSystem(identity=me), identity=me)
    fd = backend.memfd_create("mine")
    st = backend.fstat(fd)
    assert (st.st_uid, st.st_gid, st.st_nlink) == (1234, 567, 0)
    backend.close(fd)


def test_huge_pages_are_a_gap() -> None:
    backend = EmulatedBackend()
    before = hits("emulated.memfd.hugetlb")
    with pytest.raises(OSError, match="MFD_HUGETLB"):
        backend.memfd_create("huge", os.MFD_HUGETLB)
    assert hits("emulated.memfd.hugetlb") == before + 1
