"""MemoryFileSystem: a POSIX file system held in memory, faithful to Linux's semantics.

Directories, regular files, symbolic links and hard links; all twelve mode bits with owner,
group and other checks for a configurable identity (root bypasses them as on Linux), the sticky
bit, set-group-ID directories; nanosecond times updated when Linux updates them (``relatime``
for reads); one ``st_dev`` per instance and inode numbers never reused. Files are sparse as on
tmpfs: a hole costs nothing, reads as zeros and shows in SEEK_DATA/SEEK_HOLE and st_blocks.
Optional limits on bytes and inodes behave as tmpfs's ``size=`` and ``nr_inodes=`` (ENOSPC, or
EDQUOT if asked; a write stops at the first page that does not fit). One lock guards the tree
and all file contents, so any number of threads may use one instance.
"""

from __future__ import annotations

import errno
import itertools
import posix
import warnings
from collections.abc import Callable
from time import time_ns
from typing import TYPE_CHECKING

import compat
from vfs.arguments import check_target
from vfs.errors import named_error, os_error
from vfs.identity import Identity
from vfs.limits import NAME_MAX, check_path, check_path_at
from vfs.memory.extents import PAGE_SIZE, page_count, page_end
from vfs.memory.handle import OPEN, READ, TOUCH, WRITE, MemoryHandle, initial_state
from vfs.memory.mapped import MappedContent
from vfs.memory.nodes import (
    S_IFDIR,
    S_IFLNK,
    S_IFMT,
    S_IFREG,
    Directory,
    Inode,
    RegularFile,
    Symlink,
    handles_of,
    unlocked_list,
)
from vfs.memory.permissions import (
    R_OK,
    S_ISGID,
    S_IXGRP,
    W_OK,
    X_OK,
    may_keep_setgid,
    owns,
    permitted,
    privileges_dropped,
    sticky_forbids,
)
from vfs.memory.resolver import LockedNodes, Resolver
from vfs.memory.space import Space
from vfs.namechecks import (
    existing,
    free_name,
    open_lookup,
    rename_lookup,
    rmdir_lookup,
    unlink_lookup,
)
from vfs.openflags import O_ACCMODE, O_TMPFILE, O_TMPFILE_BIT, check_open_flags
from vfs.ownedlock import OwnedLock
from vfs.pathnames import ROOT
from vfs.provider import DirEntryInfo, FileSystem
from vfs.walk.namei import Walk

MAX_FILE_SIZE = (1 << 63) - 1
RENAME_INTO_REMOVED = compat.declare(
    id="vfs.memory.rename_into_removed_directory",
    function="os.rename",
    aspect="a rename whose destination is relative to a removed directory, with a slash",
    level=compat.Level.FINE,
    explanation="rename(file, 'x/', dst_dir_fd=<a removed directory>) fails with ENOTDIR "
    "(the trailing slash is checked first); Linux answers ENOENT, its lookup in the dead "
    "directory failing before the slash is looked at",
)
APPEND_WHOLE = compat.declare(
    id="vfs.memory.append_whole",
    function="os.write",
    aspect="O_APPEND writes on a full memory file system",
    level=compat.Level.FINE,
    explanation="an O_APPEND write that does not all fit under max_bytes writes nothing "
    "(ENOSPC), where tmpfs writes the pages that fit: a provider's append cannot report a "
    "short count",
)
FALLOCATED_IS_DATA = compat.declare(
    id="vfs.memory.fallocate_data",
    function="os.lseek",
    aspect="SEEK_DATA over pages posix_fallocate allocated",
    level=compat.Level.FINE,
    explanation="pages posix_fallocate allocates in a memory file are zeros like written "
    "ones: SEEK_DATA finds them, where tmpfs reports them as a hole until they are written",
)
_SLOW_OPEN_FLAGS = (
    posix.O_EXCL | posix.O_PATH | posix.O_NOFOLLOW | posix.O_DIRECTORY | posix.O_NOATIME | O_TMPFILE
)
"""Flags whose checks only the general open path makes."""
_FAST_STATE = {
    posix.O_RDONLY: OPEN | TOUCH | READ,
    posix.O_WRONLY: OPEN | TOUCH | WRITE,
    posix.O_RDWR: OPEN | TOUCH | READ | WRITE,
    3: OPEN | TOUCH,
}
"""Handle state for the fast open path, by access mode."""
_devices = itertools.count(1)
Opener = Callable[[object | None, str, int, int], "MemoryHandle | None"]
"""What MemoryFileSystem._opened calls under the lock: (at, path, flags, mode) -> handle."""


class MemoryFileSystem(FileSystem):
    """A file system that lives in this process's memory.

    ``identity`` is whose permissions are checked (default: this process's); the root
    directory belongs to it with mode ``root_mode``. ``max_bytes`` and ``max_inodes`` are
    tmpfs's ``size=`` and ``nr_inodes=`` (see :mod:`vfs.memory.space`: pages allocated, the
    root and every hard link counted); going past one fails with ``quota_errno`` (ENOSPC like
    a full device, or EDQUOT like a user quota). ``max_files`` is the old name of an inode
    cap that did not count the root: ``max_files=n`` means ``max_inodes=n + 1`` (deprecated).
    ``protected_hardlinks`` mirrors the Linux sysctl of that name (on by default): a user may
    only hard-link files they own or may read and write.
    """

    def __init__(
        self,
        *,
        identity: Identity | None = None,
        root_mode: int = 0o755,
        max_bytes: int | None = None,
        max_inodes: int | None = None,
        quota_errno: int = errno.ENOSPC,
        protected_hardlinks: bool = True,
        max_files: int | None = None,
    ) -> None:
        who = Identity.current() if identity is None else identity
        if max_files is not None:
            if max_inodes is not None:
                raise TypeError("give max_inodes or its old name max_files, not both")
            warnings.warn(
                "MemoryFileSystem(max_files=n) is deprecated: use max_inodes=n + 1 (tmpfs's "
                "nr_inodes: the root and every hard link count)",
                DeprecationWarning,
                stacklevel=2,
            )
            max_inodes = max_files + 1 if type(max_files) is int else max_files
        dev = posix.makedev(0, 0x100 + next(_devices))
        root = Directory(dev, 2, time_ns(), root_mode)
        root.set_owner(who.uid, who.gid)
        space = Space(max_bytes, max_inodes, quota_errno)
        self._start(dev, root, who, space, 3, protected_hardlinks=protected_hardlinks)

    def _start(
        self,
        dev: int,
        root: Directory,
        who: Identity,
        space: Space,
        next_inode: int,
        *,
        protected_hardlinks: bool,
    ) -> None:
        # The one lock of the whole tree: names, every inode's metadata and link count, the
        # inode numbers, the space accounting and sparse contents; one lock, as one walk
        # crosses many directories and a rename changes two. A read of a dense file copies
        # its bytes without it (one bytearray copy is atomic; Linux lets a read overlap a
        # write too) and takes it only to move atime, so readers of big files never queue.
        # Its holder's own thread is refused (a tracer or signal handler re-entering mid-
        # operation) instead of waiting for itself: see vfs/ownedlock.py.
        self._lock = OwnedLock()
        self._space = space
        self._dev = dev
        self._inodes = itertools.count(next_inode)
        self._protected_hardlinks = protected_hardlinks
        self._names = Resolver(root, who)
        self._locked_nodes = LockedNodes(self._names.memory_nodes, self._lock)
        """The walk's nodes for walks made from outside (a Mount's), under the lock."""

    @classmethod
    def adopt(
        cls,
        tree: Callable[[int], Directory],
        *,
        identity: Identity,
        space: Space,
        next_inode: int,
        protected_hardlinks: bool = True,
    ) -> MemoryFileSystem:
        """A file system whose root is ``tree(device)``, a tree of inodes of that device
        counted in ``space``, whose numbers are below ``next_inode``: a
        :class:`~vfs.memory.template.MemoryTemplate`'s copy."""
        fs = cls.__new__(cls)
        dev = posix.makedev(0, 0x100 + next(_devices))
        root = tree(dev)
        fs._start(dev, root, identity, space, next_inode, protected_hardlinks=protected_hardlinks)
        return fs

    def frozen_tree(self) -> tuple[Directory, Space, int]:
        """(root, space, next inode number) of a file system no one will change any more, for
        a :class:`~vfs.memory.template.MemoryTemplate` to copy. A mapped file's content lives
        in a memfd that a copy could not share: refused."""
        with self._lock:
            if self._space.mapped:
                raise ValueError("a memory file system with mapped files cannot be a template")
            return self._names.root, self._space, next(self._inodes)

    # -- configuration -----------------------------------------------------------------------

    @property
    def identity(self) -> Identity:
        """Whose permissions are checked."""
        return self._names.who

    @identity.setter
    def identity(self, who: Identity) -> None:
        with self._lock:
            self._names.set_identity(who)

    @property
    def device(self) -> int:
        """The ``st_dev`` every file of this instance reports."""
        return self._dev

    # -- queries -------------------------------------------------------------------------------

    def stat(self, path: str, follow_symlinks: bool = True) -> posix.stat_result:
        names = self._names
        with self._lock:
            # Fast path: a path whose directory part the caches or plain lookups resolve,
            # ending at anything but a link.
            hit = names.quick(path) if path.__class__ is str else None
            if hit:
                node = hit[0].entries.get(hit[1])
                if node is None:
                    # the directory part resolved before and has no such entry (a name too
                    # long for one is ENAMETOOLONG: the walk below says so)
                    name = hit[1]
                    if name.isascii() and len(name) <= NAME_MAX:
                        raise os_error(errno.ENOENT, path)
                elif node.mode & S_IFMT != S_IFLNK:
                    return node._stat or node.stat()
            elif hit is False:
                # a directory on the way is missing (os.makedirs asks this of each parent)
                raise os_error(errno.ENOENT, path)
        check_path(path)
        return self.stat_at(None, path, follow_symlinks)

    def stat_at(
        self, at: object | None, path: str, follow_symlinks: bool = True
    ) -> posix.stat_result:
        check_path_at(at, path)
        with self._lock:
            return self._existing(at, path, follow_symlinks).stat()

    def probe(self, path: str, follow_symlinks: bool = True) -> posix.stat_result | None:
        return self.probe_at(None, path, follow_symlinks)

    def probe_at(
        self, at: object | None, path: str, follow_symlinks: bool = True
    ) -> posix.stat_result | None:
        try:
            check_path_at(at, path)
        except OSError:  # too long: no such entry either
            return None
        with self._lock:
            try:
                node = self._found(at, path, follow_symlinks)
            except OSError:  # a component before the last is missing, no directory, a loop
                return None
            return None if node is None else node.stat()

    def plain_directory(self, path: str) -> bool:
        # One resolution: the resolver counts the links it followed on the way.
        if path.__class__ is not str or path[:1] != "/" or "\x00" in path:
            return False
        with self._lock:
            try:
                directory, name, trailing, hops = self._names.parent(path)
            except OSError:
                return False
            if hops or trailing or name in {".", ".."}:
                return False
            node = directory if name == ROOT else directory.entries.get(name)
            return node is not None and node.mode & S_IFMT == S_IFDIR

    def watch(self, path: str) -> Callable[[], object] | None:
        # Every way a path can come to lead elsewhere (a directory or link leaving its place,
        # permissions or the identity changing) drops the resolver's caches, counted; every
        # change of a name in a directory, of times, mode, owner or links, moves a ctime (two
        # within one tick of the clock leave the same one, as they leave the same mtime that
        # the path finder compares).
        if path.__class__ is not str or path[:1] != "/" or "\x00" in path:
            return None
        names = self._names
        with self._lock:
            try:
                directory, name, trailing, _ = names.parent(path)
            except OSError:
                return None
            if trailing or name in {".", ".."}:
                return None
            node = directory if name == ROOT else directory.entries.get(name)
            if node is None or node.mode & S_IFMT == S_IFLNK:
                return None

        def token() -> object:
            return (names.forgotten, directory.ctime, node.ctime, node.mtime)

        return token

    def listdir(self, path: str) -> list[str]:
        check_path(path)
        return self._listdir(None, path)

    def listdir_at(self, at: object | None, path: str) -> list[str]:
        check_path_at(at, path)
        return self._listdir(at, path)

    def _listdir(self, at: object | None, path: str) -> list[str]:
        with self._lock:
            directory = self._readable_directory(at, path)
            directory.accessed(time_ns())
            names = directory.names()
        return unlocked_list(names)

    def scandir(self, path: str) -> list[DirEntryInfo]:
        check_path(path)
        with self._lock:
            return self._entries(self._readable_directory(None, path), touch=True)

    def scandir_at(self, at: object | None, path: str) -> list[DirEntryInfo]:
        check_path_at(at, path)
        with self._lock:
            return self._entries(self._readable_directory(at, path), touch=True)

    def listing_at(self, at: object | None, path: str) -> tuple[list[str], list[Inode]]:
        """What ``scandir_at`` lists, as two lists: the names and their nodes, a snapshot
        taken under the lock (the C scandir iterator reads each node's type and number as it
        goes, with no record per entry; both are fixed for a node's life)."""
        check_path_at(at, path)
        with self._lock:
            return self._readable_directory(at, path).snapshot(touch=True)

    def listing(self, path: str) -> tuple[list[str], list[Inode]]:
        """``listing_at(None, path)`` of an absolute path, with stat's short cut: a directory
        whose parent the resolver's caches or plain lookups find, readable, is listed without
        a walk (a 10-entry scandir spent half its time finding the directory)."""
        with self._lock:
            hit = self._names.quick(path) if path.__class__ is str else None
            if hit:
                node = hit[0].entries.get(hit[1])
                # anything else (missing, a link, not a directory, not readable) is the walk's
                # to follow or to name the error of
                if isinstance(node, Directory) and self._may(node, R_OK):
                    return node.snapshot(touch=True)
        return self.listing_at(None, path)

    def _readable_directory(self, at: object | None, path: str) -> Directory:
        """The directory ``path`` leads to, if the identity may read it (opendir's checks; the
        path is checked already)."""
        node = self._existing(at, path, True)
        if not isinstance(node, Directory):
            raise os_error(errno.ENOTDIR, path)
        if not self._may(node, R_OK):
            raise os_error(errno.EACCES, path)
        return node

    def readlink(self, path: str) -> str:
        check_path(path)
        return self.readlink_at(None, path)

    def readlink_at(self, at: object | None, path: str) -> str:
        check_path_at(at, path)
        with self._lock:
            node = self._existing(at, path, False)
            if not isinstance(node, Symlink):
                raise os_error(errno.EINVAL, path)
            node.accessed(time_ns())
            return node.target

    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        self.access_at(None, path, mode, follow_symlinks)

    def access_at(
        self, at: object | None, path: str, mode: int, follow_symlinks: bool = True
    ) -> None:
        check_path_at(at, path)
        if mode & ~7:
            raise os_error(errno.EINVAL, path)
        with self._lock:
            node = self._existing(at, path, follow_symlinks)
            if mode and not self._may(node, mode):
                raise os_error(errno.EACCES, path)

    def set_max_bytes(self, max_bytes: int | None) -> None:
        """Cap file data at ``max_bytes`` from now on (None: no cap), as a tmpfs remounted
        with another ``size=``: ENOSPC (or the quota errno) when more is needed. A cap below
        what the files hold already is refused with that error, as Linux refuses the remount
        (EINVAL there; here the error says why)."""
        if max_bytes is not None and (type(max_bytes) is not int or max_bytes < 0):
            raise ValueError(f"max_bytes must be an int of at least 0 or None, not {max_bytes!r}")
        with self._lock:
            space = self._space
            pages = None if max_bytes is None else page_count(max_bytes)
            space.recount_mapped()
            if pages is not None and space.used_pages > pages:
                raise OSError(
                    space.error,
                    f"{space.used_pages * PAGE_SIZE} bytes are in use, more than {max_bytes}",
                )
            space.max_pages = pages

    def statvfs(self, path: str) -> posix.statvfs_result:
        check_path(path)
        return self.statvfs_at(None, path)

    def statvfs_at(self, at: object | None, path: str) -> posix.statvfs_result:
        check_path_at(at, path)
        with self._lock:
            self._existing(at, path, True)
            return self._statvfs()

    # -- opening ---------------------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o666) -> MemoryHandle:
        if not flags & _SLOW_OPEN_FLAGS and path.__class__ is str:
            handle = self._opened(self._open_quick, None, path, flags, mode)
            if handle is not None:
                return handle
        check_path(path)
        return self._open_at(None, path, flags, mode)

    def open_at(self, at: object | None, path: str, flags: int, mode: int = 0o666) -> MemoryHandle:
        if at is None and not flags & _SLOW_OPEN_FLAGS and path.__class__ is str:
            # an absolute path (the backend's open)
            handle = self._opened(self._open_quick, None, path, flags, mode)
            if handle is not None:
                return handle
        check_path_at(at, path)
        return self._open_at(at, path, flags, mode)

    def _opened(
        self, opener: Opener, at: object | None, path: str, flags: int, mode: int
    ) -> MemoryHandle | None:
        """``opener(at, path, flags, mode)``'s handle, called under the lock, entered in its
        inode's set of handles (None: what the opener returned). An interrupt after the opener
        made the handle closes it again: the caller never gets it, and it must not stay open."""
        handle = None
        try:
            with self._lock:
                handle = opener(at, path, flags, mode)
                if handle is not None:
                    handles_of(handle.node).add(handle)
        except BaseException:
            if handle is not None:  # opened, then interrupted
                handle.close()
            raise
        return handle

    def _open_quick(
        self, at: object | None, path: str, flags: int, mode: int
    ) -> MemoryHandle | None:
        """Fast path (under the lock), for a directory Resolver.quick finds without a walk (its
        caches, or plain lookups from the root): an existing regular file opened in the common
        way, or with O_CREAT a name not there yet, made as the general path makes it (its
        may_create and new file, without its walk); ENOENT where plain lookups find a
        directory of the way missing (the flags it takes are valid: only the general path's
        can be refused before the lookup). None for anything else unusual (every other error
        included, a name maybe too long once encoded): the general path says. ``at`` is None
        (an absolute path): the general opener's arguments, for :meth:`_opened`."""
        names = self._names
        hit = names.quick(path)  # the directory, searchable, and a plain last name
        if not hit:
            if hit is False:
                raise os_error(errno.ENOENT, path)
            return None
        directory, name = hit[0], hit[1]
        node = directory.entries.get(name)
        if node is None:
            if not flags & posix.O_CREAT or len(name) > NAME_MAX // 4:
                return None
            self._may_create(directory, path)
            file = self._new(RegularFile, directory, name, mode, path)
            return self._handle(file, flags & ~posix.O_TRUNC, path)
        if node.__class__ is not RegularFile or (
            names.check and not self._may_open_cached(directory, node, flags)
        ):
            return None
        if TYPE_CHECKING:
            assert isinstance(node, RegularFile)
        if flags & posix.O_TRUNC:
            self._resize(node, 0, path)
        return MemoryHandle(self, node, flags, path, _FAST_STATE[flags & O_ACCMODE])

    def _open_at(self, at: object | None, path: str, flags: int, mode: int) -> MemoryHandle:
        """open_at's general path (the path is checked already)."""
        flags = check_open_flags(flags, path)
        if flags & O_TMPFILE_BIT:
            return self._open_tmpfile(at, path, flags, mode)
        handle = self._opened(self._open_locked, at, path, flags, mode)
        assert handle is not None, "the general path opens or raises"
        return handle

    def _open_locked(self, at: object | None, path: str, flags: int, mode: int) -> MemoryHandle:
        """The handle :meth:`_open_at` opens (not yet entered in its inode's set)."""
        follow = not flags & posix.O_NOFOLLOW
        trailing = False
        if flags & posix.O_PATH:
            node = self._existing(at, path, follow)
            if flags & posix.O_DIRECTORY and not isinstance(node, Directory):
                raise os_error(errno.ENOTDIR, path)
            return self._handle(node, flags & ~posix.O_TRUNC, path)
        if flags & posix.O_CREAT and path:
            node, trailing, created = self._open_creating(at, path, flags, mode)
            if created:
                return self._handle(node, flags & ~posix.O_TRUNC, path)
        elif path:
            tree = self._tree(at, path)
            _, _, found, trailing = tree.locate(path, follow)
            node = existing(tree, found, trailing, path)
        else:
            node = self._existing(at, path, follow)
        self._may_open(node, flags, trailing, path)
        if flags & posix.O_TRUNC and isinstance(node, RegularFile):
            self._resize(node, 0, path)
        return self._handle(node, flags, path)

    def _may_open_cached(self, directory: Directory, node: Inode, flags: int) -> bool:
        """Whether an unprivileged open of a file found through the path cache may go ahead."""
        access = flags & O_ACCMODE
        want = (R_OK if access != posix.O_WRONLY else 0) | (W_OK if access else 0)
        if flags & posix.O_TRUNC:
            want |= W_OK
        who = self._names.who
        return permitted(directory, who, X_OK) and permitted(node, who, want)

    def _open_creating(
        self, at: object | None, path: str, flags: int, mode: int
    ) -> tuple[Inode, bool, bool]:
        """Open(2)'s O_CREAT lookup; creates the file where none is found.

        Returns (inode, trailing slash, whether it was created here).
        """
        found = open_lookup(self._tree(at, path), path, flags)
        if found.node is not None:
            return found.node, False, False
        self._may_create(found.directory, path)
        file = self._new(RegularFile, found.directory, found.name, mode, path)
        assert isinstance(file, RegularFile)
        return file, False, True

    def _open_tmpfile(self, at: object | None, path: str, flags: int, mode: int) -> MemoryHandle:
        """O_TMPFILE: an unnamed regular file in the directory ``path``."""
        handle = None
        try:
            with self._lock:
                directory = self._existing(at, path, not flags & posix.O_NOFOLLOW)
                if not isinstance(directory, Directory):
                    raise os_error(errno.ENOTDIR, path)
                if not self._may(directory, W_OK | X_OK):
                    raise os_error(errno.EACCES, path)
                space = self._space
                space.check_inode(path)
                file = RegularFile(self._dev, next(self._inodes), time_ns(), 0)
                self._init_owner(file, directory, mode)
                file.nlink = 0
                handle = self._handle(file, flags & ~posix.O_DIRECTORY, path)
                space.used_inodes += 1  # counted, then held: closing the handle frees both
                handles_of(file).add(handle)
        except BaseException:
            if handle is not None and handle in handle.node.handles:
                handle.close()
            raise
        return handle

    def _may_open(self, node: Inode, flags: int, trailing: bool, path: str) -> None:
        """The checks open(2) makes on an existing inode (do_open and may_open)."""
        kind = node.mode & S_IFMT
        # do_open (fs/namei.c), before may_open: O_CREAT on a directory, then a directory
        # asked for (O_DIRECTORY or a trailing slash) that is not one
        if flags & posix.O_CREAT and kind == S_IFDIR:
            raise os_error(errno.EISDIR, path)
        if (flags & posix.O_DIRECTORY or trailing) and kind != S_IFDIR:
            raise os_error(errno.ENOTDIR, path)
        access = flags & O_ACCMODE
        want = (R_OK if access != posix.O_WRONLY else 0) | (W_OK if access else 0)
        if flags & posix.O_TRUNC:
            want |= W_OK  # do_open adds MAY_WRITE for O_TRUNC, so it is judged like a write
        # may_open (fs/namei.c), in its order: the file type (a link ELOOP, a directory
        # opened for writing EISDIR) before inode_permission, O_NOATIME's owner test last
        if kind == S_IFLNK:
            raise os_error(errno.ELOOP, path)
        if kind == S_IFDIR and want & W_OK:
            raise os_error(errno.EISDIR, path)
        if not self._may(node, want):
            raise os_error(errno.EACCES, path)
        if flags & posix.O_NOATIME and not owns(node, self._names.who):
            raise os_error(errno.EPERM, path)

    def _handle(self, node: Inode, flags: int, path: str) -> MemoryHandle:
        return MemoryHandle(self, node, flags, path, initial_state(flags))

    # -- creating and removing names -----------------------------------------------------------

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        check_path(path)
        self.mkdir_at(None, path, mode)

    def mkdir_at(self, at: object | None, path: str, mode: int = 0o777) -> None:
        if at is None and path.__class__ is str:
            # filename_create's common case inline: a directory Resolver.quick finds (its
            # caches or plain lookups, search permission checked; a path check_path would
            # refuse it leaves alone) and a plain name not there yet, short enough whatever
            # its encoding; any other answer is the general path's
            with self._lock:
                hit = self._names.quick(path)
                if hit:
                    directory, name = hit[0], hit[1]
                    if len(name) <= NAME_MAX // 4 and name not in directory.entries:
                        if directory.nlink == 0 or self._names.check:
                            self._may_create(directory, path)  # (root may write any directory)
                        self._new(Directory, directory, name, mode & 0o1777, path)
                        return
        check_path_at(at, path)
        with self._lock:
            tree = self._tree(at, path)
            directory, name = free_name(tree, path, "create", allow_trailing=True)
            self._may_create(directory, path)
            self._new(Directory, directory, name, mode & 0o1777, path)

    def symlink(self, target: str, path: str) -> None:
        self.symlink_at(target, None, path)

    def symlink_at(self, target: str, at: object | None, path: str) -> None:
        target = check_target(target, path)  # symlink(2) reads the target before the path
        check_path_at(at, path, None)
        try:
            with self._lock:
                tree = self._tree(at, path)
                directory, name = free_name(tree, path, "create", allow_trailing=False)
                self._may_create(directory, path)
                now = time_ns()
                link = Symlink(self._dev, next(self._inodes), now, target)
                space = self._space
                pages = link.pages()
                room = space.room()
                if room is not None and room < pages:  # a long link's page, as on tmpfs
                    raise space.full(path)
                space.check_inode(path)
                self._init_owner(link, directory, 0o777)
                self._enter(directory, name, link, now)  # then counted, with no point between
                space.used_inodes += 1
                space.used_pages += pages
        except OSError as error:
            raise named_error(error, target, path) from None

    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        check_path(src, dst)
        check_path(dst, None)
        self.link_at(None, src, None, dst, follow_symlinks)

    def link_at(
        self,
        src_at: object | None,
        src: str,
        dst_at: object | None,
        dst: str,
        follow_symlinks: bool = True,
    ) -> None:
        check_path_at(src_at, src, dst)
        check_path_at(dst_at, dst, None)
        try:
            with self._lock:
                node = self._existing(src_at, src, follow_symlinks)
                tree = self._tree(dst_at, dst)
                directory, name = free_name(tree, dst, "create", allow_trailing=False)
                who = self._names.who
                if (
                    self._protected_hardlinks
                    and not owns(node, who)
                    and not self._safe_link_source(node)
                ):
                    raise os_error(errno.EPERM, src)
                self._may_create(directory, dst)
                if isinstance(node, Directory):
                    raise os_error(errno.EPERM, src)
                if node.nlink == 0:
                    raise os_error(errno.ENOENT, src)
                space = self._space
                space.check_inode(src)  # tmpfs counts every name as an inode
                now = time_ns()
                self._enter(directory, name, node, now)  # then counted, with no point between
                node.nlink += 1
                node.ctime = now
                node._stat = None
                space.used_inodes += 1
        except OSError as error:
            raise named_error(error, src, dst) from None

    def unlink(self, path: str) -> None:
        check_path(path)
        self.unlink_at(None, path)

    def unlink_at(self, at: object | None, path: str) -> None:
        check_path_at(at, path)
        with self._lock:
            found = unlink_lookup(self._tree(at, path), path)
            node = found.node
            self._may_delete(found.directory, node, False, path)
            assert node is not None
            self._detach(found.directory, found.name, node)

    def rmdir(self, path: str) -> None:
        check_path(path)
        self.rmdir_at(None, path)

    def rmdir_at(self, at: object | None, path: str) -> None:
        check_path_at(at, path)
        with self._lock:
            found = rmdir_lookup(self._tree(at, path), path)
            node = found.node
            self._may_delete(found.directory, node, True, path)
            assert isinstance(node, Directory)
            if node.entries:  # vfs_rmdir: emptiness is the file system's test, after may_delete
                raise os_error(errno.ENOTEMPTY, path)
            self._detach(found.directory, found.name, node)

    def rename(self, src: str, dst: str) -> None:
        check_path(src, dst)
        check_path(dst, None)
        self.rename_at(None, src, None, dst)

    def rename_at(self, src_at: object | None, src: str, dst_at: object | None, dst: str) -> None:
        check_path_at(src_at, src, dst)
        check_path_at(dst_at, dst, None)
        try:
            with self._lock:
                self._rename(src_at, src, dst_at, dst)
        except OSError as error:
            raise named_error(error, src, dst) from None

    def _rename(self, src_at: object | None, src: str, dst_at: object | None, dst: str) -> None:
        """rename(2), in the kernel's order of checks (do_renameat2, then vfs_rename)."""
        moving = rename_lookup(self._tree(src_at, src), src, dst, self._tree(dst_at, dst))
        old_dir, new_dir = moving.old_dir, moving.new_dir
        node, victim, is_dir = moving.node, moving.victim, moving.is_dir
        if node is victim:
            return
        # vfs_rename (fs/namei.c): may_delete on the source, may_create or may_delete on the
        # target, then a directory moving to another parent needs write permission on
        # itself (its ".." changes), then the file system's own ENOTEMPTY
        self._may_delete(old_dir, node, is_dir, src)
        if victim is None:
            self._may_create(new_dir, dst)
        else:
            self._may_delete(new_dir, victim, is_dir, dst)
        if is_dir and new_dir is not old_dir and not self._may(node, W_OK):
            raise os_error(errno.EACCES, src)
        if isinstance(victim, Directory) and victim.entries:
            raise os_error(errno.ENOTEMPTY, src)
        now = time_ns()
        if is_dir or isinstance(node, Symlink) or isinstance(victim, Symlink):
            # (a link replaced leaves the tree as one moved does: paths through it change)
            self._names.forget()  # first: nothing below may be cut short before it
        pages = 0 if victim is None else victim.pages()
        space = self._space
        old_name = moving.old_name
        # The new name first (replacing the victim's entry): an exception may land as
        # _enter starts, when nothing changed yet, and nowhere from there to the end of the
        # step, so the file is never under neither name, nor under both.
        self._enter(new_dir, moving.new_name, node, now)
        old_dir.listed = None
        del old_dir.entries[old_name]
        if node.mode & S_IFMT == S_IFDIR:
            old_dir.nlink -= 1
        old_dir.mtime = old_dir.ctime = now
        old_dir._stat = None
        node.ctime = now
        node._stat = None
        frees = False
        if victim is not None:
            victim.ctime = now
            victim._stat = None
            if victim.mode & S_IFMT == S_IFDIR:
                victim.nlink = 0
                new_dir.nlink -= 1
            else:
                victim.nlink -= 1
                if victim.nlink:
                    space.used_inodes -= 1  # the name's own inode, as tmpfs counts them
            frees = not victim.nlink and not victim.handles and not victim.freed
            if frees:
                victim.freed = True
                space.used_pages -= pages
                space.used_inodes -= 1
        # what follows may be cut short without losing anything
        if frees and isinstance(victim, RegularFile):
            victim.clear()

    # -- changing attributes -------------------------------------------------------------------

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        self.chmod_at(None, path, mode, follow_symlinks)

    def chmod_at(
        self, at: object | None, path: str, mode: int, follow_symlinks: bool = True
    ) -> None:
        check_path_at(at, path)
        with self._lock:
            node = self._existing(at, path, follow_symlinks)
            if isinstance(node, Symlink):
                raise os_error(errno.EOPNOTSUPP, path)
            self._chmod(node, mode, path)

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        self.chown_at(None, path, uid, gid, follow_symlinks)

    def chown_at(
        self, at: object | None, path: str, uid: int, gid: int, follow_symlinks: bool = True
    ) -> None:
        check_path_at(at, path)
        with self._lock:
            self._chown(self._existing(at, path, follow_symlinks), uid, gid, path)

    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        check_path(path)
        self.utime_at(None, path, ns, follow_symlinks)

    def utime_at(
        self,
        at: object | None,
        path: str,
        ns: tuple[int, int] | None = None,
        follow_symlinks: bool = True,
    ) -> None:
        check_path_at(at, path)
        with self._lock:
            self._utime(self._existing(at, path, follow_symlinks), ns, path)

    def truncate(self, path: str, length: int) -> None:
        check_path(path)
        self.truncate_at(None, path, length)

    def truncate_at(self, at: object | None, path: str, length: int) -> None:
        check_path_at(at, path)
        if length < 0:
            raise os_error(errno.EINVAL, path)
        with self._lock:
            node = self._existing(at, path, True)
            if isinstance(node, Directory):
                raise os_error(errno.EISDIR, path)
            if not isinstance(node, RegularFile):
                raise os_error(errno.EINVAL, path)
            if not self._may(node, W_OK):
                raise os_error(errno.EACCES, path)
            self._resize(node, length, path)

    # -- directory references: the directory inodes themselves ---------------------------------

    def nodes(self) -> LockedNodes:
        return self._locked_nodes

    def directory(self, at: object | None, path: str) -> Directory:
        check_path_at(at, path)
        with self._lock:
            node = self._existing(at, path, True)
            if not isinstance(node, Directory):
                raise os_error(errno.ENOTDIR, path)
            if not self._may(node, X_OK):
                raise os_error(errno.EACCES, path)
            return node

    def hold(self, directory: object) -> Directory:
        return self._directory_ref(directory)

    def where(self, directory: object) -> str:
        with self._lock:
            path = self._directory_ref(directory).path()
        if path is None:
            raise os_error(errno.ENOENT)
        return path

    def release(self, directory: object) -> None:
        """Inodes hold nothing to give back."""

    # -- shared steps (callers hold the lock) --------------------------------------------------

    @staticmethod
    def _directory_ref(at: object) -> Directory:
        """``at`` as this provider's directory (TypeError for another provider's reference)."""
        if at.__class__ is not Directory:
            raise TypeError(f"not a directory of this MemoryFileSystem: {at!r}")
        assert isinstance(at, Directory)
        return at

    def _tree(self, at: object | None, path: str) -> Walk[Directory, Inode]:
        """The walk for ``path`` relative to ``at`` (None: the root): the cached walk from the
        root for an absolute path, else one that starts at the directory."""
        if path[:1] == "/":
            return self._names
        start = self._names.root if at is None else self._directory_ref(at)
        return Walk(self._names.nodes, start)

    def _existing(self, at: object | None, path: str, follow: bool) -> Inode:
        """The inode ``path`` leads to from ``at`` (``at`` itself for an empty path)."""
        if not path:
            assert at is not None
            return self._directory_ref(at)
        if path[0] == "/":
            node = self._remembered(path)
            if node is not None:
                return node
        tree = self._tree(at, path)
        _, _, node, trailing = tree.locate(path, follow)
        return existing(tree, node, trailing, path)

    def _found(self, at: object | None, path: str, follow: bool) -> Inode | None:
        """:meth:`_existing`'s inode, or None where it would fail on the last component
        (ENOENT, or ENOTDIR for a trailing slash after a non-directory)."""
        if not path:
            return self._existing(at, path, follow)
        if path[0] == "/":
            # the directory part resolved before, or resolves by plain lookups (Resolver.quick,
            # which checks the search permission): only the last component is looked up, and
            # a missing one (the common existence check of a file that is not there, as
            # SQLite's of its journal in a file system just made) needs no walk
            hit = self._names.quick(path)
            if hit:  # (False: a directory on the way is missing; the walk says how it fails)
                node = hit[0].entries.get(hit[1])
                if node is None:
                    return None
                if node.mode & S_IFMT != S_IFLNK:
                    return node
        tree = self._tree(at, path)
        _, _, node, trailing = tree.locate(path, follow)
        if node is None or (trailing and not tree.is_dir(node)):
            return None
        return node

    def _remembered(self, path: str) -> Inode | None:
        """Fast path: the inode of an absolute path that resolved before, if it is anything
        but a link (None: resolve it)."""
        names = self._names
        hit = names.paths.get(path)
        if hit is not None:
            node = hit[0].entries.get(hit[1])
            if (
                node is not None
                and node.mode & S_IFMT != S_IFLNK
                and not (names.check and not permitted(hit[0], names.who, X_OK))
            ):
                return node
        return None

    def _may(self, node: Inode, want: int) -> bool:
        return permitted(node, self._names.who, want)

    def _may_create(self, directory: Directory, path: str) -> None:
        """may_create: write and search permission on a live directory."""
        # fs/namei.c may_create, in its order: a removed directory (IS_DEADDIR, reached
        # through a held descriptor or the cwd) is ENOENT before any permission is judged
        if directory.nlink == 0:
            raise os_error(errno.ENOENT, path)
        if self._names.check and not permitted(directory, self._names.who, W_OK | X_OK):
            raise os_error(errno.EACCES, path)  # (root may write and search any directory)

    def _may_delete(
        self, directory: Directory, node: Inode | None, is_dir: bool, path: str
    ) -> None:
        """may_delete: the checks before a name is removed or replaced."""
        # fs/namei.c may_delete, in its order: the victim exists, write and search on its
        # directory (inode_permission), the sticky bit (check_sticky), then its type
        if node is None:
            raise os_error(errno.ENOENT, path)
        who = self._names.who
        if not permitted(directory, who, W_OK | X_OK):
            raise os_error(errno.EACCES, path)
        if sticky_forbids(directory, node, who):
            raise os_error(errno.EPERM, path)
        if is_dir:
            if not isinstance(node, Directory):
                raise os_error(errno.ENOTDIR, path)
            if node is self._names.root:
                raise os_error(errno.EBUSY, path)
        elif isinstance(node, Directory):
            raise os_error(errno.EISDIR, path)

    def _safe_link_source(self, node: Inode) -> bool:
        """fs.protected_hardlinks: a regular, non-set-id file the caller may read and write."""
        mode = node.mode
        return (
            (mode & S_IFMT) == S_IFREG
            and not mode & 0o4000
            and (mode & (S_ISGID | S_IXGRP)) != (S_ISGID | S_IXGRP)
            and self._may(node, R_OK | W_OK)
        )

    def _init_owner(self, node: Inode, directory: Directory, mode: int) -> None:
        """inode_init_owner and mode_strip_sgid: owner, group and set-group-ID of a new inode."""
        who = self._names.who
        gid = who.gid
        kind = node.mode & S_IFMT
        if directory.mode & S_ISGID:
            gid = directory.gid
            if kind == S_IFDIR:
                mode |= S_ISGID
            elif (mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) and not may_keep_setgid(
                gid, who
            ):
                mode &= ~S_ISGID
        node.set_owner(who.uid, gid)
        if kind != S_IFLNK:
            node.set_mode(mode)

    def _new(
        self,
        kind: type[Directory] | type[RegularFile],
        directory: Directory,
        name: str,
        mode: int,
        path: str,
    ) -> Inode:
        """Create a directory or regular file named ``name`` in ``directory``.

        The inode is made whole first; then it is entered and counted with no point in between
        (see :meth:`_enter`), so an exception leaves either nothing or the new name, counted.
        """
        space = self._space
        if space.max_inodes is not None:
            space.check_inode(path)
        now = time_ns()
        if directory.mode & S_ISGID:
            node = kind(self._dev, next(self._inodes), now, 0)
            self._init_owner(node, directory, mode)
        else:
            # inode_init_owner's common case, inline: the creator's ids, the mode as asked
            node = kind(self._dev, next(self._inodes), now, mode)
            who = self._names.who
            node.uid, node.gid = who.uid, who.gid
        self._enter(directory, name, node, now)  # then counted, with no point in between
        space.used_inodes += 1
        return node

    @staticmethod
    def _enter(directory: Directory, name: str, node: Inode, now: int) -> None:
        """Enter ``node`` under ``name`` (replacing what was there), the directory's times and
        links with it. Attribute and dict stores only: an exception may land at its start,
        before it changed anything, but nowhere inside it, nor as it returns to its caller
        (a Python function returns with no check), so callers finish their step after it."""
        directory.listed = None
        directory.entries[name] = node
        if node.mode & S_IFMT == S_IFDIR:  # isinstance() would be a call
            node.parent = directory  # type: ignore[attr-defined]
            node.name = name  # type: ignore[attr-defined]
            directory.nlink += 1
        directory.mtime = directory.ctime = now
        directory._stat = None

    def _detach(self, directory: Directory, name: str, node: Inode, now: int | None = None) -> None:
        """Remove the entry ``name``; free the inode once no name and no handle holds it.

        The entry, the link counts and the space counted change together, with no call in
        between, so an exception cannot leave a name gone with its inode still linked (never
        to be freed), nor a freed file still counted.
        """
        now = time_ns() if now is None else now
        is_dir = isinstance(node, Directory)
        remaining = 0 if is_dir else node.nlink - 1
        pages = node.pages()
        space = self._space
        # no call from here on
        directory.listed = None
        del directory.entries[name]
        node.nlink = remaining
        node._stat = None
        if is_dir:
            directory.nlink -= 1
            directory._stat = None
        elif remaining:
            space.used_inodes -= 1  # the name's own inode, as tmpfs counts them
        frees = not remaining and not node.handles and not node.freed
        if frees:
            node.freed = True
            space.used_pages -= pages
            space.used_inodes -= 1
        # what follows may be cut short without losing anything
        directory.modified(now)
        node.changed(now)
        if is_dir or isinstance(node, Symlink):
            self._names.forget()
        if frees and isinstance(node, RegularFile):
            node.clear()

    def _release(self, node: Inode) -> None:
        """Give back an inode's space once no name and no open handle holds it."""
        if node.nlink or node.handles or node.freed:
            return
        pages = node.pages()
        space = self._space
        # no call from here on: freed, and its space back, together
        node.freed = True
        space.used_pages -= pages
        space.used_inodes -= 1
        if isinstance(node, RegularFile):
            node.clear()

    def _write(self, node: RegularFile, data: bytes, offset: int, whole: bool = False) -> int:
        """pwrite on a regular file, as tmpfs writes: all of ``data``, or when the space runs
        out, what fits before the first page that does not (ENOSPC if nothing does; with
        ``whole``, ENOSPC unless all of it does)."""
        n = len(data)
        if not n:
            return 0
        end = offset + n
        if end > MAX_FILE_SIZE:
            raise os_error(errno.EFBIG)
        buffer = node.data
        if buffer is not None:
            size = len(buffer)
            if end <= size:  # in place: nothing to allocate
                buffer[offset:end] = data
                self._after_write(node)
                return n
            have = (size + 4095) >> 12  # pages allocated: page_count, inlined on a hot path
            if offset <= have << 12:  # growing, no page left out: it stays dense
                space = self._space
                pages = ((end + 4095) >> 12) - have
                limit = space.max_pages
                if limit is not None and space.used_pages + pages > limit:
                    end = (have + limit - space.used_pages) * PAGE_SIZE  # what fits
                    if end <= offset or whole:
                        raise self._short_of_room(whole)
                    data = data[: end - offset]
                    pages = page_count(end) - have
                try:
                    # no call between the stores and the count: they change together
                    if offset > size:
                        buffer[size:] = bytes(offset - size)
                    buffer[offset:end] = data
                    space.used_pages += pages
                except MemoryError:
                    del buffer[size:]
                    raise os_error(errno.ENOSPC) from None
                self._after_write(node)
                return end - offset
        return self._write_sparse(node, data, offset, whole)

    def _write_sparse(self, node: RegularFile, data: bytes, offset: int, whole: bool) -> int:
        """A write that leaves a hole page behind, or into a sparse (or mapped) file."""
        if node.mapped is not None:
            return self._write_mapped(node, data, offset, whole)
        space = self._space
        extents = node.sparse(space)
        end = offset + len(data)
        room = space.room()
        if room is not None:
            end = extents.fitting_end(offset, end, room)
            if end <= offset or (whole and end < offset + len(data)):
                node.settle()
                raise self._short_of_room(whole)
        with memoryview(data) as view:
            try:
                written = extents.write(view[: end - offset], offset)
            except MemoryError:
                raise os_error(errno.ENOSPC) from None
        node.settle()
        self._after_write(node)
        return written

    def _write_mapped(self, node: RegularFile, data: bytes, offset: int, whole: bool) -> int:
        """A write into a mapped file's memfd, stopping where the space runs out."""
        mapped = node.mapped
        assert mapped is not None
        end = offset + len(data)
        room = self._space.room()
        if room is not None:
            end = mapped.fitting_end(offset, end, room)
            if end <= offset or (whole and end < offset + len(data)):
                raise self._short_of_room(whole)
        written = mapped.write(data[: end - offset], offset)
        self._after_write(node)
        return written

    def _promote(self, node: RegularFile) -> MappedContent:
        """Move a regular file's content into a memfd (its first mapping): the memfd is made
        whole first, then the inode switches to it in one step, so an error or an interrupt
        leaves the file as it was."""
        mapped = node.mapped
        if mapped is not None:
            return mapped
        space = self._space
        mapped = MappedContent.build(
            f"vfs-memory:{node.ino}", node.size, node.data, node.extents, space
        )
        pages = node.pages()
        # no call from here on: the content and its count switch together
        node.data = None
        node.extents = None
        node.mapped = mapped
        node._stat = None
        space.used_pages += mapped.counted - pages
        space.mapped[mapped] = None
        return mapped

    def _short_of_room(self, whole: bool) -> OSError:
        """The error of a write that does not fit (an append that would only partly)."""
        if whole:
            APPEND_WHOLE.hit()
        return self._space.full()

    def _resize(self, node: RegularFile, length: int, path: str | None) -> None:
        """truncate/ftruncate/O_TRUNC: cut, or extend with a hole (allocating nothing, as on
        tmpfs, so never ENOSPC); times move even if the size does not."""
        if length > MAX_FILE_SIZE:
            raise os_error(errno.EFBIG, path)
        buffer = node.data
        space = self._space
        mapped = node.mapped
        if mapped is not None:
            mapped.truncate(length)
        elif buffer is not None and length <= page_end(len(buffer)):  # dense it stays
            size = len(buffer)
            if length > size:  # within the last page, allocated already
                buffer[size:] = bytes(length - size)
            elif length < size:
                pages = page_count(size) - page_count(length)
                # no call from here on
                del buffer[length:]
                space.used_pages -= pages
        else:
            node.sparse(space).truncate(length)
            node.settle()
        self._after_write(node)

    def _allocate(self, node: RegularFile, offset: int, length: int) -> None:
        """posix_fallocate: allocate every page of [offset, offset + length) (as zeros where
        it was a hole), growing the size to its end; ENOSPC with nothing changed when the
        pages do not all fit. mtime and ctime move, as on tmpfs."""
        end = offset + length
        if end > MAX_FILE_SIZE:
            raise os_error(errno.EFBIG)
        buffer = node.data
        space = self._space
        mapped = node.mapped
        if mapped is not None:
            room = space.room()
            if room is not None and mapped.new_pages(offset, end) > room:
                raise space.full()
            mapped.allocate(offset, length)
        elif buffer is not None and end <= page_end(len(buffer)):  # its pages are all there
            if end > len(buffer):
                buffer[len(buffer) :] = bytes(end - len(buffer))
        else:
            extents = node.sparse(space)
            needed = extents.new_pages(offset, end)
            room = space.room()
            if room is not None and needed > room:
                node.settle()
                raise space.full()
            if needed:
                FALLOCATED_IS_DATA.hit()
            try:
                extents.allocate(offset, end)
            except MemoryError:
                raise os_error(errno.ENOSPC) from None
            finally:
                node.settle()
        self._after_write(node)

    def _after_write(self, node: RegularFile) -> None:
        """Content changed: times move, and an unprivileged writer clears set-user-ID bits."""
        if not self._names.who.is_root and node.mode & 0o6000:
            node.set_mode(privileges_dropped(node.mode))
        node.modified(time_ns())

    def _chmod(self, node: Inode, mode: int, path: str | None) -> None:
        who = self._names.who
        if not owns(node, who):
            raise os_error(errno.EPERM, path)
        mode &= 0o7777
        if not may_keep_setgid(node.gid, who):
            mode &= ~S_ISGID
        node.set_mode(mode)
        node.changed(time_ns())
        if isinstance(node, Directory):
            self._names.forget()

    def _chown(self, node: Inode, uid: int, gid: int, path: str | None) -> None:
        who = self._names.who
        new_uid = node.uid if uid == -1 else uid
        new_gid = node.gid if gid == -1 else gid
        kills = not isinstance(node, Directory) and privileges_dropped(node.mode) != node.mode
        if not who.is_root:
            is_owner = who.uid == node.uid
            if uid != -1 and not (is_owner and uid == node.uid):
                raise os_error(errno.EPERM, path)
            if gid != -1 and not (is_owner and (gid == node.gid or who.in_group(gid))):
                raise os_error(errno.EPERM, path)
            if kills and not is_owner:
                raise os_error(errno.EPERM, path)
        node.set_owner(new_uid, new_gid)
        if kills:
            node.set_mode(privileges_dropped(node.mode))
        node.changed(time_ns())
        if isinstance(node, Directory):
            self._names.forget()

    def _utime(self, node: Inode, ns: tuple[int, int] | None, path: str | None) -> None:
        who = self._names.who
        now = time_ns()
        if ns is None:
            if not owns(node, who) and not permitted(node, who, W_OK):
                raise os_error(errno.EACCES, path)
            node.set_times(now, now, now)
        else:
            if not owns(node, who):
                raise os_error(errno.EPERM, path)
            atime, mtime = ns
            node.set_times(atime, mtime, now)

    def _entries(self, directory: Directory, touch: bool) -> list[DirEntryInfo]:
        if touch:
            directory.accessed(time_ns())
        return [
            DirEntryInfo(name, node.mode & S_IFMT, node.ino)
            for name, node in directory.entries.items()
        ]

    def _statvfs(self) -> posix.statvfs_result:
        blocks, free, files, free_files = self._space.totals()
        return posix.statvfs_result(
            (4096, 4096, blocks, free, free, files, free_files, free_files, 0, NAME_MAX, self._dev)
        )

    def __repr__(self) -> str:
        return f"<MemoryFileSystem dev={self._dev:#x} identity={self._names.who}>"


__all__ = ["ROOT", "MemoryFileSystem"]
