"""The PyFilesystem2 adapter's own behaviour: read-only archives, errors, gaps, handles, threads,
and importing without pkg_resources."""

from __future__ import annotations

import errno
import importlib
import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compat
from tests.threads import run_threads, switch_often
from tests.vfs.ops import NativeOps, ProviderOps
from vfs import Identity, MemoryFileSystem
from vfs.adapters.fs2_import import import_fs
from vfs.adapters.pyfilesystem import ProviderFS, PyFilesystemProvider
from vfs.adapters.pyfilesystem.errors import ERRNO_OF, fs_error_from, os_error_from
from vfs.adapters.pyfilesystem.library import fs_errors

import_fs()
from fs.memoryfs import MemoryFS  # noqa: E402
from fs.zipfs import ZipFS  # noqa: E402

__all__ = ["switch_often"]

TREE = {"top.txt": b"top", "d/inner.bin": bytes(range(256)) * 3, "d/e/deep": b"", "empty/": None}


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A zip holding TREE, and the same tree extracted next to it."""
    path = tmp_path / "tree.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in TREE.items():
            if data is None:
                zf.writestr(name, b"")
            else:
                zf.writestr(name, data)
    zipfile.ZipFile(path).extractall(tmp_path / "native")
    return path


@pytest.fixture
def memory() -> Iterator[PyFilesystemProvider]:
    with PyFilesystemProvider(MemoryFS()) as provider:
        yield provider


def _contents(ops: ProviderOps | NativeOps) -> list[tuple[str, int, object]]:
    """Every entry: path, file type, content (None for directories)."""
    return [(path, st.st_mode & 0o170000, extra) for path, st, extra in ops.op_tree()]


def test_zip_archive_reads_like_the_extracted_tree(archive: Path) -> None:
    provider = PyFilesystemProvider(ZipFS(str(archive)))
    with provider:
        wrapped = ProviderOps(provider)
        native = NativeOps(str(archive.parent / "native"))
        assert _contents(wrapped) == _contents(native)
        h = wrapped.op_open("/d/inner.bin", os.O_RDONLY)
        assert wrapped.op_pread(h, 10, 300) == bytes(range(44, 54))
        assert wrapped.op_pread(h, 10, 10_000) == b""
        wrapped.op_close(h)


def test_zip_archive_refuses_writes_with_erofs(archive: Path) -> None:
    with PyFilesystemProvider(ZipFS(str(archive))) as provider:
        attempts = [
            lambda: provider.open("/top.txt", os.O_WRONLY),
            lambda: provider.open("/new", os.O_WRONLY | os.O_CREAT),
            lambda: provider.mkdir("/newdir"),
            lambda: provider.unlink("/top.txt"),
            lambda: provider.rmdir("/empty"),
            lambda: provider.rename("/top.txt", "/moved"),
            lambda: provider.utime("/top.txt", (1, 1)),
            lambda: provider.truncate("/top.txt", 0),
            lambda: provider.access("/top.txt", os.W_OK),
        ]
        for attempt in attempts:
            with pytest.raises(OSError) as raised:
                attempt()
            assert raised.value.errno == errno.EROFS
        # Linux looks a name up before it asks for write access: these fail as on any FS.
        with pytest.raises(FileExistsError):
            provider.mkdir("/d")
        with pytest.raises(FileNotFoundError):
            provider.unlink("/missing")
        assert provider.statvfs("/").f_flag & 1  # ST_RDONLY
        provider.access("/top.txt", os.R_OK)


def test_every_fs_error_class_has_an_errno_and_names_the_callers_path() -> None:
    for cls, code in ERRNO_OF:
        needs_path = (fs_errors.ResourceError, fs_errors.PathError, fs_errors.IllegalBackReference)
        error = cls("/inner") if issubclass(cls, needs_path) else cls()
        translated = os_error_from(error, "/caller/path")
        assert translated.errno == code
        assert translated.filename == "/caller/path"
    wrapped_host_error = fs_errors.OperationFailed(exc=OSError(errno.ELOOP, "loop"))
    assert os_error_from(wrapped_host_error, "/p").errno == errno.ELOOP


@pytest.mark.parametrize(
    ("code", "directory", "expected"),
    [
        (errno.ENOENT, False, fs_errors.ResourceNotFound),
        (errno.ENOTDIR, True, fs_errors.DirectoryExpected),
        (errno.EISDIR, False, fs_errors.FileExpected),
        (errno.ENOTEMPTY, True, fs_errors.DirectoryNotEmpty),
        (errno.EROFS, False, fs_errors.ResourceReadOnly),
        (errno.EEXIST, True, fs_errors.DirectoryExists),
        (errno.EACCES, False, fs_errors.PermissionDenied),
        (errno.ENOSPC, False, fs_errors.InsufficientStorage),
        (errno.ELOOP, False, fs_errors.OperationFailed),
    ],
)
def test_provider_errors_become_pyfilesystem_errors(
    code: int, directory: bool, expected: type[Exception]
) -> None:
    error = fs_error_from(OSError(code, os.strerror(code), "/x"), "x", directory)
    assert type(error) is expected
    assert getattr(error, "exc", None) is not None and error.exc.errno == code  # type: ignore[attr-defined]


def test_missing_features_fail_as_on_vfat_and_hit_their_gaps(
    memory: PyFilesystemProvider,
) -> None:
    compat.reset()
    h = memory.open("/f", os.O_CREAT | os.O_WRONLY, 0o666)
    h.close()
    refusals = {
        "vfs.pyfilesystem.symlinks": lambda: memory.symlink("f", "/l"),
        "vfs.pyfilesystem.hard_links": lambda: memory.link("/f", "/g"),
        "vfs.pyfilesystem.modes": lambda: memory.chmod("/f", 0o600),
        "vfs.pyfilesystem.owners": lambda: memory.chown("/f", 1234, -1),
    }
    for gap, refusal in refusals.items():
        with pytest.raises(PermissionError):
            refusal()
        entry = compat.report().get(gap)
        assert entry is not None and entry.count >= 1, gap
    with pytest.raises(OSError) as raised:
        memory.readlink("/f")
    assert raised.value.errno == errno.EINVAL
    # What would change nothing succeeds, as vfat allows.
    memory.chmod("/f", memory.stat("/f").st_mode & 0o7777)
    memory.chown("/f", -1, -1)


def test_inode_numbers_are_stable_and_follow_renames(memory: PyFilesystemProvider) -> None:
    memory.mkdir("/d")
    memory.open("/d/f", os.O_CREAT | os.O_WRONLY).close()
    ino = memory.stat("/d/f").st_ino
    assert memory.stat("/d/f").st_ino == ino
    assert {e.name: e.inode for e in memory.scandir("/d")}["f"] == ino
    h = memory.open("/d/f", os.O_RDWR)
    memory.rename("/d", "/e")
    assert memory.stat("/e/f").st_ino == ino
    assert h.path == "/e/f"
    h.pwrite(b"still here", 0)
    assert h.stat().st_size == 10
    memory.unlink("/e/f")
    assert h.stat().st_nlink == 0
    assert h.pread(100, 0) == b"still here"
    h.close()
    memory.open("/e/f", os.O_CREAT | os.O_WRONLY).close()
    assert memory.stat("/e/f").st_ino != ino
    assert memory.stat("/").st_dev == memory.device


def test_two_handles_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    from fs.osfs import OSFS

    for fs in (MemoryFS(), OSFS(str(tmp_path))):
        with PyFilesystemProvider(fs) as provider:
            writer = provider.open("/f", os.O_CREAT | os.O_WRONLY)
            reader = provider.open("/f", os.O_RDONLY)
            writer.pwrite(b"abc", 0)
            assert reader.pread(10, 0) == b"abc"
            writer.pwrite(b"Z", 5)
            assert reader.pread(10, 0) == b"abc\0\0Z"
            writer.close()
            reader.close()


def test_appends_from_many_threads_never_overlap(
    memory: PyFilesystemProvider, switch_often: None
) -> None:
    handles = [memory.open("/log", os.O_CREAT | os.O_WRONLY | os.O_APPEND) for _ in range(8)]

    def work(index: int) -> None:
        for _ in range(50):
            handles[index].append(bytes([65 + index]) * 7)

    run_threads(work)
    data = memory.open("/log", os.O_RDONLY).pread(1 << 20, 0)
    assert len(data) == 8 * 50 * 7
    assert all(len(set(data[i : i + 7])) == 1 for i in range(0, len(data), 7))
    for handle in handles:
        handle.close()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.binary(max_size=20), st.integers(0, 60)) | st.integers(0, 60), max_size=12
    )
)
def test_pwrite_and_truncate_match_a_bytearray(steps: list[tuple[bytes, int] | int]) -> None:
    with PyFilesystemProvider(MemoryFS()) as provider:
        h = provider.open("/f", os.O_CREAT | os.O_RDWR)
        model = bytearray()
        for step in steps:
            if isinstance(step, int):
                h.truncate(step)
                model = model[:step] + bytearray(max(step - len(model), 0))
            else:
                data, offset = step
                h.pwrite(data, offset)
                if data:
                    model.extend(bytes(max(offset - len(model), 0)))
                    model[offset : offset + len(data)] = data
            assert h.size() == len(model)
            assert h.pread(200, 0) == bytes(model)
        h.close()


def test_provider_round_trip_through_both_directions() -> None:
    """A MemoryFileSystem exposed as an FS, wrapped back as a provider, behaves as itself."""
    inner = MemoryFileSystem()
    with PyFilesystemProvider(ProviderFS(inner)) as provider:
        provider.mkdir("/d")
        h = provider.open("/d/f", os.O_CREAT | os.O_RDWR)
        h.pwrite(b"round trip", 0)
        h.close()
        assert inner.stat("/d/f").st_size == 10
        assert provider.stat("/d/f").st_mode & 0o777 == inner.stat("/d/f").st_mode & 0o777
        assert provider.stat("/d/f").st_mtime_ns == inner.stat("/d/f").st_mtime_ns


def test_exposed_files_buffer_like_open() -> None:
    exposed = ProviderFS(MemoryFileSystem())
    with exposed.openbin("/f", "w") as f:
        assert isinstance(f, io.BufferedWriter)
        f.write(b"x" * 10)
    with exposed.openbin("/f", "r", buffering=0) as f:
        assert f.read() == b"x" * 10
    permissions = exposed.getinfo("/f", ["access"]).permissions
    assert permissions is not None and permissions.mode == 0o644  # 0666 less umask 022


WITHOUT_PKG_RESOURCES = """
import importlib.abc, sys

class Gone(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("pkg_resources", "setuptools"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Gone())
import vfs.adapters.pyfilesystem as adapter
from vfs import Identity, MemoryFileSystem
exposed = adapter.ProviderFS(MemoryFileSystem())
exposed.writetext("/note", "hello")
provider = adapter.PyFilesystemProvider(exposed)
assert provider.open("/note", 0).pread(5, 0) == b"hello"
assert "pkg_resources" not in sys.modules
print("ok")
"""


def test_adapter_imports_without_pkg_resources_or_setuptools() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_PKG_RESOURCES], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_adapter_imports_quietly_with_pkg_resources() -> None:
    code = "import warnings; warnings.simplefilter('error')\nimport vfs.adapters.pyfilesystem\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_benchmark_runs_and_reports_both_directions() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_pyfilesystem", "--quick"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "wrapped:" in result.stdout and "exposed:" in result.stdout
    assert result.stdout.count("overhead") == 4


def test_an_append_mode_file_starts_at_the_end_as_pyfilesystem2s_own() -> None:
    memoryfs = importlib.import_module(import_fs().__name__ + ".memoryfs")
    exposed = ProviderFS(MemoryFileSystem(identity=Identity.root()))
    for fs in (exposed, memoryfs.MemoryFS()):
        fs.writebytes("/a", b"12345")
        with fs.openbin("/a", "a") as file:
            assert file.tell() == 5
            file.write(b"6")
        assert fs.readbytes("/a") == b"123456"
