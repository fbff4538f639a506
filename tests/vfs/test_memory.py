"""What is specific to MemoryFileSystem: limits, identity, numbering, and bad input."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from vfs import Identity, MemoryFileSystem

NOBODY = Identity(65534, 65534)


def write(fs: MemoryFileSystem, path: str, data: bytes, flags: int = 0) -> None:
    h = fs.open(path, os.O_CREAT | os.O_WRONLY | flags, 0o644)
    try:
        h.pwrite(data, 0)
    finally:
        h.close()


def read(fs: MemoryFileSystem, path: str) -> bytes:
    with fs.open(path, os.O_RDONLY) as h:
        return h.pread(1 << 20, 0)


# -- limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_write_past_the_byte_limit_writes_the_pages_that_fit(code: int) -> None:
    """As tmpfs with size=: a write stops at the first page that does not fit, a truncate
    allocates nothing; tests/vfs/test_memory_sparse.py compares it all with a real tmpfs."""
    fs = MemoryFileSystem(max_bytes=3 * 4096, quota_errno=code)
    h = fs.open("/b", os.O_CREAT | os.O_RDWR, 0o644)
    assert h.pwrite(b"y" * 10_000, 0) == 10_000  # three pages
    assert h.pwrite(b"z" * 5000, 10_000) == 2288  # up to the end of the third
    with pytest.raises(OSError) as caught:
        h.pwrite(b"z", 12_288)
    assert caught.value.errno == code
    assert h.pread(20_000, 0) == b"y" * 10_000 + b"z" * 2288, "a refused write left something"
    h.truncate(1 << 30)  # a hole: nothing to allocate
    with pytest.raises(OSError) as filling:
        h.allocate(12_288, 1)
    assert filling.value.errno == code and h.size() == 1 << 30
    assert fs.statvfs("/").f_bfree == 0
    h.truncate(4096)
    write(fs, "/c", b"w" * 8192)
    h.close()


def test_inode_limit_counts_every_kind_every_link_and_frees_on_last_close() -> None:
    fs = MemoryFileSystem(max_inodes=4)  # the root and three more
    fs.mkdir("/d")
    fs.symlink("d", "/l")
    h = fs.open("/f", os.O_CREAT | os.O_RDWR, 0o600)
    for make in (
        lambda: fs.mkdir("/e"),
        lambda: fs.symlink("x", "/m"),
        lambda: fs.open("/g", os.O_CREAT | os.O_WRONLY),
        lambda: fs.open("/d", os.O_TMPFILE | os.O_RDWR),
        lambda: fs.link("/f", "/f2"),  # a new name costs an inode on tmpfs
    ):
        with pytest.raises(OSError) as caught:
            make()
        assert caught.value.errno == errno.ENOSPC
    fs.unlink("/l")
    fs.link("/f", "/f2")
    fs.unlink("/f")
    fs.unlink("/f2")
    fs.symlink("d", "/l")  # the extra name's inode came back with its unlink
    with pytest.raises(OSError):
        fs.mkdir("/e")  # /f is still open: still counted, as on Linux
    h.close()
    fs.mkdir("/e")
    assert fs.statvfs("/").f_ffree == 0


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="quota_errno"):
        MemoryFileSystem(quota_errno=errno.EIO)
    with pytest.raises(ValueError, match="max_bytes"):
        MemoryFileSystem(max_bytes=-1)
    with pytest.raises(ValueError, match="max_inodes"):
        MemoryFileSystem(max_inodes=0)  # the root needs one
    with pytest.raises(ValueError, match="max_inodes"):
        MemoryFileSystem(max_inodes="10")  # type: ignore[arg-type]


def test_max_files_is_the_deprecated_name_of_a_cap_without_the_root() -> None:
    with pytest.warns(DeprecationWarning, match="max_inodes=n \\+ 1"):
        fs = MemoryFileSystem(max_files=2)
    assert fs.statvfs("/").f_files == 3
    with pytest.raises(TypeError, match="not both"):
        MemoryFileSystem(max_files=2, max_inodes=3)


# -- numbering -------------------------------------------------------------------------------


def test_devices_differ_per_instance_and_inodes_are_never_reused() -> None:
    one, two = MemoryFileSystem(), MemoryFileSystem()
    assert one.stat("/").st_dev != two.stat("/").st_dev
    seen = set()
    for n in range(50):
        write(one, f"/f{n}", b"")
        st = one.stat(f"/f{n}")
        assert st.st_dev == one.device
        seen.add(st.st_ino)
        one.unlink(f"/f{n}")
    assert len(seen) == 50
    assert one.stat("/").st_ino not in seen


def test_stat_fields_are_plausible() -> None:
    fs = MemoryFileSystem()
    write(fs, "/f", b"x" * 5000)
    fs.mkdir("/d")
    fs.symlink("f", "/l")
    f, d, link = fs.stat("/f"), fs.stat("/d"), fs.stat("/l", follow_symlinks=False)
    assert (f.st_size, f.st_blocks, f.st_blksize) == (5000, 16, 4096)
    assert (d.st_size, d.st_blocks, d.st_nlink) == (4096, 8, 2)
    assert (link.st_size, stat.S_IMODE(link.st_mode)) == (1, 0o777)
    assert f.st_mtime_ns // 1_000_000_000 == int(f.st_mtime) == f[stat.ST_MTIME]
    assert abs(f.st_mtime - f.st_mtime_ns / 1e9) < 1e-6


# -- identity ----------------------------------------------------------------------------------


def test_identity_change_is_seen_by_cached_paths() -> None:
    fs = MemoryFileSystem(identity=Identity.root())
    fs.mkdir("/private", 0o700)
    write(fs, "/private/f", b"secret")
    assert fs.stat("/private/f").st_size == 6  # resolved (and cached) as root
    fs.identity = NOBODY
    with pytest.raises(PermissionError):
        fs.stat("/private/f")
    with pytest.raises(PermissionError):
        fs.open("/private/f", os.O_RDONLY)
    fs.identity = Identity.root()
    assert read(fs, "/private/f") == b"secret"


def test_another_root_identity_keeps_the_cached_paths_a_user_does_not() -> None:
    """Root passes every check, so what was resolved as one root identity still holds for
    another (a default file system is made as root, then given to its user, often root too);
    a user's checks apply at once."""
    fs = MemoryFileSystem(identity=Identity.root())
    fs.mkdir("/private", 0o700)
    fs.mkdir("/private/sub", 0o755)
    write(fs, "/private/sub/f", b"secret")
    assert fs.stat("/private/sub/f").st_size == 6
    fs.identity = Identity(0, 0, frozenset({0, 4}))
    assert fs.stat("/private/sub/f").st_size == 6
    fs.identity = NOBODY
    with pytest.raises(PermissionError):
        fs.stat("/private/sub/f")
    with pytest.raises(PermissionError):
        fs.mkdir("/private/sub/new")


def test_a_path_resolved_before_that_became_a_link_is_followed_as_a_directory() -> None:
    """A directory made below a path resolved whole before starts from what that path names
    now (mkdir -p makes each new directory the next one's parent): a link put in place of a
    file is followed, and a directory put in place of the link is used."""
    fs = MemoryFileSystem(identity=Identity.root())
    fs.mkdir("/a")
    fs.mkdir("/t")
    write(fs, "/a/b", b"file")
    assert fs.stat("/a/b").st_size == 4
    with pytest.raises(NotADirectoryError):
        fs.mkdir("/a/b/c")
    fs.unlink("/a/b")  # a file leaving forgets no resolution
    fs.symlink("/t", "/a/b")
    fs.mkdir("/a/b/c")
    assert stat.S_ISDIR(fs.stat("/t/c").st_mode)
    fs.unlink("/a/b")
    fs.mkdir("/a/b")
    fs.mkdir("/a/b/c")
    fs.mkdir("/a/b/c/d")
    assert stat.S_ISDIR(fs.stat("/a/b/c/d").st_mode)
    assert fs.listdir("/t/c") == []


def test_chmod_of_a_directory_is_seen_by_cached_paths() -> None:
    fs = MemoryFileSystem(identity=NOBODY)
    fs.mkdir("/d", 0o755)
    write(fs, "/d/f", b"x")
    assert fs.stat("/d/f").st_size == 1
    fs.chmod("/d", 0o600)
    with pytest.raises(PermissionError):
        fs.stat("/d/f")
    with pytest.raises(PermissionError):
        fs.open("/d/f", os.O_RDONLY)


def test_new_files_belong_to_the_identity() -> None:
    fs = MemoryFileSystem(identity=Identity(1234, 99, frozenset({7})))
    write(fs, "/f", b"")
    assert (fs.stat("/").st_uid, fs.stat("/f").st_uid, fs.stat("/f").st_gid) == (1234, 1234, 99)


# -- handles -----------------------------------------------------------------------------------


def test_closed_handles_fail_with_ebadf() -> None:
    fs = MemoryFileSystem()
    h = fs.open("/f", os.O_CREAT | os.O_RDWR, 0o644)
    h.close()
    h.close()
    assert h.closed
    for call in (
        lambda: h.pread(1, 0),
        lambda: h.pwrite(b"x", 0),
        lambda: h.append(b"x"),
        h.size,
        lambda: h.truncate(0),
        h.sync,
        h.stat,
        lambda: h.chmod(0o600),
        lambda: h.chown(1, 1),
        h.utime,
        h.listdir,
        h.statvfs,
    ):
        with pytest.raises(OSError) as caught:
            call()
        assert caught.value.errno == errno.EBADF


def test_a_directory_handle_follows_its_directory() -> None:
    fs = MemoryFileSystem()
    fs.mkdir("/a")
    fs.mkdir("/a/b")
    h = fs.open("/a/b", os.O_RDONLY | os.O_DIRECTORY)
    fs.rename("/a", "/z")
    assert h.path == "/z/b"
    fs.rmdir("/z/b")
    assert h.path == "/a/b"  # gone: the path it was opened by
    assert h.stat().st_nlink == 0
    h.close()


def test_tmpfile_is_anonymous_until_closed() -> None:
    fs = MemoryFileSystem(max_inodes=6)
    fs.mkdir("/d")
    h = fs.open("/d", os.O_TMPFILE | os.O_RDWR, 0o600)
    h.pwrite(b"data", 0)
    assert h.stat().st_nlink == 0 and fs.listdir("/d") == []
    assert fs.statvfs("/").f_ffree == 3
    h.close()
    assert fs.statvfs("/").f_ffree == 4


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [b"/bytes", 3, None, ["/"]])
def test_wrong_path_types_are_type_errors(path: object) -> None:
    fs = MemoryFileSystem()
    for call in (fs.stat, fs.listdir, fs.mkdir, fs.unlink, fs.readlink):
        with pytest.raises(TypeError):
            call(path)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fs.open(path, os.O_RDONLY)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fs.symlink(path, "/link")  # type: ignore[arg-type]


def test_nul_bytes_relative_and_overlong_paths() -> None:
    fs = MemoryFileSystem()
    for call in (
        fs.stat,
        fs.mkdir,
        lambda p: fs.open(p, os.O_RDONLY),
        lambda p: fs.symlink(p, "/l"),
    ):
        with pytest.raises(ValueError, match="embedded null byte"):
            call("/a\x00b")
    with pytest.raises(ValueError, match="absolute"):
        fs.stat("relative")
    with pytest.raises(FileNotFoundError):
        fs.stat("")
    with pytest.raises(OSError) as caught:
        fs.stat("/" + "a/" * 2048)
    assert caught.value.errno == errno.ENAMETOOLONG
    with pytest.raises(OSError) as target:
        fs.symlink("x" * 4096, "/l")
    assert (target.value.errno, target.value.filename, target.value.filename2) == (
        errno.ENAMETOOLONG,
        "x" * 4096,
        "/l",
    )


def test_a_size_cap_set_later_is_enospc_when_full() -> None:
    fs = MemoryFileSystem()
    with fs.open("/f", os.O_CREAT | os.O_WRONLY, 0o644) as handle:
        handle.pwrite(b"x" * 5000, 0)
    with pytest.raises(OSError) as below:
        fs.set_max_bytes(4096)
    fs.set_max_bytes(3 * 4096)
    assert fs.statvfs("/").f_blocks == 3
    with fs.open("/g", os.O_CREAT | os.O_WRONLY, 0o644) as handle:
        assert handle.pwrite(b"y" * 8192, 0) == 4096  # what fits, as tmpfs writes
        with pytest.raises(OSError) as full:
            handle.pwrite(b"y", 4096)
    fs.set_max_bytes(None)
    with pytest.raises(ValueError):
        fs.set_max_bytes(-1)
    assert below.value.errno == full.value.errno == errno.ENOSPC


def test_creating_in_a_removed_directory_is_enoent_before_any_permission() -> None:
    """fs/namei.c may_create tests IS_DEADDIR before the permission: a held directory that
    was removed refuses new names with ENOENT even to a caller who may not write it (Linux
    does so; the provider gave EACCES)."""
    fs = MemoryFileSystem(identity=Identity(uid=1000, gid=1000, groups=frozenset()))
    fs.mkdir("/d", 0o755)
    held = fs.directory(None, "/d")
    fs.chmod("/d", 0o555)
    fs.rmdir("/d")
    for create in (
        lambda: fs.mkdir_at(held, "x", 0o755),
        lambda: fs.symlink_at("t", held, "x"),
        lambda: fs.open_at(held, "x", os.O_CREAT | os.O_WRONLY, 0o644),
    ):
        with pytest.raises(FileNotFoundError):
            create()


@pytest.mark.parametrize("pages", [2, 7, 6_170_943])
def test_tmpfs_defaults_are_half_the_pages_rounded_down(pages: int) -> None:
    """mm/shmem.c gives an unsized tmpfs totalram_pages() / 2 blocks and as many inodes, both
    rounded down: a machine with an odd page count has no half page (CI had one: 3085472
    blocks reported against Linux's 3085471). At least two inodes, as the root needs one."""
    from vfs.memory import tmpfs_defaults

    max_bytes, max_inodes = tmpfs_defaults(pages * 4096)
    fs = MemoryFileSystem(max_bytes=max_bytes, max_inodes=max_inodes)
    status = fs.statvfs("/")
    assert (status.f_blocks, status.f_files) == (pages // 2, max(pages // 2, 2))
