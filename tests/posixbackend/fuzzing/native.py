"""Programs run on Linux: a forked child, chrooted into a fresh directory per program.

Each program's directory is a fresh tmpfs (directory sizes, ``lseek`` on directories and
the like differ between Linux file systems; tmpfs is the one the memory fs follows). The
child keeps a descriptor of the real ``/`` to leave each chroot (root may). For the
configurations with a mount, it has its own mount namespace and puts a tmpfs on ``m``, so
renames and links across it, and of it, are Linux's own answers.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from tests.posixbackend.fuzzing import execution
from tests.posixbackend.fuzzing.programs import Program
from tests.vfs.worker import _receive, _send

CLONE_NEWNS = 0x00020000
MS_REC, MS_PRIVATE = 0x4000, 0x40000
NATIVE_UMASK = 0o022
"""The emulated backend's starting umask."""

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _own_mounts() -> None:
    _check(_libc.unshare(CLONE_NEWNS), "unshare")
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate")


def _mount_tmpfs(path: str) -> None:
    _check(_libc.mount(b"tmpfs", path.encode(), b"tmpfs", 0, b"mode=0755"), "mount tmpfs")


def _run_one(base: str, real_root: int, work: Callable[[Any], Any], mount: bool) -> Any:
    top = tempfile.mkdtemp(dir=base)
    _mount_tmpfs(top)  # one file system everywhere: tmpfs, the closest to the memory fs
    if mount:
        os.mkdir(os.path.join(top, "m"), 0o755)
        _mount_tmpfs(os.path.join(top, "m"))
    try:
        os.chroot(top)
        os.chdir("/")
        try:
            execution.seed(os, mount=mount)
            return work(os)
        finally:
            os.fchdir(real_root)
            os.chroot(".")
    finally:
        if mount:
            _check(_libc.umount2(os.path.join(top, "m").encode(), 2), "umount")
        _check(_libc.umount2(top.encode(), 2), "umount")
        os.rmdir(top)


class NativeRunner:
    """A child that runs programs natively and sends back (outcomes, tree); ``job``, known
    before the fork, is what a request without a program runs (a printed program's replay)."""

    def __init__(self, job: Callable[[Any], Any] | None = None) -> None:
        self.job = job
        self.base = tempfile.mkdtemp(prefix="pb-fuzz-", dir="/tmp")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                os.close(self._to_child)
                os.close(self._from_child)
                self._serve(to_child_r, from_child_w)
            except BaseException:  # noqa: BLE001 - the child must never return into pytest
                code = 1
            finally:
                os._exit(code)
        os.close(to_child_r)
        os.close(from_child_w)

    def _serve(self, requests: int, replies: int) -> None:  # pragma: no cover - child
        os.umask(NATIVE_UMASK)
        _own_mounts()
        real_root = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
        while True:
            request = _receive(requests)
            if request is None:
                return
            program, mount = request

            def work(o: Any, program: Program | None = program) -> Any:
                if program is None:
                    assert self.job is not None
                    return self.job(o)
                return execution.run(o, program)

            try:
                reply: Any = ("ok", _run_one(self.base, real_root, work, mount))
            except Exception as error:  # noqa: BLE001 - sent back, raised in the parent
                reply = ("failed", f"{type(error).__name__}: {error}")
            _send(replies, reply)

    def run(self, program: Program | None, mount: bool) -> Any:
        """(outcomes, tree) of ``program`` (None: of the job) run natively."""
        _send(self._to_child, (None if program is None else list(program), mount))
        status, value = _receive(self._from_child)
        if status != "ok":
            raise RuntimeError(f"the native run failed: {value}")
        return value

    def close(self) -> None:
        try:
            _send(self._to_child, None)
        finally:
            os.close(self._to_child)
            os.close(self._from_child)
            os.waitpid(self.pid, 0)
            shutil.rmtree(self.base, ignore_errors=True)
