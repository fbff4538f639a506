"""The open(2) flag combinations Linux refuses before it even looks at the path."""

from __future__ import annotations

import errno
import posix

from vfs.errors import os_error

O_ACCMODE = 3
O_TMPFILE = getattr(posix, "O_TMPFILE", 0o20200000)
O_TMPFILE_BIT = O_TMPFILE & ~posix.O_DIRECTORY
"""The bit that tells O_TMPFILE from plain O_DIRECTORY (``__O_TMPFILE`` in the kernel)."""


def check_open_flags(flags: int, path: str) -> None:
    """EINVAL for O_CREAT with O_DIRECTORY, and O_TMPFILE without write access or with O_CREAT."""
    if flags & O_TMPFILE_BIT:
        if (
            flags & O_TMPFILE != O_TMPFILE
            or flags & posix.O_CREAT
            or flags & O_ACCMODE not in (posix.O_WRONLY, posix.O_RDWR)
        ):
            raise os_error(errno.EINVAL, path)
    elif flags & posix.O_CREAT and flags & posix.O_DIRECTORY:
        raise os_error(errno.EINVAL, path)
