"""The checks Linux makes, in its order, before a call creates, removes or renames a name.

Written once over :class:`NameTree`, the few lookups a tree of names answers, so that every
provider that resolves paths itself (the memory provider's inodes, the overlay's merged
entries) raises the same errors in the same order as the kernel: ``filename_create`` for
mkdir, symlink and link, the last-component lookup of open(2) with ``O_CREAT``, unlink and
rmdir's lookup, and the part of ``do_renameat2`` and ``vfs_rename`` that needs no permission
model. Callers hold their provider's lock.
"""

from __future__ import annotations

import errno
import posix
from typing import Generic, Protocol, TypeVar

import attrs

from vfs.errors import os_error
from vfs.pathnames import SPECIAL_NAMES, special_errno

D = TypeVar("D")
"""A tree's directories."""
N = TypeVar("N")
"""A tree's nodes (directories included)."""


class NameTree(Protocol[D, N]):
    """What the checks need of a tree of names; every path is the caller's, for errors."""

    def parent(self, path: str) -> tuple[D, str, bool, int]:
        """(directory holding the last component, the component, trailing slash, links followed)."""
        ...

    def child(self, directory: D, name: str, path: str) -> N | None:
        """The node an ordinary ``name`` names in ``directory``, or None."""
        ...

    def through(
        self, directory: D, link: N, path: str, hops: int
    ) -> tuple[D, str, N | None, bool, int]:
        """Follow one link found in ``directory``: (directory, name, node, ends in '/', hops)."""
        ...

    def is_dir(self, node: N) -> bool:
        """Whether ``node`` is a directory."""
        ...

    def is_link(self, node: N) -> bool:
        """Whether ``node`` is a symbolic link."""
        ...

    def encloses(self, node: N, directory: D) -> bool:
        """Whether ``node`` is the directory ``directory`` or holds it at any depth."""
        ...


@attrs.define(slots=True)
class Lookup(Generic[D, N]):
    """A last component looked up for a call that creates or removes it."""

    directory: D
    name: str
    node: N | None
    """What ``name`` names in ``directory``, or None."""


@attrs.define(slots=True)
class Renaming(Generic[D, N]):
    """Where rename(2) takes a node from and to, once the checks before permissions passed."""

    old_dir: D
    old_name: str
    new_dir: D
    new_name: str
    node: N
    victim: N | None
    """What ``new_name`` names now (replaced by the rename), or None."""
    is_dir: bool


def existing(tree: NameTree[D, N], node: N | None, trailing: bool, path: str) -> N:
    """The node a lookup found, or ENOENT; ENOTDIR for a trailing slash on a non-directory."""
    if node is None:
        raise os_error(errno.ENOENT, path)
    if trailing and not tree.is_dir(node):
        raise os_error(errno.ENOTDIR, path)
    return node


def free_name(
    tree: NameTree[D, N], path: str, operation: str, allow_trailing: bool
) -> tuple[D, str]:
    """The directory and unused name where ``path`` would be created (filename_create)."""
    directory, name, trailing, _ = tree.parent(path)
    code = special_errno(operation, name)
    if code:
        raise os_error(code, path)
    if tree.child(directory, name, path) is not None:
        raise os_error(errno.EEXIST, path)
    if trailing and not allow_trailing:
        raise os_error(errno.ENOENT, path)
    return directory, name


def open_lookup(tree: NameTree[D, N], path: str, flags: int) -> Lookup[D, N]:
    """Where open(2) with O_CREAT opens or creates, following links as open(2) does.

    The node is None where a file is to be created.
    """
    directory, name, trailing, hops = tree.parent(path)
    exclusive = flags & posix.O_EXCL
    if name in SPECIAL_NAMES:
        raise os_error(errno.EEXIST if exclusive else errno.EISDIR, path)
    if trailing:
        raise os_error(errno.EISDIR, path)
    node = tree.child(directory, name, path)
    follow = not exclusive and not flags & posix.O_NOFOLLOW
    while follow and node is not None and tree.is_link(node):
        directory, name, node, via_slash, hops = tree.through(directory, node, path, hops)
        if via_slash or name in SPECIAL_NAMES:
            raise os_error(errno.EISDIR, path)
    if node is not None and exclusive:
        raise os_error(errno.EEXIST, path)
    return Lookup(directory, name, node)


def rmdir_lookup(tree: NameTree[D, N], path: str) -> Lookup[D, N]:
    """rmdir's lookup (a trailing slash is allowed): special names fail first."""
    directory, name, _, _ = tree.parent(path)
    code = special_errno("rmdir", name)
    if code:
        raise os_error(code, path)
    return Lookup(directory, name, tree.child(directory, name, path))


def unlink_lookup(tree: NameTree[D, N], path: str) -> Lookup[D, N]:
    """unlink's lookup: special names fail, then a trailing slash (EISDIR on a directory)."""
    directory, name, trailing, _ = tree.parent(path)
    code = special_errno("unlink", name)
    if code:
        raise os_error(code, path)
    node = tree.child(directory, name, path)
    if trailing:
        if node is None:
            raise os_error(errno.ENOENT, path)
        raise os_error(errno.EISDIR if tree.is_dir(node) else errno.ENOTDIR, path)
    return Lookup(directory, name, node)


def rename_lookup(
    tree: NameTree[D, N], src: str, dst: str, dst_tree: NameTree[D, N] | None = None
) -> Renaming[D, N]:
    """rename(2)'s lookups and its checks that come before any permission check.

    ``dst`` is resolved in ``dst_tree`` when given (renameat's second directory). EBUSY for a
    special last component, ENOENT for a missing source, ENOTDIR for a trailing slash on a
    non-directory, EINVAL for moving a directory into itself, ENOTEMPTY for replacing a
    directory that holds the source.
    """
    old_dir, old_name, old_slash, _ = tree.parent(src)
    new_dir, new_name, new_slash, _ = (tree if dst_tree is None else dst_tree).parent(dst)
    if old_name in SPECIAL_NAMES:
        raise os_error(errno.EBUSY, src)
    if new_name in SPECIAL_NAMES:
        raise os_error(errno.EBUSY, dst)
    node = tree.child(old_dir, old_name, src)
    if node is None:
        raise os_error(errno.ENOENT, src)
    victim = (tree if dst_tree is None else dst_tree).child(new_dir, new_name, dst)
    is_dir = tree.is_dir(node)
    if not is_dir and (old_slash or new_slash):
        raise os_error(errno.ENOTDIR, src)
    if is_dir and tree.encloses(node, new_dir):
        raise os_error(errno.EINVAL, src)
    if victim is not None and tree.encloses(victim, old_dir):
        raise os_error(errno.ENOTEMPTY, src)
    return Renaming(old_dir, old_name, new_dir, new_name, node, victim, is_dir)


__all__ = [
    "Lookup",
    "NameTree",
    "Renaming",
    "existing",
    "free_name",
    "open_lookup",
    "rename_lookup",
    "rmdir_lookup",
    "unlink_lookup",
]
