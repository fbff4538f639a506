"""MountFileSystem.mount: a provider mounted after the Mount was made, as at construction."""

from __future__ import annotations

import errno
import os

import pytest

from vfs import MemoryFileSystem, MountFileSystem, ReadOnlyFileSystem


def filled(*names: str) -> MemoryFileSystem:
    fs = MemoryFileSystem()
    for name in names:
        fs.open(name, os.O_CREAT | os.O_WRONLY, 0o644).close()
    return fs


def test_a_later_mount_is_seen_by_paths_resolved_before() -> None:
    mount = MountFileSystem(MemoryFileSystem())
    mount.mkdir("/a", 0o755)
    mount.open("/a/hidden", os.O_CREAT | os.O_WRONLY, 0o644).close()
    assert mount.listdir("/a") == ["hidden"] and mount.probe("/a/hidden") is not None
    mount.mount("/a", filled("/shown"))
    assert mount.listdir("/a") == ["shown"]
    assert mount.probe("/a/hidden") is None
    assert mount.stat("/a").st_dev != mount.stat("/").st_dev
    assert mount.stat("/a/..").st_ino == mount.stat("/").st_ino


def test_a_mount_point_can_be_made_and_must_otherwise_exist() -> None:
    mount = MountFileSystem(MemoryFileSystem())
    with pytest.raises(FileNotFoundError):
        mount.mount("/deep/er", filled("/f"))
    mount.mount("/deep/er", filled("/f"), create_mount_point=True)
    assert mount.listdir("/deep") == ["er"] and mount.listdir("/deep/er") == ["f"]


def test_a_read_only_mount_refuses_writes_and_errors_are_as_at_construction() -> None:
    mount = MountFileSystem(MemoryFileSystem())
    mount.mount("/ro", ReadOnlyFileSystem(filled("/f")), create_mount_point=True)
    with pytest.raises(OSError) as refused:
        mount.open("/ro/new", os.O_CREAT | os.O_WRONLY, 0o644)
    assert refused.value.errno == errno.EROFS
    with pytest.raises(ValueError, match="two providers"):
        mount.mount("/ro", MemoryFileSystem())
    mount.mount("/p/q", MemoryFileSystem(), create_mount_point=True)
    with pytest.raises(ValueError, match="holds a mount point"):
        mount.mount("/p", MemoryFileSystem())
    with pytest.raises(TypeError):
        mount.mount("/t", object())  # type: ignore[arg-type]
    assert set(mount.mounts) == {"/", "/ro", "/p/q"}
