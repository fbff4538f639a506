"""The audit hook's checks on what reaches past the file system: real descriptors by number,
socket families and descriptors, host and process state, the library's classes, host
providers, and the import system's reads. Each refusal is a PermissionError naming the
permission, raised before anything is done; each grant lets the same call through.
"""

from __future__ import annotations

import _socket
import errno
import fcntl
import mmap
import os
import pkgutil
import resource
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from posixbackend import Permissions, backend, current
from posixbackend.switch.block import BackendBlock
from vfs import HostFileSystem, MemoryFileSystem

GUARDED = {
    "managed sandbox": lambda: backend("managed", permissions=Permissions.sandbox()),
    "native, no files": lambda: backend("native", permissions=Permissions(allow_io="none")),
}


def expect_denial(call: Callable[[], object], operation: str, permission: str) -> None:
    with pytest.raises(PermissionError) as raised:
        call()
    assert f"{operation} is not permitted: grant {permission}" in str(raised.value)


@pytest.fixture(params=list(GUARDED.values()), ids=list(GUARDED))
def guarded(request: pytest.FixtureRequest) -> Callable[[], BackendBlock]:
    maker: Callable[[], BackendBlock] = request.param
    return maker


@pytest.fixture
def real_file(tmp_path: Path) -> Iterator[int]:
    """A real descriptor the test (the embedder) holds: read-write, on a one-page file."""
    path = tmp_path / "held"
    path.write_bytes(b"x" * mmap.PAGESIZE)
    fd = os.open(path, os.O_RDWR)
    yield fd
    os.close(fd)


def test_descriptor_numbers_reach_nothing(guarded: Callable[[], BackendBlock],
                                          real_file: int) -> None:  # fmt: skip
    """The embedder's descriptor by number: natively a denial; on the emulated backend the
    fcntl family and mmap answer for the guest's own table (EBADF: it has no such
    descriptor)."""
    flags = fcntl.fcntl(real_file, fcntl.F_GETFL)
    with guarded() as block:
        emulated = block.emulated is not None
        for operation, call in (
            ("fcntl.fcntl", lambda: fcntl.fcntl(real_file, fcntl.F_SETFL, os.O_APPEND)),
            ("fcntl.flock", lambda: fcntl.flock(real_file, fcntl.LOCK_EX)),
            ("fcntl.lockf", lambda: fcntl.lockf(real_file, fcntl.LOCK_EX)),
            ("fcntl.ioctl", lambda: fcntl.ioctl(real_file, 0x541B, b"    ")),
        ):
            if emulated:
                with pytest.raises(OSError) as raised:
                    call()
                assert raised.value.errno == errno.EBADF, operation
            else:
                expect_denial(call, f"{operation} of descriptor {real_file}", "allow_native_access")
        if emulated:
            with pytest.raises(OSError) as raised:
                mmap.mmap(real_file, 0)
            assert raised.value.errno == errno.EBADF, "mmap"
        else:
            expect_denial(
                lambda: mmap.mmap(real_file, 0),
                f"mmap.__new__ of descriptor {real_file}",
                "allow_native_access",
            )
        with mmap.mmap(-1, 16) as anonymous:  # an anonymous map is no descriptor
            anonymous[:2] = b"ok"
    assert fcntl.fcntl(real_file, fcntl.F_GETFL) == flags


def test_descriptors_are_the_guests_own_with_host_files_or_native_access(real_file: int) -> None:
    for permissions in (Permissions(allow_io="all"), Permissions(allow_native_access=True)):
        with backend("native", permissions=permissions):
            assert fcntl.fcntl(real_file, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDWR


def test_sockets_from_descriptor_numbers_are_refused(guarded: Callable[[], BackendBlock]) -> None:
    mine, other = socket.socketpair()
    with mine, other:
        number = mine.fileno()
        with guarded():
            check_socket_refusals(number)
            other.sendall(b"still mine")
        assert mine.recv(64) == b"still mine"


def check_socket_refusals(number: int) -> None:
    """socket(fileno=), fromfd and _socket.socket refused; socketpair and dup work."""
    message = "socket.socket from a descriptor number"
    expect_denial(lambda: socket.socket(fileno=number), message, "allow_native_access")
    expect_denial(lambda: socket.fromfd(number, socket.AF_UNIX, socket.SOCK_STREAM),
                  message, "allow_native_access")  # fmt: skip
    expect_denial(_socket.socket, message, "allow_native_access")
    left, right = socket.socketpair()  # the standard library's own: allowed
    with left, right, left.dup() as copy:
        copy.sendall(b"ping")
        assert right.recv(4) == b"ping"


def test_netlink_and_other_families_need_all_host_sockets(
    guarded: Callable[[], BackendBlock],
) -> None:
    with guarded():
        expect_denial(
            lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE),
            "a socket of family AF_NETLINK", "allow_host_sockets='all'",
        )  # fmt: skip
        expect_denial(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW),
                      "a socket of family AF_PACKET", "allow_host_sockets='all'")  # fmt: skip
        socket.socket(socket.AF_INET).close()  # connect and bind are what is checked for these
    with backend("native", permissions=Permissions(allow_host_sockets="all")):
        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE).close()


def test_the_hostname_is_not_the_guests(guarded: Callable[[], BackendBlock]) -> None:
    name = socket.gethostname()
    with guarded():
        expect_denial(lambda: socket.sethostname("guest"), "socket.sethostname",
                      "allow_host_sockets='all'")  # fmt: skip
    assert socket.gethostname() == name


def test_the_embedding_process_is_not_the_guests(guarded: Callable[[], BackendBlock]) -> None:
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    with guarded():
        expect_denial(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (3, 3)),
                      "resource.setrlimit", "allow_native_access")  # fmt: skip
        expect_denial(lambda: resource.prlimit(0, resource.RLIMIT_NOFILE, (3, 3)),
                      "resource.prlimit", "allow_native_access")  # fmt: skip
        assert resource.prlimit(0, resource.RLIMIT_NOFILE) == limits  # reading is fine
        expect_denial(lambda: sys.addaudithook(lambda event, args: None),
                      "sys.addaudithook", "allow_native_access")  # fmt: skip
        with pytest.raises(PermissionError):  # the managed backend's kill reaches its own
            os.kill(os.getpid(), signal.SIGTERM)  # children only; the native one needs the grant
        if "native" in repr(current()):
            own = os.getpid()
            expect_denial(lambda: os.kill(own, signal.SIGTERM), f"os.kill of process {own}",
                          "allow_create_process")  # fmt: skip
        expect_denial(lambda: signal.pthread_kill(threading.main_thread().ident or 0,
                                                  signal.SIGINT),
                      "signal.pthread_kill", "allow_native_access")  # fmt: skip
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == limits


def test_host_providers_need_host_files(guarded: Callable[[], BackendBlock],
                                        tmp_path: Path) -> None:  # fmt: skip
    with guarded():
        expect_denial(HostFileSystem, "vfs.HostFileSystem", "allow_io")
        with pytest.raises(PermissionError) as raised:
            HostFileSystem(tmp_path)
        assert raised.value.errno == errno.EACCES and raised.value.filename == str(tmp_path)
        MemoryFileSystem()  # a memory one reaches nothing
    with backend("native", permissions=Permissions(allow_io="all")):
        HostFileSystem(tmp_path).close()


def test_the_import_system_reads_only_below_its_code_roots(
    guarded: Callable[[], BackendBlock],
) -> None:
    sys.modules.pop("colorsys", None)  # a standard module not imported yet
    with guarded():
        assert __import__("colorsys").rgb_to_hsv(1, 0, 0) == (0, 1, 1)
        assert pkgutil.get_data("json", "__init__.py")
        expect_denial(lambda: pkgutil.get_data("json", "../" * 30 + "etc/passwd"), "open",
                      "allow_io")  # fmt: skip


def test_every_check_lets_a_grant_through() -> None:
    granted = attrs.evolve(Permissions.all(), allow_create_thread=False)
    with backend("native", permissions=granted):
        assert pkgutil.get_data("json", "../" * 30 + "etc/passwd") is not None
        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE).close()
        resource.setrlimit(resource.RLIMIT_CORE, resource.getrlimit(resource.RLIMIT_CORE))
