"""The emulated backend's own promises: thread safety of its tables, and each Java-backend
behaviour that differs from real POSIX on purpose, with the compat gap it reports."""

from __future__ import annotations

import os
import time

import pytest

import compat
from posixbackend.emulated import EmulatedBackend
from posixbackend.emulated.descriptions import FileDescription
from tests.threads import THREADS, run_threads, switch_often  # noqa: F401 - fixture
from vfs import Identity, MemoryFileSystem
from vfs.delegate import DelegatingHandle

pytestmark = pytest.mark.usefixtures("switch_often")


def hits(gap: str) -> int:
    entry = compat.report().get(gap)
    return entry.count if entry is not None else 0


def test_descriptors_are_never_handed_out_twice_or_lost() -> None:
    backend = EmulatedBackend(MemoryFileSystem(identity=Identity.root()))
    fd = backend.open("/f", os.O_CREAT | os.O_WRONLY, 0o644)
    backend.close(fd)
    before = set(backend._table.files)
    seen: list[list[int]] = [[] for _ in range(THREADS)]

    def churn(index: int) -> None:
        for _ in range(300):
            opened = backend.open("/f", os.O_RDONLY)
            numbers = [opened, backend.dup(opened), *backend.pipe()]
            seen[index].extend(numbers)
            assert len(set(numbers)) == len(numbers)
            for number in numbers:
                backend.close(number)  # EBADF here would mean another thread got it too

    run_threads(churn)
    assert set(backend._table.files) <= before | {3}


class SlowHandle(DelegatingHandle):
    """Reads that take a while, so that threads sharing an offset must wait for it."""

    __slots__ = ()

    def pread(self, n: int, offset: int) -> bytes:
        time.sleep(0.0005)
        return self.inner.pread(n, offset)


@pytest.mark.parametrize("slow", [False, True], ids=["fast", "contended"])
def test_a_shared_offset_gives_every_byte_to_exactly_one_reader(slow: bool) -> None:
    backend = EmulatedBackend(MemoryFileSystem(identity=Identity.root()))
    fd = backend.open("/data", os.O_CREAT | os.O_RDWR, 0o644)
    count = 2000 if slow else 20000
    content = b"".join(number.to_bytes(4, "big") for number in range(count))
    backend.write(fd, content)
    backend.lseek(fd, 0, os.SEEK_SET)
    description = backend._table.files[fd]
    assert isinstance(description, FileDescription)
    if slow:
        description._handle = SlowHandle(description.handle)
    pieces: list[list[bytes]] = [[] for _ in range(THREADS)]

    def reader(index: int) -> None:
        while True:
            piece = backend.read(fd, 8)  # two whole numbers: a piece names its own offset
            if not piece:
                return
            pieces[index].append(piece)

    run_threads(reader)
    seen = sorted(piece for chunk in pieces for piece in chunk)
    assert b"".join(seen) == content, "a piece was read twice or never"
    assert backend.lseek(fd, 0, os.SEEK_CUR) == len(content)
    if slow:
        assert description._gate is not None, "no reader ever had to wait for the offset"


def test_appends_through_many_descriptors_lose_nothing() -> None:
    backend = EmulatedBackend(MemoryFileSystem(identity=Identity.root()))
    backend.close(backend.open("/log", os.O_CREAT | os.O_WRONLY, 0o644))

    def append(index: int) -> None:
        fd = backend.open("/log", os.O_WRONLY | os.O_APPEND)
        for seq in range(200):
            backend.write(fd, f"<{index}:{seq}>".ljust(16).encode())
        backend.close(fd)

    run_threads(append)
    assert backend.stat("/log").st_size == THREADS * 200 * 16


def test_chdir_never_moves_the_process_and_reports_its_gap() -> None:
    backend = EmulatedBackend(MemoryFileSystem(identity=Identity.root()))
    backend.mkdir("/elsewhere")
    here, before = os.getcwd(), hits("emulated.cwd.disconnected")
    backend.chdir("/elsewhere")
    assert backend.getcwd() == "/elsewhere" and os.getcwd() == here
    assert hits("emulated.cwd.disconnected") > before


def test_umask_starts_at_0022_whatever_the_process_has() -> None:
    old = os.umask(0o077)
    try:
        backend = EmulatedBackend(MemoryFileSystem(identity=Identity.root()))
        before = hits("emulated.umask.initial")
        assert backend.umask(0o027) == 0o022
        assert os.umask(0o077) == 0o077, "the process's umask changed"
        assert hits("emulated.umask.initial") > before
        backend.close(backend.open("/f", os.O_CREAT | os.O_WRONLY, 0o666))
        assert backend.stat("/f").st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


@pytest.mark.parametrize("resolution", [10**9, 10**6, 1])
def test_times_are_truncated_to_the_resolution(resolution: int) -> None:
    backend = EmulatedBackend(
        MemoryFileSystem(identity=Identity.root()), time_resolution_ns=resolution
    )
    backend.close(backend.open("/f", os.O_CREAT | os.O_WRONLY, 0o644))
    backend.utime("/f", ns=(1_234_567_891, 9_876_543_219))
    st = backend.stat("/f")
    assert st.st_atime_ns == 1_234_567_891 // resolution * resolution
    assert st.st_mtime_ns == 9_876_543_219 // resolution * resolution
    assert st.st_ctime_ns % resolution == 0
    assert st.st_mtime == st.st_mtime_ns / 1e9


def test_access_limits_are_notimplementederror_with_gaps() -> None:
    backend = EmulatedBackend(MemoryFileSystem(identity=Identity.root()))
    backend.close(backend.open("/f", os.O_CREAT | os.O_WRONLY, 0o644))
    with pytest.raises(NotImplementedError, match="effective_ids"):
        backend.access("/f", os.R_OK, effective_ids=True)
    with pytest.raises(NotImplementedError, match="follow_symlinks"):
        backend.access("/f", os.R_OK, follow_symlinks=False)
    assert backend.access("/f", os.F_OK, follow_symlinks=False)


def test_descriptors_are_virtual() -> None:
    backend = EmulatedBackend(MemoryFileSystem(identity=Identity.root()))
    before = hits("emulated.fds.virtual")
    fd = backend.open("/f", os.O_CREAT | os.O_WRONLY, 0o644)
    assert hits("emulated.fds.virtual") == before + 1
    backend.write(fd, b"virtual")
    real = os.fstat(fd) if fd in {int(n) for n in os.listdir("/proc/self/fd")} else None
    assert real is None or real.st_size != 7 or real.st_ino != backend.fstat(fd).st_ino


def test_open_over_the_backend_behaves_like_io_open(tmp_path: os.PathLike[str]) -> None:
    backend = EmulatedBackend(MemoryFileSystem(identity=Identity.root()))
    native_path = os.path.join(tmp_path, "t")
    for opener, path in ((open, native_path), (backend.io_open, "/t")):
        with opener(path, "w", encoding="utf-16", newline="\r\n") as f:
            f.write("one\ntwo\n")
        with opener(path, "rb") as raw:
            encoded = raw.read()
        with opener(path, "r+", encoding="utf-16") as f:
            lines = f.readlines()
            f.seek(0)
            f.write("ONE")
        with opener(path, encoding="utf-16") as f:
            text = f.read()
        with pytest.raises(FileExistsError):
            opener(path, "x")
        if opener is open:
            expected = (encoded, lines, text)
    assert (encoded, lines, text) == expected
