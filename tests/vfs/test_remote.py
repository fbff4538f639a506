"""The remote provider: errors and results crossing the wire, a broken or interrupted
connection, concurrent clients, handles closed with their connection, a server that outlives
garbage. (The scenario suite runs through it too: test_differential's "remote" provider.)"""

from __future__ import annotations

import _socket
import contextlib
import errno
import logging
import os
import posix
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

import compat
from vfs import Handle, Identity, MemoryFileSystem, MountFileSystem
from vfs.memory.handle import MemoryHandle
from vfs.remote import FileSystemServer, RemoteFileSystem, serve_pair
from vfs.remote import client as client_module
from vfs.remote.wire import MAX_DEPTH, WireError, decode, encode, receive, send_all

RW_CREATE = os.O_RDWR | os.O_CREAT


def memory() -> MemoryFileSystem:
    return MemoryFileSystem(identity=Identity.root())


@pytest.fixture
def served() -> Iterator[tuple[MemoryFileSystem, RemoteFileSystem]]:
    local = memory()
    remote = RemoteFileSystem(serve_pair(local))
    yield local, remote
    remote.close()


def raised(call: object, *args: object) -> BaseException:
    with pytest.raises((OSError, ValueError, TypeError)) as info:
        call(*args)  # type: ignore[operator]
    return info.value


@pytest.mark.parametrize(
    ("operation", "args"),
    [
        ("stat", ("/missing",)),
        ("rename", ("/missing", "/elsewhere")),
        ("mkdir", ("/d",)),  # exists (made below)
        ("rmdir", ("/d/f",)),  # ENOTDIR
        ("link", ("/d/f", "/d")),
        ("readlink", ("/d/f",)),
        ("open", ("/d/f/x", os.O_RDONLY)),
        ("stat", ("/a\0b",)),
        ("stat", (b"/d",)),
        ("symlink", (b"target", "/s")),
    ],
)
def test_errors_cross_with_class_errno_message_and_names(
    served: tuple[MemoryFileSystem, RemoteFileSystem], operation: str, args: tuple[object, ...]
) -> None:
    local, remote = served
    local.mkdir("/d", 0o755)
    local.open("/d/f", RW_CREATE, 0o644).close()
    expected = raised(getattr(local, operation), *args)
    got = raised(getattr(remote, operation), *args)
    assert type(got) is type(expected)
    assert got.args == expected.args
    if isinstance(expected, OSError):
        assert isinstance(got, OSError)
        assert (got.errno, got.strerror, got.filename, got.filename2) == (
            expected.errno, expected.strerror, expected.filename, expected.filename2,
        )  # fmt: skip


def test_results_are_the_served_providers(
    served: tuple[MemoryFileSystem, RemoteFileSystem],
) -> None:
    local, remote = served
    remote.mkdir("/d", 0o750)
    with remote.open("/d/f", RW_CREATE, 0o640) as handle:
        assert handle.pwrite(b"hello world", 3) == 11
        assert handle.pread(100, 0) == b"\0\0\0hello world"
        assert handle.append(b"!") == 15
        assert handle.stat() == local.stat("/d/f")
        assert handle.statvfs() == local.statvfs("/d")
        assert handle.stat().st_mtime_ns == local.stat("/d/f").st_mtime_ns
    remote.symlink("f", "/d/link")
    remote.utime("/d/f", (1, 2_000_000_007))
    assert remote.stat("/d/f") == local.stat("/d/f")
    assert remote.stat("/d/link", follow_symlinks=False) == local.stat("/d/link", False)
    assert remote.scandir("/d") == local.scandir("/d")
    assert sorted(remote.listdir("/d")) == ["f", "link"]
    assert remote.readlink("/d/link") == "f"
    assert remote.statvfs("/") == local.statvfs("/")


def test_reads_and_writes_larger_than_a_frame_are_split(
    served: tuple[MemoryFileSystem, RemoteFileSystem], monkeypatch: pytest.MonkeyPatch
) -> None:
    local, remote = served
    monkeypatch.setattr(client_module, "CHUNK", 4)
    data = bytes(range(23))
    with remote.open("/f", RW_CREATE, 0o644) as handle:
        assert handle.pwrite(data, 1) == 23
        assert handle.pread(100, 0) == b"\0" + data
        assert handle.pread(9, 2) == data[1:10]
    with local.open("/f", os.O_RDONLY) as handle:
        assert handle.pread(100, 0) == b"\0" + data


def test_a_directory_is_held_by_path(served: tuple[MemoryFileSystem, RemoteFileSystem]) -> None:
    """A path-only provider: an open directory follows renames made through the client."""
    _, remote = served
    remote.mkdir("/a", 0o755)
    with remote.open_at(None, "/a", os.O_RDONLY | os.O_DIRECTORY) as directory:
        at = directory.directory()
        remote.rename_at(None, "/a", None, "/b")
        remote.mkdir_at(at, "inside", 0o755)
        assert remote.where(at) == "/b"
    assert remote.listdir("/b") == ["inside"]


def test_a_closed_connection_fails_every_call_with_eio() -> None:
    mine, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    remote = RemoteFileSystem(mine.detach())
    theirs.close()
    for _ in range(2):
        error = raised(remote.stat, "/")
        assert isinstance(error, OSError) and error.errno == errno.EIO
        assert "connection" in str(error)
    remote.close()


def test_an_interrupted_request_breaks_the_connection_for_good(
    served: tuple[MemoryFileSystem, RemoteFileSystem], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyboardInterrupt while the reply is on its way: the next reply on the stream is the
    interrupted call's, so later calls fail with EIO rather than read it; the gap is hit."""
    local, remote = served
    before = compat.report().get("vfs.remote_interrupted")

    def interrupted(fd: int) -> bytes:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(client_module, "receive", interrupted)
        with pytest.raises(KeyboardInterrupt):
            remote.mkdir("/made", 0o755)
    deadline = time.monotonic() + 10
    while not local.listdir("/") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert local.listdir("/") == ["made"]  # the server did it: its reply is on the stream
    error = raised(remote.stat, "/made")
    assert isinstance(error, OSError) and error.errno == errno.EIO
    assert "interrupted" in str(error)
    after = compat.report().get("vfs.remote_interrupted")
    assert after is not None and after.count == (before.count if before else 0) + 1


def test_a_connection_ending_closes_the_handles_it_left_open() -> None:
    opened: list[Handle] = []

    class Recording(MemoryFileSystem):
        def open(self, path: str, flags: int, mode: int = 0o666) -> MemoryHandle:
            handle = super().open(path, flags, mode)
            opened.append(handle)
            return handle

    mine, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    thread = FileSystemServer(Recording(identity=Identity.root()), theirs.detach()).start()
    remote = RemoteFileSystem(mine.detach())
    remote.open("/f", RW_CREATE, 0o644)
    remote.open("/", os.O_RDONLY | os.O_DIRECTORY)
    assert [handle.closed for handle in opened] == [False, False]
    remote.close()
    thread.join(10)
    assert not thread.is_alive()
    assert [handle.closed for handle in opened] == [True, True]


def test_concurrent_clients_and_threads_sharing_one(
    served: tuple[MemoryFileSystem, RemoteFileSystem],
) -> None:
    """Four threads on one shared client and four with a connection each, interleaved."""
    local, shared = served
    errors: list[BaseException] = []

    def work(remote: RemoteFileSystem, name: str) -> None:
        try:
            remote.mkdir(f"/{name}", 0o755)
            for number in range(30):
                with remote.open(f"/{name}/{number}", RW_CREATE, 0o644) as handle:
                    handle.pwrite(f"{name}-{number}".encode(), 0)
                    assert handle.pread(64, 0) == f"{name}-{number}".encode()
                remote.rename(f"/{name}/{number}", f"/{name}/done-{number}")
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    own = [RemoteFileSystem(serve_pair(local)) for _ in range(4)]
    threads = [threading.Thread(target=work, args=(shared, f"shared{i}")) for i in range(4)]
    threads += [threading.Thread(target=work, args=(own[i], f"own{i}")) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for remote in own:
        remote.close()
    assert errors == []
    assert len(local.listdir("/")) == 8
    for name in local.listdir("/"):
        assert sorted(local.listdir(f"/{name}")) == sorted(f"done-{n}" for n in range(30))


def test_garbage_ends_only_its_connection(caplog: pytest.LogCaptureFixture) -> None:
    local = memory()
    other = RemoteFileSystem(serve_pair(local))
    for frame in (
        encode(("exec", "anything")),
        encode(("stat", 1, True)),
        encode(("stat", "/", True, "extra")),
        encode(("h.pread",)),
        encode(["not", "a", "request"][0]),
        b"\xff\xff\xff\xff",
        b"\0\0\0\2" + b"i\0",
    ):
        fd = serve_pair(local)
        with caplog.at_level(logging.ERROR, logger="vfs.remote"):
            send_all(fd, frame)
            with pytest.raises((EOFError, OSError)):
                receive(fd)
        posix.close(fd)
        assert other.stat("/") == local.stat("/")
    assert len([r for r in caplog.records if "connection ended" in r.getMessage()]) == 7
    other.close()


def test_a_handle_number_of_no_open_file_is_ebadf(
    served: tuple[MemoryFileSystem, RemoteFileSystem],
) -> None:
    _, remote = served
    error = raised(remote.connection.call, "h.size", 99)
    assert isinstance(error, OSError) and error.errno == errno.EBADF
    assert remote.stat("/") == served[0].stat("/")  # the connection goes on


PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    | st.binary(),
    lambda inner: st.lists(inner, max_size=4).map(tuple),
    max_leaves=20,
)


@given(PLAIN)
def test_plain_values_round_trip(value: object) -> None:
    frame = encode(value)
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    assert decode(frame[4:]) == value


@given(st.binary(max_size=64))
def test_any_bytes_decode_to_a_value_or_a_wire_error(body: bytes) -> None:
    with contextlib.suppress(WireError):  # anything else fails the test
        decode(body)


def test_what_cannot_be_sent() -> None:
    nested: object = None
    for _ in range(MAX_DEPTH + 1):
        nested = (nested,)
    with pytest.raises(ValueError, match="nest deeper"):
        encode(nested)
    with pytest.raises(TypeError, match="dict cannot be sent"):
        encode({"a": 1})
    with pytest.raises(OverflowError):
        encode(1 << 600)
    assert decode(encode("\udcff")[4:]) == "\udcff"  # an fsdecoded name keeps its surrogate


def test_a_mount_walks_across_a_remote_file_system(
    served: tuple[MemoryFileSystem, RemoteFileSystem],
) -> None:
    """The walk crosses into the client a component at a time (its path nodes), links and
    '..' resolved as everywhere else."""
    local, remote = served
    local.mkdir("/d", 0o755)
    local.symlink("../d", "/d/up")
    with local.open("/d/f", RW_CREATE, 0o644) as handle:
        handle.pwrite(b"through the mount", 0)
    mount = MountFileSystem(memory(), {"/r": remote}, create_mount_points=True)
    seen, there = mount.stat("/r/d/up/up/f"), local.stat("/d/f")
    assert (seen.st_ino, seen.st_mode, seen.st_size) == (there.st_ino, there.st_mode, 17)
    with mount.open("/r/d/up/f", os.O_RDONLY) as handle:
        assert handle.pread(100, 0) == b"through the mount"
    assert mount.listdir("/r/d/up/..") == ["d"]
    error = raised(mount.stat, "/r/d/missing")
    assert isinstance(error, FileNotFoundError) and error.filename == "/r/d/missing"


def test_a_remote_file_cannot_be_mapped(
    served: tuple[MemoryFileSystem, RemoteFileSystem],
) -> None:
    """Gap vfs.remote_not_mappable: ENODEV, what Linux answers for a file system without
    mmap (the served provider's descriptor does not cross the socket)."""
    _, remote = served
    with remote.open("/f", RW_CREATE, 0o644) as handle:
        error = raised(handle.mappable)
    assert isinstance(error, OSError) and error.errno == errno.ENODEV
