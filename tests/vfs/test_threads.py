"""Many threads on one MemoryFileSystem: nothing lost, nothing torn, accounting exact."""

from __future__ import annotations

import errno
import os

import pytest

from tests.threads import THREADS, run_threads, switch_often  # noqa: F401 - fixture
from vfs import Identity, MemoryFileSystem

pytestmark = pytest.mark.usefixtures("switch_often")


def test_appends_are_atomic_and_none_is_lost() -> None:
    fs = MemoryFileSystem(identity=Identity.root())
    fs.open("/log", os.O_CREAT | os.O_WRONLY, 0o644).close()
    per_thread, size = 400, 32

    def append(index: int) -> None:
        handle = fs.open("/log", os.O_WRONLY | os.O_APPEND)
        for seq in range(per_thread):
            handle.append(f"<{index}:{seq}>".ljust(size, ".").encode())
        handle.close()

    run_threads(append)
    content = fs.open("/log", os.O_RDONLY).pread(1 << 20, 0)
    records = [content[i : i + size] for i in range(0, len(content), size)]
    assert len(content) == THREADS * per_thread * size
    seen = {record.decode().rstrip(".") for record in records}
    assert seen == {f"<{i}:{s}>" for i in range(THREADS) for s in range(per_thread)}


def test_rename_replaces_atomically_while_others_read() -> None:
    fs = MemoryFileSystem(identity=Identity.root())
    whole = {i: bytes([65 + i]) * 3000 for i in range(THREADS)}
    handle = fs.open("/target", os.O_CREAT | os.O_WRONLY, 0o644)
    handle.pwrite(whole[0], 0)
    handle.close()

    def work(index: int) -> None:
        for round_ in range(200):
            if index % 2:
                temp = f"/tmp-{index}-{round_}"
                h = fs.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                for offset in range(0, 3000, 500):  # written in pieces, renamed whole
                    h.pwrite(whole[index][offset : offset + 500], offset)
                h.close()
                fs.rename(temp, "/target")
            else:
                h = fs.open("/target", os.O_RDONLY)  # never ENOENT: rename replaces atomically
                data = h.pread(10_000, 0)
                h.close()
                assert data in whole.values(), data[:20]

    run_threads(work)
    assert fs.listdir("/") == ["target"]


def test_create_rename_delete_churn_keeps_the_tree_and_counts_exact() -> None:
    fs = MemoryFileSystem(identity=Identity.root(), max_inodes=10_001, max_bytes=10_000_000)
    fs.mkdir("/shared")

    def churn(index: int) -> None:
        mine = f"/shared/d{index}"
        fs.mkdir(mine)
        for n in range(150):
            path = f"{mine}/f{n}"
            h = fs.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            h.pwrite(path.encode() * 3, 0)
            h.close()
            fs.rename(path, f"/shared/t{index}-{n}")
            if n % 3 == 0:
                fs.unlink(f"/shared/t{index}-{n}")
            if n % 10 == 0:
                fs.mkdir(f"{mine}/sub{n}")
                fs.rmdir(f"{mine}/sub{n}")

    run_threads(churn)
    expected_files = {f"t{i}-{n}" for i in range(THREADS) for n in range(150) if n % 3}
    names = set(fs.listdir("/shared"))
    assert names == expected_files | {f"d{i}" for i in range(THREADS)}
    for name in expected_files:
        index, n = name[1:].split("-")
        data = fs.open(f"/shared/{name}", os.O_RDONLY).pread(10_000, 0)
        assert data == f"/shared/d{index}/f{n}".encode() * 3
    assert fs.stat("/shared").st_nlink == 2 + THREADS
    status = fs.statvfs("/")
    assert status.f_files - status.f_ffree == 2 + THREADS + len(expected_files)  # / counts
    pages = sum(-(-fs.stat(f"/shared/{name}").st_size // 4096) for name in expected_files)
    assert status.f_blocks - status.f_bfree == pages  # whole pages, as tmpfs counts


def test_writers_and_truncaters_never_see_a_half_written_block() -> None:
    fs = MemoryFileSystem(identity=Identity.root())
    fs.open("/f", os.O_CREAT | os.O_WRONLY, 0o644).close()
    blocks = [bytes([i]) * 4096 for i in range(THREADS)]

    def work(index: int) -> None:
        h = fs.open("/f", os.O_RDWR)
        for _ in range(300):
            h.pwrite(blocks[index], 0)
            data = h.pread(4096, 0)
            assert data in blocks or data == b"", data[:8]
            if index == 0:
                try:
                    h.truncate(0)
                except OSError as error:  # pragma: no cover - would be a bug
                    raise AssertionError(errno.errorcode[error.errno or 0]) from error
        h.close()

    run_threads(work)
