"""PyFilesystem2 and vfs, both ways: any ``fs.base.FS`` as a provider, any provider as an FS.

:class:`PyFilesystemProvider` wraps a PyFilesystem2 file system (MemoryFS, OSFS, ZipFS...) as a
vfs provider; :class:`ProviderFS` exposes a vfs provider (MemoryFileSystem, HostFileSystem,
Overlay...) as a PyFilesystem2 FS. PyFilesystem2 is imported through
:func:`vfs.adapters.fs2_import.import_fs`, so this package imports with or without setuptools.
"""

from vfs.adapters.pyfilesystem.exposed import ProviderFS
from vfs.adapters.pyfilesystem.provider import PyFilesystemProvider

__all__ = ["ProviderFS", "PyFilesystemProvider"]
