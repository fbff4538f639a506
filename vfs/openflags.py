"""The open(2) flag combinations Linux refuses before it even looks at the path."""

from __future__ import annotations

import errno
import posix

from vfs.errors import os_error

O_ACCMODE = posix.O_ACCMODE
"""The access mode bits of the flags (O_RDONLY, O_WRONLY, O_RDWR): the one name every module
uses for them."""
O_TMPFILE = getattr(posix, "O_TMPFILE", 0o20200000)
O_TMPFILE_BIT = O_TMPFILE & ~posix.O_DIRECTORY
"""The bit that tells O_TMPFILE from plain O_DIRECTORY (``__O_TMPFILE`` in the kernel)."""
O_PATH_FLAGS = posix.O_PATH | posix.O_DIRECTORY | posix.O_NOFOLLOW | posix.O_CLOEXEC
"""What open(2) keeps of the flags when O_PATH is among them."""


def check_open_flags(flags: int, path: str) -> int:
    """The flags open(2) acts on, or EINVAL where build_open_flags refuses them.

    O_PATH wins over everything but O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC (they are dropped
    silently); then O_CREAT with O_DIRECTORY is EINVAL, and O_TMPFILE without write access.
    """
    if flags & posix.O_PATH:
        return flags & O_PATH_FLAGS
    if flags & posix.O_CREAT and flags & posix.O_DIRECTORY:
        raise os_error(errno.EINVAL, path)
    if flags & O_TMPFILE_BIT and (
        not flags & posix.O_DIRECTORY or flags & O_ACCMODE not in (posix.O_WRONLY, posix.O_RDWR)
    ):
        raise os_error(errno.EINVAL, path)
    return flags
