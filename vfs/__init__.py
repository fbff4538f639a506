"""vfs: file system providers for the emulated POSIX backend.

A provider answers POSIX operations on absolute paths (see :class:`FileSystem`). This package
knows nothing of ``posixbackend``; it only uses the real ``posix`` module, so it can never
recurse into stand-ins installed over ``os``.
"""

from vfs.host import HostFileSystem
from vfs.identity import Identity
from vfs.memory import MemoryFileSystem
from vfs.provider import DirEntryInfo, FileSystem, Handle

__all__ = [
    "DirEntryInfo",
    "FileSystem",
    "Handle",
    "HostFileSystem",
    "Identity",
    "MemoryFileSystem",
]
