"""mmap.mmap on emulated descriptors (issue 18, item 2).

Each scenario runs natively in a host temporary directory and inside ``backend('managed')``
over memory and over a confined host directory, through the switched ``os`` and ``mmap``
modules; the logs must agree. The maps are real ``mmap.mmap`` objects sharing the file's
pages, so what is written through one is what ``os.pread`` reads, and the other way round.
"""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compat
import posixbackend
from tests.posixbackend.blocks import compare_in_blocks
from vfs import MemoryFileSystem, OverlayFileSystem, ReadOnlyFileSystem
from vfs.provider import NOT_MAPPABLE

PAGE = mmap.PAGESIZE


def facts(call: Callable[[], Any]) -> Any:
    """A call's result, or its error's class and errno (or message)."""
    try:
        result = call()
    except OSError as error:
        return (type(error).__name__, error.errno)
    except (TypeError, ValueError, OverflowError, IndexError) as error:
        return (type(error).__name__, str(error))
    if isinstance(result, mmap.mmap):
        with result:
            return ("map", len(result), result[:16])
    return ("ok", result)


def compare(scenario: Callable[[str], list[Any]]) -> list[Any]:
    """The scenario's log natively, then on memory and on a host directory: all equal."""
    return compare_in_blocks(scenario, "mmap")


def make(path: str, content: bytes, flags: int = os.O_RDWR) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, content)
    if flags == os.O_RDWR:
        return fd
    os.close(fd)
    return os.open(path, flags)


def test_shared_writes_both_ways() -> None:
    def scenario(root: str) -> list[Any]:
        fd = make(f"{root}/f", b"0123456789" * 1000)
        log: list[Any] = []
        with mmap.mmap(fd, 0) as mapped:
            log.append((type(mapped) is mmap.mmap, isinstance(mapped, mmap.mmap), len(mapped)))
            mapped[0:5] = b"HELLO"
            mapped[PAGE : PAGE + 3] = b"abc"
            log.append(os.pread(fd, 8, 0))
            log.append(os.pread(fd, 5, PAGE - 1))
            other = os.open(f"{root}/f", os.O_RDONLY)  # another open of the file
            log.append(os.read(other, 6))
            os.close(other)
            os.pwrite(fd, b"XY", 7)
            os.lseek(fd, 20, os.SEEK_SET)
            os.write(fd, b"written")
            log.append(mapped[:30])
            with open(f"{root}/f", "r+b") as stream:  # buffered io, through the backend
                stream.seek(100)
                stream.write(b"via io")
            log.append(mapped[100:106])
            mapped.flush()
            log.append(facts(lambda: mapped.flush(0, PAGE)))
        log.append(os.fstat(fd).st_size)
        os.close(fd)
        return log

    compare(scenario)


def test_the_c_methods_work_on_the_map() -> None:
    def scenario(root: str) -> list[Any]:
        fd = make(f"{root}/f", b"first line\nsecond line\nthird\n" + bytes(PAGE))
        log: list[Any] = []
        with mmap.mmap(fd, 0) as mapped:
            log.append(mapped.find(b"second"))
            log.append(mapped.rfind(b"line"))
            log.append(mapped.readline())
            log.append(mapped.readline())
            log.append(mapped.tell())
            mapped.seek(0)
            log.append(mapped.read(5))
            log.append(mapped[3:9:2])
            log.append(mapped[0])
            with memoryview(mapped) as view:
                log.append(bytes(view[:5]))
                view[0:5] = b"FIRST"
            log.append(os.pread(fd, 5, 0))
            match = re.search(rb"s\w+", mapped)
            log.append(match.group() if match else None)
            log.append(hashlib.sha256(mapped).hexdigest()[:16])
            mapped.move(0, 6, 4)
            log.append(os.pread(fd, 10, 0))
            log.append(facts(lambda: mapped.madvise(mmap.MADV_NORMAL)))
            log.append(facts(lambda: mapped.madvise(mmap.MADV_WILLNEED, 0, PAGE)))
            log.append(mapped.size())
            log.append(repr(mapped).startswith("<mmap.mmap closed=False, access=ACCESS_DEFAULT"))
        os.close(fd)
        return log

    compare(scenario)


def test_resize_grows_and_shrinks_the_file() -> None:
    def scenario(root: str) -> list[Any]:
        fd = make(f"{root}/f", b"x" * 100)
        log: list[Any] = []
        with mmap.mmap(fd, 0) as mapped:
            mapped.resize(3 * PAGE)
            log.append((len(mapped), mapped.size(), os.fstat(fd).st_size))
            mapped[2 * PAGE : 2 * PAGE + 4] = b"tail"
            log.append(os.pread(fd, 4, 2 * PAGE))
            log.append(os.pread(fd, 4, 200))  # the grown part reads as zeros
            mapped.resize(50)
            log.append((len(mapped), mapped.size(), os.fstat(fd).st_size, os.read(fd, 100)))
        os.close(fd)
        return log

    compare(scenario)


def test_access_modes() -> None:
    def scenario(root: str) -> list[Any]:
        path = f"{root}/f"
        os.close(make(path, b"a" * 10))
        log: list[Any] = []
        reader = os.open(path, os.O_RDONLY)
        writer = os.open(path, os.O_WRONLY)
        both = os.open(path, os.O_RDWR | os.O_APPEND)  # O_APPEND does not matter to mmap
        for fd in (reader, writer, both):
            for kwargs in (
                {},
                {"access": mmap.ACCESS_READ},
                {"access": mmap.ACCESS_WRITE},
                {"access": mmap.ACCESS_COPY},
                {"prot": mmap.PROT_READ},
                {"flags": mmap.MAP_PRIVATE},
                {"flags": mmap.MAP_PRIVATE, "prot": mmap.PROT_READ | mmap.PROT_WRITE},
                {"flags": mmap.MAP_SHARED, "prot": mmap.PROT_WRITE},
            ):
                log.append(facts(lambda: mmap.mmap(fd, 0, **kwargs)))  # noqa: B023
        with mmap.mmap(reader, 0, access=mmap.ACCESS_COPY) as private:
            private[0:3] = b"cow"  # a private copy: the file does not change
            log.append((private[:5], os.pread(reader, 5, 0)))
        with mmap.mmap(reader, 0, access=mmap.ACCESS_READ) as readonly:
            log.append(facts(lambda: readonly.__setitem__(0, 66)))
            log.append(facts(lambda: readonly.resize(100)))
        for fd in (reader, writer, both):
            os.close(fd)
        return log

    compare(scenario)


def test_offsets() -> None:
    def scenario(root: str) -> list[Any]:
        fd = make(f"{root}/f", bytes(range(256)) * 64)  # four pages
        log: list[Any] = []
        for length, offset in ((0, PAGE), (10, 2 * PAGE), (PAGE, 3 * PAGE), (0, 4 * PAGE),
                               (10, 4 * PAGE), (0, 100), (10, -PAGE), (2 * PAGE, 3 * PAGE),
                               (0, 5 * PAGE)):  # fmt: skip
            log.append(facts(lambda: mmap.mmap(fd, length, offset=offset)))  # noqa: B023
        os.close(fd)
        return log

    compare(scenario)


def test_errors() -> None:
    def scenario(root: str) -> list[Any]:
        log: list[Any] = []
        empty = make(f"{root}/empty", b"")
        log.append(facts(lambda: mmap.mmap(empty, 0)))
        log.append(facts(lambda: mmap.mmap(empty, 10)))
        full = make(f"{root}/full", b"data")
        log.append(facts(lambda: mmap.mmap(full, 100)))
        log.append(facts(lambda: mmap.mmap(full, -1)))
        log.append(facts(lambda: mmap.mmap(full, 0, access=7)))
        log.append(facts(lambda: mmap.mmap(full, 0, access=mmap.ACCESS_READ, prot=1)))
        closed = os.open(f"{root}/full", os.O_RDONLY)
        os.close(closed)
        for fd in (closed, 999, -2):
            log.append(facts(lambda: mmap.mmap(fd, 10)))  # noqa: B023
        log.append(facts(lambda: mmap.mmap(closed, -1)))  # argument errors come first
        directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        for length, kwargs in ((0, {}), (10, {}), (10, {"access": mmap.ACCESS_READ}),
                               (10, {"access": mmap.ACCESS_COPY})):  # fmt: skip
            log.append(facts(lambda: mmap.mmap(directory, length, **kwargs)))  # noqa: B023
        opath = os.open(f"{root}/full", os.O_PATH)
        log.append(facts(lambda: mmap.mmap(opath, 4)))
        reader, writer = os.pipe()
        log.append(facts(lambda: mmap.mmap(reader, 10, access=mmap.ACCESS_READ)))
        for fd in (empty, full, directory, opath, reader, writer):
            os.close(fd)
        return log

    compare(scenario)


def test_a_map_outlives_its_descriptor_and_the_name() -> None:
    def scenario(root: str) -> list[Any]:
        fd = make(f"{root}/f", b"before" * 10)
        mapped = mmap.mmap(fd, 0)
        os.close(fd)
        mapped[:5] = b"after"
        log: list[Any] = [open(f"{root}/f", "rb").read(8)]  # noqa: SIM115
        os.link(f"{root}/f", f"{root}/g")
        mapped[:2] = b"AF"
        with open(f"{root}/g", "rb") as linked:  # the hard link shares the pages
            log.append(linked.read(8))
        os.unlink(f"{root}/f")
        os.unlink(f"{root}/g")
        mapped[:2] = b"zz"  # the inode is gone from the tree: the map still works
        log.append(mapped[:8])
        mapped.close()
        return log

    compare(scenario)


def test_truncate_while_mapped() -> None:
    """A shrink while mapped (never touching the pages past the end: that is SIGBUS)."""

    def scenario(root: str) -> list[Any]:
        fd = make(f"{root}/f", b"k" * (3 * PAGE))
        log: list[Any] = []
        with mmap.mmap(fd, 0) as mapped:
            os.ftruncate(fd, PAGE)
            log.append((len(mapped), mapped.size(), os.fstat(fd).st_size))
            log.append(mapped[:4])
            mapped[:2] = b"ok"
            log.append(os.pread(fd, 4, 0))
            os.truncate(f"{root}/f", 2 * PAGE)
            log.append((mapped.size(), mapped[PAGE : PAGE + 2], os.pread(fd, 2, PAGE)))
        os.close(fd)
        return log

    compare(scenario)


def test_anonymous_maps_and_subclasses() -> None:
    def scenario(root: str) -> list[Any]:
        fd = make(f"{root}/f", b"subclass")

        class Named(mmap.mmap):
            pass

        class Anonymous(mmap.mmap):
            def __new__(cls, *args: Any, **kwargs: Any) -> Anonymous:
                return mmap.mmap.__new__(cls, -1, *args, **kwargs)

        log: list[Any] = []
        with Named(fd, 0) as named:
            log.append((type(named).__name__, isinstance(named, mmap.mmap), named[:]))
        with Anonymous(PAGE) as anonymous:
            anonymous[:3] = b"abc"
            log.append((isinstance(anonymous, mmap.mmap), anonymous[:4], len(anonymous)))
        with mmap.mmap(-1, 10) as plain:
            log.append(plain[:])
        log.append(facts(lambda: mmap.mmap(fileno=fd, length=0, access=mmap.ACCESS_READ)))
        os.close(fd)
        return log

    compare(scenario)


# -- the memory file system's side -------------------------------------------------------------


def test_memory_file_status_follows_the_map() -> None:
    """Size, blocks, SEEK_DATA/SEEK_HOLE and statvfs of a mapped memory file are the memfd's;
    the C accelerator's fast read no longer reads the old content."""
    system = MemoryFileSystem(max_bytes=64 * PAGE)
    with posixbackend.backend("managed", file_system=system):
        fd = os.open("/f", os.O_RDWR | os.O_CREAT)
        os.pwrite(fd, b"d" * 10, 8 * PAGE)  # sparse: a hole of eight pages first
        free_before = os.statvfs("/").f_bfree
        with mmap.mmap(fd, 0) as mapped:
            status = os.fstat(fd)
            assert (status.st_size, status.st_blocks) == (8 * PAGE + 10, 8)
            assert os.lseek(fd, 0, os.SEEK_DATA) == 8 * PAGE
            assert os.lseek(fd, 0, os.SEEK_HOLE) == 0
            mapped[0:1] = b"x"  # a page allocated by the map alone
            assert os.fstat(fd).st_blocks == 16
            assert os.statvfs("/").f_bfree == free_before - 1
            os.lseek(fd, 0, os.SEEK_SET)
            assert os.read(fd, 2) == b"x\0"  # the accelerated read path falls back
            written = os.pwrite(fd, b"y" * (80 * PAGE), 0)  # stops where the space runs out
            assert written == 64 * PAGE and os.statvfs("/").f_bfree == 0
            assert mapped[:2] == b"yy"
            for call in (lambda: os.pwrite(fd, b"z", 70 * PAGE),
                         lambda: os.posix_fallocate(fd, 0, 66 * PAGE)):  # fmt: skip
                with pytest.raises(OSError) as full:
                    call()
                assert full.value.errno == errno.ENOSPC
            os.ftruncate(fd, 2 * PAGE)
            os.posix_fallocate(fd, 0, 4 * PAGE)
            assert os.fstat(fd).st_blocks == 32 and os.statvfs("/").f_bfree == 60
        os.close(fd)
        os.unlink("/f")
        assert os.statvfs("/").f_bfree == 64


def test_memory_file_memfd_is_closed_with_the_last_reference() -> None:
    system = MemoryFileSystem()
    with posixbackend.backend("managed", file_system=system):
        fd = os.open("/f", os.O_RDWR | os.O_CREAT)
        os.write(fd, b"content")
        mapped = mmap.mmap(fd, 0)
        memfds = list(system._space.mapped)
        assert len(memfds) == 1 and memfds[0].fd >= 0
        os.unlink("/f")
        assert memfds[0].fd >= 0  # still open through fd
        os.close(fd)
        assert memfds[0].fd == -1 and not system._space.mapped
        assert mapped[:7] == b"content"  # the map holds its own descriptor
        mapped.close()


def test_promotion_is_all_or_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A promotion that fails half-way (here: ftruncate of the memfd) leaves the file as it
    was and no memfd behind."""
    import posix

    from vfs.memory import mapped as mapped_module

    system = MemoryFileSystem()
    handle = system.open("/f", os.O_RDWR | os.O_CREAT)
    handle.pwrite(b"kept", 0)
    opened: list[int] = []
    real_create = posix.memfd_create

    def create(name: str, flags: int = 1) -> int:
        fd = real_create(name, flags)
        opened.append(fd)
        return fd

    def failing_truncate(fd: int, length: int) -> None:
        raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM))

    class Posix:
        def __getattr__(self, name: str) -> Any:
            return {"memfd_create": create, "ftruncate": failing_truncate}.get(
                name, getattr(posix, name)
            )

    monkeypatch.setattr(mapped_module, "posix", Posix())
    with pytest.raises(OSError, match="Cannot allocate memory"):
        handle.mappable()
    monkeypatch.undo()
    with pytest.raises(OSError) as closed:
        os.fstat(opened[0])
    assert closed.value.errno == errno.EBADF
    assert handle.pread(10, 0) == b"kept" and handle.stat().st_blocks == 8
    fd = handle.mappable()
    try:
        with mmap.mmap(fd, 0) as mapped:
            assert mapped[:] == b"kept"
    finally:
        os.close(fd)
        handle.close()


def test_wrappers_pass_the_mapping_through() -> None:
    lower = MemoryFileSystem()
    with lower.open("/f", os.O_RDWR | os.O_CREAT) as handle:
        handle.pwrite(b"lower file", 0)
    overlay = OverlayFileSystem(MemoryFileSystem(), ReadOnlyFileSystem(lower))
    with posixbackend.backend("managed", file_system=overlay):
        reader = os.open("/f", os.O_RDONLY)
        with mmap.mmap(reader, 0, access=mmap.ACCESS_READ) as mapped:
            assert mapped[:] == b"lower file"
        assert facts(lambda: mmap.mmap(reader, 0)) == ("PermissionError", errno.EACCES)
        writer = os.open("/f", os.O_RDWR)  # copied up
        with mmap.mmap(writer, 0) as mapped:
            mapped[:5] = b"UPPER"
        assert os.pread(writer, 10, 0) == b"UPPER file"
        os.close(reader)
        os.close(writer)
    with lower.open("/f", os.O_RDONLY) as handle:
        assert handle.pread(10, 0) == b"lower file"


def test_adapters_cannot_map() -> None:
    from vfs.adapters.fs2_import import import_fs

    import_fs()  # fs imports pkg_resources, which a fresh venv may lack
    fs2 = pytest.importorskip("fs.memoryfs")
    from vfs.adapters.pyfilesystem import PyFilesystemProvider

    provider = PyFilesystemProvider(fs2.MemoryFS())
    before = _hits(NOT_MAPPABLE.id)
    with posixbackend.backend("managed", file_system=provider):
        fd = os.open("/f", os.O_RDWR | os.O_CREAT)
        os.write(fd, b"data")
        assert facts(lambda: mmap.mmap(fd, 0)) == ("OSError", errno.ENODEV)
        os.close(fd)
    assert _hits(NOT_MAPPABLE.id) == before + 1


def _hits(gap: str) -> int:
    entry = compat.report().get(gap)
    return 0 if entry is None else entry.count


OFFSETS = st.integers(0, 3 * PAGE)
DATA = st.binary(min_size=1, max_size=64)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("map"), OFFSETS, DATA),
            st.tuples(st.just("pwrite"), OFFSETS, DATA),
            st.tuples(st.just("truncate"), st.integers(PAGE, 3 * PAGE), st.just(b"")),
        ),
        max_size=12,
    )
)
def test_random_sequences_agree(steps: list[tuple[str, int, bytes]]) -> None:
    """Writes through a map, os.pwrite and truncates (never below the mapped range's pages
    in use): the file's content and size agree with native after every step."""

    def scenario(root: str) -> list[Any]:
        fd = make(f"{root}/f", bytes(3 * PAGE + 64))
        log: list[Any] = []
        with mmap.mmap(fd, PAGE) as mapped:  # the first page stays inside the file
            for kind, offset, data in steps:
                if kind == "map":
                    start = offset % (PAGE - len(data))
                    mapped[start : start + len(data)] = data
                elif kind == "pwrite":
                    os.pwrite(fd, data, offset)
                else:
                    os.ftruncate(fd, offset)
                size = os.fstat(fd).st_size
                log.append((size, hashlib.md5(os.pread(fd, size, 0)).hexdigest(), mapped[:64]))
        os.close(fd)
        return log

    compare(scenario)


def test_memfd_refused_by_the_kernel_is_enodev(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a seccomp filter refuses memfd_create (--sandbox, isolation) a memory file cannot
    be mapped: ENODEV with the refusal as its cause, a gap hit, the file unchanged."""
    import posix

    from vfs.memory import mapped as mapped_module

    def refused(name: str, flags: int = 1) -> int:
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))

    class Posix:
        def __getattr__(self, name: str) -> Any:
            return refused if name == "memfd_create" else getattr(posix, name)

    system = MemoryFileSystem()
    before = _hits(mapped_module.MEMFD_REFUSED.id)
    with posixbackend.backend("managed", file_system=system):
        fd = os.open("/f", os.O_RDWR | os.O_CREAT)
        os.write(fd, b"data")
        monkeypatch.setattr(mapped_module, "posix", Posix())
        with pytest.raises(OSError) as caught:
            mmap.mmap(fd, 0)
        monkeypatch.undo()
        assert caught.value.errno == errno.ENODEV
        assert isinstance(caught.value.__cause__, PermissionError)
        assert os.pread(fd, 10, 0) == b"data"
        os.close(fd)
    assert _hits(mapped_module.MEMFD_REFUSED.id) == before + 1
