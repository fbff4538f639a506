"""The host provider: the real file system, optionally confined below a directory."""

from vfs.host.filesystem import HostFileSystem, host_is_directory
from vfs.host.handle import HostHandle

__all__ = ["HostFileSystem", "HostHandle", "host_is_directory"]
