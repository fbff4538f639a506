"""openat2(2) with RESOLVE_IN_ROOT: the kernel confines a whole path walk.

Python's ``os`` has no binding for openat2, so this calls ``syscall(SYS_openat2, ...)``: from
C (vfs/host/_inroot.c) when the package was built with a compiler, else through ctypes. It is
only used when a probe shows the call works (Linux 5.6+, and not filtered by seccomp).
"""

from __future__ import annotations

import errno
import functools
import os
import posix
import struct
import sys
from collections.abc import Callable
from types import ModuleType

SYS_OPENAT2 = 437
"""openat2's number; the same on every architecture (new system calls share one table)."""
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10
RESOLVE = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS

_O_TMPFILE = getattr(posix, "O_TMPFILE", 0)
OPEN_FLAGS = (
    3 | posix.O_CREAT | posix.O_EXCL | posix.O_NOCTTY | posix.O_TRUNC | posix.O_APPEND
    | posix.O_NONBLOCK | posix.O_DSYNC | getattr(posix, "O_ASYNC", 0o20000)
    | getattr(posix, "O_DIRECT", 0) | getattr(posix, "O_LARGEFILE", 0) | posix.O_DIRECTORY
    | posix.O_NOFOLLOW | getattr(posix, "O_NOATIME", 0) | posix.O_CLOEXEC | posix.O_SYNC
    | getattr(posix, "O_PATH", 0) | _O_TMPFILE
)  # fmt: skip
"""Every flag openat2 accepts; it refuses unknown bits where open(2) ignores them."""
PATH_FLAGS = posix.O_PATH | posix.O_DIRECTORY | posix.O_NOFOLLOW | posix.O_CLOEXEC
"""The only flags openat2 allows beside O_PATH."""

Opener = Callable[[str, int, int], int]
"""``(path, flags, mode) -> fd``: open a path resolved inside a root."""
Stater = Callable[[str, int], posix.stat_result]
"""``(path, flags) -> status``: fstat of a path opened O_PATH (with ``flags``) inside a root."""

C_CALLS: ModuleType | None
"""vfs.host._inroot, the calls from C (no ctypes conversions); None when the package was built
without a compiler."""
try:
    from vfs.host import _inroot
except ImportError:
    C_CALLS = None
else:
    _inroot.configure(PATH_FLAGS, OPEN_FLAGS, RESOLVE)
    C_CALLS = _inroot


def open_how(flags: int, mode: int) -> bytes:
    """The ``struct open_how`` for open(2)-style ``flags`` (adjusted to what openat2 accepts)."""
    flags |= posix.O_CLOEXEC
    flags &= PATH_FLAGS if flags & posix.O_PATH else OPEN_FLAGS
    if not flags & (posix.O_CREAT | _O_TMPFILE):
        mode = 0
    return struct.pack("=QQQ", flags, mode & 0o7777, RESOLVE)


def in_root(root: int, fallback: Opener) -> tuple[Opener, Stater] | None:
    """An opener and a stater that resolve inside the directory fd ``root``, or None if
    openat2 is unusable.

    A walk that races with a rename (EAGAIN) is retried, and handed to ``fallback`` if it
    keeps racing.
    """
    calls = C_CALLS
    if calls is not None:
        opener: Opener = functools.partial(calls.open, root, fallback)
        if not usable(opener):
            return None
        return opener, functools.partial(calls.stat, root, fallback)
    through_ctypes = ctypes_opener(root, fallback)
    if through_ctypes is None or not usable(through_ctypes):
        return None
    return through_ctypes, stater(through_ctypes)


def usable(opener: Opener) -> bool:
    """Whether openat2 works here: the kernel has it and no seccomp filter refuses it."""
    try:
        posix.close(opener("/", posix.O_PATH | posix.O_DIRECTORY, 0))
    except OSError as error:
        if error.errno in (errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG):
            return False
        raise
    return True


def stater(opener: Opener) -> Stater:
    """The stater made of ``opener``: open O_PATH, fstat, close."""

    def stat_in_root(path: str, flags: int) -> posix.stat_result:
        fd = opener(path, flags | posix.O_PATH, 0)
        try:
            return posix.fstat(fd)
        finally:
            posix.close(fd)

    return stat_in_root


def ctypes_opener(root: int, fallback: Opener) -> Opener | None:
    """The opener calling openat2 through ctypes, or None without ctypes."""
    try:
        import ctypes

        syscall = ctypes.CDLL(None, use_errno=True).syscall
    except (ImportError, OSError, AttributeError):
        return None
    # No argtypes (their conversion doubles the call's cost); the variadic arguments that must
    # be full-width longs are passed as prebuilt ctypes objects.
    syscall.restype = ctypes.c_long
    number = ctypes.c_long(SYS_OPENAT2)
    how_size = ctypes.c_size_t(24)
    get_errno = ctypes.get_errno
    hows: dict[int, bytes] = {}
    utf8 = sys.getfilesystemencoding().lower().replace("-", "") == "utf8"

    def open_in_root(path: str, flags: int, mode: int) -> int:
        key = flags << 13 | mode
        how = hows.get(key)
        if how is None:
            how = hows[key] = open_how(flags, mode)
        encoded = path.encode("utf-8", "surrogateescape") if utf8 else os.fsencode(path)
        for _ in range(4):
            fd: int = syscall(number, root, encoded, how, how_size)
            if fd >= 0:
                return fd
            code = get_errno()
            if code != errno.EAGAIN:
                raise OSError(code, posix.strerror(code))
        return fallback(path, flags, mode)

    return open_in_root
