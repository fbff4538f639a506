"""The namespace's nodes for the walk: (mount, node of the mounted provider) pairs.

Looking a name up asks the provider of the directory's mount; a directory that is a mount
point (known by its node's key, found when the Mount was built) gives the mounted provider's
root instead, and ``..`` from a mounted root climbs to the parent of the mount point in the
provider that holds it, as on Linux. So one walk crosses every mount one component at a time,
each provider answering only for its own nodes.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from vfs.mount.table import Mounted

S_IFDIR = 0o040000


class MountNode:
    """A node of the mounted provider ``mounted`` (a walk node, or a held reference)."""

    __slots__ = ("mounted", "node")

    def __init__(self, mounted: Mounted, node: Any) -> None:
        self.mounted = mounted
        self.node = node

    def __repr__(self) -> str:
        return f"<MountNode {self.mounted.path} {self.node!r}>"


class MountNodes:
    """:class:`~vfs.walk.Nodes` over a mount table."""

    __slots__ = ("_root", "releases")

    def __init__(self, root: Mounted, mounts: list[Mounted]) -> None:
        self._root = MountNode(root, root.nodes.root())
        self.releases = any(getattr(m.nodes, "releases", False) for m in mounts)

    def root(self) -> MountNode:
        return self._root

    @staticmethod
    def lookup(directory: MountNode, name: str) -> MountNode | None:
        mounted = directory.mounted
        nodes = mounted.nodes
        found = nodes.lookup(directory.node, name)
        if found is None:
            return None
        points = mounted.points
        if points and nodes.kind(found) == S_IFDIR:
            below = points.get(nodes.key(found))
            if below is not None:
                nodes.release(found)
                return MountNode(below, below.nodes.root())
        return MountNode(mounted, found)

    @staticmethod
    def kind(node: MountNode) -> int:
        return node.mounted.nodes.kind(node.node)

    @staticmethod
    def readlink(node: MountNode) -> str:
        return node.mounted.nodes.readlink(node.node)

    @staticmethod
    def parent(directory: MountNode) -> MountNode:
        mounted = directory.mounted
        holder = mounted.holder
        if holder is not None and is_mounted_root(directory):
            return MountNode(holder, holder.nodes.parent(mounted.point_node))
        return MountNode(mounted, mounted.nodes.parent(directory.node))

    @staticmethod
    def may_search(directory: MountNode) -> bool:
        return directory.mounted.nodes.may_search(directory.node)

    @staticmethod
    def encloses(node: MountNode, directory: MountNode) -> bool:
        mounted = node.mounted
        return mounted is directory.mounted and bool(
            mounted.nodes.encloses(node.node, directory.node)
        )

    @staticmethod
    def key(node: MountNode) -> Hashable:
        return (node.mounted.path, node.mounted.nodes.key(node.node))

    @staticmethod
    def start(directory: object) -> MountNode:
        if not isinstance(directory, MountNode):
            raise TypeError(f"not a directory of a MountFileSystem: {directory!r}")
        mounted = directory.mounted
        return MountNode(mounted, mounted.nodes.start(directory.node))

    @staticmethod
    def release(node: MountNode) -> None:
        node.mounted.nodes.release(node.node)


def is_mounted_root(node: MountNode) -> bool:
    """Whether ``node`` is the root of its mounted provider."""
    mounted = node.mounted
    inner = node.node
    return inner is mounted.nodes.root() or mounted.nodes.key(inner) == mounted.root_key
