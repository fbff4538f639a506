"""Path resolution (namei) over the inode tree, with a cache of resolved directories.

Resolution follows Linux: search permission is checked on every directory whose entries are
looked up, ``..`` is the real parent (after following links), a trailing slash forces following
a final link and demands a directory, and more than 40 links in one resolution is ELOOP.

Two caches remember successful resolutions: ``heads`` maps a path's directory part (as written)
to the directory it resolved to, and ``paths`` maps a whole path to (directory, last component),
so that a repeated call costs one dictionary lookup. Creating names cannot change an earlier
successful resolution, so both are only dropped when a directory or symbolic link leaves the
tree, when a directory's permissions or owner change, and when the identity changes. The last
component itself is always looked up afresh.
"""

from __future__ import annotations

import errno

from vfs.errors import os_error
from vfs.identity import Identity
from vfs.limits import MAXSYMLINKS, name_too_long
from vfs.memory.nodes import S_IFDIR, S_IFLNK, S_IFMT, Directory, Inode, Symlink
from vfs.memory.permissions import X_OK, permitted
from vfs.pathnames import ROOT, SPECIAL_NAMES

CACHE_LIMIT = 4096
"""Cached directories kept before the cache starts over."""

Located = tuple[Directory, str, Inode | None, bool]
"""(directory holding the last component, last component, its inode or None, trailing slash)."""


class Resolver:
    """Turns absolute paths into inodes for one identity."""

    __slots__ = ("check", "heads", "paths", "root", "who")

    def __init__(self, root: Directory, who: Identity) -> None:
        self.root = root
        self.who = who
        self.check = not who.is_root
        """Whether permissions are checked at all (not for root)."""
        self.heads: dict[str, tuple[Directory, int]] = {}
        self.paths: dict[str, tuple[Directory, str, int]] = {}

    def set_identity(self, who: Identity) -> None:
        """Resolve as ``who`` from now on."""
        self.who = who
        self.check = not who.is_root
        self.forget()

    def forget(self) -> None:
        """Drop cached resolutions (a directory or link left the tree, or permissions changed)."""
        self.heads.clear()
        self.paths.clear()

    def parent(self, path: str) -> tuple[Directory, str, bool, int]:
        """Resolve all but the last component of ``path``.

        Returns (directory, last component, trailing slash, links followed so far); checks
        search permission on the directory, as the kernel does before any last-component lookup.
        """
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
            cached = self._walk(self.root, head, path, 0)
            if len(self.heads) >= CACHE_LIMIT:
                self.heads.clear()
            self.heads[head] = cached
        directory, hops = cached
        if self.check and not permitted(directory, self.who, X_OK):
            raise os_error(errno.EACCES, path)
        name = stripped[cut + 1 :]
        trailing = len(stripped) != len(path)
        if not trailing and name not in SPECIAL_NAMES:
            if len(self.paths) >= CACHE_LIMIT:
                self.paths.clear()
            self.paths[path] = (directory, name, hops)
        return directory, name, trailing, hops

    def child(self, directory: Directory, name: str, path: str) -> Inode | None:
        """The inode ``name`` names in ``directory`` (``.``, ``..`` and ROOT included), or None."""
        node = directory.entries.get(name)
        if node is None:
            if name == ".":
                return directory
            if name == "..":
                return directory.parent
            if name == ROOT:
                return self.root
            if name_too_long(name):
                raise os_error(errno.ENAMETOOLONG, path)
        return node

    @staticmethod
    def is_dir(node: Inode) -> bool:
        """Whether ``node`` is a directory."""
        return isinstance(node, Directory)

    @staticmethod
    def is_link(node: Inode) -> bool:
        """Whether ``node`` is a symbolic link."""
        return isinstance(node, Symlink)

    @staticmethod
    def encloses(node: Inode, directory: Directory) -> bool:
        """Whether ``node`` is ``directory`` or holds it at any depth."""
        return isinstance(node, Directory) and node.is_ancestor_of(directory)

    def locate(self, path: str, follow: bool) -> Located:
        """Resolve ``path``; follow a final link when ``follow`` or a trailing slash asks."""
        directory, name, trailing, hops = self.parent(path)
        node = self.child(directory, name, path)
        if node is not None and (node.mode & S_IFMT) == S_IFLNK and (follow or trailing):
            while True:
                directory, name, node, via_slash, hops = self.through(directory, node, path, hops)
                trailing = trailing or via_slash
                if node is None or (node.mode & S_IFMT) != S_IFLNK:
                    break
        return directory, name, node, trailing

    def through(
        self, directory: Directory, link: Inode, path: str, hops: int
    ) -> tuple[Directory, str, Inode | None, bool, int]:
        """Follow one link found in ``directory``: where its content leads, one hop later.

        Returns (directory, last component, inode or None, content ends in '/', hops).
        """
        assert isinstance(link, Symlink), "only a symbolic link is followed"
        hops += 1
        if hops > MAXSYMLINKS:
            raise os_error(errno.ELOOP, path)
        target = link.target
        stripped = target.rstrip("/")
        start = self.root if target[:1] == "/" else directory
        if not stripped:
            return self.root, ROOT, self.root, False, hops
        cut = stripped.rfind("/")
        if cut < 0:
            directory, name = start, stripped
        else:
            directory, hops = self._walk(start, stripped[:cut], path, hops)
            name = stripped[cut + 1 :]
            if self.check and not permitted(directory, self.who, X_OK):
                raise os_error(errno.EACCES, path)
        return (
            directory,
            name,
            self.child(directory, name, path),
            len(stripped) != len(target),
            hops,
        )

    def _walk(self, directory: Directory, rel: str, path: str, hops: int) -> tuple[Directory, int]:
        """Walk the components of ``rel`` from ``directory``; each must lead to a directory."""
        check = self.check
        who = self.who
        for name in rel.split("/"):
            if not name:
                continue
            if check and not permitted(directory, who, X_OK):
                raise os_error(errno.EACCES, path)
            if name == ".":
                continue
            if name == "..":
                directory = directory.parent
                continue
            node = directory.entries.get(name)
            if node is None:
                raise os_error(errno.ENAMETOOLONG if name_too_long(name) else errno.ENOENT, path)
            kind = node.mode & S_IFMT
            if kind == S_IFDIR:
                assert isinstance(node, Directory)
                directory = node
            elif kind == S_IFLNK:
                assert isinstance(node, Symlink)
                hops += 1
                if hops > MAXSYMLINKS:
                    raise os_error(errno.ELOOP, path)
                target = node.target
                start = self.root if target[:1] == "/" else directory
                directory, hops = self._walk(start, target, path, hops)
            else:
                raise os_error(errno.ENOTDIR, path)
        return directory, hops
