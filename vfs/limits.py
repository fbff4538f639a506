"""Linux's limits on names and paths, shared by every provider."""

from __future__ import annotations

import errno
import os
import sys

from vfs.errors import os_error

NAME_MAX = 255
"""Longest file name component, in bytes (ext4, tmpfs)."""

PATH_MAX = 4096
"""Longest path, in bytes, counting the terminating NUL as the kernel does."""

MAXSYMLINKS = 40
"""Symbolic links followed in one path resolution before ELOOP."""


def check_path(
    path: object, filename2: str | None = None, *, relative: bool = False, at_itself: bool = False
) -> str:
    """Validate a provider path: a str, absolute, without NUL, shorter than PATH_MAX bytes.

    An at-call's path may be ``relative`` to its directory, and empty where it names that
    directory itself (``at_itself``).

    Raises what ``os`` raises for the same input: TypeError for a wrong type,
    UnicodeEncodeError for a name the OS could not encode, ValueError for an embedded NUL,
    ENAMETOOLONG for a path that is too long.
    """
    if type(path) is not str:
        if isinstance(path, str):
            path = str(path)
        else:
            raise TypeError(f"path should be str, not {type(path).__name__}")
    if not path.isascii():
        check_encodable(path)
    if "\x00" in path:
        raise ValueError("embedded null byte")
    if len(path) >= PATH_MAX // 4 and len(os.fsencode(path)) >= PATH_MAX:
        raise os_error(errno.ENAMETOOLONG, path, filename2)
    if not path.startswith("/"):
        if relative and (path or at_itself):
            return path
        if not path:
            raise os_error(errno.ENOENT, path, filename2)
        raise ValueError(f"provider paths must be absolute: {path!r}")
    return path


def name_too_long(name: str) -> bool:
    """Whether one path component exceeds NAME_MAX bytes once encoded for the OS."""
    return len(name) > NAME_MAX // 4 and len(os.fsencode(name)) > NAME_MAX


def check_path_at(at: object | None, path: object, filename2: str | None = None) -> str:
    """:func:`check_path` for an at-call: relative paths too, and an empty one that names
    ``at`` itself when there is one."""
    return check_path(path, filename2, relative=True, at_itself=at is not None)


def check_encodable(text: str) -> None:
    """Raise the UnicodeEncodeError ``os`` raises for a path or link target that the file
    system encoding cannot encode even with surrogateescape (a lone surrogate such as
    ``'\\ud800'``): no provider stores a name that ``listdir(bytes)`` could not give back."""
    str.encode(text, sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
