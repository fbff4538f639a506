"""Managed blocks over providers whose own code calls Python's os (adapters), and composites."""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

import fsspec

from posixbackend import backend
from vfs import (
    HostFileSystem,
    Identity,
    MemoryFileSystem,
    MountFileSystem,
    OverlayFileSystem,
    ReadOnlyFileSystem,
)
from vfs.adapters.fs2_import import import_fs
from vfs.adapters.fsspec import FsspecProvider
from vfs.adapters.pyfilesystem import PyFilesystemProvider


def exercise() -> list[object]:
    """A few calls through os, open and shutil, inside the block."""
    os.mkdir("/d")
    Path("/d/f.txt").write_text("content")
    shutil.copy("/d/f.txt", "/d/g.txt")
    with open("/d/g.txt") as file:
        copied = file.read()
    return [sorted(os.listdir("/d")), copied, os.stat("/d/f.txt").st_size]


def test_an_fsspec_local_store_serves_a_block_without_coming_back_to_it(tmp_path: Path) -> None:
    store = FsspecProvider(fsspec.filesystem("file"), root=str(tmp_path))
    with backend("managed", file_system=store):
        seen = exercise()
    assert seen == [["f.txt", "g.txt"], "content", 7]
    assert (tmp_path / "d" / "g.txt").read_text() == "content"


def test_a_pyfilesystem_osfs_serves_a_block(tmp_path: Path) -> None:
    osfs = importlib.import_module(import_fs().__name__ + ".osfs")
    provider = PyFilesystemProvider(osfs.OSFS(str(tmp_path)))
    with backend("managed", file_system=provider) as block:
        assert block.file_system is provider
        seen = exercise()
    assert seen == [["f.txt", "g.txt"], "content", 7]
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["f.txt", "g.txt"]


def test_an_overlay_on_the_host_leaves_the_disk_alone(tmp_path: Path) -> None:
    (tmp_path / "kept.txt").write_text("original")
    lower = HostFileSystem(str(tmp_path))
    overlay = OverlayFileSystem(MemoryFileSystem(identity=Identity.root()), lower)
    try:
        with backend("managed", file_system=overlay):
            Path("/kept.txt").write_text("changed")
            seen = exercise()
            assert Path("/kept.txt").read_text() == "changed"
        assert seen == [["f.txt", "g.txt"], "content", 7]
        assert (tmp_path / "kept.txt").read_text() == "original"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]
        changes = {(change.path, change.action.value) for change in overlay.changes()}
        assert changes >= {("/kept.txt", "modified"), ("/d", "created")}
    finally:
        lower.close()


def test_moving_across_mounts_copies_as_on_linux(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    root = MemoryFileSystem(identity=Identity.root())
    data = MemoryFileSystem(identity=Identity.root())
    host = HostFileSystem(str(tmp_path / "in"))
    namespace = MountFileSystem(
        root, {"/data": data, "/ro": ReadOnlyFileSystem(host)}, create_mount_points=True
    )
    try:
        with backend("managed", file_system=namespace):
            Path("/file").write_text("moved")
            shutil.move("/file", "/data/file")  # rename gives EXDEV: shutil copies
            assert not os.path.exists("/file") and Path("/data/file").read_text() == "moved"
            try:
                Path("/ro/x").write_text("no")
            except OSError as error:
                refused = error.errno
        assert refused == 30  # EROFS
    finally:
        host.close()
