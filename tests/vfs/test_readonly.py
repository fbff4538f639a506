"""ReadOnlyFileSystem against a real read-only bind mount: every outcome must match Linux.

Each scenario first runs on a writable directory (natively) and on a MemoryFileSystem, so both
hold the same tree; then it runs again on a read-only bind mount of that directory (natively,
in a mount namespace) and on ReadOnlyFileSystem over HostFileSystem(directory) and over the
MemoryFileSystem. A scenario stops at its first refused unrecorded step; where it stops is
compared too.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

import pytest

from tests.vfs.native_mounts import mounted_worker, needs_mounts, read_only, run_recorded
from tests.vfs.ops import NativeOps, ProviderOps
from tests.vfs.recording import Recorder, differences
from tests.vfs.scenarios import SCENARIOS, touch
from tests.vfs.worker import native_worker
from vfs import FileSystem, HostFileSystem, Identity, MemoryFileSystem
from vfs.readonly import ReadOnlyFileSystem

pytestmark = needs_mounts
O_TMPFILE = getattr(os, "O_TMPFILE", 0)


class FlagOps(NativeOps):
    """Native operations plus whether statvfs reports a read-only file system."""

    def op_read_only_flag(self, path: str) -> bool:
        return bool(os.statvfs(self.host(path)).f_flag & os.ST_RDONLY)


class ProviderFlagOps(ProviderOps):
    def op_read_only_flag(self, path: str) -> bool:
        return bool(self.fs.statvfs(path).f_flag & os.ST_RDONLY)

    def op_handle_read_only_flag(self, h: int) -> bool:
        return bool(self._h(h).statvfs().f_flag & os.ST_RDONLY)


def build_tree(d: Recorder) -> None:
    """The tree the read-only cases look at."""
    d.raw("mkdir", "/d", 0o755)
    d.raw("mkdir", "/full", 0o755)
    touch(d, "/full/x")
    touch(d, "/f", b"hi", 0o644)
    touch(d, "/g", b"g", 0o644)
    touch(d, "/exec", b"", 0o755)
    d.raw("symlink", "f", "/lf")
    d.raw("symlink", "d", "/ld")
    d.raw("symlink", "nowhere", "/dangling")
    d.raw("symlink", "missing/file", "/to-missing-dir")


def read_only_cases(d: Recorder) -> None:
    """Linux's order of checks on a read-only mount, call by call."""
    for path in ("/d", "/missing", "/missing/x", "/f", "/f/x", "/d/.", "/d/..", "/", "/ld",
                 "/lf/", "/dangling", "/f/", "/new/"):  # fmt: skip
        d.mkdir(path, 0o755)
    for path in ("/d", "/missing", "/missing/x", "/full", "/f", "/d/.", "/d/..", "/ld", "/ld/",
                 "/f/", "/missing/", "/"):  # fmt: skip
        d.rmdir(path)
    for path in ("/d", "/missing", "/missing/x", "/f", "/f/", "/d/.", "/lf", "/dangling",
                 "/missing/", "/f/x", "/"):  # fmt: skip
        d.unlink(path)
    for src, dst in (("/missing", "/x"), ("/f", "/f"), ("/f", "/g"), ("/f", "/new"),
                     ("/f", "/missing/x"), ("/d/.", "/x"), ("/f", "/d/.."), ("/f", "/d"),
                     ("/d", "/f"), ("/missing/x", "/y"), ("/f/", "/x")):  # fmt: skip
        d.rename(src, dst)
    for target, path in (("x", "/f"), ("x", "/new"), ("x", "/new/"), ("x", "/missing/x"),
                         ("", "/new"), ("x", "/d/."), ("x" * 4096, "/new")):  # fmt: skip
        d.symlink(target, path)
    for src, dst in (("/f", "/new"), ("/f", "/g"), ("/missing", "/new"), ("/d", "/new"),
                     ("/f", "/missing/x"), ("/f", "/new/"), ("/f/", "/new")):  # fmt: skip
        d.link(src, dst, True)
    d.link("/lf", "/new", False)
    rd, wr, rw = os.O_RDONLY, os.O_WRONLY, os.O_RDWR
    creat, excl, trunc, nofollow = os.O_CREAT, os.O_EXCL, os.O_TRUNC, os.O_NOFOLLOW
    opens = [
        ("/f", rd), ("/f", wr), ("/f", rw), ("/f", rd | trunc), ("/f", rd | creat),
        ("/f", wr | creat), ("/f", creat | excl | rd), ("/new", creat | rd),
        ("/new", creat | wr), ("/missing", rd), ("/missing/x", creat | wr), ("/d", wr),
        ("/d", rd), ("/d", rd | trunc), ("/d", creat | rd), ("/dangling", creat | wr),
        ("/to-missing-dir", creat | wr), ("/lf", wr | nofollow), ("/lf", wr | creat | nofollow),
        ("/lf", creat | wr), ("/ld/", wr | nofollow), ("/f", os.O_PATH | wr), ("/f", 3),
        ("/new/", creat | wr), ("/d/", creat | rd), ("/.", creat | rd), ("/", creat | rd),
        ("/f", wr | creat | excl), ("/f/", wr), ("/f", rd | os.O_DIRECTORY | creat),
        ("/f", wr | os.O_DIRECTORY), ("/f", wr | os.O_APPEND),
    ]  # fmt: skip
    if O_TMPFILE:
        opens += [("/d", O_TMPFILE | rw), ("/f", O_TMPFILE | rw), ("/missing", O_TMPFILE | rw)]
    for path, flags in opens:
        h = d.open(path, flags, 0o644)
        if h is not None:
            d.close(h)
    for path in ("/f", "/missing", "/lf", "/d", "/dangling", "/f/"):
        for follow in (True, False):
            d.chmod(path, 0o600, follow)
            d.chown(path, -1, -1, follow)
            d.chown(path, 1, 1, follow)
            d.utime(path, None, follow)
            d.utime(path, (1, 1), follow)
        d.truncate(path, 0)
        d.truncate(path, -1)
    for path in ("/f", "/exec", "/d", "/missing", "/dangling", "/lf", "/f/"):
        for mode in (os.F_OK, os.R_OK, os.W_OK, os.X_OK, os.W_OK | os.X_OK, 8):
            d.access(path, mode, True)
        d.access(path, os.W_OK, False)
    d.read_only_flag("/")
    d.read_only_flag("/d")
    d.read_only_flag("/missing")
    for path, flags in (("/f", rd), ("/d", rd), ("/f", os.O_PATH)):
        h = d.open(path, flags, 0)
        d.fchmod(h, 0o600)
        d.fchown(h, -1, -1)
        d.fchown(h, 1, 1)
        d.futime(h, None)
        d.futime(h, (1, 1))
        d.ftruncate(h, 0)
        d.fsync(h)
        d.pwrite(h, b"x", 0)
        d.pread(h, 10, 0)
        d.close(h)
    d.tree()


def populate(body: Callable[[Recorder], None], root: str) -> MemoryFileSystem:
    """Run ``body`` natively in ``root`` and on a new MemoryFileSystem; return the latter."""
    worker = native_worker(root)
    try:
        run_recorded(worker.call, "native", body)
    finally:
        worker.close()
    memory = MemoryFileSystem(identity=Identity.root())
    run_recorded(ProviderOps(memory).call, "memory", body)
    return memory


def compare_read_only(
    body: Callable[[Recorder], None], inner: str, root: str, memory: MemoryFileSystem
) -> list[str]:
    worker = mounted_worker(root, read_only, FlagOps)
    try:
        native = run_recorded(worker.call, "native-ro", body)
    finally:
        worker.close()
    base: FileSystem = HostFileSystem(root) if inner == "host" else memory
    fs = ReadOnlyFileSystem(base)
    try:
        emulated = run_recorded(ProviderFlagOps(fs).call, f"readonly({inner})", body)
    finally:
        fs.close()
    assert native.log, "the scenario recorded nothing"
    return differences(native, emulated)


@pytest.mark.parametrize("inner", ["host", "memory"])
def test_read_only_cases_match_a_read_only_mount(
    inner: str, directories: Callable[[], str]
) -> None:
    root = directories()
    memory = populate(build_tree, root)
    problems = compare_read_only(read_only_cases, inner, root, memory)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("inner", ["host", "memory"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_on_a_read_only_mount_matches_linux(
    name: str, inner: str, directories: Callable[[], str]
) -> None:
    root = directories()
    memory = populate(SCENARIOS[name], root)
    problems = compare_read_only(SCENARIOS[name], inner, root, memory)
    assert not problems, "\n".join(problems)


def test_nothing_changes_below_a_read_only_provider() -> None:
    memory = MemoryFileSystem(identity=Identity.root())
    populate_ops = ProviderOps(memory)
    build_tree(Recorder(populate_ops.call, "memory"))
    before = ProviderOps(memory).op_tree()
    run_recorded(ProviderOps(ReadOnlyFileSystem(memory)).call, "readonly", read_only_cases)
    assert ProviderOps(memory).op_tree() == before


def test_handles_opened_read_only_refuse_metadata_changes() -> None:
    memory = MemoryFileSystem(identity=Identity.root())
    memory.open("/f", os.O_CREAT | os.O_WRONLY, 0o644).close()
    fs = ReadOnlyFileSystem(memory)
    handle = fs.open("/f", os.O_RDONLY)
    for call in (
        lambda: handle.chmod(0o600),
        lambda: handle.chown(1, 1),
        lambda: handle.utime((1, 1)),
    ):
        with pytest.raises(OSError) as caught:
            call()
        assert caught.value.errno == errno.EROFS
    assert handle.statvfs().f_flag & os.ST_RDONLY
    handle.close()
    with pytest.raises(OSError) as closed:
        handle.chmod(0o600)
    assert closed.value.errno == errno.EBADF
    assert memory.stat("/f").st_mode & 0o777 == 0o644
