"""Native Linux with real mounts: a worker in its own mount namespace, chrooted to a directory.

Comparing the wrapping providers with Linux needs real read-only and tmpfs mounts. As root, a
forked worker can unshare its mount namespace, make every mount private (nothing leaks to the
host), mount what the test asks for below its directory and chroot there.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.vfs.ops import NativeOps
from tests.vfs.recording import Recorder
from tests.vfs.worker import Worker

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
_libc = ctypes.CDLL(None, use_errno=True)


def _checked(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    """mount(2), raising OSError."""
    encode = lambda text: None if text is None else text.encode()  # noqa: E731
    _checked(
        _libc.mount(encode(source), target.encode(), encode(fstype), flags, data.encode()),
        f"mount {target}",
    )


def read_only(root: str) -> None:
    """Make ``root`` a read-only bind mount of itself."""
    mount(root, root, None, MS_BIND)
    mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def tmpfs(target: str) -> None:
    """Mount an empty tmpfs (mode 0755, as MemoryFileSystem's root) on ``target``."""
    mount("tmpfs", target, "tmpfs", 0, "mode=0755")


def _can_unshare() -> bool:
    if os.geteuid() != 0:
        return False
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os._exit(0 if _libc.unshare(CLONE_NEWNS) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


CAN_MOUNT = _can_unshare()
needs_mounts = pytest.mark.skipif(
    not CAN_MOUNT, reason="needs root and unshare(CLONE_NEWNS) to compare with real mounts"
)


def mounted_worker(
    root: str, setup: Callable[[str], None], ops: Callable[[], NativeOps] = NativeOps
) -> Worker:
    """A native worker chrooted to ``root`` after ``setup(root)`` mounted things there."""

    def make_ops() -> NativeOps:  # pragma: no cover - runs in the child
        _checked(_libc.unshare(CLONE_NEWNS), "unshare")
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        setup(root)
        os.chroot(root)
        os.chdir("/")
        return ops()

    return Worker(make_ops)


def run_recorded(
    call: Callable[[str, tuple[Any, ...]], Any], name: str, body: Callable[[Recorder], None]
) -> Recorder:
    """Run a scenario; a failure that stops it (a refused unrecorded step) is recorded too."""
    recorder = Recorder(call, name)
    try:
        body(recorder)
    except Exception as error:  # noqa: BLE001 - both sides must stop at the same step, alike
        details = (
            (error.errno, error.filename, error.filename2) if isinstance(error, OSError) else ()
        )
        recorder.note("scenario stopped", (type(error).__name__, *details))
    return recorder
