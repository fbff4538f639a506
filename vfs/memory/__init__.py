"""The in-memory provider."""

from vfs.memory.filesystem import MemoryFileSystem
from vfs.memory.handle import MemoryHandle
from vfs.memory.space import tmpfs_defaults

__all__ = ["MemoryFileSystem", "MemoryHandle", "tmpfs_defaults"]
