"""The in-memory provider."""

from vfs.memory.filesystem import MemoryFileSystem
from vfs.memory.handle import MemoryHandle

__all__ = ["MemoryFileSystem", "MemoryHandle"]
