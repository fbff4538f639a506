"""Overlay semantics against Linux overlayfs itself, case by case.

Each case lays out a lower tree, then runs operations on the merged view: natively on a real
overlayfs (mounted in a private mount namespace of a forked worker, which then chroots into
the mount point) and on ``OverlayFileSystem(upper=MemoryFileSystem, lower=HostFileSystem)``
over an identical lower directory. Outcomes must match, except where marked in place: our
deliberate differences from overlayfs, each with its gap id or reason. Afterwards the lower
directory must be exactly as it was laid out. Skipped where overlayfs cannot be mounted.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.vfs.ops import NativeOps, ProviderOps
from tests.vfs.recording import Recorder, differences
from tests.vfs.worker import Worker
from vfs import HostFileSystem, Identity, MemoryFileSystem
from vfs.overlay import OverlayFileSystem

CLONE_NEWNS = 0x00020000
MS_REC, MS_PRIVATE = 0x4000, 0x40000
Layout = list[tuple[str, ...]]
Case = Callable[[Recorder], None]
RO, WO, RW = os.O_RDONLY, os.O_WRONLY, os.O_RDWR
CREAT, APPEND, TRUNC = os.O_CREAT, os.O_APPEND, os.O_TRUNC

LOWER: Layout = [
    ("dir", "/d"),
    ("dir", "/d/sub"),
    ("file", "/d/f", "lower f"),
    ("file", "/d/sub/deep", "deep"),
    ("dir", "/empty"),
    ("file", "/top", "top"),
    ("link", "/top", "/top-link"),
    ("symlink", "d", "/ld"),
    ("symlink", "/d/f", "/abs-f"),
    ("dir", "/only-files"),
    ("file", "/only-files/a", "a"),
    ("file", "/only-files/b", "b"),
]
"""The lower tree every case starts from (modes 0755/0644, times fixed)."""

CASES: dict[str, Case] = {}
EXPECTED: dict[str, dict[tuple[str, tuple[Any, ...]], str]] = {}
"""Steps where we differ from overlayfs on purpose, by case: (op, args) -> why."""
RENAME_DIR = "vfs.overlay.rename-dir: the tree is copied up; overlayfs answers EXDEV"
MERGED_NLINK = "merged directories count their links as a plain file system does (overlayfs: 1)"


def case(expected: dict[tuple[str, tuple[Any, ...]], str] | None = None) -> Callable[[Case], Case]:
    def register(function: Case) -> Case:
        CASES[function.__name__] = function
        EXPECTED[function.__name__] = expected or {}
        return function

    return register


def write(d: Recorder, path: str, data: bytes, flags: int = WO | TRUNC | CREAT) -> None:
    h = d.open(path, flags, 0o644)
    if h is not None:
        d.pwrite(h, data, 0)
        d.close(h)


@case()
def reads_fall_through(d: Recorder) -> None:
    d.listdir("/")
    d.scandir("/d")
    d.stat("/d/f")
    d.read_file("/d/f")
    d.read_file("/ld/sub/deep")
    d.read_file("/abs-f")
    d.readlink("/ld")
    d.stat("/d")
    d.note(
        "same inode for hard links",
        d.raw("stat", "/top").st_ino == d.raw("stat", "/top-link").st_ino,
    )


@case({("stat", ("/d",)): MERGED_NLINK})
def first_write_copies_up(d: Recorder) -> None:
    before = d.raw("stat", "/d/f")
    reader = d.open("/d/f", RO, 0)
    write(d, "/d/f", b"+appended", WO | APPEND)
    d.read_file("/d/f")
    d.pread(reader, 100, 0)  # opened before the copy-up: sees the new content (Linux >= 4.19)
    d.fstat(reader)
    d.close(reader)
    after = d.raw("stat", "/d/f")
    d.note("inode kept across copy-up", before.st_ino == after.st_ino)
    d.note("device kept", before.st_dev == after.st_dev)
    d.stat("/d")
    d.listdir("/d")


@case()
def metadata_changes_copy_up_and_keep_mtime(d: Recorder) -> None:
    before = d.raw("stat", "/d/sub/deep")
    d.chmod("/d/sub/deep", 0o600, True)
    after = d.raw("stat", "/d/sub/deep")
    d.note("mtime kept", before.st_mtime_ns == after.st_mtime_ns)
    d.note("ctime moved", before.st_ctime_ns != after.st_ctime_ns)
    d.stat("/d/sub/deep")
    d.chown("/d/f", 12, 34, True)
    d.stat("/d/f")
    d.utime("/empty", (5, 6), True)
    d.note("utime", d.raw("times", "/empty")[:2])
    d.truncate("/top", 1)
    d.read_file("/top")
    d.chmod("/ld", 0o600, False)


@case()
def unlink_leaves_whiteout(d: Recorder) -> None:
    d.unlink("/d/f")
    d.stat("/d/f")
    d.listdir("/d")
    d.read_file("/abs-f")
    write(d, "/d/f", b"new f")
    d.read_file("/d/f")
    d.unlink("/ld")
    d.stat("/ld", False)
    d.listdir("/")
    d.symlink("only-files", "/ld")
    d.listdir("/ld/")


@case({("stat", ("/only-files",)): MERGED_NLINK})
def rmdir_of_merged_directory_that_looks_empty(d: Recorder) -> None:
    d.rmdir("/only-files")
    d.unlink("/only-files/a")
    d.rmdir("/only-files")
    d.unlink("/only-files/b")
    d.listdir("/only-files")
    d.stat("/only-files")
    d.rmdir("/only-files")
    d.stat("/only-files")
    d.mkdir("/only-files", 0o700)
    d.listdir("/only-files")  # opaque: the lower a and b do not come back
    d.stat("/only-files")
    d.rmdir("/empty")
    d.listdir("/")
    d.rmdir("/d")


@case()
def opaque_directory_replaces_lower_tree(d: Recorder) -> None:
    d.unlink("/d/sub/deep")
    d.rmdir("/d/sub")
    d.mkdir("/d/sub", 0o750)
    d.listdir("/d/sub")
    d.stat("/d/sub")
    write(d, "/d/sub/deep", b"again")
    d.listdir("/d/sub")
    d.read_file("/d/sub/deep")


@case({("rename", ("/empty", "/d/sub")): RENAME_DIR + " (so ENOTEMPTY comes first, as on ext4)"})
def rename_of_lower_files(d: Recorder) -> None:
    before = d.raw("stat", "/d/f")
    d.rename("/d/f", "/moved")
    d.stat("/d/f")
    d.read_file("/moved")
    d.note("rename keeps the inode", d.raw("stat", "/moved").st_ino == before.st_ino)
    d.rename("/moved", "/d/sub/deep")
    d.read_file("/d/sub/deep")
    d.listdir("/d")
    d.listdir("/d/sub")
    d.rename("/d/sub/deep", "/empty")
    d.rename("/empty", "/d/sub")
    d.rename("/ld", "/ld2")
    d.readlink("/ld2")
    d.listdir("/")


@case(
    {
        ("rename", ("/d", "/d2")): RENAME_DIR,
        ("listdir", ("/",)): RENAME_DIR,
        ("read_file", ("/d2/sub/deep",)): RENAME_DIR,
        ("rename", ("/empty", "/empty2")): RENAME_DIR,
        ("stat", ("/d2",)): RENAME_DIR,
    }
)
def rename_of_lower_directories(d: Recorder) -> None:
    d.rename("/d", "/d2")
    d.listdir("/")
    d.read_file("/d2/sub/deep")
    d.stat("/d2")
    d.rename("/empty", "/empty2")


@case()
def rename_of_directories_made_in_the_overlay(d: Recorder) -> None:
    d.mkdir("/new", 0o755)
    write(d, "/new/x", b"x")
    d.rename("/new", "/new2")
    d.read_file("/new2/x")
    d.rename("/new2", "/d/sub/inner")
    d.listdir("/d/sub")
    d.read_file("/d/sub/inner/x")


@case()
def hard_links_split_on_copy_up(d: Recorder) -> None:
    # vfs.overlay.hardlink-copyup: overlayfs without index=on behaves the same way.
    write(d, "/top", b"changed", WO | APPEND)
    d.read_file("/top")
    d.read_file("/top-link")
    d.stat("/top")
    d.stat("/top-link")
    d.note("still one inode", d.raw("stat", "/top").st_ino == d.raw("stat", "/top-link").st_ino)
    d.link("/d/f", "/f-link", True)
    d.stat("/d/f")
    d.note("new link shares", d.raw("stat", "/d/f").st_ino == d.raw("stat", "/f-link").st_ino)
    d.link("/d", "/d-link", True)


@case()
def creating_through_links_and_errors(d: Recorder) -> None:
    write(d, "/ld/new", b"via link")
    d.listdir("/d")
    d.mkdir("/ld/sub", 0o755)
    d.mkdir("/d/f/x", 0o755)
    d.open("/d/f/", RO, 0)
    d.open("/top", CREAT | os.O_EXCL | WO, 0o644)
    d.open("/d", WO, 0)
    d.stat("/ld/missing/x")
    d.symlink("x", "/d/sub")
    d.access("/d/f", os.W_OK, True)
    d.truncate("/d", 0)


CLEAN_TIMES = (1_000_000_000, 1_000_000_000)


def lay_out(root: str) -> None:
    for row in LOWER:
        kind = row[0]
        if kind == "dir":
            os.mkdir(root + row[1], 0o755)
        elif kind == "file":
            with open(root + row[1], "wb") as f:
                f.write(row[2].encode())
            os.chmod(root + row[1], 0o644)
        elif kind == "link":
            os.link(root + row[1], root + row[2])
        else:
            os.symlink(row[1], root + row[2])
    for row in LOWER:
        path = root + (row[2] if row[0] in ("link", "symlink") else row[1])
        os.utime(path, ns=CLEAN_TIMES, follow_symlinks=False)
    os.utime(root, ns=CLEAN_TIMES)


def snapshot(root: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for directory, names, files in os.walk(root):
        for name in sorted(names + files):
            st = os.lstat(os.path.join(directory, name))
            rows.append((os.path.join(directory, name), st.st_mode, st.st_size, st.st_mtime_ns))
    return rows


def overlay_ops(lower: str, upper: str, work: str, merged: str) -> NativeOps:  # pragma: no cover
    """In the worker: a private namespace, overlayfs mounted, chrooted into it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "make-rprivate")
    options = f"lowerdir={lower},upperdir={upper},workdir={work}".encode()
    if libc.mount(b"overlay", merged.encode(), b"overlay", 0, options) != 0:
        raise OSError(ctypes.get_errno(), "mount overlay")
    os.chroot(merged)
    os.chdir("/")
    return NativeOps()


def overlayfs_available() -> bool:
    if os.geteuid() != 0:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("l", "u", "w", "m"):
            os.mkdir(f"{tmp}/{name}")
        result = subprocess.run(
            [
                "unshare", "-m", "--propagation", "private", "mount", "-t", "overlay", "overlay",
                "-o", f"lowerdir={tmp}/l,upperdir={tmp}/u,workdir={tmp}/w", f"{tmp}/m",
            ],
            capture_output=True,
            check=False,
        )  # fmt: skip
        return result.returncode == 0


pytestmark = pytest.mark.skipif(not overlayfs_available(), reason="cannot mount overlayfs here")


@pytest.fixture
def workspace() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="pb-overlay-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_overlay_matches_overlayfs(name: str, workspace: str) -> None:
    parts = {part: f"{workspace}/{part}" for part in ("lower", "upper", "work", "merged", "ours")}
    for path in parts.values():
        os.mkdir(path, 0o755)
    lay_out(parts["lower"])
    lay_out(parts["ours"])
    original = snapshot(parts["ours"])
    worker = Worker(
        lambda: overlay_ops(parts["lower"], parts["upper"], parts["work"], parts["merged"])
    )
    try:
        native = Recorder(worker.call, "overlayfs")
        CASES[name](native)
    finally:
        worker.close()
    overlay = OverlayFileSystem(
        MemoryFileSystem(identity=Identity.root()), HostFileSystem(parts["ours"])
    )
    try:
        ours = Recorder(ProviderOps(overlay).call, "OverlayFileSystem")
        CASES[name](ours)
    finally:
        overlay.close()
    expected = EXPECTED[name]
    unexplained = [
        (want, got)
        for want, got in zip(native.log, ours.log, strict=False)
        if want != got and want[:2] not in expected
    ]
    if unexplained or len(native.log) != len(ours.log):
        problems = differences(native, ours)
        assert not problems, "\n".join(problems)
    assert snapshot(parts["ours"]) == original, "the lower layer was written"
