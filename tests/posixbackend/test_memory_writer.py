"""The accelerator's MemoryWriter: a memory handle's pwrite in C, the same as the Python one.

The SQLite VFS writes through it (accelerator.pwrite_of). Every call is compared with the
handle's own pwrite on a twin file system and with os.pwrite on a real file: result or error,
content, size, pages counted, times moved. Cases off its fast path (appends, size caps,
holes, set-ID bits, mapped files, other buffer types, a held lock) must reach the Python
method and give exactly its outcome.
"""

from __future__ import annotations

import errno
import mmap
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posixbackend.emulated import accelerator
from vfs import Identity, MemoryFileSystem
from vfs.memory.filesystem import MAX_FILE_SIZE
from vfs.memory.handle import MemoryHandle
from vfs.memory.nodes import RegularFile
from vfs.provider import Handle

pytestmark = pytest.mark.skipif(
    not accelerator.AVAILABLE, reason="the C accelerator is not built here"
)
RDWR_CREATE = os.O_RDWR | os.O_CREAT


def writer_of(handle: Handle) -> Callable[[Any, int], int]:
    """The accelerated writer (never the handle's own method, whatever the environment)."""
    assert accelerator._speedups is not None
    writer: Callable[[Any, int], int] = accelerator._speedups.MemoryWriter(handle)
    return writer


def reserving_writer_of(handle: Handle) -> Any:
    """The accelerated writer, with its reserve() (typed loosely: the module may be absent)."""
    assert accelerator._speedups is not None
    return accelerator._speedups.MemoryWriter(handle)


def outcome(call: Callable[..., Any], *args: Any) -> tuple[Any, ...]:
    try:
        return ("ok", call(*args))
    except OSError as error:
        return ("error", type(error), error.errno)


def used_pages(fs: MemoryFileSystem) -> int:
    usage = fs.statvfs("/")
    return usage.f_blocks - usage.f_bfree


def agree_with_python_and_linux(
    steps: list[tuple[bytes, int] | int], directory: Path, *, every_write: bool = True
) -> None:
    """``steps`` -- a write (data, offset) or a reservation (an int) -- through the C writer of
    one memory file, the Python pwrite of another and os.pwrite of a real file in
    ``directory``: the same results, and after every write (or only at the end) the same size,
    content and pages counted; a reservation alone changes no status or page count."""
    fast_fs, slow_fs = MemoryFileSystem(), MemoryFileSystem()
    fast = fast_fs.open("/f", RDWR_CREATE, 0o644)
    slow = slow_fs.open("/f", RDWR_CREATE, 0o644)
    writer = reserving_writer_of(fast)
    fd = os.open(directory / "f", RDWR_CREATE, 0o644)

    def same_everywhere() -> None:
        size = os.fstat(fd).st_size
        assert fast.stat().st_size == slow.stat().st_size == size
        assert fast.pread(size + 1, 0) == slow.pread(size + 1, 0) == os.pread(fd, size + 1, 0)
        assert used_pages(fast_fs) == used_pages(slow_fs)

    try:
        for step in steps:
            if isinstance(step, int):
                before = (fast.stat(), used_pages(fast_fs))
                writer.reserve(step)
                assert (fast.stat(), used_pages(fast_fs)) == before
                continue
            data, offset = step
            assert writer(data, offset) == slow.pwrite(data, offset) == os.pwrite(fd, data, offset)
            if every_write:
                same_everywhere()
        same_everywhere()
    finally:
        os.close(fd)
        fast.close()
        slow.close()


@pytest.fixture
def real_file(tmp_path: Path) -> Iterator[int]:
    fd = os.open(tmp_path / "f", RDWR_CREATE, 0o644)
    yield fd
    os.close(fd)


WRITES = st.lists(
    st.tuples(st.binary(min_size=0, max_size=5000), st.integers(0, 3 * 4096)), max_size=12
)


@settings(max_examples=60, deadline=None)
@given(writes=WRITES)
def test_writes_give_what_the_python_method_and_linux_give(
    writes: list[tuple[bytes, int]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    fast_fs, slow_fs = MemoryFileSystem(), MemoryFileSystem()
    fast = fast_fs.open("/f", RDWR_CREATE, 0o644)
    slow = slow_fs.open("/f", RDWR_CREATE, 0o644)
    writer = writer_of(fast)
    path = tmp_path_factory.mktemp("w") / "f"
    fd = os.open(path, RDWR_CREATE, 0o644)
    try:
        for data, offset in writes:
            before = fast.stat().st_mtime_ns
            assert writer(data, offset) == slow.pwrite(data, offset) == os.pwrite(fd, data, offset)
            if data:
                assert fast.stat().st_mtime_ns >= before
                assert fast.stat().st_ctime_ns == fast.stat().st_mtime_ns
        size = os.fstat(fd).st_size
        assert fast.stat().st_size == slow.stat().st_size == size
        assert fast.pread(size + 1, 0) == slow.pread(size + 1, 0) == os.pread(fd, size + 1, 0)
        assert used_pages(fast_fs) == used_pages(slow_fs)
    finally:
        os.close(fd)
        fast.close()
        slow.close()


RESERVED_WRITES = st.lists(
    st.one_of(
        st.tuples(st.binary(min_size=0, max_size=5000), st.integers(0, 6 * 4096)),
        st.integers(-1, 12 * 4096),  # a reservation (SQLite's size hint) between writes
    ),
    max_size=14,
)


@settings(max_examples=60, deadline=None)
@given(steps=RESERVED_WRITES)
def test_reserved_room_changes_nothing_a_reader_sees(
    steps: list[tuple[bytes, int] | int], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Writes into room made by reserve() (the SQLite VFS's size hint) give what the same
    writes give without it, and Linux: results, size, content, pages counted; a reservation
    alone changes no size, page count or time."""
    agree_with_python_and_linux(steps, tmp_path_factory.mktemp("w"))


def test_a_reservation_makes_room_only_where_it_can() -> None:
    """reserve() says whether it made room: not for a size the file's room already holds, a
    file with no dense content (sparse), a negative size, or a file system with a size cap."""
    fs = MemoryFileSystem()
    handle = fs.open("/f", RDWR_CREATE, 0o644)
    writer = reserving_writer_of(handle)
    assert writer.reserve(10 * 4096) is True
    assert writer.reserve(4096) is False  # room for it already
    assert writer.reserve(-1) is False
    handle.pwrite(b"far", 5 * 4096)  # a hole page: the file turns sparse
    assert writer.reserve(20 * 4096) is False
    assert handle.pread(3, 5 * 4096) == b"far"
    handle.close()
    capped = MemoryFileSystem(max_bytes=8 * 4096)  # under a size cap the writes are Python's
    with capped.open("/f", RDWR_CREATE, 0o644) as handle:
        assert reserving_writer_of(handle).reserve(4 * 4096) is False


def test_a_write_into_room_with_a_buffer_exported_is_the_python_methods() -> None:
    """While a buffer of the content is exported, growing into reserved room is refused as
    the Python method's growth is (BufferError), and leaves the file as it was."""
    fs_pair = twins()
    handles = [fs.open("/f", RDWR_CREATE, 0o644) for fs in fs_pair]
    for handle in handles:
        handle.pwrite(b"start", 0)
    writer = reserving_writer_of(handles[0])
    assert writer.reserve(8 * 4096)
    nodes = [handle.node for handle in handles if isinstance(handle, MemoryHandle)]
    views = [memoryview(node.data) for node in nodes if isinstance(node, RegularFile) and node.data]
    assert len(views) == 2
    try:
        errors = []
        for write in (writer, handles[1].pwrite):
            with pytest.raises(BufferError) as raised:
                write(b"grown" * 1000, 4)
            errors.append(str(raised.value))
        assert errors[0] == errors[1]
    finally:
        for view in views:
            view.release()
    assert [handle.pread(100, 0) for handle in handles] == [b"start", b"start"]
    assert writer(b"grown", 4) == 5
    assert handles[0].pread(100, 0) == b"stargrown"
    for handle in handles:
        handle.close()


def twins(**options: Any) -> tuple[MemoryFileSystem, MemoryFileSystem]:
    return MemoryFileSystem(**options), MemoryFileSystem(**options)


def both(
    fs_pair: tuple[MemoryFileSystem, MemoryFileSystem],
    prepare: Callable[[MemoryFileSystem], MemoryHandle],
    data: Any,
    offset: int,
) -> tuple[Any, Any]:
    """The outcome of one write through the writer and through the Python method, and the
    files' contents after it (which must be the same)."""
    fast_handle, slow_handle = prepare(fs_pair[0]), prepare(fs_pair[1])
    fast = outcome(writer_of(fast_handle), data, offset)
    slow = outcome(slow_handle.pwrite, data, offset)
    read = [fs.open("/f", os.O_RDONLY) for fs in fs_pair]
    contents = [handle.pread(1 << 20, 0) for handle in read]
    for handle in (*read, fast_handle, slow_handle):
        handle.close()
    assert contents[0] == contents[1]
    assert used_pages(fs_pair[0]) == used_pages(fs_pair[1])
    return fast, slow


def opened(flags: int, content: bytes = b"0123456789") -> Callable[[MemoryFileSystem], Any]:
    def prepare(fs: MemoryFileSystem) -> MemoryHandle:
        with fs.open("/f", RDWR_CREATE, 0o644) as handle:
            handle.pwrite(content, 0)
        handle = fs.open("/f", flags)
        assert isinstance(handle, MemoryHandle)
        return handle

    return prepare


@pytest.mark.parametrize(
    ("name", "flags", "data", "offset"),
    [
        ("an append goes to the end", os.O_WRONLY | os.O_APPEND, b"tail", 2),
        ("a read-only handle is EBADF", os.O_RDONLY, b"x", 0),
        ("a path-only handle is EBADF", os.O_PATH, b"x", 0),
        ("a negative offset is EINVAL", os.O_RDWR, b"x", -1),
        ("past the largest file is EFBIG", os.O_RDWR, b"xy", MAX_FILE_SIZE - 1),
        ("a hole page makes the file sparse", os.O_RDWR, b"far", 3 * 4096),
        ("a bytearray is written", os.O_RDWR, bytearray(b"array"), 3),
        ("a memoryview is written", os.O_RDWR, memoryview(b"view"), 5),
        ("an empty write changes nothing", os.O_RDWR, b"", 4),
    ],
)
def test_cases_off_the_fast_path_are_the_python_methods(
    name: str, flags: int, data: Any, offset: int
) -> None:
    fast, slow = both(twins(), opened(flags), data, offset)
    assert fast == slow, name


def test_a_closed_handle_is_ebadf() -> None:
    fs = MemoryFileSystem()
    handle = fs.open("/f", RDWR_CREATE, 0o644)
    writer = writer_of(handle)
    handle.close()
    assert outcome(writer, b"x", 0) == outcome(handle.pwrite, b"x", 0)
    assert outcome(writer, b"x", 0)[2] == errno.EBADF


def test_a_size_cap_writes_what_fits_as_python_does() -> None:
    fs_pair = twins(max_bytes=3 * 4096)
    fast, slow = both(fs_pair, opened(os.O_RDWR), b"y" * (5 * 4096), 100)
    assert fast == slow == ("ok", 3 * 4096 - 100)


def test_set_id_bits_are_cleared_for_an_unprivileged_writer() -> None:
    user = Identity(1000, 1000, frozenset())

    def prepare(fs: MemoryFileSystem) -> MemoryHandle:
        with fs.open("/f", RDWR_CREATE, 0o777) as handle:
            handle.chown(1000, 1000)
            handle.chmod(0o6777)
        fs.identity = user
        handle = fs.open("/f", os.O_RDWR)
        assert isinstance(handle, MemoryHandle)
        return handle

    fs_pair = twins()
    fast, slow = both(fs_pair, prepare, b"x", 0)
    assert fast == slow
    modes = [stat.S_IMODE(fs.stat("/f").st_mode) for fs in fs_pair]
    assert modes == [0o777, 0o777]


def test_a_mapped_file_is_written_through_its_mapping(real_file: int) -> None:
    fs = MemoryFileSystem()
    handle = fs.open("/f", RDWR_CREATE, 0o644)
    handle.pwrite(b"\0" * 4096, 0)
    fd = handle.mappable()
    with mmap.mmap(fd, 4096) as mapped:
        assert writer_of(handle)(b"seen", 10) == 4
        assert mapped[10:14] == b"seen"
    handle.close()


def test_a_write_waits_for_the_file_systems_lock() -> None:
    """While another thread holds the file system's lock (in the middle of a change), the
    writer takes the Python path, which waits for it: nothing is written under the lock."""
    fs = MemoryFileSystem()
    handle = fs.open("/f", RDWR_CREATE, 0o644)
    writer = writer_of(handle)
    written: list[int] = []
    with fs._lock:
        thread = threading.Thread(target=lambda: written.append(writer(b"late", 0)))
        thread.start()
        time.sleep(0.05)
        assert handle.node.size == 0 and written == []  # (a read would wait for the lock)
    thread.join()
    assert written == [4] and handle.pread(4, 0) == b"late"
    handle.close()


def test_only_a_plain_memory_file_system_gets_the_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Subclass(MemoryFileSystem):
        pass

    plain = MemoryFileSystem().open("/f", RDWR_CREATE, 0o644)
    derived = Subclass().open("/f", RDWR_CREATE, 0o644)
    assert type(accelerator.pwrite_of(plain)).__name__ == "MemoryWriter"
    assert accelerator.pwrite_of(derived) == derived.pwrite
    monkeypatch.setenv(accelerator.ENVIRONMENT_SWITCH, "1")
    assert accelerator.pwrite_of(plain) == plain.pwrite
    plain.close()
    derived.close()


def test_bad_arguments_get_the_python_methods_errors() -> None:
    fs = MemoryFileSystem()
    handle = fs.open("/f", RDWR_CREATE, 0o644)
    writer = writer_of(handle)
    for args in ((b"x",), (b"x", 0, 1), ("text", 0), (b"x", "0")):
        with pytest.raises(TypeError) as fast:
            writer(*args)
        with pytest.raises(TypeError) as slow:
            handle.pwrite(*args)
        assert str(fast.value) == str(slow.value)
    with pytest.raises(TypeError):
        accelerator._speedups.MemoryWriter(object())  # type: ignore[union-attr]
    handle.close()


def memory_mode(fs: MemoryFileSystem, path: str) -> int:
    assert accelerator._speedups is not None
    mode: int = accelerator._speedups.memory_mode(fs, path)
    return mode


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/d/f", 0o640),  # a regular file: its bits, as stat gives them
        ("/d", 0o755),  # a directory
        ("/d/missing", -1),  # a plain name missing from a searchable directory: ENOENT
        ("/missing/f", -1),  # a missing directory on the way: ENOENT too
        ("/d/f/x", -2),  # a file on the way (ENOTDIR): the file system says
        ("/d/link", -2),  # a symbolic link: followed by the file system
        ("/l/f", -2),  # a link on the way
        ("/d/./f", -2),  # '.', '..', empty components, trailing slashes, relative names
        ("/d/../d/f", -2),
        ("/d//f", -2),
        ("/d/", -2),
        ("d/f", -2),
        ("/d/sparse", -2),  # a sparse file's content is the file system's to read
        ("/closed/f", -2),  # a directory the identity may not search: EACCES there
        ("/closed/missing", -2),
    ],
)
def test_memory_mode_answers_only_what_it_can_tell(path: str, expected: int) -> None:
    """memory_mode (the SQLite VFS's look-up of a database's bits, beside the existence check
    of its journals in the same C code) gives stat's permission bits or ENOENT for plain
    paths, and leaves everything else (-2) to the file system; what it answers matches
    stat for every identity."""
    fs = MemoryFileSystem()
    fs.mkdir("/d", 0o755)
    fs.mkdir("/closed", 0o700)
    fs.open("/closed/f", RDWR_CREATE, 0o644).close()
    with fs.open("/d/f", RDWR_CREATE, 0o640) as handle:
        handle.pwrite(b"content", 0)
    with fs.open("/d/sparse", RDWR_CREATE, 0o644) as handle:
        handle.pwrite(b"far", 3 * 4096)
    fs.symlink("/d/f", "/d/link")
    fs.symlink("/d", "/l")
    fs.identity = Identity(1000, 1000, frozenset())
    assert memory_mode(fs, path) == expected
    if expected != -2:
        try:
            bits = stat.S_IMODE(fs.stat(path).st_mode)
        except FileNotFoundError:
            bits = -1
        assert bits == expected
