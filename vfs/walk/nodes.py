"""The node-level protocol a walk needs: what Linux's inode operations answer during namei."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol, TypeVar

D = TypeVar("D")
"""A tree's directories."""
N = TypeVar("N")
"""A tree's nodes (its directories included)."""


class Nodes(Protocol[D, N]):
    """The questions :class:`~vfs.walk.Walk` asks of a tree of nodes.

    A node may hold a resource (the host's nodes are descriptors): every node :meth:`lookup`
    and :meth:`parent` return belongs to the walk, which gives it back with :meth:`release`
    (a no-op where nodes hold nothing); :meth:`root` and the start of a walk are borrowed.
    Two optional class attributes say more: ``releases`` (false when :meth:`release` does
    nothing) and ``lasting`` (true when, besides, a directory's node names that directory for
    as long as it is in the tree, so a Mount may remember it between calls).
    """

    def root(self) -> D:
        """The tree's root directory (borrowed)."""
        ...

    def lookup(self, directory: D, name: str) -> N | None:
        """The node an ordinary ``name`` (no ``/``, not ``.`` or ``..``) names in
        ``directory``, or None; a mount point gives the mounted root."""
        ...

    def kind(self, node: N) -> int:
        """The node's file type bits (``stat.S_IFMT``)."""
        ...

    def readlink(self, node: N) -> str:
        """The content of the symbolic link ``node``."""
        ...

    def parent(self, directory: D) -> D:
        """Where ``..`` leads from ``directory`` (the root's is the root; a mount's root
        climbs to the mount point's parent)."""
        ...

    def may_search(self, directory: D) -> bool:
        """Whether names may be looked up in ``directory`` (its search permission)."""
        ...

    def encloses(self, node: N, directory: D) -> bool:
        """Whether ``node`` is ``directory`` or holds it at any depth (rename's EINVAL)."""
        ...

    def key(self, node: N) -> Hashable:
        """What tells ``node`` from every other node of the tree (a Mount finds its mount
        points by it)."""
        ...

    def start(self, directory: object) -> D:
        """The node of a directory reference of the provider (borrowed)."""
        ...

    def release(self, node: D | N) -> None:
        """Give back a node the walk obtained (close a descriptor...)."""
        ...
