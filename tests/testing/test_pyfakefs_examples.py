"""pyfakefs's documented usage examples, rewritten for the managed_fs fixture (what a project
migrating from pyfakefs would write): the same assertions pass."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest

from posixbackend.testing import ManagedFs
from vfs import Identity


def test_create_a_file_and_find_it(managed_fs: ManagedFs) -> None:
    managed_fs.create_file("/var/data/xx1.txt")
    assert os.path.exists("/var/data/xx1.txt")


def test_file_contents_and_encoding(managed_fs: ManagedFs) -> None:
    managed_fs.create_file("/foo/bar", contents="test")
    with open("/foo/bar") as file:
        assert file.read() == "test"
    managed_fs.create_file("/foo/latin", contents="größer", encoding="iso-8859-1")
    with open("/foo/latin", "rb") as file:
        assert file.read() == "größer".encode("iso-8859-1")


def test_directories_and_pathlib(managed_fs: ManagedFs) -> None:
    managed_fs.create_dir("/test/dir1/dir2")
    assert os.path.isdir("/test/dir1/dir2")
    path = Path("/test/dir1/dir2/file.txt")
    path.write_text("pathlib")
    assert [p.name for p in Path("/test/dir1").rglob("*.txt")] == ["file.txt"]


@pytest.mark.posixbackend(identity=Identity(1000, 1000, frozenset()))
def test_real_files_as_fixtures(managed_fs: ManagedFs) -> None:
    """read_only takes the write bits away: an unprivileged test cannot write the copy (root,
    which ignores them, could)."""
    managed_fs.add_real_file(__file__, target_path="/tmp/example.py")
    with open("/tmp/example.py") as file:
        assert "pyfakefs's documented usage examples" in file.read()
    with pytest.raises(PermissionError):
        open("/tmp/example.py", "w")  # noqa: SIM115 - it fails before a file exists


def test_disk_usage_limit(managed_fs: ManagedFs) -> None:
    """pyfakefs counts bytes; here space is counted in 4096-byte pages, as tmpfs's size= is."""
    managed_fs.set_disk_usage(4096)
    with open("/bar.txt", "w") as file:
        file.write("a" * 4096)
    with pytest.raises(OSError) as full, open("/foo.txt", "w") as file:
        file.write("b")
        file.flush()
    assert full.value.errno == errno.ENOSPC


def test_pause_resume(managed_fs: ManagedFs) -> None:
    fake_temp_file = tempfile.NamedTemporaryFile()  # noqa: SIM115 - closed below, in the block
    assert os.path.exists(fake_temp_file.name)
    managed_fs.pause()
    assert not os.path.exists(fake_temp_file.name)
    real_temp_file = tempfile.NamedTemporaryFile()  # noqa: SIM115 - closed below, natively
    assert os.path.exists(real_temp_file.name)
    real_temp_file.close()
    managed_fs.resume()
    assert not os.path.exists(real_temp_file.name)
    assert os.path.exists(fake_temp_file.name)
    fake_temp_file.close()


def test_os_functions_and_errors_as_on_linux(managed_fs: ManagedFs) -> None:
    managed_fs.create_file("/a/b.txt", contents="x")
    with pytest.raises(FileExistsError):
        os.mkdir("/a")
    with pytest.raises(OSError) as not_empty:
        os.rmdir("/a")
    assert not_empty.value.errno == errno.ENOTEMPTY
    os.rename("/a/b.txt", "/a/c.txt")
    assert os.listdir("/a") == ["c.txt"]
