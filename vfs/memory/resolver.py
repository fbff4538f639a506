"""Path resolution (namei) over the inode tree: the walk's nodes, and caches of resolutions.

The rules are the generic walk's (:mod:`vfs.walk.namei`); :class:`MemoryNodes` answers its
questions from the inodes (search permission for the file system's identity, ``..`` the
directory's real parent). A :class:`Resolver` is that walk from the root, for absolute paths,
with two caches of successful resolutions: ``heads`` maps a path's directory part (as written)
to the directory it resolved to, and ``paths`` maps a whole path to (directory, last
component), so that a repeated call costs one dictionary lookup. Creating names cannot change
an earlier successful resolution, so both are only dropped when a directory or symbolic link
leaves the tree, when a directory's permissions or owner change, and when the identity
changes. The last component itself is always looked up afresh. Relative paths (from an open
directory or the cwd) are walked by a :class:`~vfs.walk.Walk` that starts there.
"""

from __future__ import annotations

import errno
from contextlib import AbstractContextManager
from typing import Literal

from vfs.errors import os_error
from vfs.identity import Identity
from vfs.limits import NAME_MAX, PATH_MAX
from vfs.memory.nodes import S_IFDIR, S_IFMT, Directory, Inode, Symlink
from vfs.memory.permissions import X_OK, permitted
from vfs.pathnames import ROOT
from vfs.walk.namei import Walk

CACHE_LIMIT = 4096
"""Cached directories kept before the cache starts over."""

Located = tuple[Directory, str, Inode | None, bool]
"""(directory holding the last component, last component, its inode or None, trailing slash)."""


class MemoryNodes:
    """The walk's questions, answered from the inode tree for one identity."""

    __slots__ = ("check", "top", "who")
    releases = False
    lasting = True

    def __init__(self, root: Directory, who: Identity) -> None:
        self.top = root
        self.who = who
        self.check = not who.is_root

    def root(self) -> Directory:
        return self.top

    @staticmethod
    def lookup(directory: Directory, name: str) -> Inode | None:
        return directory.entries.get(name)

    @staticmethod
    def kind(node: Inode) -> int:
        return node.mode & S_IFMT

    @staticmethod
    def readlink(node: Inode) -> str:
        assert isinstance(node, Symlink), "only a symbolic link has content to follow"
        return node.target

    @staticmethod
    def parent(directory: Directory) -> Directory:
        return directory.parent

    def may_search(self, directory: Directory) -> bool:
        return not self.check or permitted(directory, self.who, X_OK)

    @staticmethod
    def encloses(node: Inode, directory: Directory) -> bool:
        return isinstance(node, Directory) and node.is_ancestor_of(directory)

    @staticmethod
    def key(node: Inode) -> Inode:
        return node

    @staticmethod
    def start(directory: object) -> Directory:
        if directory.__class__ is not Directory:
            raise TypeError(f"not a directory of a MemoryFileSystem: {directory!r}")
        assert isinstance(directory, Directory)
        return directory

    def release(self, node: Inode) -> None:
        """Inodes hold nothing."""


class LockedNodes:
    """The same answers under the file system's lock, for walks made from outside (a Mount's):
    each lookup sees a rename either before or after it, never the moment between."""

    __slots__ = ("_lock", "inner")
    releases = False
    lasting = True

    def __init__(self, inner: MemoryNodes, lock: AbstractContextManager[object]) -> None:
        self.inner = inner
        self._lock = lock

    def root(self) -> Directory:
        return self.inner.top

    def lookup(self, directory: Directory, name: str) -> Inode | None:
        with self._lock:
            return directory.entries.get(name)

    kind = staticmethod(MemoryNodes.kind)
    readlink = staticmethod(MemoryNodes.readlink)
    key = staticmethod(MemoryNodes.key)
    start = staticmethod(MemoryNodes.start)

    def parent(self, directory: Directory) -> Directory:
        with self._lock:
            return directory.parent

    def may_search(self, directory: Directory) -> bool:
        with self._lock:
            return self.inner.may_search(directory)

    def encloses(self, node: Inode, directory: Directory) -> bool:
        with self._lock:
            return MemoryNodes.encloses(node, directory)

    def release(self, node: Inode) -> None:
        """Inodes hold nothing."""


class Resolver(Walk[Directory, Inode]):
    """The walk from the root for one identity, with its caches (absolute paths only)."""

    __slots__ = ("check", "forgotten", "heads", "paths", "root", "who")
    # read by offset in posixbackend's C code
    __accelerated_slots__ = ("check", "heads", "paths", "root", "who")

    def __init__(self, root: Directory, who: Identity) -> None:
        super().__init__(MemoryNodes(root, who), root)
        self.root = root
        self.who = who
        self.check = not who.is_root
        """Whether permissions are checked at all (not for root)."""
        self.heads: dict[str, tuple[Directory, int]] = {}
        self.paths: dict[str, tuple[Directory, str, int]] = {}
        self.forgotten = 0
        """How many times the caches were dropped: it moves whenever a path may lead
        elsewhere than before."""

    @property
    def memory_nodes(self) -> MemoryNodes:
        """The walk's nodes (the same identity as this resolver)."""
        nodes = self.nodes
        assert isinstance(nodes, MemoryNodes)
        return nodes

    def set_identity(self, who: Identity) -> None:
        """Resolve as ``who`` from now on."""
        unchecked = not self.check and who.is_root
        self.who = who
        self.check = not who.is_root
        nodes = self.memory_nodes
        nodes.who, nodes.check = who, self.check
        if not unchecked:
            self.forget()

    def forget(self) -> None:
        """Drop cached resolutions (a directory or link left the tree, or permissions changed)."""
        self.forgotten += 1
        self.heads.clear()
        self.paths.clear()

    def _known_directory(self, head: str) -> tuple[Directory, int] | None:
        """The directory ``head`` leads to, when ``head`` was resolved as a whole path before
        and names a directory now: one lookup instead of a walk (``mkdir -p`` makes each
        directory's path the next one's head). None: walk it (it may fail there)."""
        hit = self.paths.get(head)
        if hit is None:
            return None
        directory, name, hops = hit
        if self.check and not permitted(directory, self.who, X_OK):
            return None
        node = directory.entries.get(name)
        if node is None or node.mode & S_IFMT != S_IFDIR:
            return None
        assert isinstance(node, Directory)
        return node, hops

    def _plain(self, head: str) -> tuple[Directory, int] | Literal[False] | None:
        """The directory the absolute ``head`` leads to by plain lookups alone: each component
        an entry of a searchable directory, and itself a directory (no ``.``, ``..``, empty
        component or symbolic link on the way, none of which is ever an entry); the search
        permission on the last directory is the caller's to check. As cheap for a path never
        resolved as for one resolved before, where a tree holds more directories than the
        caches keep.

        False: a plain name (not special, not too long) is missing from a directory the
        identity may search, with only plain directories before it -- the walk's ENOENT (a
        lookup fails before later components are looked at), found in the same loop. None:
        anything else, for the walk to resolve (it also says why it fails)."""
        node: Inode | None = self.root
        check, who = self.check, self.who
        for name in head.split("/")[1:] if head != "/" else ():
            assert isinstance(node, Directory)
            if check and not permitted(node, who, X_OK):
                return None
            child = node.entries.get(name)
            if child is None:
                # "." and ".." are never entries but mean something, an empty component is
                # skipped, and a long name is the walk's ENAMETOOLONG: only a plain name is
                # missing
                if not name or name in (".", "..") or len(name) > NAME_MAX:
                    return None
                return False
            if child.__class__ is not Directory:
                return None
            node = child
        assert isinstance(node, Directory)
        return node, 0

    def quick(self, path: str) -> tuple[Directory, str, int] | Literal[False] | None:
        """(directory, last component, links followed) of the absolute ``path``, ending in a
        plain name, when the caches or plain lookups resolve its directory part and the
        directory may be searched: what :meth:`parent` would give, with no walk and no error.
        False: plain lookups found a directory of the directory part missing (ENOENT, see
        :meth:`_plain`). None: resolve it the general way (trailing slash, ``.``, ``..``,
        links, refusals and errors, paths long enough that their length needs checking)."""
        hit = self.paths.get(path)
        if hit is None:
            # what check_path would refuse is left to it (ASCII: as many bytes as characters)
            if len(path) >= PATH_MAX or path[:1] != "/" or not path.isascii() or "\x00" in path:
                return None
            cut = path.rfind("/")
            name = path[cut + 1 :]
            if name in ("", ".", "..") or len(name) > NAME_MAX:
                return None
            head = path[:cut] or "/"
            cached = self.heads.get(head)
            if cached is None:
                found = self._known_directory(head) or self._plain(head)
                if not found:
                    return found  # missing (False), or for the walk (None)
                cached = found
                if len(self.heads) >= CACHE_LIMIT:
                    self.heads.clear()
                self.heads[head] = cached
            hit = (cached[0], name, cached[1])
            if len(self.paths) >= CACHE_LIMIT:
                self.paths.clear()
            self.paths[path] = hit
        if self.check and not permitted(hit[0], self.who, X_OK):
            return None
        return hit

    def parent(self, path: str) -> tuple[Directory, str, bool, int]:
        """Resolve all but the last component of the absolute ``path`` (see Walk.parent)."""
        hit = self.paths.get(path)
        if hit is not None:
            directory, name, hops = hit
            if self.check and not permitted(directory, self.who, X_OK):
                raise os_error(errno.EACCES, path)
            return directory, name, False, hops
        stripped = path.rstrip("/")
        if not stripped:
            return self.root, ROOT, False, 0
        cut = stripped.rfind("/")
        head = stripped[:cut] or "/"
        cached = self.heads.get(head)
        if cached is None:
            cached = (
                self._known_directory(head)
                or self._plain(head)
                or self.walk(self.root, head, path, 0)
            )
            if len(self.heads) >= CACHE_LIMIT:
                self.heads.clear()
            self.heads[head] = cached
        directory, hops = cached
        if self.check and not permitted(directory, self.who, X_OK):
            raise os_error(errno.EACCES, path)
        name = stripped[cut + 1 :]
        trailing = len(stripped) != len(path)
        if not trailing and name not in (".", "..", ROOT):
            if len(self.paths) >= CACHE_LIMIT:
                self.paths.clear()
            self.paths[path] = (directory, name, hops)
        return directory, name, trailing, hops
