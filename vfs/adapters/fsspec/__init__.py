"""fsspec both ways: an fsspec file system as a provider, and a provider as an fsspec file system.

:class:`FsspecFileSystem` wraps any ``fsspec.AbstractFileSystem``; :class:`VfsFileSystem`
(protocol ``vfs``) shows any provider to fsspec users, e.g. ``fsspec.open("vfs://name/path")``
for a provider registered with :func:`register`.
"""

from vfs.adapters.fsspec.exposed import VfsFileSystem, register, registered, unregister
from vfs.adapters.fsspec.provider import FsspecFileSystem

__all__ = ["FsspecFileSystem", "VfsFileSystem", "register", "registered", "unregister"]
