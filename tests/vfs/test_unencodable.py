"""Providers refuse names the OS could not encode, before they change anything.

A path or link target with a lone surrogate (``'\\ud800'``) cannot be encoded with the file
system encoding and ``surrogateescape``: every provider raises the UnicodeEncodeError that
``os`` raises for it, so no such name is ever stored (``listdir`` of bytes, walks and
snapshots would fail on it later). Names decoded with surrogateescape (``'\\udcff'``) are
fine: they encode back to their bytes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vfs import FileSystem, HostFileSystem, Identity, MemoryFileSystem, MountFileSystem
from vfs.overlay import OverlayFileSystem
from vfs.snapshot import load_snapshot, save_snapshot

BAD = "\ud800"


def memory() -> MemoryFileSystem:
    return MemoryFileSystem(identity=Identity.root())


PROVIDERS: dict[str, Callable[[Path], FileSystem]] = {
    "memory": lambda _: memory(),
    "overlay": lambda _: OverlayFileSystem(memory(), memory()),
    "mount": lambda _: MountFileSystem(memory()),
    "host": lambda root: HostFileSystem(str(root)),
}
CHANGES: dict[str, Callable[[FileSystem], object]] = {
    "open": lambda fs: fs.open(f"/d/{BAD}", os.O_WRONLY | os.O_CREAT, 0o644),
    "mkdir": lambda fs: fs.mkdir(f"/d/x{BAD}"),
    "symlink name": lambda fs: fs.symlink("f", f"/d/{BAD}"),
    "symlink target": lambda fs: fs.symlink(BAD, "/d/link"),
    "link": lambda fs: fs.link("/d/f", f"/d/{BAD}"),
    "rename": lambda fs: fs.rename("/d/f", f"/d/{BAD}"),
    "stat": lambda fs: fs.stat(f"/d/{BAD}"),
}


@pytest.fixture(params=PROVIDERS)
def fs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FileSystem]:
    provider = PROVIDERS[request.param](tmp_path)
    provider.mkdir("/d")
    with provider.open("/d/f", os.O_WRONLY | os.O_CREAT, 0o644) as handle:
        handle.pwrite(b"f", 0)
    yield provider
    provider.close()


@pytest.mark.parametrize("change", CHANGES)
def test_a_name_that_cannot_be_encoded_is_refused(fs: FileSystem, change: str) -> None:
    before = fs.statvfs("/")
    with pytest.raises(UnicodeEncodeError) as caught:
        CHANGES[change](fs)
    assert caught.value.reason == "surrogates not allowed"
    assert sorted(fs.listdir("/d")) == ["f"]
    after = fs.statvfs("/")
    if not isinstance(fs, HostFileSystem):  # the host's disk is shared with everything else
        assert (after.f_bfree, after.f_ffree) == (before.f_bfree, before.f_ffree)


def test_names_decoded_with_surrogateescape_are_kept(fs: FileSystem) -> None:
    fs.mkdir("/d/\udcff")
    fs.symlink("\udcfe", "/d/\udcff/link")
    assert sorted(fs.listdir("/d")) == ["f", "\udcff"]
    assert os.fsencode(fs.readlink("/d/\udcff/link")) == b"\xfe"


def test_a_snapshot_of_a_tree_the_refusals_left_alone_loads_back() -> None:
    source = memory()
    source.mkdir("/d")
    for change in CHANGES.values():
        try:
            change(source)
        except (UnicodeEncodeError, FileNotFoundError):
            continue
    source.mkdir("/d/\udcff")
    archive = io.BytesIO()
    save_snapshot(source, archive)
    archive.seek(0)
    assert sorted(load_snapshot(archive).listdir("/d")) == ["\udcff"]
