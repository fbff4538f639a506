"""The fsspec adapter's own behaviour: archives as read-only sources, write-back, errors."""

from __future__ import annotations

import errno
import io
import os
import tarfile
import zipfile

import pytest
from fsspec.implementations.memory import MemoryFileSystem as FsspecMemory
from fsspec.implementations.tar import TarFileSystem
from fsspec.implementations.zip import ZipFileSystem

from vfs.adapters.fsspec import FsspecProvider
from vfs.adapters.fsspec.errors import errno_of


def memory_store() -> FsspecMemory:
    return FsspecMemory(global_store=False, skip_instance_cache=True)


def zip_archive() -> ZipFileSystem:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("docs/readme.txt", b"read me")
        archive.writestr("top.bin", bytes(range(10)))
    data.seek(0)
    return ZipFileSystem(data)


def tar_archive() -> TarFileSystem:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as archive:
        info = tarfile.TarInfo("docs/readme.txt")
        info.size, info.mode, info.mtime = 7, 0o640, 1_600_000_000
        archive.addfile(info, io.BytesIO(b"read me"))
    data.seek(0)
    return TarFileSystem(data)


@pytest.mark.parametrize("make", [zip_archive, tar_archive], ids=["zip", "tar"])
def test_archive_is_a_read_only_source(make) -> None:
    fs = FsspecProvider(make())
    assert fs.read_only
    assert sorted(fs.listdir("/")) in (["docs", "top.bin"], ["docs"])
    assert fs.stat("/docs").st_mode & 0o170000 == 0o040000
    with fs.open("/docs/readme.txt", os.O_RDONLY) as handle:
        assert handle.pread(100, 0) == b"read me"
        assert handle.pread(3, 5) == b"me"
        assert handle.size() == 7
    for call in (
        lambda: fs.open("/docs/readme.txt", os.O_WRONLY),
        lambda: fs.open("/new", os.O_WRONLY | os.O_CREAT),
        lambda: fs.mkdir("/d"),
        lambda: fs.unlink("/docs/readme.txt"),
        lambda: fs.rename("/docs", "/other"),
        lambda: fs.chmod("/docs", 0o700),
    ):
        with pytest.raises(OSError) as caught:
            call()
        assert caught.value.errno == errno.EROFS
    with pytest.raises(FileNotFoundError):
        fs.open("/missing", os.O_RDONLY)
    with pytest.raises(NotADirectoryError):
        fs.stat("/docs/readme.txt/x")
    assert fs.statvfs("/").f_flag & 1


def test_tar_modes_and_times_come_from_the_archive() -> None:
    st = FsspecProvider(tar_archive()).stat("/docs/readme.txt")
    assert st.st_mode == 0o100640
    assert st.st_mtime_ns == 1_600_000_000 * 10**9


def test_writes_reach_the_store_on_fsync_and_close() -> None:
    store = memory_store()
    fs = FsspecProvider(store, "/")
    writer = fs.open("/f", os.O_CREAT | os.O_RDWR, 0o600)
    reader = fs.open("/f", os.O_RDONLY)
    writer.pwrite(b"hello", 0)
    writer.pwrite(b"!", 7)
    assert reader.pread(100, 0) == b"hello\0\0!"  # other handles see it at once
    assert fs.stat("/f").st_size == 8
    assert store.cat_file("/f") == b""  # the store sees it later
    writer.sync()
    assert store.cat_file("/f") == b"hello\0\0!"
    writer.pwrite(b"H", 0)
    writer.close()
    assert store.cat_file("/f") == b"Hello\0\0!"
    reader.close()


def test_unlinked_file_stays_readable_through_open_handles() -> None:
    fs = FsspecProvider(memory_store(), "/")
    with fs.open("/f", os.O_CREAT | os.O_WRONLY, 0o644) as handle:
        handle.pwrite(b"data", 0)
    handle = fs.open("/f", os.O_RDWR)
    fs.unlink("/f")
    assert handle.pread(10, 0) == b"data"
    handle.pwrite(b"more", 4)
    assert handle.stat().st_nlink == 0
    handle.close()
    assert fs.listdir("/") == []


def test_rename_moves_a_tree_and_keeps_inodes() -> None:
    fs = FsspecProvider(memory_store(), "/")
    fs.mkdir("/a")
    fs.mkdir("/a/empty")
    with fs.open("/a/f", os.O_CREAT | os.O_WRONLY, 0o600) as handle:
        handle.pwrite(b"x", 0)
    inode = fs.stat("/a/f").st_ino
    fs.rename("/a", "/b")
    assert sorted(fs.listdir("/b")) == ["empty", "f"]
    assert fs.stat("/b/f").st_ino == inode
    assert fs.stat("/b/f").st_mode == 0o100600
    with pytest.raises(FileNotFoundError):
        fs.stat("/a")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (FileNotFoundError("x"), errno.ENOENT),
        (FileExistsError("x"), errno.EEXIST),
        (IsADirectoryError("x"), errno.EISDIR),
        (OSError(errno.ENOTEMPTY, "not empty"), errno.ENOTEMPTY),
        (OSError("bare"), errno.EIO),
        (ValueError("bad mode"), errno.EINVAL),
        (NotImplementedError(), errno.EOPNOTSUPP),
        (KeyError("member"), errno.ENOENT),
    ],
)
def test_foreign_errors_are_translated(error: BaseException, code: int) -> None:
    assert errno_of(error) == code


def test_foreign_error_names_the_callers_path() -> None:
    class Failing(FsspecMemory):  # type: ignore[misc]  # reads fail with a bare OSError
        def cat_file(self, path, start=None, end=None, **kwargs):
            raise OSError("backend unavailable")

    store = Failing(global_store=False, skip_instance_cache=True)
    store.pipe_file("/f", b"x")
    fs = FsspecProvider(store, "/")
    with fs.open("/f", os.O_RDONLY) as handle, pytest.raises(OSError) as caught:
        handle.pread(1, 0)
    assert caught.value.errno == errno.EIO
    assert type(caught.value) is OSError


def test_rejects_what_is_not_an_fsspec_file_system() -> None:
    with pytest.raises(TypeError):
        FsspecProvider(object())


def test_adapter_benchmark_runs() -> None:
    """The benchmark keeps running (its numbers are not judged here)."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_adapters", "--quick"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("us ") >= 6 and "PyfakefsFileSystem" in result.stdout


@pytest.mark.parametrize("make", ["fsspec", "pyfakefs"])
def test_threads_share_one_adapter(make: str) -> None:
    """Appends from many threads through one adapter: none lost, every file complete."""
    from tests.threads import run_threads
    from vfs.adapters.pyfakefs import PyfakefsFileSystem

    fs = FsspecProvider(memory_store(), "/") if make == "fsspec" else PyfakefsFileSystem()
    shared = fs.open("/log", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)

    def work(index: int) -> None:
        with fs.open(f"/own{index}", os.O_CREAT | os.O_RDWR, 0o600) as own:
            for step in range(20):
                shared.append(b"x")
                own.pwrite(bytes([step]), step)
        assert fs.stat(f"/own{index}").st_size == 20

    run_threads(work)
    shared.close()
    assert fs.stat("/log").st_size == 20 * len([n for n in fs.listdir("/") if n != "log"])
