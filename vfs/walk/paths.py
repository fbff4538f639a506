"""The walk's nodes for a provider that only takes absolute paths: its canonical paths.

Looking a name up is one ``lstat`` of the canonical path below; the provider itself checks
search permission along that path, so :meth:`PathNodes.may_search` has nothing to add. This
is how a Mount crosses a path-only provider one component at a time.
"""

from __future__ import annotations

import posix
import stat as _stat
from typing import TYPE_CHECKING

from vfs.walk.held import HeldPath, HeldPaths

if TYPE_CHECKING:
    from vfs.provider import FileSystem

S_IFMT = 0o170000
S_IFDIR = _stat.S_IFDIR


def join(directory: str, name: str) -> str:
    """The canonical path of ``name`` in the canonical ``directory``."""
    return "/" + name if directory == "/" else directory + "/" + name


def parent_path(path: str) -> str:
    """The canonical parent of a canonical path (``/`` for ``/``)."""
    return path[: path.rfind("/")] or "/"


class PathNode:
    """A canonical path of the provider, with the file type found there."""

    __slots__ = ("mode", "path")

    def __init__(self, path: str, mode: int = S_IFDIR) -> None:
        self.path = path
        self.mode = mode

    def __repr__(self) -> str:
        return f"<PathNode {self.path!r}>"


class PathNodes:
    """:class:`~vfs.walk.Nodes` over a provider's path methods."""

    __slots__ = ("_root", "fs")
    releases = False

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self._root = PathNode("/")

    def root(self) -> PathNode:
        return self._root

    def lookup(self, directory: PathNode, name: str) -> PathNode | None:
        path = join(directory.path, name)
        try:
            st: posix.stat_result = self.fs.stat(path, False)
        except FileNotFoundError:
            return None
        return PathNode(path, st.st_mode & S_IFMT)

    @staticmethod
    def kind(node: PathNode) -> int:
        return node.mode & S_IFMT

    def readlink(self, node: PathNode) -> str:
        return self.fs.readlink(node.path)

    def parent(self, directory: PathNode) -> PathNode:
        return PathNode(parent_path(directory.path))

    @staticmethod
    def may_search(directory: PathNode) -> bool:
        return True

    @staticmethod
    def encloses(node: PathNode, directory: PathNode) -> bool:
        top, below = node.path, directory.path
        return top in ("/", below) or below.startswith(top + "/")

    @staticmethod
    def key(node: PathNode) -> str:
        return node.path

    @staticmethod
    def start(directory: object) -> PathNode:
        if isinstance(directory, PathNode):
            return directory
        if isinstance(directory, HeldPath):
            return PathNode(HeldPaths.where(directory))
        raise TypeError(f"not a directory reference of a path-only provider: {directory!r}")

    def release(self, node: PathNode) -> None:
        """Paths hold nothing."""
