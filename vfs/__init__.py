"""vfs: file system providers for the emulated POSIX backend.

A provider answers POSIX operations on absolute paths (see :class:`FileSystem`). This package
knows nothing of ``posixbackend``; it only uses the real ``posix`` module, so it can never
recurse into stand-ins installed over ``os``. Providers compose: :class:`ReadOnlyFileSystem`,
:class:`DenyIOFileSystem`, :class:`MountFileSystem` and :class:`OverlayFileSystem` wrap others;
``vfs.adapters`` reaches PyFilesystem2, fsspec and pyfakefs; :func:`save_snapshot` and
:func:`load_snapshot` move a tree to and from a tar archive.
"""

from vfs.denyio import DenyIOFileSystem
from vfs.host import HostFileSystem
from vfs.identity import Identity
from vfs.memory import MemoryFileSystem
from vfs.mount import MountFileSystem
from vfs.overlay import Change, ChangeSet, OverlayFileSystem
from vfs.provider import DirEntryInfo, FileSystem, Handle
from vfs.readonly import ReadOnlyFileSystem
from vfs.snapshot import SnapshotError, load_snapshot, save_snapshot

__all__ = [
    "Change",
    "ChangeSet",
    "DenyIOFileSystem",
    "DirEntryInfo",
    "FileSystem",
    "Handle",
    "HostFileSystem",
    "Identity",
    "MemoryFileSystem",
    "MountFileSystem",
    "OverlayFileSystem",
    "ReadOnlyFileSystem",
    "SnapshotError",
    "load_snapshot",
    "save_snapshot",
]
