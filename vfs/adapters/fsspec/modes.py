"""fsspec's binary file modes as ``os.open`` flags, for the file system that shows providers
(the file itself is :class:`vfs.adapters.handlefile.HandleFile`)."""

from __future__ import annotations

import posix

_FLAGS = {
    "r": posix.O_RDONLY,
    "w": posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC,
    "a": posix.O_WRONLY | posix.O_CREAT | posix.O_APPEND,
    "x": posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL,
}


def open_flags(mode: str) -> int:
    """The ``os.open`` flags of a binary file mode such as ``rb``, ``r+b``, ``ab`` or ``xb``."""
    kinds = [c for c in mode if c in _FLAGS]
    if len(kinds) != 1 or set(mode) - set("rwaxb+") or "b" not in mode:
        raise ValueError(f"invalid binary mode: {mode!r}")
    flags = _FLAGS[kinds[0]]
    if "+" in mode:
        flags = (flags & ~(posix.O_WRONLY | posix.O_RDONLY)) | posix.O_RDWR
    return flags
