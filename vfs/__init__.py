"""vfs: file system providers for the emulated POSIX backend.

A provider answers POSIX operations on absolute paths (see :class:`FileSystem`). This package
knows nothing of ``posixbackend``; it only uses the real ``posix`` module, so it can never
recurse into stand-ins installed over ``os``. Providers compose: :class:`ReadOnlyFileSystem`,
:class:`DenyIOFileSystem`, :class:`MountFileSystem` and :class:`OverlayFileSystem` wrap others;
``vfs.adapters`` reaches PyFilesystem2, fsspec and pyfakefs; :func:`save_snapshot` and
:func:`load_snapshot` move a tree to and from a tar archive. The overlay and the snapshots
are imported on first use (PEP 562); the rest eagerly.
"""

from __future__ import annotations

import importlib

from vfs.denyio import DenyIOFileSystem
from vfs.host import HostFileSystem
from vfs.identity import Identity
from vfs.memory import MemoryFileSystem
from vfs.mount import MountFileSystem
from vfs.provider import DirEntryInfo, FileSystem, Handle
from vfs.readonly import ReadOnlyFileSystem

TYPE_CHECKING = False  # typing's own costs a few milliseconds to import; mypy knows this one
if TYPE_CHECKING:
    from typing import Final

    from vfs.overlay import Change, ChangeSet, OverlayFileSystem
    from vfs.snapshot import SnapshotError, load_snapshot, save_snapshot

_HOMES: Final = {
    "Change": "vfs.overlay",
    "ChangeSet": "vfs.overlay",
    "OverlayFileSystem": "vfs.overlay",
    "SnapshotError": "vfs.snapshot",
    "load_snapshot": "vfs.snapshot",
    "save_snapshot": "vfs.snapshot",
}
"""The names imported on first use, and the module each comes from: the overlay binds only
``posix``, so a first import under a patcher of ``os`` and ``io`` (pyfakefs) changes nothing;
the snapshots bind ``tarfile`` (with ``shutil``, ``decimal``, ``bz2``, ``lzma``: milliseconds
that a start-up need not pay), which reads and writes only the file objects it is given."""


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'vfs' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next look-up is a plain attribute's
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


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
