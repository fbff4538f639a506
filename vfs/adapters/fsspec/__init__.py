"""fsspec both ways: an fsspec file system as a provider, and a provider as an fsspec file system.

:class:`FsspecProvider` is a provider over any ``fsspec.AbstractFileSystem``;
:class:`ProviderFsspec` (protocol ``vfs``) is an fsspec file system over any provider, e.g.
``fsspec.open("vfs://name/path")`` for a provider registered with :func:`register` (the names
mirror PyFilesystem2's adapters: :class:`~vfs.adapters.pyfilesystem.PyFilesystemProvider` and
:class:`~vfs.adapters.pyfilesystem.ProviderFS`).
"""

from vfs.adapters.fsspec.exposed import ProviderFsspec, register, registered, unregister
from vfs.adapters.fsspec.provider import FsspecProvider
from vfs.renamed import renamed_names

_RENAMED = {"FsspecFileSystem": "FsspecProvider", "VfsFileSystem": "ProviderFsspec"}
"""The names of issue 22's renames (a provider was called a file system, an fsspec file
system was named for vfs): the old ones import with a DeprecationWarning for one release."""


__getattr__ = renamed_names(__name__, _RENAMED, globals())


__all__ = ["FsspecProvider", "ProviderFsspec", "register", "registered", "unregister"]
