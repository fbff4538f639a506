"""Scenarios for the emulated backend, written once, run on real ``os`` and on the backend.

Each scenario gets an :class:`~tests.posixbackend.harness.OsRecorder` and calls ``os``
functions by name on it. The guest's ``/`` is an empty directory and the current directory is
``/`` on both sides. Intended divergences are wrapped in ``with d.gap(GAP_ID):``.
"""

from __future__ import annotations

import array
import os
import pathlib
from collections.abc import Callable

from tests.posixbackend.harness import OsRecorder

Scenario = Callable[[OsRecorder], None]
SCENARIOS: dict[str, Scenario] = {}

RDWR_CREAT = os.O_RDWR | os.O_CREAT
HIGH = 900
"""A descriptor number far above anything open, for dup2 targets."""


def scenario(function: Scenario) -> Scenario:
    SCENARIOS[function.__name__] = function
    return function


def new_file(d: OsRecorder, path: str, data: bytes = b"") -> None:
    fd = d.raw("open", (path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), {})
    if data:
        d.raw("write", (fd, data), {})
    d.raw("close", (fd,), {})


# -- descriptors ------------------------------------------------------------------------------


@scenario
def lowest_free_descriptor_and_close(d: OsRecorder) -> None:
    a = d.open("/a", RDWR_CREAT, 0o644)
    b = d.open("/b", RDWR_CREAT, 0o644)
    c = d.open("/c", RDWR_CREAT, 0o644)
    d.close(b)
    d.open("/b", os.O_RDONLY)
    d.close(a)
    d.close(a)
    d.dup(c)
    d.close(c)
    d.close(c)
    d.read(c, 1)
    d.write(c, b"x")
    d.fstat(c)
    d.lseek(c, 0, os.SEEK_SET)


@scenario
def dup_shares_offset_and_flags(d: OsRecorder) -> None:
    fd = d.open("/f", RDWR_CREAT, 0o644)
    d.write(fd, b"0123456789")
    other = d.dup(fd)
    d.lseek(fd, 3, os.SEEK_SET)
    d.read(other, 2)
    d.lseek(fd, 0, os.SEEK_CUR)
    d.get_inheritable(fd)
    d.get_inheritable(other)
    d.set_blocking(fd, False)
    d.get_blocking(other)
    third = d.dup2(fd, HIGH)  # high numbers: the native worker has descriptors of its own
    d.get_inheritable(third)
    d.dup2(fd, HIGH + 1, inheritable=False)
    d.get_inheritable(HIGH + 1)
    d.read(HIGH, 100)
    d.dup2(fd, fd)
    d.dup2(HIGH + 99, HIGH + 2)
    d.dup2(fd, -1)
    d.close(fd)
    d.read(other, 100)
    d.lseek(other, 0, os.SEEK_SET)
    d.read(HIGH + 1, 4)
    d.set_inheritable(other, True)
    d.get_inheritable(other)


@scenario
def read_write_seek(d: OsRecorder) -> None:
    fd = d.open("/f", RDWR_CREAT, 0o644)
    d.write(fd, b"hello world")
    d.write(fd, bytearray(b"!"))
    d.write(fd, array.array("B", b"??"))
    d.write(fd, "text")
    d.lseek(fd, 0, os.SEEK_SET)
    d.read(fd, 5)
    d.read(fd, 0)
    d.read(fd, -1)
    d.lseek(fd, -2, os.SEEK_END)
    d.read(fd, 100)
    d.read(fd, 100)
    d.lseek(fd, -100, os.SEEK_SET)
    d.lseek(fd, 0, 99)
    d.lseek(fd, 100, os.SEEK_SET)
    d.write(fd, b"after a hole")
    d.fstat(fd)
    d.pread(fd, 5, 0)
    d.pread(fd, 5, -1)
    d.pwrite(fd, b"HE", 0)
    d.lseek(fd, 0, os.SEEK_CUR)
    d.pread(fd, 200, 0)
    d.lseek(fd, 0, os.SEEK_DATA)
    d.lseek(fd, 5, os.SEEK_HOLE)
    d.lseek(fd, 10_000, os.SEEK_DATA)
    d.ftruncate(fd, 4)
    d.lseek(fd, 0, os.SEEK_END)
    d.ftruncate(fd, -1)
    d.fsync(fd)
    d.fdatasync(fd)
    d.close(fd)


@scenario
def append_and_access_modes(d: OsRecorder) -> None:
    new_file(d, "/log", b"start;")
    fd = d.open("/log", os.O_WRONLY | os.O_APPEND)
    d.lseek(fd, 0, os.SEEK_SET)
    d.write(fd, b"one;")
    d.lseek(fd, 0, os.SEEK_CUR)
    d.pwrite(fd, b"two;", 0)
    d.read(fd, 10)
    d.close(fd)
    ro = d.open("/log", os.O_RDONLY)
    d.write(ro, b"x")
    d.ftruncate(ro, 0)
    d.pread(ro, 100, 0)
    d.close(ro)


@scenario
def vectored_io_and_copies(d: OsRecorder) -> None:
    fd = d.open("/f", RDWR_CREAT, 0o644)
    d.writev(fd, [b"abc", bytearray(b"def"), array.array("B", b"ghi")])
    d.lseek(fd, 0, os.SEEK_SET)
    d.readv(fd, [bytearray(4), bytearray(10)])  # what lands in the buffers: test_files.py
    d.readv(fd, [bytes(3)])
    d.writev(fd, "not a sequence of buffers")
    out = d.open("/g", RDWR_CREAT, 0o644)
    d.lseek(fd, 2, os.SEEK_SET)
    d.sendfile(out, fd, None, 4)
    d.lseek(fd, 0, os.SEEK_CUR)
    d.sendfile(out, fd, 0, 100)
    d.lseek(fd, 0, os.SEEK_CUR)
    d.copy_file_range(fd, out, 3, 0, 0)
    d.pread(out, 100, 0)
    d.posix_fallocate(out, 0, 50)
    d.fstat(out)
    d.posix_fallocate(out, 0, 0)
    d.posix_fallocate(out, -1, 10)


@scenario
def descriptor_errors(d: OsRecorder) -> None:
    for bad in (-1, 999, 2**31, 2**63, 2**70, "3", 3.0, None):
        d.read(bad, 1)
        d.close(bad)
        d.fstat(bad)
        d.lseek(bad, 0, 0)
    d.isatty(999)
    d.isatty(-5)
    d.get_inheritable(999)
    d.dup(999)


# -- paths --------------------------------------------------------------------------------------


@scenario
def relative_paths_and_chdir(d: OsRecorder) -> None:
    d.mkdir("/top")
    d.mkdir("top/sub")
    new_file(d, "/top/sub/f", b"data")
    d.chdir("top")
    d.getcwd()
    d.stat("sub/f")
    d.listdir(".")
    d.listdir()
    d.chdir("sub/../sub")
    d.getcwd()
    d.getcwdb()
    d.stat("f")
    d.chdir("f")
    d.chdir("missing")
    d.chdir("..")
    d.chdir("/")
    d.stat("")
    d.chdir("")
    d.symlink("top/sub", "/link")
    d.chdir("link")
    d.getcwd()
    d.chdir("/")


@scenario
def dir_fd_and_fd_as_path(d: OsRecorder) -> None:
    d.mkdir("/dir")
    top = d.open("/dir", os.O_RDONLY | os.O_DIRECTORY)
    new_file(d, "/file", b"xyz")
    f = d.open("/file", os.O_RDONLY)
    d.mkdir("sub", dir_fd=top)
    d.open("inner", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=top)
    d.stat("inner", dir_fd=top)
    d.stat("inner", dir_fd=f)
    d.stat("inner", dir_fd=999)
    d.stat("/file", dir_fd=999)
    d.listdir(top)
    d.stat(f)
    d.stat(top)
    d.stat(f, dir_fd=top)
    d.stat(f, follow_symlinks=False)
    d.symlink("inner", "ln", dir_fd=top)
    d.readlink("ln", dir_fd=top)
    d.rename("inner", "renamed", src_dir_fd=top, dst_dir_fd=top)
    d.link("renamed", "/hard", src_dir_fd=top)
    d.unlink("renamed", dir_fd=top)
    d.rmdir("sub", dir_fd=top)
    d.access("ln", os.F_OK, dir_fd=top)
    d.chmod("ln", 0o600, dir_fd=top)
    d.chown("ln", 0, 0, dir_fd=top, follow_symlinks=False)
    d.utime("ln", dir_fd=top, follow_symlinks=False)
    d.chmod(f, 0o640)
    d.truncate(f, 1)
    d.note("statvfs of an fd", d.raw("statvfs", (f,), {}).f_namemax)
    d.fchdir(top)
    d.getcwd()
    d.fchdir(f)
    d.chdir(top)
    d.mkdir("x", dir_fd="not a descriptor")
    d.stat(1.5)
    d.open(f, os.O_RDONLY)


@scenario
def bytes_and_pathlike_paths(d: OsRecorder) -> None:
    d.mkdir(b"/bytes-dir")
    new_file(d, "/bytes-dir/f")
    d.listdir(b"/bytes-dir")
    d.listdir(pathlib.PurePosixPath("/bytes-dir"))
    d.symlink(b"f", b"/bytes-dir/link")
    d.readlink(b"/bytes-dir/link")
    d.readlink(pathlib.PurePosixPath("/bytes-dir/link"))
    d.stat(pathlib.PurePosixPath("/missing"))
    d.stat(b"/missing")
    d.stat("/a\x00b")
    d.stat(b"/a\x00b")
    d.stat(None)
    d.stat(["/"])
    d.rename(b"/missing", "/x")
    d.scandir(b"/bytes-dir")
    d.scandir("/bytes-dir")
    d.mkdir("/\udcff-surrogate")
    d.listdir(b"/")


@scenario
def creation_respects_umask(d: OsRecorder) -> None:
    for index, mode in enumerate((0o777, 0o666, 0o4777, 0o600)):
        d.close(d.raw("open", (f"/f{index}", os.O_WRONLY | os.O_CREAT, mode), {}))
        d.stat(f"/f{index}")
        d.mkdir(f"/d{index}", mode)
        d.stat(f"/d{index}")
    d.umask(0o077)
    d.umask(0o022)
    d.mknod("/node", 0o644)
    d.stat("/node")


@scenario
def access_and_its_limits(d: OsRecorder) -> None:
    new_file(d, "/f")
    d.chmod("/f", 0o600)
    d.symlink("f", "/l")
    d.access("/f", os.R_OK | os.W_OK)
    d.access("/f", os.X_OK)
    d.access("/missing", os.F_OK)
    d.access("/l", os.F_OK, follow_symlinks=False)
    with d.gap("emulated.access.follow_symlinks"):
        d.access("/l", os.R_OK, follow_symlinks=False)
    with d.gap("emulated.access.effective_ids"):
        d.access("/f", os.R_OK, effective_ids=True)


@scenario
def chmod_and_utime_arguments(d: OsRecorder) -> None:
    new_file(d, "/f")
    d.symlink("f", "/l")
    d.chmod("/l", 0o600, follow_symlinks=False)
    # chmod(file, follow_symlinks=False) depends on glibc (it needs /proc, absent from the
    # native side's chroot, or fchmodat2); the vfs permission tests cover it instead.
    d.utime("/f", (1, 2), ns=(1, 2))
    d.utime("/f", (1,))
    d.utime("/f", ns=(1.5, 2))
    d.utime("/missing")
    d.utime("/f", ns=(3_000_000_000, 4_000_000_000))
    d.note("whole seconds", d.raw("stat", ("/f",), {}).st_mtime_ns)
    d.utime("/f", (5.0, 6.0))
    d.note("whole float seconds", d.raw("stat", ("/f",), {}).st_mtime_ns)
    with d.gap("emulated.times.resolution"):
        d.utime("/f", ns=(7_123_456_789, 8_987_654_321))
        d.note("fraction", d.raw("stat", ("/f",), {}).st_mtime_ns)
    d.chown("/f", -1, -1)
    d.lchown("/l", 1, 1)
    d.lstat("/l")
    d.truncate("/f", -1)
    d.truncate("/f", 3)
    d.stat("/f")


@scenario
def renames_and_links(d: OsRecorder) -> None:
    new_file(d, "/f", b"content")
    d.symlink("f", "/l")
    d.link("/l", "/hard")
    d.lstat("/hard")
    d.link("/l", "/hard-follow", src_dir_fd=None, follow_symlinks=True)
    d.link("/l", "/hard-nofollow", follow_symlinks=False)
    d.lstat("/hard-nofollow")
    d.rename("/f", "/g")
    d.replace("/g", "/hard")
    d.rename("/missing", "/x")
    d.remove("/hard")
    d.remove("/missing")
    d.rmdir("/missing")
    d.listdir("/")
