"""fsspec both ways: an fsspec file system as a provider, and a provider as an fsspec file system.

:class:`FsspecProvider` is a provider over any ``fsspec.AbstractFileSystem``;
:class:`ProviderFsspec` (protocol ``vfs``) is an fsspec file system over any provider, e.g.
``fsspec.open("vfs://name/path")`` for a provider registered with :func:`register` (the names
mirror PyFilesystem2's adapters: :class:`~vfs.adapters.pyfilesystem.PyFilesystemProvider` and
:class:`~vfs.adapters.pyfilesystem.ProviderFS`).
"""

import warnings

from vfs.adapters.fsspec.exposed import ProviderFsspec, register, registered, unregister
from vfs.adapters.fsspec.provider import FsspecProvider

_RENAMED = {"FsspecFileSystem": "FsspecProvider", "VfsFileSystem": "ProviderFsspec"}
"""The names of issue 22's renames (a provider was called a file system, an fsspec file
system was named for vfs): the old ones import with a DeprecationWarning for one release."""


def __getattr__(name: str) -> object:
    new = _RENAMED.get(name)
    if new is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"{__name__}.{name} is now {new}", DeprecationWarning, stacklevel=2)
    return globals()[new]


__all__ = ["FsspecProvider", "ProviderFsspec", "register", "registered", "unregister"]
