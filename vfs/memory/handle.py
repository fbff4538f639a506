"""An open file of the memory file system."""

from __future__ import annotations

import errno
import posix
from time import time_ns
from typing import TYPE_CHECKING

from vfs.errors import os_error
from vfs.memory.nodes import NO_HANDLES, Directory, Inode, RegularFile, unlocked_list
from vfs.openflags import O_ACCMODE
from vfs.provider import SEEK_DATA, DirEntryInfo, Handle

if TYPE_CHECKING:
    from vfs.memory.filesystem import MemoryFileSystem

OPEN, READ, WRITE, TOUCH = 1, 2, 4, 8
"""Bits of a handle's state: still open, may read, may write, reads update atime."""
_ACCESS_STATE = {posix.O_RDONLY: READ, posix.O_WRONLY: WRITE, posix.O_RDWR: READ | WRITE, 3: 0}
DAY_NS = 86_400_000_000_000


def initial_state(flags: int) -> int:
    """The state bits of a handle opened with ``flags``."""
    if flags & posix.O_PATH:
        return OPEN
    state = OPEN | _ACCESS_STATE[flags & O_ACCMODE]
    return state if flags & posix.O_NOATIME else state | TOUCH


class MemoryHandle(Handle):
    """A channel to one inode.

    Reads of a dense file copy the content without the file system's lock (one atomic
    bytearray copy, as a Linux read may also overlap a write) and take it only to move atime;
    reads of a sparse file and everything that changes state take the lock. O_PATH handles
    can only be asked for status; a handle opened without read (or write) access refuses
    reads (or writes) with EBADF, and everything fails with EBADF once closed.
    """

    __slots__ = ("_fs", "_node", "_opened_as", "_reader", "_state", "flags")
    # read by offset in posixbackend's C code
    __accelerated_slots__ = ("_fs", "_node", "_opened_as", "_reader", "_state", "flags")

    def __init__(
        self, fs: MemoryFileSystem, node: Inode, flags: int, path: str, state: int
    ) -> None:
        self._fs = fs
        self._node = node
        self.flags = flags
        self._opened_as = path
        self._state = state
        reads = node.__class__ is RegularFile and state & READ and state & TOUCH
        self._reader = node if reads and isinstance(node, RegularFile) else None
        """The file, while this handle reads it the common way (pread's fast path); else None."""
        # the file system enters it in node.handles once its caller holds it (an exception
        # landing as __init__ returns through C must not leave a handle no one can close)

    @property
    def path(self) -> str:
        node = self._node
        if isinstance(node, Directory):
            with self._fs._lock:
                where = node.path()
            if where is not None:
                return where
        return self._opened_as

    @property
    def closed(self) -> bool:
        return not self._state & OPEN

    def directory(self) -> Directory | None:
        node = self._node
        return node if isinstance(node, Directory) else None

    @property
    def node(self) -> Inode:
        """The inode this handle keeps open (for providers that layer on this one)."""
        return self._node

    def _file(self, needed: int) -> RegularFile:
        """The regular file behind a handle that may read (or write), else the errno Linux gives."""
        if not self._state & needed:
            raise os_error(errno.EBADF)
        node = self._node
        if isinstance(node, RegularFile):
            return node
        raise os_error(errno.EISDIR if isinstance(node, Directory) else errno.EINVAL)

    def _usable(self) -> Inode:
        """The inode, if this handle is open and not O_PATH."""
        if not self._state & OPEN or self.flags & posix.O_PATH:
            raise os_error(errno.EBADF)
        return self._node

    def pread(self, n: int, offset: int) -> bytes:
        node = self._reader
        if node is None or n <= 0 or offset < 0:
            return self._pread_checked(n, offset)
        content = node.data
        if content is None:  # sparse: its chunks are read under the lock
            return self._pread_checked(n, offset)
        size = len(content)
        if offset == 0 and n >= size:
            data = bytes(content)
        elif offset >= size:
            data = b""
        elif n <= 65536:
            data = bytes(content[offset : offset + n])
        else:
            data = node.read(n, offset)
        atime = node.atime  # relatime, inline: Inode.accessed says the same
        if atime <= node.mtime or atime <= node.ctime or time_ns() - atime >= DAY_NS:
            with self._fs._lock:
                node.accessed(time_ns())
        return data

    def _pread_checked(self, n: int, offset: int) -> bytes:
        """pread off the fast path: unreadable handles, O_NOATIME, empty or invalid ranges."""
        node = self._file(READ)
        if n < 0 or offset < 0:
            raise os_error(errno.EINVAL)
        if node.data is None:
            with self._fs._lock:
                data = node.read(n, offset)
        else:
            data = node.read(n, offset)
        if n and self._state & TOUCH:
            with self._fs._lock:
                node.accessed(time_ns())
        return data

    def pwrite(self, data: bytes, offset: int) -> int:
        node = self._file(WRITE)
        if offset < 0:
            raise os_error(errno.EINVAL)
        with self._fs._lock:
            if self.flags & posix.O_APPEND:  # as pwrite(2) on Linux: O_APPEND wins over offset
                offset = node.size
            return self._fs._write(node, bytes(data), offset)

    def append(self, data: bytes) -> int:
        node = self._file(WRITE)
        with self._fs._lock:
            offset = node.size
            return offset + self._fs._write(node, bytes(data), offset, whole=True)

    def allocate(self, offset: int, length: int) -> None:
        node = self._file(WRITE)
        with self._fs._lock:
            self._fs._allocate(node, offset, length)

    def seek_data(self, offset: int, whence: int) -> int:
        node = self._usable()
        if not isinstance(node, RegularFile):
            return super().seek_data(offset, whence)
        with self._fs._lock:
            data = node.data
            if data is None:
                if node.mapped is not None:
                    return node.mapped.seek(offset, whence)
                assert node.extents is not None
                return node.extents.seek(offset, whence == SEEK_DATA)
            if offset < 0 or offset >= len(data):
                raise os_error(errno.ENXIO)
            return offset if whence == SEEK_DATA else len(data)  # dense: no hole before the end

    def size(self) -> int:
        node = self._usable()
        if isinstance(node, RegularFile) and node.mapped is not None:
            with self._fs._lock:  # the memfd is closed under the lock when the file goes
                return node.size
        return node.size

    def mappable(self) -> int:
        """A new descriptor of the file's memfd with this handle's access mode (the file's
        content moves into one at its first mapping: see :mod:`vfs.memory.mapped`)."""
        node = self._usable()
        if not isinstance(node, RegularFile):
            raise os_error(errno.ENODEV)  # a directory has no pages to map, as on Linux
        with self._fs._lock:
            return self._fs._promote(node).reopen(self.flags & O_ACCMODE)

    def truncate(self, length: int) -> None:
        if not self._state & OPEN or self.flags & posix.O_PATH:  # fdget refuses O_PATH: EBADF
            raise os_error(errno.EBADF)
        node = self._node
        if not self._state & WRITE or not isinstance(node, RegularFile) or length < 0:
            raise os_error(errno.EINVAL)
        with self._fs._lock:
            self._fs._resize(node, length, None)

    def sync(self) -> None:
        self._usable()

    def close(self) -> None:
        if not self._state & OPEN:
            return
        self._state = 0
        self._reader = None
        node = self._node
        handles = node.handles
        handles.discard(self)
        if not node.nlink or (not handles and handles is not NO_HANDLES):
            with self._fs._lock:  # where openers add to the set: none is halfway now
                if not node.handles:
                    node.handles = NO_HANDLES  # the empty set given back (see handles_of)
                if not node.nlink:
                    self._fs._release(node)

    def stat(self) -> posix.stat_result:
        if not self._state & OPEN:
            raise os_error(errno.EBADF)
        with self._fs._lock:
            return self._node.stat()

    def chmod(self, mode: int) -> None:
        node = self._usable()
        with self._fs._lock:
            self._fs._chmod(node, mode, None)

    def chown(self, uid: int, gid: int) -> None:
        node = self._usable()
        with self._fs._lock:
            self._fs._chown(node, uid, gid, None)

    def utime(self, ns: tuple[int, int] | None = None) -> None:
        node = self._usable()
        with self._fs._lock:
            self._fs._utime(node, ns, None)

    def listdir(self) -> list[str]:
        node = self._usable()
        if not isinstance(node, Directory):
            raise os_error(errno.ENOTDIR)
        with self._fs._lock:
            if self._state & TOUCH:
                node.accessed(time_ns())
            names = node.names()
        return unlocked_list(names)

    def scandir(self) -> list[DirEntryInfo]:
        node = self._usable()
        if not isinstance(node, Directory):
            raise os_error(errno.ENOTDIR)
        with self._fs._lock:
            return self._fs._entries(node, touch=bool(self._state & TOUCH))

    def same_file(self, other: object) -> bool | None:
        """Whether ``other`` is open on this handle's file: known without a stat for another
        handle of this file system (one node is one inode number there), None otherwise."""
        if type(other) is not MemoryHandle or other._fs is not self._fs:
            return None
        return other._node is self._node

    def listing(self) -> tuple[list[str], list[Inode]]:
        """What ``scandir`` lists, as names and nodes (see MemoryFileSystem.listing_at)."""
        node = self._usable()
        if not isinstance(node, Directory):
            raise os_error(errno.ENOTDIR)
        with self._fs._lock:
            return node.snapshot(touch=bool(self._state & TOUCH))

    def statvfs(self) -> posix.statvfs_result:
        if not self._state & OPEN:
            raise os_error(errno.EBADF)
        with self._fs._lock:
            return self._fs._statvfs()

    def __repr__(self) -> str:
        state = "closed" if not self._state & OPEN else f"flags={self.flags:#o}"
        return f"<MemoryHandle {self._opened_as!r} ino={self._node.ino} {state}>"
