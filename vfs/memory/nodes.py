"""Inodes of the memory file system: directories, regular files and symbolic links.

Each inode caches its ``os.stat_result`` and drops the cache whenever a field changes, so a
``stat`` of an unchanged file costs a dictionary walk and no allocation.
"""

from __future__ import annotations

import os
import posix
import stat as _stat

S_IFMT = 0o170000
S_IFDIR = _stat.S_IFDIR
S_IFREG = _stat.S_IFREG
S_IFLNK = _stat.S_IFLNK

BLOCK_SIZE = 4096
"""st_blksize, and the unit in which file data is allocated (st_blocks counts 512-byte units)."""

DIRECTORY_SIZE = 4096
"""st_size of a directory, as ext4 reports a small one."""


class Inode:
    """What every kind of file has: number, mode, owner, link count, times, open handles.

    ``handles`` holds the open handles (set.add and set.discard are atomic, so closing needs no
    lock); ``freed`` marks an inode whose space was given back after its last link and handle.
    """

    __slots__ = (
        "_stat", "atime", "ctime", "dev", "freed", "gid", "handles", "ino", "mode", "mtime",
        "nlink", "uid",
    )  # fmt: skip

    def __init__(self, dev: int, ino: int, now: int, mode: int) -> None:
        """A new inode of device ``dev`` owned by root (see :meth:`set_owner`), times ``now``."""
        self.dev = dev
        self.ino = ino
        self.mode = mode
        self.uid = 0
        self.gid = 0
        self.nlink = 1
        self.atime = self.mtime = self.ctime = now
        self.handles: set[object] = set()
        self.freed = False
        self._stat: posix.stat_result | None = None

    @property
    def size(self) -> int:
        """st_size."""
        raise NotImplementedError(f"{type(self).__name__} does not define its size")

    def blocks(self) -> int:
        """st_blocks: 512-byte units allocated."""
        return 0

    def stat(self) -> posix.stat_result:
        """The cached status record, rebuilt after a change."""
        result = self._stat
        if result is None:
            atime, mtime, ctime = self.atime, self.mtime, self.ctime
            result = self._stat = posix.stat_result(
                (
                    self.mode, self.ino, self.dev, self.nlink, self.uid, self.gid, self.size,
                    atime // 1_000_000_000, mtime // 1_000_000_000, ctime // 1_000_000_000,
                    atime / 1e9, mtime / 1e9, ctime / 1e9,
                    atime, mtime, ctime,
                    BLOCK_SIZE, self.blocks(), 0,
                )
            )  # fmt: skip
        return result

    def changed(self, now: int) -> None:
        """Record a status change (chmod, chown, link count...): ctime moves to ``now``."""
        self.ctime = now
        self._stat = None

    def modified(self, now: int) -> None:
        """Record a content change: mtime and ctime move to ``now``."""
        self.mtime = self.ctime = now
        self._stat = None

    def accessed(self, now: int) -> None:
        """Record a read under Linux's default ``relatime`` rule.

        atime moves only when it is not newer than mtime or ctime, or is a day old.
        """
        atime = self.atime
        if atime <= self.mtime or atime <= self.ctime or now - atime >= 86_400_000_000_000:
            self.atime = now
            self._stat = None

    def set_times(self, atime: int, mtime: int, now: int) -> None:
        """Set atime and mtime explicitly (utime); ctime moves to ``now``."""
        self.atime, self.mtime, self.ctime = atime, mtime, now
        self._stat = None

    def set_mode(self, mode: int) -> None:
        """Replace the permission bits (the file type bits stay)."""
        self.mode = (self.mode & S_IFMT) | (mode & 0o7777)
        self._stat = None

    def set_owner(self, uid: int, gid: int) -> None:
        """Replace owner and group."""
        self.uid, self.gid = uid, gid
        self._stat = None

    def add_links(self, delta: int) -> None:
        """Change the hard link count."""
        self.nlink += delta
        self._stat = None


class Directory(Inode):
    """A directory: its entries by name, and where it hangs (parent and name) for ``..``."""

    __slots__ = ("entries", "name", "parent")

    def __init__(self, dev: int, ino: int, now: int, mode: int) -> None:
        super().__init__(dev, ino, now, S_IFDIR | (mode & 0o7777))
        self.nlink = 2
        self.entries: dict[str, Inode] = {}
        self.parent: Directory = self
        self.name = "/"

    @property
    def size(self) -> int:
        return DIRECTORY_SIZE

    def blocks(self) -> int:
        return DIRECTORY_SIZE // 512

    def path(self) -> str | None:
        """Where this directory is now, or None once it was removed."""
        if self.nlink == 0:
            return None
        parts: list[str] = []
        node = self
        while node.parent is not node:
            parts.append(node.name)
            node = node.parent
        return "/" + "/".join(reversed(parts))

    def is_ancestor_of(self, other: Directory) -> bool:
        """Whether this directory is ``other`` or contains it at any depth."""
        node = other
        while True:
            if node is self:
                return True
            if node.parent is node:
                return False
            node = node.parent


class RegularFile(Inode):
    """A regular file; its content is a bytearray that grows on writes past its end."""

    __slots__ = ("data",)

    def __init__(self, dev: int, ino: int, now: int, mode: int) -> None:
        super().__init__(dev, ino, now, S_IFREG | (mode & 0o7777))
        self.data = bytearray()

    @property
    def size(self) -> int:
        return len(self.data)

    def blocks(self) -> int:
        return (len(self.data) + BLOCK_SIZE - 1) // BLOCK_SIZE * (BLOCK_SIZE // 512)

    def read(self, n: int, offset: int) -> bytes:
        """Up to ``n`` bytes from ``offset``, copied once."""
        data = self.data
        if offset == 0 and n >= len(data):
            return bytes(data)
        if n <= 65536:
            return bytes(data[offset : offset + n])
        with memoryview(data) as view:
            return view[offset : offset + n].tobytes()


class Symlink(Inode):
    """A symbolic link: its content, interpreted only when a path walks through it."""

    __slots__ = ("_size", "target")

    def __init__(self, dev: int, ino: int, now: int, target: str) -> None:
        super().__init__(dev, ino, now, S_IFLNK | 0o777)
        self.target = target
        self._size = len(os.fsencode(target))

    @property
    def size(self) -> int:
        return self._size
