"""Opening a path inside a root directory one component at a time (no openat2 needed).

The same semantics as openat2's RESOLVE_IN_ROOT: the root acts as ``/`` for absolute links and
``..`` cannot climb above it. The path is resolved by the generic walk (:mod:`vfs.walk.namei`)
over O_PATH|O_NOFOLLOW descriptors (:mod:`vfs.host.nodes`), so links are read and interpreted
here, never by the kernel, and a component swapped for a symbolic link mid-walk is still
resolved inside the root. A walk may start at a held directory (an open directory, the cwd)
instead of the root; the last component is opened relative to its directory's descriptor,
without following a link (one that appeared meanwhile makes the walk start again).
"""

from __future__ import annotations

import errno
import posix

from vfs.errors import os_error
from vfs.host.nodes import HostNode, HostNodes
from vfs.pathnames import ROOT, SPECIAL_NAMES
from vfs.walk.namei import Walk

O_PATH = posix.O_PATH
_RETRIES = 8


def open_beneath(
    nodes: HostNodes, start: HostNode | None, path: str, flags: int, mode: int = 0
) -> int:
    """Open ``path`` (absolute: from the root; relative: from ``start``) with ``flags``."""
    for _ in range(_RETRIES):
        with Walk(nodes, start) as walk:
            try:
                return _open(walk, path, flags, mode)
            except _Swapped:
                continue
    raise os_error(errno.EAGAIN)


class _Swapped(Exception):
    """A name changed kind between two steps of the walk; the walk starts again."""


def _open(walk: Walk[HostNode, HostNode], path: str, flags: int, mode: int) -> int:
    creating = bool(flags & posix.O_CREAT)
    exclusive = creating and bool(flags & posix.O_EXCL)
    directory, name, trailing, hops = walk.parent(path)
    if name == ROOT:
        return _open_root(walk.nodes.root(), flags, mode)
    if name in SPECIAL_NAMES:
        node = walk.child(directory, name, path)
        assert node is not None
        return _open_here(node, ".", flags, mode)
    if creating and trailing:
        posix.stat(".", dir_fd=directory.fd)  # search permission is checked first
        raise os_error(errno.EISDIR)
    if (flags & posix.O_NOFOLLOW and not trailing) or exclusive:
        return _open_here(directory, name, flags, mode)
    node = walk.child(directory, name, path)
    while node is not None and walk.is_link(node):
        directory, name, node, via_slash, hops = walk.through(directory, node, path, hops)
        trailing = trailing or via_slash
        if creating and (via_slash or name in SPECIAL_NAMES):
            raise os_error(errno.EISDIR)
        if name == ROOT:
            return _open_root(walk.nodes.root(), flags, mode)
        if name in SPECIAL_NAMES:
            assert node is not None
            return _open_here(node, ".", flags, mode)
    return _open_here(directory, name, flags | (posix.O_DIRECTORY if trailing else 0), mode)


def _open_root(root: HostNode, flags: int, mode: int) -> int:
    """Open the root itself. Linux looks nothing up for a bare '/' (so asks for no search
    permission), which reopening the root's fd through procfs reproduces."""
    flags = (flags | posix.O_CLOEXEC) & ~posix.O_NOFOLLOW
    try:
        return posix.open(f"/proc/self/fd/{root.fd}", flags, mode)
    except FileNotFoundError:  # no procfs: a lookup of '.', which needs search permission
        return posix.open(".", flags, mode, dir_fd=root.fd)


def _open_here(directory: HostNode, name: str, flags: int, mode: int) -> int:
    """The final open, never following a link (one that appeared meanwhile restarts)."""
    final = flags | posix.O_NOFOLLOW | posix.O_CLOEXEC
    try:
        fd = posix.open(name, final, mode, dir_fd=directory.fd)
    except OSError as error:
        if error.errno == errno.ELOOP and not flags & posix.O_NOFOLLOW and name != ".":
            raise _Swapped from None
        raise
    if (
        flags & O_PATH
        and not flags & posix.O_NOFOLLOW
        and posix.fstat(fd).st_mode & 0o170000 == 0o120000
    ):
        posix.close(fd)
        raise _Swapped
    return fd
