"""MemoryTemplate: a tree built once, stamped out into independent memory file systems that
answer exactly as the file system the template was built on did."""

from __future__ import annotations

import errno
import os
import posix
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vfs import Identity, MemoryFileSystem
from vfs.memory.template import MemoryTemplate

NOBODY = Identity(65534, 65534)


def tree(fs: MemoryFileSystem, path: str = "/") -> dict[str, tuple[object, ...]]:
    """Everything but times and the device, by path: what a copy must reproduce."""
    found: dict[str, tuple[object, ...]] = {}
    for name in fs.listdir(path):
        child = path.rstrip("/") + "/" + name
        st_ = fs.stat(child, follow_symlinks=False)
        content: object = None
        if stat.S_ISREG(st_.st_mode):
            handle = fs.open(child, posix.O_RDONLY)
            try:
                content = handle.pread(st_.st_size + 1, 0)
            finally:
                handle.close()
        elif stat.S_ISLNK(st_.st_mode):
            content = fs.readlink(child)
        found[child] = (
            st_.st_mode, st_.st_ino, st_.st_nlink, st_.st_uid, st_.st_gid, st_.st_size,
            st_.st_blocks, content,
        )  # fmt: skip
        if stat.S_ISDIR(st_.st_mode):
            found.update(tree(fs, child))
    return found


def build_sample(fs: MemoryFileSystem) -> None:
    fs.mkdir("/tmp", 0o1777)
    fs.mkdir("/home", 0o755)
    fs.mkdir("/home/user", 0o700)
    fs.chown("/home/user", 1000, 1000)
    handle = fs.open("/home/user/notes", posix.O_CREAT | posix.O_WRONLY, 0o640)
    try:
        handle.pwrite(b"hello", 0)
        handle.pwrite(b"far", 3 * 4096 * 4)  # a sparse file: holes below its end
    finally:
        handle.close()
    handle = fs.open("/tmp/dense", posix.O_CREAT | posix.O_WRONLY, 0o644)
    try:
        handle.pwrite(b"x" * 5000, 0)
    finally:
        handle.close()
    fs.link("/tmp/dense", "/home/hard")
    fs.symlink("user/notes", "/home/link")


def test_a_copy_holds_the_same_tree_on_a_device_of_its_own() -> None:
    reference = MemoryFileSystem()
    build_sample(reference)
    template = MemoryTemplate(build_sample)
    first, second = template.new(), template.new()
    assert tree(first) == tree(reference) == tree(second)
    devices = {first.stat("/").st_dev, second.stat("/").st_dev}
    assert len(devices) == 2 and all(fs.stat("/tmp").st_dev == fs.device for fs in (first, second))
    assert first.statvfs("/") == reference.statvfs("/")


def test_copies_are_independent_of_each_other_and_of_the_template() -> None:
    template = MemoryTemplate(build_sample)
    first, second = template.new(), template.new()
    handle = first.open("/tmp/dense", posix.O_WRONLY)
    try:
        handle.pwrite(b"changed", 0)
    finally:
        handle.close()
    first.unlink("/home/link")
    first.rename("/home/user", "/home/moved")
    assert tree(second) == tree(template.new())
    assert second.readlink("/home/link") == "user/notes"
    hard = first.stat("/home/hard")
    assert hard.st_ino == first.stat("/tmp/dense").st_ino and hard.st_nlink == 2
    with pytest.raises(FileNotFoundError):
        first.stat("/home/user")


def test_new_inodes_are_numbered_after_the_templates() -> None:
    template = MemoryTemplate(build_sample)
    copy = template.new()
    numbers = {entry[1] for entry in tree(copy).values()}
    copy.mkdir("/fresh", 0o755)
    assert copy.stat("/fresh").st_ino not in numbers | {copy.stat("/").st_ino}


def test_times_are_the_copys_own_moment() -> None:
    template = MemoryTemplate(build_sample)
    copy = template.new()
    status = copy.stat("/tmp/dense")
    assert status.st_mtime_ns == status.st_ctime_ns == copy.stat("/").st_mtime_ns


def test_a_copy_made_ahead_takes_the_times_of_its_stamp(monkeypatch: pytest.MonkeyPatch) -> None:
    template = MemoryTemplate(build_sample)
    copy, stamp = template.new_ahead()
    made = copy.stat("/").st_mtime_ns
    assert copy.stat("/home/user/notes").st_ctime_ns == made  # (each status cached now)
    paths = ["/", *tree(copy)]  # (listed before the stamp: a listing moves atime)
    later = made + 5_000_000_000
    monkeypatch.setattr("vfs.memory.template.time_ns", lambda: later)
    stamp()
    for path in paths:
        status = copy.stat(path, follow_symlinks=False)
        assert status.st_atime_ns == status.st_mtime_ns == status.st_ctime_ns == later, path
    assert tree(copy) == tree(template.new())


def test_identity_caps_and_errors_carry_over() -> None:
    def build(fs: MemoryFileSystem) -> None:
        fs.mkdir("/private", 0o700)
        fs.identity = NOBODY

    template = MemoryTemplate(build, max_bytes=8192, max_inodes=4, quota_errno=errno.EDQUOT)
    copy = template.new()
    assert copy.identity == NOBODY
    with pytest.raises(PermissionError):
        copy.listdir("/private")
    copy.identity = Identity.root()
    handle = copy.open("/big", posix.O_CREAT | posix.O_WRONLY, 0o644)
    try:
        assert handle.pwrite(b"x" * 16384, 0) == 8192, "what fits, as a full tmpfs writes"
        with pytest.raises(OSError) as raised:
            handle.pwrite(b"y", 8192)
    finally:
        handle.close()
    assert raised.value.errno == errno.EDQUOT


def test_a_file_system_with_a_mapped_file_cannot_be_a_template() -> None:
    def build(fs: MemoryFileSystem) -> None:
        handle = fs.open("/mapped", posix.O_CREAT | posix.O_RDWR, 0o644)
        try:
            handle.pwrite(b"data", 0)
            handle.mappable()
        finally:
            handle.close()

    with pytest.raises(ValueError, match="mapped files"):
        MemoryTemplate(build)


def test_a_deep_tree_is_copied_without_recursion() -> None:
    def build(fs: MemoryFileSystem) -> None:
        path = ""
        for _ in range(1500):  # deeper than the recursion limit, within PATH_MAX
            path += "/d"
            fs.mkdir(path, 0o755)

    copy = MemoryTemplate(build).new()
    assert copy.stat("/d" * 1500).st_nlink == 2


names = st.sampled_from(["a", "b", "c"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["mkdir", "file", "link", "symlink"]), names, names)))
def test_a_copy_answers_as_the_built_file_system(steps: list[tuple[str, str, str]]) -> None:
    def build(fs: MemoryFileSystem) -> None:
        for kind, first, second in steps:
            try:
                if kind == "mkdir":
                    fs.mkdir(f"/{first}/{second}" if first != second else f"/{first}", 0o755)
                elif kind == "file":
                    handle = fs.open(f"/{first}", posix.O_CREAT | posix.O_WRONLY, 0o644)
                    try:
                        handle.pwrite(second.encode() * 3, 0)
                    finally:
                        handle.close()
                elif kind == "link":
                    fs.link(f"/{first}", f"/{second}")
                else:
                    fs.symlink(first, f"/{second}")
            except OSError:
                continue

    reference = MemoryFileSystem()
    build(reference)
    assert tree(MemoryTemplate(build).new()) == tree(reference)


def test_plain_directory_tells_a_path_through_directories_alone() -> None:
    fs = MemoryFileSystem()
    fs.mkdir("/a", 0o755)
    fs.mkdir("/a/b", 0o755)
    fs.symlink("/a", "/l")
    handle = fs.open("/a/f", posix.O_CREAT | posix.O_WRONLY, 0o644)
    handle.close()
    assert fs.plain_directory("/a/b") and fs.plain_directory("/")
    assert not fs.plain_directory("/l/b"), "reached through a symbolic link"
    assert not fs.plain_directory("/l") and not fs.plain_directory("/a/f")
    assert not fs.plain_directory("/missing") and not fs.plain_directory("a/b")
    assert not fs.plain_directory("/a/b/") and not fs.plain_directory("/a/b/..")
    fs.chmod("/a", 0o700)
    fs.identity = NOBODY
    assert not fs.plain_directory("/a/b"), "not searchable: the caller looks step by step"
    assert os.sep == "/"
