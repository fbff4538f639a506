"""The ManagedFs helper: pyfakefs's set-up calls on the managed backend, compared with the
same calls' effect on a real directory, plus real data, disk usage, pause and changes."""

from __future__ import annotations

import errno
import gc
import os
import shutil
import stat
import unittest
import weakref
from pathlib import Path

import pytest

from posixbackend.testing import ManagedFs, ManagedFsTestCase, managed_fs
from vfs import MemoryFileSystem


def read(path: str | Path) -> str:
    with open(path) as file:
        return file.read()


def touch(path: str | Path) -> None:
    with open(path, "w"):
        pass


def listing(root: str) -> dict[str, tuple[str, int, bytes | str | None]]:
    """Kind, permission bits and content of everything below ``root`` (through os)."""
    found: dict[str, tuple[str, int, bytes | str | None]] = {}
    for directory, names, files in os.walk(root):
        for name in names + files:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            status = os.lstat(path)
            if stat.S_ISLNK(status.st_mode):
                found[relative] = ("link", 0, os.readlink(path))
            elif stat.S_ISDIR(status.st_mode):
                found[relative] = ("dir", stat.S_IMODE(status.st_mode), None)
            else:
                with open(path, "rb") as file:
                    found[relative] = ("file", stat.S_IMODE(status.st_mode), file.read())
    return found


def build_natively(root: str) -> None:
    """What the helper calls below do, with os on a real directory."""
    os.makedirs(f"{root}/a/b")
    with open(f"{root}/a/b/text.txt", "w", encoding="utf-8") as file:
        file.write("héllo")
    os.chmod(f"{root}/a/b/text.txt", 0o640 & ~0o022)
    with open(f"{root}/bytes.bin", "wb") as file:
        file.write(b"\x00\x01")
    os.chmod(f"{root}/bytes.bin", 0o777)
    with open(f"{root}/sized", "wb") as file:
        file.truncate(100)
    os.chmod(f"{root}/sized", 0o644)
    os.makedirs(f"{root}/d/e")
    os.chmod(f"{root}/d/e", 0o750)
    os.symlink("a/b/text.txt", f"{root}/link")
    os.link(f"{root}/bytes.bin", f"{root}/hard")


def build_with_helper(helper: ManagedFs, root: str) -> None:
    helper.create_file(f"{root}/a/b/text.txt", stat.S_IFREG | 0o640, "héllo")
    helper.create_file(f"{root}/bytes.bin", contents=b"\x00\x01", st_mode=0o777, apply_umask=False)
    helper.create_file(f"{root}/sized", st_size=100)
    helper.create_dir(f"{root}/d/e", perm_bits=0o750, apply_umask=False)
    helper.create_symlink(f"{root}/link", "a/b/text.txt")
    helper.create_link(f"{root}/bytes.bin", f"{root}/hard")


def test_set_up_calls_make_what_os_makes(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        build_natively(str(tmp_path / "native"))
    finally:
        os.umask(old)
    with ManagedFs() as helper:
        build_with_helper(helper, "/scratch")
        managed = listing("/scratch")
    native = listing(str(tmp_path / "native"))
    native.pop("d", None), managed.pop("d", None)  # made by makedirs: umask'd 0o755 both
    assert managed == native


def test_set_up_calls_fail_as_os_would() -> None:
    with ManagedFs() as helper:
        helper.create_file("/x", contents="1")
        with pytest.raises(FileExistsError) as taken:
            helper.create_file("/x")
        with pytest.raises(FileExistsError):
            helper.create_dir("/x")
        with pytest.raises(NotADirectoryError):
            helper.create_file("/x/y", create_missing_dirs=False)
        with pytest.raises(FileNotFoundError):
            helper.create_file("/missing/y", create_missing_dirs=False)
        with pytest.raises(ValueError, match="regular files"):
            helper.create_file("/dir", st_mode=stat.S_IFDIR | 0o755)
        with pytest.raises(ValueError, match="not both"):
            helper.create_file("/both", contents="a", st_size=3)
    assert taken.value.errno == errno.EEXIST and taken.value.filename == "/x"


def test_the_calls_work_before_during_and_after_the_block() -> None:
    helper = ManagedFs()
    helper.create_file("/before", contents="b")
    with helper:
        assert read("/before") == "b"
        helper.create_file("/during", contents="d")
    helper.create_file("/after", contents="a")
    with helper:
        assert sorted(n for n in os.listdir("/") if n in ("before", "during", "after")) == [
            "after", "before", "during",
        ]  # fmt: skip


def test_real_directories_are_mounted_and_never_change(tmp_path: Path) -> None:
    real = tmp_path / "data"
    (real / "sub").mkdir(parents=True)
    (real / "sub" / "f.txt").write_text("real")
    before = listing(str(real))
    with ManagedFs() as helper:
        helper.add_real_directory(real)
        assert read(real / "sub" / "f.txt") == "real"
        with pytest.raises(OSError) as refused:
            touch(real / "new")
        helper.add_real_directory(real, read_only=False, target_path="/rw")
        with open("/rw/sub/f.txt", "a") as file:
            file.write(" changed")
        touch("/rw/new")
        assert read("/rw/sub/f.txt") == "real changed"
        changed = {(c.path, c.action.value) for c in helper.changes()}
    assert refused.value.errno == errno.EROFS
    assert ("/rw/new", "created") in changed and ("/rw/sub/f.txt", "modified") in changed
    assert listing(str(real)) == before  # the real files never changed


def test_real_files_are_copied(tmp_path: Path) -> None:
    real = tmp_path / "config.ini"
    real.write_text("[a]\n")
    os.chmod(real, 0o664)
    os.utime(real, ns=(1_000_000_000, 2_000_000_000))
    with ManagedFs() as helper:
        helper.add_real_file(real)
        helper.add_real_file(real, read_only=False, target_path="/writable.ini")
        copied = os.stat(real)
        assert read(real) == "[a]\n"
        assert stat.S_IMODE(copied.st_mode) == 0o444 and copied.st_mtime_ns == 2_000_000_000
        assert stat.S_IMODE(os.stat("/writable.ini").st_mode) == 0o664
        helper.add_real_paths([tmp_path], read_only=True)
        assert os.listdir(tmp_path) == ["config.ini"]
    with pytest.raises(FileNotFoundError):
        ManagedFs().add_real_file(tmp_path / "missing")


def test_a_disk_usage_limit_is_enospc_when_full() -> None:
    with ManagedFs() as helper:
        helper.set_disk_usage(3 * 4096)
        assert helper.get_disk_usage().total == 3 * 4096
        assert shutil.disk_usage("/").total == 3 * 4096
        with open("/tmp/fits", "wb") as file:
            file.write(b"x" * 4096)
        with pytest.raises(OSError) as full, open("/tmp/too-big", "wb") as file:
            file.write(b"x" * 4 * 4096)
            file.flush()
        with pytest.raises(OSError) as below:
            helper.set_disk_usage(10)
    assert full.value.errno == errno.ENOSPC and below.value.errno == errno.ENOSPC


def test_pause_serves_natively(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("host")
    with ManagedFs() as helper:
        assert not os.path.exists(real)
        helper.pause()
        assert read(real) == "host"
        helper.resume()
        assert not os.path.exists(real)
        with helper.paused():
            assert os.path.exists(real)
        with pytest.raises(RuntimeError):
            helper.resume()


def test_snapshots_and_changes() -> None:
    with ManagedFs() as helper:
        helper.create_file("/tmp/kept", contents="1")
        helper.create_file("/tmp/gone", contents="2")
        first = {(c.path, c.action.value, c.kind) for c in helper.changes()}
        archive = helper.snapshot()
        os.remove("/tmp/gone")
        with open("/tmp/kept", "w") as file:
            file.write("changed")
        os.mkdir("/tmp/new")
        since = {(c.path, c.action.value, c.kind) for c in helper.changes()}
        os.chmod("/tmp/new", 0o700)
        from_archive = {(c.path, c.action.value) for c in helper.changes(since=archive)}
    assert first == {("/tmp/kept", "created", "file"), ("/tmp/gone", "created", "file")}
    assert since == {
        ("/tmp/gone", "deleted", "file"),
        ("/tmp/kept", "modified", "file"),
        ("/tmp/new", "created", "directory"),
    }
    assert ("/tmp/new", "created") in from_archive


def test_own_file_systems_and_their_limits() -> None:
    memory = MemoryFileSystem()
    with ManagedFs(file_system=memory, cwd="/") as helper:
        helper.create_file("/a", contents="x")
        assert os.listdir("/") == ["a"]
        with pytest.raises(TypeError, match="MountFileSystem"):
            helper.add_real_directory("/usr")
    with pytest.raises(TypeError, match="max_bytes"):
        ManagedFs(file_system=memory, max_bytes=10)


@managed_fs
def test_the_decorator_runs_the_test_in_a_block(managed_fs: ManagedFs) -> None:
    managed_fs.create_file("/decorated", contents="d")
    assert read("/decorated") == "d"


@managed_fs(umask=0o077)
def test_the_decorator_takes_options() -> None:
    touch("/tmp/private")
    assert stat.S_IMODE(os.stat("/tmp/private").st_mode) == 0o600


def test_the_decorator_leaves_nothing_behind() -> None:
    assert not os.path.exists("/decorated")


class MixinTest(ManagedFsTestCase, unittest.TestCase):
    def setUp(self) -> None:
        self.setUpManagedFs()
        self.fs.create_file("/setup.txt", contents="from setUp")

    def test_runs_in_the_block(self) -> None:
        self.assertEqual(read("/setup.txt"), "from setUp")

    def test_gets_a_fresh_one(self) -> None:
        touch("/only-here")
        self.assertEqual(sorted(n for n in os.listdir("/") if n.endswith(("here", ".txt"))), [
            "only-here", "setup.txt",
        ])  # fmt: skip


def test_the_mixin_block_ends_with_the_test() -> None:
    assert not os.path.exists("/setup.txt")


def test_the_fresh_file_system_is_made_at_its_first_use() -> None:
    """A test that never touches its files costs the block alone; the first touch makes the
    file system (with the identity and size cap asked for) that the block then serves."""
    from posixbackend.defaultfs import host_cwd
    from vfs import Identity

    idle = ManagedFs()
    with idle:
        pass
    assert idle._made is None and "_table" not in vars(idle.backend)
    who = Identity(65534, 65534)
    helper = ManagedFs(identity=who, max_bytes=8192)
    with helper:
        assert os.getcwd() == host_cwd() and os.geteuid() == 65534
        made = helper.file_system
        assert helper.memory is not None and helper.memory.identity == who
        assert os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize == 8192
        touch("/tmp/made")
    assert made is helper.file_system and made.stat("/tmp/made").st_size == 0
    before = ManagedFs()
    before.create_file("/tmp/early", contents="e")
    with before:
        assert read("/tmp/early") == "e"


@pytest.mark.parametrize("used", [False, True], ids=["untouched", "used"])
def test_a_helper_is_freed_as_it_is_dropped(used: bool) -> None:
    """A helper and its deferred backend make no reference cycle: dropped after its block,
    it is freed at once, not left for the garbage collector (whose passes over a test
    session's heap each test would pay for)."""
    helper = ManagedFs()
    with helper:
        if used:
            helper.create_file("/f", contents="x")
            with open("/f") as file:
                assert file.read() == "x"
    gone = weakref.ref(helper)
    gc.disable()
    try:
        del helper
        assert gone() is None
    finally:
        gc.enable()
