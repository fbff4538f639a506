"""stat through an overlay reports the layer's status as it is now, to the nanosecond.

The overlay keeps the last status it showed for a path and shows it again while the layer
reports the same; "the same" must cover every field a caller sees, nanosecond times and
block counts included, not only what ``os.stat_result`` equality compares (its first ten
fields, times in whole seconds).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vfs import FileSystem, HostFileSystem, Identity, MemoryFileSystem
from vfs.overlay import OverlayFileSystem


def layer(kind: str, directory: Path) -> FileSystem:
    if kind == "memory":
        return MemoryFileSystem(identity=Identity.root())
    directory.mkdir()
    return HostFileSystem(str(directory))


@pytest.fixture(params=["memory", "host"])
def overlay(request: pytest.FixtureRequest, tmp_path: Path) -> OverlayFileSystem:
    return OverlayFileSystem(
        layer(request.param, tmp_path / "upper"), layer(request.param, tmp_path / "lower")
    )


def rewrite(fs: FileSystem, path: str, data: bytes) -> None:
    with fs.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) as handle:
        handle.pwrite(data, 0)


def test_a_same_size_rewrite_shows_the_layers_times(overlay: OverlayFileSystem) -> None:
    rewrite(overlay, "/f", b"one")
    overlay.stat("/f")
    for data in (b"two", b"six", b"ten"):
        rewrite(overlay, "/f", data)
        shown, real = overlay.stat("/f"), overlay.upper.stat("/f")
        assert (shown.st_mtime_ns, shown.st_ctime_ns) == (real.st_mtime_ns, real.st_ctime_ns)
