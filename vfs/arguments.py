"""Argument checks Linux makes before it looks a path up, shared by the wrapping providers.

A wrapper that refuses a call (ReadOnly, DenyIO) or routes it (Mount) must still fail first on
what the kernel rejects before any lookup: a symbolic link's empty or overlong content, a
negative length, an unknown access mode.
"""

from __future__ import annotations

import errno
import os
import posix

from vfs.errors import os_error
from vfs.limits import PATH_MAX, check_encodable

ACCESS_MODES = posix.F_OK | posix.R_OK | posix.W_OK | posix.X_OK


def check_target(target: object, path: str) -> str:
    """Validate a symbolic link's content as symlink(2) does: str, no NUL, not empty, < PATH_MAX
    (and encodable, as ``os.symlink`` demands)."""
    if type(target) is not str:
        if not isinstance(target, str):
            raise TypeError(f"symlink target should be str, not {type(target).__name__}")
        target = str(target)
    if not target.isascii():
        check_encodable(target)
    if "\x00" in target:
        raise ValueError("embedded null byte")
    if not target:
        raise os_error(errno.ENOENT, target, path)
    if len(target) >= PATH_MAX // 4 and len(os.fsencode(target)) >= PATH_MAX:
        raise os_error(errno.ENAMETOOLONG, target, path)
    return target


def check_length(length: int, path: str) -> None:
    """truncate(2) refuses a negative length with EINVAL before it resolves the path."""
    if length < 0:
        raise os_error(errno.EINVAL, path)


def check_access_mode(mode: int, path: str) -> None:
    """access(2) refuses bits other than R_OK, W_OK and X_OK with EINVAL before any lookup."""
    if mode & ~ACCESS_MODES:
        raise os_error(errno.EINVAL, path)
