"""Scenarios about permissions: a tree prepared by root, then explored by an unprivileged user.

Root passes every permission check, so these compare with Linux by running the native side in
a process that dropped to ``nobody`` (see test_permissions). Each entry is (setup as root,
scenario as the user, the user's supplementary groups).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from tests.vfs.recording import Recorder
from tests.vfs.scenarios import touch

NOBODY = 65534
NOGROUP = 65534
OTHER_USER = 1000
OTHER_GROUP = 1000
SHARED_GROUP = 100

Step = Callable[[Recorder], None]
PERMISSION_SCENARIOS: dict[str, tuple[Step, Step, tuple[int, ...]]] = {}


def permissions(groups: tuple[int, ...] = ()) -> Callable[[Step], Step]:
    """Register a scenario; its setup is the function named ``setup_<name>``."""

    def register(function: Step) -> Step:
        setup = globals()["setup_" + function.__name__]
        PERMISSION_SCENARIOS[function.__name__] = (setup, function, groups)
        return function

    return register


def owned(
    d: Recorder, path: str, mode: int, uid: int, gid: int, *, data: bytes | None = b"x"
) -> None:
    """Create ``path`` (a file with ``data``, or a directory when ``data`` is None) as root."""
    if data is None:
        d.raw("mkdir", path, 0o700)
    else:
        touch(d, path, data, 0o600)
    d.raw("chown", path, uid, gid, True)
    d.raw("chmod", path, mode, True)


def setup_search_and_read(d: Recorder) -> None:
    for name, mode in (("none", 0o700), ("x_only", 0o711), ("r_only", 0o744), ("rx", 0o755)):
        owned(d, f"/{name}", 0o755, 0, 0, data=None)
        owned(d, f"/{name}/f", 0o644, 0, 0)
        d.raw("chmod", f"/{name}", mode, True)


@permissions()
def search_and_read(d: Recorder) -> None:
    for name in ("none", "x_only", "r_only", "rx"):
        d.stat(f"/{name}")
        d.stat(f"/{name}/f")
        d.stat(f"/{name}/missing")
        d.stat(f"/{name}/.")
        d.stat(f"/{name}/../{name}")
        d.listdir(f"/{name}")
        d.read_file(f"/{name}/f")
        d.open(f"/{name}", os.O_RDONLY, 0)


def setup_create_and_delete(d: Recorder) -> None:
    owned(d, "/ro", 0o755, 0, 0, data=None)
    owned(d, "/ro/f", 0o666, 0, 0)
    owned(d, "/ro/sub", 0o777, 0, 0, data=None)
    owned(d, "/rw", 0o777, 0, 0, data=None)
    owned(d, "/rw/f", 0o644, 0, 0)
    owned(d, "/rw/sub", 0o755, 0, 0, data=None)
    owned(d, "/wo", 0o733, 0, 0, data=None)


@permissions()
def create_and_delete(d: Recorder) -> None:
    d.mkdir("/ro/new", 0o755)
    d.mkdir("/ro/f", 0o755)
    d.mkdir("/ro/sub/new", 0o755)
    d.open("/ro/new", os.O_CREAT | os.O_WRONLY, 0o644)
    d.open("/ro/f", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    h = d.open("/ro/f", os.O_CREAT | os.O_WRONLY, 0o644)
    if h is not None:
        d.close(h)
    d.unlink("/ro/f")
    d.unlink("/ro/missing")
    d.rmdir("/ro/sub")
    d.rename("/ro/f", "/rw/f2")
    d.rename("/rw/f", "/ro/f3")
    d.symlink("t", "/ro/link")
    d.link("/ro/f", "/rw/hard", True)
    d.unlink("/rw/f")
    d.rename("/rw/sub", "/rw/sub2")
    d.rename("/rw/sub2", "/ro/sub/moved")
    d.mkdir("/rw/mine", 0o700)
    d.rename("/rw/mine", "/ro/sub/mine")
    d.mkdir("/wo/made", 0o755)
    d.listdir("/wo")
    d.stat("/wo/made")
    d.listdir("/rw")


def setup_owner_group_other(d: Recorder) -> None:
    owned(d, "/mine-0077", 0o077, NOBODY, NOGROUP)
    owned(d, "/group-0070", 0o070, OTHER_USER, SHARED_GROUP)
    owned(d, "/group-0407", 0o407, OTHER_USER, SHARED_GROUP)
    owned(d, "/other-0004", 0o004, OTHER_USER, OTHER_GROUP)
    owned(d, "/other-0002", 0o002, OTHER_USER, OTHER_GROUP)
    owned(d, "/exec-0711", 0o711, OTHER_USER, OTHER_GROUP)
    owned(d, "/dir-0750", 0o750, OTHER_USER, SHARED_GROUP, data=None)
    owned(d, "/dir-0750/f", 0o644, OTHER_USER, SHARED_GROUP)


@permissions(groups=(SHARED_GROUP,))
def owner_group_other(d: Recorder) -> None:
    for name in ("mine-0077", "group-0070", "group-0407", "other-0004", "other-0002", "exec-0711"):
        for flags in (os.O_RDONLY, os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_TRUNC):
            h = d.open("/" + name, flags, 0)
            if h is not None:
                d.close(h)
        for mode in (os.R_OK, os.W_OK, os.X_OK, os.F_OK):
            d.access("/" + name, mode, True)
        d.truncate("/" + name, 0)
    d.read_file("/dir-0750/f")
    d.listdir("/dir-0750")
    d.open("/other-0004", os.O_RDONLY | os.O_NOATIME, 0)
    d.open("/mine-0077", os.O_RDONLY | os.O_NOATIME, 0)


def setup_sticky_directory(d: Recorder) -> None:
    owned(d, "/tmp", 0o1777, 0, 0, data=None)
    owned(d, "/tmp/theirs", 0o666, OTHER_USER, OTHER_GROUP)
    owned(d, "/tmp/their-dir", 0o777, OTHER_USER, OTHER_GROUP, data=None)
    owned(d, "/own-sticky", 0o1777, NOBODY, NOGROUP, data=None)
    owned(d, "/own-sticky/theirs", 0o644, OTHER_USER, OTHER_GROUP)


@permissions()
def sticky_directory(d: Recorder) -> None:
    touch(d, "/tmp/mine", b"m")
    d.unlink("/tmp/theirs")
    d.rename("/tmp/theirs", "/tmp/stolen")
    d.rename("/tmp/mine", "/tmp/theirs")
    d.rmdir("/tmp/their-dir")
    d.rename("/tmp/mine", "/tmp/mine2")
    d.unlink("/tmp/mine2")
    d.unlink("/own-sticky/theirs")
    d.listdir("/tmp")


def setup_attribute_changes(d: Recorder) -> None:
    owned(d, "/mine", 0o644, NOBODY, NOGROUP)
    owned(d, "/mine-in-shared", 0o644, NOBODY, SHARED_GROUP)
    owned(d, "/theirs", 0o666, OTHER_USER, OTHER_GROUP)
    owned(d, "/their-suid", 0o4777, OTHER_USER, OTHER_GROUP)
    owned(d, "/their-sgid", 0o2777, OTHER_USER, OTHER_GROUP)
    owned(d, "/their-ro", 0o644, OTHER_USER, OTHER_GROUP)


@permissions(groups=(SHARED_GROUP,))
def attribute_changes(d: Recorder) -> None:
    d.chmod("/mine", 0o600, True)
    d.chmod("/theirs", 0o600, True)
    d.chmod("/mine", 0o2755, True)
    d.stat("/mine")
    d.chmod("/mine-in-shared", 0o2755, True)
    d.stat("/mine-in-shared")
    d.chown("/mine", NOBODY, -1, True)
    d.chown("/mine", OTHER_USER, -1, True)
    d.chown("/mine", -1, SHARED_GROUP, True)
    d.stat("/mine")
    d.chown("/mine", -1, OTHER_GROUP, True)
    d.chown("/theirs", -1, -1, True)
    d.chown("/theirs", OTHER_USER, -1, True)
    d.chown("/theirs", -1, OTHER_GROUP, True)
    d.chown("/their-suid", -1, -1, True)
    d.utime("/theirs", None, True)
    d.utime("/theirs", (1, 2), True)
    d.utime("/their-ro", None, True)
    d.utime("/mine", (3, 4), True)
    h = d.open("/their-suid", os.O_WRONLY, 0)
    d.pwrite(h, b"w", 0)
    d.fstat(h)
    d.close(h)
    h = d.open("/their-sgid", os.O_WRONLY, 0)
    d.ftruncate(h, 0)
    d.fstat(h)
    d.fchmod(h, 0o600)
    d.close(h)
    d.stat("/their-suid")
    d.stat("/their-sgid")


def setup_hard_link_protection(d: Recorder) -> None:
    owned(d, "/pub", 0o777, 0, 0, data=None)
    owned(d, "/rw-file", 0o666, OTHER_USER, OTHER_GROUP)
    owned(d, "/ro-file", 0o644, OTHER_USER, OTHER_GROUP)
    owned(d, "/suid-file", 0o4777, OTHER_USER, OTHER_GROUP)
    owned(d, "/my-file", 0o400, NOBODY, NOGROUP)


@permissions()
def hard_link_protection(d: Recorder) -> None:
    d.link("/rw-file", "/pub/a", True)
    d.link("/ro-file", "/pub/b", True)
    d.link("/suid-file", "/pub/c", True)
    d.link("/my-file", "/pub/d", True)
    d.listdir("/pub")


def setup_setgid_directory(d: Recorder) -> None:
    owned(d, "/shared", 0o2777, 0, OTHER_GROUP, data=None)


@permissions()
def setgid_directory(d: Recorder) -> None:
    touch(d, "/shared/file")
    d.stat("/shared/file")
    d.mkdir("/shared/sub", 0o755)
    d.stat("/shared/sub")
    h = d.open("/shared/sgid-exec", os.O_CREAT | os.O_WRONLY, 0o2775)
    d.close(h)
    d.stat("/shared/sgid-exec")
    h = d.open("/shared/sgid-noexec", os.O_CREAT | os.O_WRONLY, 0o2664)
    d.close(h)
    d.stat("/shared/sgid-noexec")
    d.symlink("file", "/shared/link")
    d.stat("/shared/link", False)
