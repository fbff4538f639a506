"""The host's nodes for the walk: O_PATH descriptors, looked up one component at a time.

Every lookup opens one name relative to its directory's descriptor with O_PATH|O_NOFOLLOW,
so the kernel follows nothing and a component swapped for a link mid-walk is read and
interpreted by the walk, inside the root. ``..`` goes back to the directory the walk came from
when it came from one; from a held directory (an open directory, the cwd) it opens ``..`` and,
for a confined provider, makes sure the parent is still inside the root: a directory moved out
of the root (by a rename on the host) is cut off from it, like a removed one, so no walk from
it ever climbs to the host.
"""

from __future__ import annotations

import errno
import posix
import stat as _stat

import compat
from vfs.errors import os_error

O_PATH = posix.O_PATH
_LOOKUP = O_PATH | posix.O_NOFOLLOW | posix.O_CLOEXEC
_UP = O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC
S_IFMT = 0o170000
S_IFDIR = _stat.S_IFDIR
_MAX_DEPTH = 4096
"""Directories climbed looking for the root before giving up (deeper than PATH_MAX allows)."""

MOVED_OUT_OF_ROOT = compat.declare(
    id="vfs.host.moved_out_of_root",
    function="os.open",
    aspect="an open directory moved out of a confined HostFileSystem's root",
    level=compat.Level.FINE,
    explanation="a directory held open (or the cwd) that is moved out of the root on the "
    "host keeps its names, but '..' from it and getcwd in it fail with ENOENT, as for a "
    "removed directory (Linux would let a process climb out of a chroot that way)",
)


class HostNode:
    """A host descriptor the walk holds: the file it refers to, its type, and the directory
    it was looked up in (for ``..``), when the walk knows it."""

    __slots__ = ("__weakref__", "fd", "held", "mode", "owned", "up")

    def __init__(self, fd: int, mode: int, owned: bool, up: HostNode | None = None) -> None:
        self.fd = fd
        self.mode = mode
        self.owned = owned
        """Whether the descriptor is this node's to close (not a handle's or the root's)."""
        self.up = up
        self.held = False
        """Whether it is a reference handed out (a cwd): closed by the provider's release
        only, never by a walk that started there and came back to it through '..'."""

    def close(self) -> None:
        """Close the descriptor if it is this node's (once)."""
        fd = self.fd
        if self.owned and fd >= 0:
            self.fd = -1
            posix.close(fd)

    def __del__(self) -> None:
        # A reference dropped without release (a backend that was never closed) still gives
        # its descriptor back.
        if self.owned and self.fd >= 0:
            self.close()

    def __repr__(self) -> str:
        return f"<HostNode fd={self.fd} mode={self.mode:o}>"


def directory_node(fd: int, owned: bool) -> HostNode:
    """A node for a descriptor known to be a directory."""
    return HostNode(fd, S_IFDIR, owned)


class HostNodes:
    """:class:`~vfs.walk.Nodes` over host descriptors, below ``root`` (a directory node)."""

    __slots__ = ("_root", "_root_id", "confined")
    releases = True

    def __init__(self, root: HostNode, confined: bool) -> None:
        self._root = root
        st = posix.fstat(root.fd)
        self._root_id = (st.st_dev, st.st_ino)
        self.confined = confined

    def root(self) -> HostNode:
        return self._root

    @staticmethod
    def lookup(directory: HostNode, name: str) -> HostNode | None:
        try:
            fd = posix.open(name, _LOOKUP, dir_fd=directory.fd)
        except FileNotFoundError:
            return None
        try:
            mode = posix.fstat(fd).st_mode
        except BaseException:
            posix.close(fd)
            raise
        return HostNode(fd, mode, True, directory)

    @staticmethod
    def kind(node: HostNode) -> int:
        return node.mode & S_IFMT

    @staticmethod
    def readlink(node: HostNode) -> str:
        return posix.readlink("", dir_fd=node.fd)

    def parent(self, directory: HostNode) -> HostNode:
        if directory.up is not None:
            posix.stat(".", dir_fd=directory.fd)  # '..' is looked up: search permission
            return directory.up
        if directory is self._root or self.is_root(directory.fd):
            posix.stat(".", dir_fd=directory.fd)
            return self._root
        fd = posix.open("..", _UP, dir_fd=directory.fd)
        node = HostNode(fd, S_IFDIR, True)
        try:
            if self.confined and not self._inside(fd):
                MOVED_OUT_OF_ROOT.hit()
                raise os_error(errno.ENOENT)
        except BaseException:
            node.close()
            raise
        return node

    def is_root(self, fd: int) -> bool:
        """Whether ``fd`` refers to the root directory."""
        st = posix.fstat(fd)
        return (st.st_dev, st.st_ino) == self._root_id

    def inside(self, fd: int) -> bool:
        """Whether the directory ``fd`` is the root or below it (on a confined provider)."""
        return not self.confined or self._inside(fd)

    def _inside(self, fd: int) -> bool:
        """Climb from the directory ``fd`` until the root (inside) or the host's ``/``."""
        root = self._root_id
        st = posix.fstat(fd)
        here = (st.st_dev, st.st_ino)
        current = fd
        try:
            for _ in range(_MAX_DEPTH):
                if here == root:
                    return True
                up = posix.open("..", _UP, dir_fd=current)
                if current != fd:
                    posix.close(current)
                current = up
                st = posix.fstat(up)
                above = (st.st_dev, st.st_ino)
                if above == here:  # the host's '/' is its own parent
                    return False
                here = above
            return False
        finally:
            if current != fd:
                posix.close(current)

    @staticmethod
    def may_search(directory: HostNode) -> bool:
        return True  # the kernel checks it on every lookup the walk makes

    def encloses(self, node: HostNode, directory: HostNode) -> bool:
        """Whether ``node`` is ``directory`` or one of its ancestors (by device and inode)."""
        target = posix.fstat(node.fd)
        wanted = (target.st_dev, target.st_ino)
        current = directory
        chain: list[HostNode] = []
        try:
            for _ in range(_MAX_DEPTH):
                st = posix.fstat(current.fd)
                if (st.st_dev, st.st_ino) == wanted:
                    return True
                if current is self._root or (st.st_dev, st.st_ino) == self._root_id:
                    return False
                up = HostNode(posix.open("..", _UP, dir_fd=current.fd), S_IFDIR, True)
                chain.append(up)
                if (
                    posix.fstat(up.fd).st_ino == st.st_ino
                    and posix.fstat(up.fd).st_dev == st.st_dev
                ):
                    return False
                current = up
            return False
        finally:
            for link in chain:
                link.close()

    @staticmethod
    def key(node: HostNode) -> tuple[int, int]:
        st = posix.fstat(node.fd)
        return (st.st_dev, st.st_ino)

    @staticmethod
    def start(directory: object) -> HostNode:
        if not isinstance(directory, HostNode):
            raise TypeError(f"not a directory of a HostFileSystem: {directory!r}")
        return directory

    @staticmethod
    def release(node: HostNode) -> None:
        if not node.held:
            node.close()
