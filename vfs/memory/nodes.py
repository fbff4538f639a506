"""Inodes of the memory file system: directories, regular files and symbolic links.

Each inode caches its ``os.stat_result`` and drops the cache whenever a field changes, so a
``stat`` of an unchanged file costs a dictionary walk and no allocation.
"""

from __future__ import annotations

import os
import posix
import stat as _stat
from time import sleep, time_ns
from typing import TYPE_CHECKING, cast

from vfs.memory.extents import PAGE_SIZE, Extents, page_count

if TYPE_CHECKING:
    from vfs.memory.mapped import MappedContent
    from vfs.memory.space import Space

S_IFMT = 0o170000
S_IFDIR = _stat.S_IFDIR
S_IFREG = _stat.S_IFREG
S_IFLNK = _stat.S_IFLNK

BLOCK_SIZE = PAGE_SIZE
"""st_blksize, and the unit in which file data is allocated (st_blocks counts 512-byte units)."""

DIRECTORY_SIZE = 4096
"""st_size of a directory, as ext4 reports a small one."""

LONG_SYMLINK = 128
"""Symbolic links whose content is this long or longer take a page (tmpfs keeps shorter ones
in the inode: its SHORT_SYMLINK_LEN counts the terminating NUL)."""


class _NoHandles(frozenset[object]):
    """The open handles of an inode that no handle holds open: empty, shared by all of them
    (an empty set per file would be a third of a small file's memory); closing finds nothing
    to remove."""

    __slots__ = ()

    def discard(self, handle: object) -> None:
        """Nothing is here to remove."""


NO_HANDLES: set[object] = cast("set[object]", _NoHandles())
"""What ``Inode.handles`` is while no handle is open (see :func:`handles_of`)."""


def handles_of(node: Inode) -> set[object]:
    """``node``'s set of open handles, made at the first open since none was open (the caller
    holds the file system's lock, so two first opens make one set).

    The set is made, added to and given back (``NO_HANDLES`` again once the last handle
    closed: MemoryHandle.close, and the C accelerator's close) only under that lock; a close
    discards its handle without it (set.discard is atomic). So no opener is ever between
    finding the set and adding to it when the set is given back, and no handle is lost."""
    handles = node.handles
    if handles is NO_HANDLES:
        handles = node.handles = set()
    return handles


class Inode:
    """What every kind of file has: number, mode, owner, link count, times, open handles.

    ``handles`` holds the open handles (:data:`NO_HANDLES` while none is open, see
    :func:`handles_of`); ``freed`` marks an inode whose space was given back after its last
    link and handle.
    """

    __slots__ = (
        "_derived", "_stat", "atime", "ctime", "dev", "freed", "gid", "handles", "ino", "mode",
        "mtime", "nlink", "uid",
    )  # fmt: skip
    # read by offset in posixbackend's C code
    __accelerated_slots__: tuple[str, ...] = (
        "_derived", "_stat", "atime", "ctime", "dev", "freed", "gid", "handles", "ino", "mode",
        "mtime", "nlink", "uid",
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
        self.handles = NO_HANDLES
        self.freed = False
        self._stat: posix.stat_result | None = None
        self._derived: object = None
        """What a consumer made of ``_stat`` and keeps with it (the emulated backend's C stat
        keeps its copy at the backend's time resolution: (record, resolution, copy), valid
        while that record is ``_stat``); never read here."""

    @property
    def size(self) -> int:
        """st_size."""
        raise NotImplementedError(f"{type(self).__name__} does not define its size")

    def pages(self) -> int:
        """Pages of data it holds (counted against a file system's size cap)."""
        return 0

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


LISTING_CHUNK = 4096
"""Names copied per step of a long listing, between which other threads may run."""


def unlocked_list(names: list[str] | tuple[str, ...]) -> list[str]:
    """The list of names :meth:`Directory.names` gave: a large directory's snapshot copied
    in steps, the GIL let go between two (as os.listdir lets it go for each getdents), so
    that another thread's stat never waits for the whole of a long listing."""
    if isinstance(names, list):
        return names
    result = list(names[:LISTING_CHUNK])
    for start in range(LISTING_CHUNK, len(names), LISTING_CHUNK):
        sleep(0)  # other threads run here
        result += names[start : start + LISTING_CHUNK]
    return result


class Directory(Inode):
    """A directory: its entries by name, and where it hangs (parent and name) for ``..``."""

    __slots__ = ("entries", "listed", "name", "parent")
    # read (and, by the C mkdir, written) by offset in posixbackend's C code
    __accelerated_slots__ = ("entries", "listed", "name", "parent")

    def __init__(self, dev: int, ino: int, now: int, mode: int) -> None:
        super().__init__(dev, ino, now, S_IFDIR | (mode & 0o7777))
        self.nlink = 2
        self.entries: dict[str, Inode] = {}
        self.listed: tuple[str, ...] | None = None
        """The names of a large directory as last listed; None after any change of its
        entries (every store into or deletion from ``entries`` clears it first)."""
        self.parent: Directory = self
        self.name = "/"

    def names(self) -> list[str] | tuple[str, ...]:
        """The names of the entries: a list (a copy) for a small directory, the snapshot of
        a large one (to be copied by :func:`unlocked_list` once the caller let go of the file
        system's lock, which it holds here). The snapshot is kept until the next change, so
        a large directory listed again costs no long step under the lock."""
        entries = self.entries
        if len(entries) <= LISTING_CHUNK:
            return list(entries)
        listed = self.listed
        if listed is None:  # once per change: one C call, whole under the lock
            listed = self.listed = tuple(entries)
        return listed

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

    def snapshot(self, touch: bool) -> tuple[list[str], list[Inode]]:
        """The names and nodes of the entries, in one order (``touch``: atime, as a read).
        The caller holds the file system's lock."""
        if touch:
            self.accessed(time_ns())
        entries = self.entries
        return list(entries), list(entries.values())

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
    """A regular file, dense, sparse or mapped.

    Dense (no hole below its size, the common case): ``data`` is the whole content, one
    bytearray that grows on writes past its end, and every page it touches is allocated.
    Sparse: ``data`` is None and ``extents`` holds the stored chunks between holes (see
    :mod:`vfs.memory.extents`). A file becomes sparse when a write or truncate leaves a whole
    page unwritten below its size, and dense again once one chunk covers it all. Mapped (from
    its first mmap on, for good): ``data`` and ``extents`` are None and ``mapped`` holds the
    content in a memfd (:mod:`vfs.memory.mapped`); its status is then never cached, since a
    mapping changes its size and blocks with no call of ours.
    """

    __slots__ = ("data", "extents", "mapped")
    __accelerated_slots__ = ("data",)  # read by offset in posixbackend's C code

    def __init__(self, dev: int, ino: int, now: int, mode: int) -> None:
        super().__init__(dev, ino, now, S_IFREG | (mode & 0o7777))
        self.data: bytearray | None = bytearray()
        self.extents: Extents | None = None
        self.mapped: MappedContent | None = None

    @property
    def size(self) -> int:
        data = self.data
        if data is not None:
            return len(data)
        extents = self.extents
        if extents is not None:
            return extents.size
        assert self.mapped is not None
        return self.mapped.size()

    def pages(self) -> int:
        """Pages allocated (4 KiB each, as tmpfs allocates); of a mapped file, those counted."""
        data = self.data
        if data is not None:
            return page_count(len(data))
        extents = self.extents
        if extents is not None:
            return extents.pages
        assert self.mapped is not None
        return self.mapped.counted

    def blocks(self) -> int:
        mapped = self.mapped
        if mapped is not None:
            return mapped.blocks()
        return self.pages() * (PAGE_SIZE // 512)

    def stat(self) -> posix.stat_result:
        result = super().stat()
        if self.mapped is not None:
            self._stat = None  # a mapping changes size and blocks behind the cache's back
        return result

    def read(self, n: int, offset: int) -> bytes:
        """Up to ``n`` bytes from ``offset``, copied once (holes read as zeros; the caller holds
        the file system's lock for a sparse or mapped file)."""
        data = self.data
        if data is None:
            extents = self.extents
            if extents is not None:
                return extents.read(n, offset)
            assert self.mapped is not None
            return self.mapped.read(n, offset)
        if offset == 0 and n >= len(data):
            return bytes(data)
        if n <= 65536:
            return bytes(data[offset : offset + n])
        with memoryview(data) as view:
            return view[offset : offset + n].tobytes()

    def sparse(self, space: Space) -> Extents:
        """The content as extents, turning a dense file sparse (its bytes are kept as they are,
        as the first chunk)."""
        extents = self.extents
        if extents is None:
            data = self.data
            assert data is not None
            extents = self.extents = Extents(len(data), data, space)
            self._stat = None
            self.data = None
        return extents

    def settle(self) -> None:
        """Turn a sparse file that has no hole left dense again (the C fast paths read only
        dense files)."""
        extents = self.extents
        if extents is not None:
            data = extents.dense()
            if data is not None:
                self.data = data
                self.extents = None

    def clear(self) -> None:
        """Drop the content of a freed file (closing its memfd: mappings keep their own)."""
        mapped = self.mapped
        self.data = bytearray()
        self.extents = None
        self.mapped = None
        if mapped is not None:
            mapped.close()


class Symlink(Inode):
    """A symbolic link: its content, interpreted only when a path walks through it. As on
    tmpfs, a content of :data:`LONG_SYMLINK` bytes or more takes a page; a shorter one none."""

    __slots__ = ("_size", "target")

    def __init__(self, dev: int, ino: int, now: int, target: str) -> None:
        super().__init__(dev, ino, now, S_IFLNK | 0o777)
        self.target = target
        self._size = len(os.fsencode(target))

    @property
    def size(self) -> int:
        return self._size

    def pages(self) -> int:
        """Pages its content takes."""
        return 1 if self._size >= LONG_SYMLINK else 0

    def blocks(self) -> int:
        return self.pages() * (PAGE_SIZE // 512)
