"""Scenarios written once and run on native Linux and on every provider (see test_differential).

Each scenario receives a :class:`~tests.vfs.recording.Recorder` and performs operations on
it; every outcome, error included, is recorded and must match native Linux exactly. Paths are
the guest's: ``/`` is the scenario's own empty directory. Scenarios marked ``guest_root`` need
that to be true on both sides: a native side chrooted there (so root), and a provider whose ``/``
is the directory (they follow absolute links, act on ``/`` itself or count path lengths).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from tests.vfs.recording import Recorder
from tests.vfs.worker import native_worker

Scenario = Callable[[Recorder], None]
SCENARIOS: dict[str, Scenario] = {}
GUEST_ROOT: set[str] = set()

O_TMPFILE = getattr(os, "O_TMPFILE", 0)
PAST = (1_000_000_000, 2_000_000_000)


def scenario(guest_root: bool = False) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[function.__name__] = function
        if guest_root:
            GUEST_ROOT.add(function.__name__)
        return function

    return register


def touch(d: Recorder, path: str, data: bytes = b"", mode: int = 0o644) -> None:
    h = d.raw("open", path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    d.raw("pwrite", h, data, 0)
    d.raw("close", h)


def which_times_moved(
    d: Recorder, label: str, path: str, action: Callable[[], Any], follow: bool = True
) -> None:
    """Record which of (atime, mtime, ctime) of ``path`` ``action`` changed."""
    d.raw("utime", path, PAST, follow)
    before = d.raw("times", path, follow)
    time.sleep(0.012)  # ext4 takes file times from a clock that ticks every few milliseconds
    action()
    after = d.raw("times", path, follow)
    d.note(label, tuple(a != b for a, b in zip(before, after, strict=True)))


# -- directories ------------------------------------------------------------------------------


@scenario()
def mkdir_basics(d: Recorder) -> None:
    d.mkdir("/a", 0o755)
    d.mkdir("/a/b/", 0o700)
    d.mkdir("/a//c//", 0o7777)
    d.stat("/a")
    d.stat("/a/b")
    d.stat("/a/c")
    d.mkdir("/a", 0o755)
    d.mkdir("/missing/x", 0o755)
    touch(d, "/f")
    d.mkdir("/f/x", 0o755)
    d.mkdir("/f/", 0o755)
    for special in ("/", "//", "/a/.", "/a/..", "/a/b/../.."):
        d.mkdir(special, 0o755)
    d.mkdir("/a/./b/../d", 0o751)
    d.stat("/a/d")
    d.listdir("/a")


@scenario(guest_root=True)
def rmdir_cases(d: Recorder) -> None:
    d.mkdir("/d", 0o755)
    d.mkdir("/d/sub", 0o755)
    touch(d, "/d/sub/f")
    d.symlink("d", "/ld")
    d.rmdir("/missing")
    d.rmdir("/d")
    d.rmdir("/d/sub/f")
    d.rmdir("/d/sub/f/")
    d.rmdir("/ld")
    d.rmdir("/ld/")
    d.rmdir("/d/.")
    d.rmdir("/d/..")
    d.rmdir("/")
    d.unlink("/d/sub/f")
    d.stat("/d")
    d.rmdir("/d/sub/")
    d.stat("/d")
    d.stat("/d/sub")
    d.rmdir("/d//")
    d.listdir("/")


@scenario()
def unlink_cases(d: Recorder) -> None:
    d.mkdir("/d", 0o755)
    touch(d, "/f", b"x")
    d.symlink("f", "/lf")
    d.symlink("d", "/ld")
    d.symlink("nowhere", "/dangling")
    d.unlink("/d")
    d.unlink("/d/")
    d.unlink("/f/")
    d.unlink("/ld/")
    d.unlink("/missing")
    d.unlink("/missing/")
    d.unlink("/d/..")
    d.unlink("/d/.")
    d.unlink("/")
    d.unlink("/lf")
    d.stat("/f")
    d.unlink("/dangling")
    d.unlink("/ld")
    d.stat("/d")
    d.unlink("/f")
    d.unlink("/f")
    d.listdir("/")


# -- opening ----------------------------------------------------------------------------------


@scenario()
def open_flag_combinations(d: Recorder) -> None:
    d.mkdir("/d", 0o755)
    touch(d, "/f", b"content")
    d.symlink("f", "/lf")
    d.symlink("d", "/ld")
    d.symlink("new-target", "/dangling")
    rd, wr, rw = os.O_RDONLY, os.O_WRONLY, os.O_RDWR
    creat, excl, trunc = os.O_CREAT, os.O_EXCL, os.O_TRUNC
    cases = [
        ("/missing", rd),
        ("/f", rd),
        ("/f", wr | trunc),
        ("/f/", rd),
        ("/d", rd),
        ("/d", wr),
        ("/d", rw),
        ("/d", rd | trunc),
        ("/d", rd | os.O_DIRECTORY),
        ("/f", rd | os.O_DIRECTORY),
        ("/d", creat | rd),
        ("/d/", creat | rd),
        ("/f/", creat | wr),
        ("/new/", creat | wr),
        ("/f", creat | excl | wr),
        ("/lf", creat | excl | wr),
        ("/lf", rd | os.O_NOFOLLOW),
        ("/ld/", rd | os.O_NOFOLLOW),
        ("/lf", creat | os.O_NOFOLLOW | wr),
        ("/new", creat | os.O_DIRECTORY | rd),
        ("/d", creat | os.O_DIRECTORY | rd),
        ("/dangling", creat | wr),
        ("/new2", creat | excl | rw),
        ("/.", creat | rd),
        ("/.", creat | excl | rd),
        ("/", creat | rd),
        ("/d/..", rd),
        ("/f/.", rd),
        ("/missing/x", creat | wr),
        ("/f/x", creat | wr),
        ("/f", 3),
    ]
    if O_TMPFILE:
        cases += [("/d", O_TMPFILE | rd), ("/f", O_TMPFILE | rw), ("/missing", O_TMPFILE | rw)]
    for path, flags in cases:
        h = d.open(path, flags, 0o640)
        if h is not None:
            d.fstat(h)
            d.close(h)
    d.stat("/new-target")
    d.stat("/new2")
    d.read_file("/f")
    d.listdir("/")


@scenario()
def open_creates_with_exact_mode(d: Recorder) -> None:
    for index, mode in enumerate((0o000, 0o640, 0o777, 0o4755, 0o2755, 0o1644, 0o7777)):
        path = f"/f{index}"
        h = d.open(path, os.O_CREAT | os.O_RDWR, mode)
        d.pwrite(h, b"written though mode forbids it", 0)
        d.close(h)
        d.stat(path)
    h = d.open("/f1", os.O_CREAT | os.O_WRONLY, 0o777)  # exists: mode left alone
    d.close(h)
    d.stat("/f1")


@scenario()
def tmpfile(d: Recorder) -> None:
    if not O_TMPFILE:
        return
    d.mkdir("/d", 0o755)
    h = d.open("/d", O_TMPFILE | os.O_RDWR, 0o600)
    d.pwrite(h, b"anonymous", 0)
    d.pread(h, 100, 0)
    d.fstat(h)
    d.listdir("/d")
    d.close(h)
    d.open("/d", O_TMPFILE | os.O_RDWR | os.O_CREAT, 0o600)


# -- reading and writing ----------------------------------------------------------------------


@scenario()
def read_write_offsets(d: Recorder) -> None:
    h = d.open("/f", os.O_CREAT | os.O_RDWR, 0o644)
    d.pwrite(h, b"hello", 0)
    d.pwrite(h, b"world", 10)
    d.size(h)
    d.pread(h, 100, 0)
    d.pread(h, 3, 8)
    d.pread(h, 10, 100)
    d.pread(h, 0, 0)
    d.pwrite(h, b"", 50)
    d.size(h)
    d.pwrite(h, b"HE", 0)
    d.pread(h, 100, 0)
    d.pread(h, 1, -1)
    d.pwrite(h, b"x", -1)
    d.ftruncate(h, 3)
    d.pread(h, 100, 0)
    d.ftruncate(h, 8)
    d.pread(h, 100, 0)
    d.ftruncate(h, -1)
    d.fsync(h)
    d.fstat(h)
    d.close(h)
    d.read_file("/f")


@scenario()
def handle_access_modes(d: Recorder) -> None:
    touch(d, "/f", b"abc")
    d.mkdir("/d", 0o755)
    r = d.open("/f", os.O_RDONLY, 0)
    d.pwrite(r, b"no", 0)
    d.ftruncate(r, 0)
    d.pread(r, 10, 0)
    d.close(r)
    w = d.open("/f", os.O_WRONLY, 0)
    d.pread(w, 10, 0)
    d.pwrite(w, b"X", 1)
    d.close(w)
    n = d.open("/f", 3, 0)
    d.pread(n, 1, 0)
    d.pwrite(n, b"Y", 0)
    d.close(n)
    h = d.open("/d", os.O_RDONLY, 0)
    d.pread(h, 10, 0)
    d.ftruncate(h, 0)
    d.flistdir(h)
    d.close(h)
    d.read_file("/f")


@scenario()
def append_mode(d: Recorder) -> None:
    touch(d, "/log", b"start;")
    h = d.open("/log", os.O_WRONLY | os.O_APPEND, 0)
    d.append(h, b"one;")
    d.append(h, b"two;")
    d.pwrite(h, b"three;", 0)  # Linux: pwrite on an O_APPEND file appends too
    d.close(h)
    d.read_file("/log")


@scenario()
def unlinked_but_open(d: Recorder) -> None:
    h = d.open("/f", os.O_CREAT | os.O_RDWR, 0o600)
    d.pwrite(h, b"still here", 0)
    d.unlink("/f")
    d.stat("/f")
    d.fstat(h)
    d.pread(h, 100, 0)
    d.pwrite(h, b"more", 10)
    d.size(h)
    d.close(h)
    d.listdir("/")


# -- symbolic links ---------------------------------------------------------------------------


@scenario()
def symlink_resolution(d: Recorder) -> None:
    d.mkdir("/a", 0o755)
    d.mkdir("/a/b", 0o755)
    touch(d, "/a/b/f", b"data")
    d.symlink("b", "/a/lb")
    d.symlink("lb/f", "/a/lf")
    d.symlink("../a/b/", "/a/b/up")
    d.symlink("lb/..", "/a/dotdot")
    d.stat("/a/lf")
    d.stat("/a/lf", False)
    d.stat("/a/lb/")
    d.stat("/a/lb/..")
    d.stat("/a/lb/../b/f")
    d.stat("/a/b/up/up/up/f")
    d.stat("/a/dotdot")
    d.stat("/a/lf/")
    d.readlink("/a/lf")
    d.readlink("/a/lb/")
    d.readlink("/a/b/f/")
    d.readlink("/a/b/f")
    d.readlink("/a/missing")
    d.symlink("", "/a/empty")
    d.symlink("x" * 4096, "/a/long")
    d.symlink("x" * 4095, "/a/long")
    d.stat("/a/long", False)
    d.symlink("anything", "/a/lf")
    d.symlink("anything", "/a/new/")
    d.symlink("anything", "/a/b/")
    d.symlink("anything", "/a/.")
    d.listdir("/a/lb")


@scenario()
def symlink_loops_and_limits(d: Recorder) -> None:
    d.symlink("loop2", "/loop1")
    d.symlink("loop1", "/loop2")
    d.symlink("self", "/self")
    d.stat("/loop1")
    d.stat("/loop1", False)
    d.stat("/self/x")
    d.open("/loop1", os.O_RDONLY, 0)
    d.open("/loop1", os.O_CREAT | os.O_WRONLY, 0o644)
    touch(d, "/target", b"t")
    previous = "target"
    for index in range(41):
        d.raw("symlink", previous, f"/l{index}")
        previous = f"l{index}"
    d.stat("/l39")  # 40 links: allowed
    d.stat("/l40")  # 41: ELOOP
    d.stat("/l39", False)
    d.open("/l39", os.O_RDONLY, 0)
    d.open("/l40", os.O_RDONLY, 0)
    d.stat("/l38/")
    d.mkdir("/dir", 0o755)
    d.symlink("dir", "/m0")
    for index in range(1, 41):
        d.raw("symlink", f"m{index - 1}", f"/m{index}")
    d.stat("/m39/")
    d.stat("/m40/")
    d.stat("/m39/.")


@scenario()
def symlink_target_checks(d: Recorder) -> None:
    """symlink(2) reads the target before it looks the new name up (fs/namei.c do_symlinkat:
    getname(oldname), then filename_create(newname)); its length counts encoded bytes (2048
    "é" are 4096 of them, "\\udcff" one)."""
    too_long = "/" + "n" * 5000
    for target in ("", "x" * 4096, "é" * 2048, "\udcff" * 4096, "a\x00b"):
        d.symlink(target, "/new")
        d.symlink(target, too_long)
        d.symlink(target, "/missing/new")
    touch(d, "/f")
    d.symlink("", "/f")


@scenario(guest_root=True)
def absolute_symlinks(d: Recorder) -> None:
    d.mkdir("/etc", 0o755)
    touch(d, "/etc/conf", b"guest config")
    d.symlink("/etc/conf", "/abs")
    d.symlink("/", "/root")
    d.symlink("/../../etc", "/climb")
    d.stat("/abs")
    d.read_file("/abs")
    d.stat("/root/etc/conf")
    d.stat("/climb/conf")
    d.listdir("/root")
    d.stat("/../../../etc/conf")
    d.symlink("/new-file", "/dangling")
    h = d.open("/dangling", os.O_CREAT | os.O_WRONLY, 0o600)
    if h is not None:
        d.close(h)
    d.stat("/new-file")
    d.symlink("/etc/", "/etcdir")
    d.open("/etcdir", os.O_CREAT | os.O_WRONLY, 0o600)
    d.link("/abs", "/hard", True)
    d.stat("/hard")
    d.link("/abs", "/hard2", False)
    d.stat("/hard2", False)


@scenario()
def creating_through_dangling_links(d: Recorder) -> None:
    d.mkdir("/d", 0o755)
    d.symlink("d/file", "/to-file")
    d.symlink("d/missing/file", "/to-missing-dir")
    d.symlink("d/", "/to-dir")
    d.symlink("chain", "/chain0")
    d.symlink("d/made-by-chain", "/chain")
    for path in ("/to-file", "/to-missing-dir", "/to-dir", "/chain0"):
        h = d.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        if h is not None:
            d.close(h)
    d.listdir("/d")
    d.mkdir("/to-file", 0o755)
    d.mkdir("/to-dir/", 0o755)


# -- hard links -------------------------------------------------------------------------------


@scenario()
def hard_links(d: Recorder) -> None:
    touch(d, "/f", b"shared")
    d.mkdir("/d", 0o755)
    d.symlink("f", "/lf")
    d.link("/f", "/g", True)
    d.stat("/f")
    d.stat("/g")
    d.note("same inode", d.raw("stat", "/f").st_ino == d.raw("stat", "/g").st_ino)
    d.link("/f", "/g", True)
    d.link("/f", "/new/", True)
    d.link("/f", "/d/", True)
    d.link("/d", "/d2", True)
    d.link("/missing", "/x", True)
    d.link("/f/", "/x", True)
    d.link("/lf", "/hl-follow", True)
    d.link("/lf", "/hl-nofollow", False)
    d.stat("/hl-follow")
    d.stat("/hl-nofollow", False)
    d.note(
        "follow links the target", d.raw("stat", "/hl-follow").st_ino == d.raw("stat", "/f").st_ino
    )
    d.note(
        "no-follow links the link",
        d.raw("stat", "/hl-nofollow", False).st_ino == d.raw("stat", "/lf", False).st_ino,
    )
    d.link("/f", "/missing/x", True)
    d.unlink("/f")
    d.stat("/g")
    d.read_file("/g")
    d.stat("/hl-nofollow")
    d.scandir("/")


# -- rename -----------------------------------------------------------------------------------


@scenario(guest_root=True)
def rename_cases(d: Recorder) -> None:
    d.mkdir("/a", 0o755)
    d.mkdir("/a/sub", 0o755)
    d.mkdir("/empty", 0o755)
    d.mkdir("/full", 0o755)
    touch(d, "/full/x")
    touch(d, "/f", b"f")
    touch(d, "/g", b"g")
    d.link("/f", "/f-link", True)
    d.symlink("a", "/la")
    d.rename("/missing", "/x")
    d.rename("/f", "/f")
    d.rename("/f", "/f-link")
    d.stat("/f")
    d.stat("/f-link")
    moved = d.raw("stat", "/f").st_ino
    d.rename("/f", "/g")
    d.note("rename keeps the inode", d.raw("stat", "/g").st_ino == moved)
    d.read_file("/g")
    d.stat("/f")
    d.rename("/g", "/a")
    d.rename("/a", "/g")
    d.rename("/a", "/a/sub/inner")
    d.rename("/a/sub", "/a")
    d.rename("/empty", "/full")
    d.rename("/a", "/empty")
    d.stat("/empty")
    d.stat("/empty/sub")
    d.stat("/")
    d.rename("/empty/sub", "/sub2")
    d.stat("/empty")
    d.stat("/")
    d.rename("/g", "/g2/")
    d.rename("/g/", "/g2")
    d.rename("/sub2/", "/sub3/")
    d.rename("/la/", "/x")
    d.rename("/la", "/la2")
    d.readlink("/la2")
    d.rename("/sub3/.", "/x")
    d.rename("/g", "/sub3/..")
    d.rename("/", "/x")
    d.rename("/g", "/missing/g")
    d.rename("/g", "/g/x")
    d.scandir("/")


@scenario()
def renaming_over_a_link_resolved_before(d: Recorder) -> None:
    """A path resolved through a symbolic link, then the link replaced by a file: the path
    goes through the file now (Hypothesis found the memory provider answering from its
    resolution cache: ENOENT where Linux gives ENOTDIR)."""
    touch(d, "/a")
    d.symlink(".", "/c")
    d.rename("/c/a", "/a")
    d.stat("/c/a")
    d.rename("/a", "/c")
    d.rename("/c/a", "/a")
    d.stat("/c/a")
    d.stat("/c")
    d.scandir("/")


@scenario()
def rename_directory_link_counts(d: Recorder) -> None:
    d.mkdir("/p", 0o755)
    d.mkdir("/q", 0o755)
    d.mkdir("/p/child", 0o755)
    d.mkdir("/q/victim", 0o755)
    d.rename("/p/child", "/q/victim")
    d.stat("/p")
    d.stat("/q")
    d.stat("/q/victim")
    d.mkdir("/q/victim/grand", 0o755)
    d.rename("/q/victim/grand", "/p/grand")
    d.stat("/q/victim")
    d.stat("/p")
    d.stat("/p/grand/..")


# -- attributes -------------------------------------------------------------------------------


@scenario()
def chmod_chown(d: Recorder) -> None:
    touch(d, "/f")
    d.mkdir("/d", 0o755)
    d.symlink("f", "/lf")
    for mode in (0o4755, 0o2755, 0o1777, 0o0, 0o17777, 0o640):
        d.chmod("/f", mode, True)
        d.stat("/f")
    d.chmod("/lf", 0o600, False)
    d.chmod("/f", 0o600, False)
    d.chmod("/lf", 0o604, True)
    d.stat("/f")
    d.chmod("/missing", 0o600, True)
    d.chmod("/f/", 0o600, True)
    d.chmod("/d", 0o3777, True)
    d.stat("/d")
    for mode in (0o4755, 0o2755, 0o2745, 0o6711):
        d.chmod("/f", mode, True)
        d.chown("/f", -1, -1, True)
        d.stat("/f")
    d.chmod("/f", 0o6755, True)
    d.chown("/f", 1, 2, True)
    d.stat("/f")
    d.chmod("/d", 0o6755, True)
    d.chown("/d", 3, 4, True)
    d.stat("/d")
    d.chown("/lf", 5, 6, False)
    d.stat("/lf", False)
    d.stat("/f")
    d.chown("/lf", 7, -1, True)
    d.stat("/f")
    d.chown("/missing", 1, 1, True)


@scenario()
def utime_and_truncate(d: Recorder) -> None:
    touch(d, "/f", b"0123456789")
    d.symlink("f", "/lf")
    d.mkdir("/d", 0o755)
    d.utime("/f", (1_500_000_000_123_456_789, 1_600_000_000_987_654_321), True)
    d.note("times after utime", d.raw("times", "/f")[:2])
    d.utime("/lf", (5, 6), False)
    d.note("link times", d.raw("times", "/lf", False)[:2])
    d.note("target untouched", d.raw("times", "/f")[:2])
    d.utime("/missing", (1, 1), True)
    d.truncate("/f", 4)
    d.read_file("/f")
    d.truncate("/lf", 6)
    d.read_file("/f")
    d.truncate("/d", 0)
    d.truncate("/missing", -1)
    d.truncate("/f", -1)
    d.truncate("/missing", 0)
    d.truncate("/f/", 0)


@scenario()
def access_as_root(d: Recorder) -> None:
    touch(d, "/plain", mode=0o644)
    touch(d, "/exec", mode=0o100)
    touch(d, "/none", mode=0o000)
    d.mkdir("/d", 0o000)
    d.symlink("missing", "/dangling")
    for path in ("/plain", "/exec", "/none", "/d", "/dangling", "/missing", "/plain/"):
        for mode in (os.F_OK, os.R_OK, os.W_OK, os.X_OK, os.R_OK | os.W_OK | os.X_OK):
            d.access(path, mode, True)
    d.access("/dangling", os.F_OK, False)
    d.access("/plain", 8, True)
    d.access("/missing", 16, True)


# -- names ------------------------------------------------------------------------------------


@scenario(guest_root=True)
def name_and_path_limits(d: Recorder) -> None:
    longest = "n" * 255
    d.mkdir("/" + longest, 0o755)
    d.stat("/" + longest)
    d.mkdir("/" + "n" * 256, 0o755)
    d.stat("/" + "n" * 256)
    d.open("/" + "n" * 256, os.O_CREAT | os.O_WRONLY, 0o644)
    d.stat("/missing/" + "n" * 256)
    d.mkdir("/" + "é" * 127, 0o755)
    d.mkdir("/" + "é" * 128, 0o755)
    d.symlink("t", "/" + "n" * 256)
    d.stat("/" + "a/" * 2047 + "a")
    d.stat("/" + "a/" * 2048)
    d.stat("/" + "./" * 2046 + "x")
    d.listdir("/")


@scenario()
def listing(d: Recorder) -> None:
    d.mkdir("/d", 0o755)
    touch(d, "/d/file")
    d.mkdir("/d/dir", 0o755)
    d.symlink("file", "/d/link")
    d.symlink("d", "/ld")
    d.listdir("/d")
    d.scandir("/d")
    d.listdir("/ld")
    d.scandir("/ld/")
    d.listdir("/d/file")
    d.listdir("/missing")
    d.stat("/d/file")
    d.stat("/d/link", False)
    d.statvfs("/d")
    d.statvfs("/missing")


@scenario()
def names_with_odd_characters(d: Recorder) -> None:
    for name in (
        "space name",
        "tab\tname",
        "newline\nname",
        "ünïcödé",
        "emoji-\U0001f600",
        "surrogate-\udcff",
        "-dash",
        ".hidden",
        "..double",
        "...",
    ):
        touch(d, "/" + name, name.encode("utf-8", "surrogateescape"))
        d.stat("/" + name)
    d.listdir("/")


# -- times ------------------------------------------------------------------------------------


@scenario()
def times_follow_linux(d: Recorder) -> None:
    d.mkdir("/d", 0o755)
    touch(d, "/d/f", b"content")

    def write() -> None:
        h = d.raw("open", "/d/f", os.O_WRONLY, 0)
        d.raw("pwrite", h, b"C", 0)
        d.raw("close", h)

    def empty_write() -> None:
        h = d.raw("open", "/d/f", os.O_WRONLY, 0)
        d.raw("pwrite", h, b"", 0)
        d.raw("close", h)

    def read() -> None:
        h = d.raw("open", "/d/f", os.O_RDONLY, 0)
        d.raw("pread", h, 10, 0)
        d.raw("close", h)

    def read_nothing() -> None:
        h = d.raw("open", "/d/f", os.O_RDONLY, 0)
        d.raw("pread", h, 0, 0)
        d.raw("close", h)

    def trunc_open() -> None:
        d.raw("close", d.raw("open", "/d/f", os.O_WRONLY | os.O_TRUNC, 0))

    which_times_moved(d, "write", "/d/f", write)
    which_times_moved(d, "empty write", "/d/f", empty_write)
    which_times_moved(d, "read", "/d/f", read)
    which_times_moved(d, "read 0 bytes", "/d/f", read_nothing)
    which_times_moved(d, "chmod", "/d/f", lambda: d.raw("chmod", "/d/f", 0o600, True))
    which_times_moved(d, "chown", "/d/f", lambda: d.raw("chown", "/d/f", -1, -1, True))
    which_times_moved(d, "truncate same size", "/d/f", lambda: d.raw("truncate", "/d/f", 1))
    which_times_moved(d, "O_TRUNC", "/d/f", trunc_open)
    which_times_moved(d, "O_TRUNC empty", "/d/f", trunc_open)
    which_times_moved(d, "link", "/d/f", lambda: d.raw("link", "/d/f", "/d/g", True))
    which_times_moved(d, "rename", "/d/f", lambda: d.raw("rename", "/d/g", "/d/h"))
    which_times_moved(d, "dir on create", "/d", lambda: touch(d, "/d/new"))
    which_times_moved(d, "dir on unlink", "/d", lambda: d.raw("unlink", "/d/new"))
    which_times_moved(d, "dir on mkdir", "/d", lambda: d.raw("mkdir", "/d/sub", 0o755))
    which_times_moved(d, "dir on listdir", "/d", lambda: d.raw("listdir", "/d"))
    which_times_moved(d, "dir on stat", "/d", lambda: d.raw("stat", "/d/h"))
    which_times_moved(d, "dir on rename", "/d", lambda: d.raw("rename", "/d/h", "/d/i"))
    d.symlink("f", "/d/link")
    which_times_moved(d, "readlink", "/d/link", lambda: d.raw("readlink", "/d/link"), False)


@scenario()
def handle_metadata(d: Recorder) -> None:
    h = d.open("/f", os.O_CREAT | os.O_RDWR, 0o644)
    d.fchmod(h, 0o600)
    d.fchown(h, 12, 34)
    d.futime(h, (7_000_000_000, 8_000_000_000))
    d.fstat(h)
    d.note("handle times", d.raw("ftimes", h)[:2])
    d.rename("/f", "/g")
    d.fstat(h)
    d.close(h)
    d.stat("/g")
    p = d.open("/g", getattr(os, "O_PATH", 0) | os.O_RDONLY, 0)
    d.fstat(p)
    d.pread(p, 1, 0)
    d.fchmod(p, 0o644)
    d.close(p)


def run_native(name: str, root: str) -> Recorder:
    """The scenario ``name`` recorded on native Linux in ``root`` (by a worker process)."""
    worker = native_worker(root)
    try:
        recorder = Recorder(worker.call, "native")
        SCENARIOS[name](recorder)
    finally:
        worker.close()
    return recorder
