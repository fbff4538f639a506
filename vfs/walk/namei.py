"""namei: resolving a path from a starting directory, one component at a time, as Linux does.

The rules, written once for every provider: search permission is checked on each directory
whose entries are looked up (``.`` and ``..`` included); ``..`` is the real parent of the
directory reached (after links, and across mounts where the nodes say so); a relative link
continues from the directory holding it, an absolute one from the root; a trailing slash
follows a final link and demands a directory; more than 40 links in one resolution is ELOOP;
a name longer than NAME_MAX that is not found is ENAMETOOLONG; an intermediate component that
is not a directory is ENOTDIR. Errors name the path as the caller gave it.

A :class:`Walk` is bound to its start (None: the root) and answers the lookups of
:class:`vfs.namechecks.NameTree`, so the checks before a name is created, removed or renamed
run over it unchanged. Nodes it obtains are given back by :meth:`Walk.close` (those it returns
stay valid until then).
"""

from __future__ import annotations

import errno
import stat as _stat
from typing import Generic, TypeVar, cast

from vfs.errors import named_error, os_error
from vfs.limits import MAXSYMLINKS, name_too_long
from vfs.pathnames import ROOT
from vfs.walk.nodes import Nodes

D = TypeVar("D")
N = TypeVar("N")
T = TypeVar("T")
S_IFDIR = _stat.S_IFDIR
S_IFLNK = _stat.S_IFLNK

Located = tuple[D, str, N | None, bool]
"""(directory holding the last component, last component, its node or None, trailing slash)."""


class Walk(Generic[D, N]):
    """Path resolution over ``nodes``, relative paths starting at ``start`` (else the root)."""

    __slots__ = ("_acquired", "_start", "nodes")

    def __init__(self, nodes: Nodes[D, N], start: D | None = None) -> None:
        self.nodes = nodes
        self._start = start
        self._acquired: list[D | N] | None = [] if getattr(nodes, "releases", False) else None

    @property
    def start(self) -> D:
        """Where relative paths start (the root unless given)."""
        start = self._start
        return self.nodes.root() if start is None else start

    def close(self) -> None:
        """Give back every node this walk obtained (the ones it returned included)."""
        acquired = self._acquired
        if acquired:
            release = self.nodes.release
            while acquired:
                release(acquired.pop())

    def __enter__(self) -> Walk[D, N]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _keep(self, node: T) -> T:
        acquired = self._acquired
        # '..' may lead back to a node this walk holds already, or to where it started
        # (which is the caller's to release, not the walk's): give each back once
        if (
            acquired is not None
            and node is not self._start
            and not any(held is node for held in acquired)
        ):
            acquired.append(node)  # type: ignore[arg-type]
        return node

    # -- single steps ----------------------------------------------------------------------

    def child(self, directory: D, name: str, path: str) -> N | None:
        """The node ``name`` names in ``directory`` (``.``, ``..`` and ROOT included), or None."""
        if name == ".":
            return cast(N, directory)
        try:
            if name == "..":
                return cast(N, self._keep(self.nodes.parent(directory)))
            if name == ROOT:
                return cast(N, self.nodes.root())
            node = self.nodes.lookup(directory, name)
        except OSError as error:
            raise named_error(error, path) from None
        if node is None:
            if name_too_long(name):
                raise os_error(errno.ENAMETOOLONG, path)
            return None
        return self._keep(node)

    def is_dir(self, node: N) -> bool:
        """Whether ``node`` is a directory."""
        return self.nodes.kind(node) == S_IFDIR

    def is_link(self, node: N) -> bool:
        """Whether ``node`` is a symbolic link."""
        return self.nodes.kind(node) == S_IFLNK

    def encloses(self, node: N, directory: D) -> bool:
        """Whether ``node`` is ``directory`` or holds it at any depth."""
        return self.is_dir(node) and self.nodes.encloses(node, directory)

    def searchable(self, directory: D, path: str) -> D:
        """``directory``, or EACCES when names may not be looked up in it."""
        if not self.nodes.may_search(directory):
            raise os_error(errno.EACCES, path)
        return directory

    # -- whole paths -----------------------------------------------------------------------

    def parent(self, path: str) -> tuple[D, str, bool, int]:
        """Resolve all but the last component of ``path`` (absolute, or relative to the start).

        Returns (directory, last component, trailing slash, links followed so far); search
        permission on the directory is checked, as the kernel does before any last-component
        lookup.
        """
        stripped = path.rstrip("/")
        if not stripped:
            if not path:
                raise os_error(errno.ENOENT, path)
            return self.nodes.root(), ROOT, False, 0
        cut = stripped.rfind("/")
        hops = 0
        if cut < 0:
            directory = self.start
        elif cut == 0:
            directory = self.nodes.root()
        else:
            directory, hops = self.head(stripped[:cut], path)
        self.searchable(directory, path)
        return directory, stripped[cut + 1 :], len(stripped) != len(path), hops

    def head(self, head: str, path: str) -> tuple[D, int]:
        """The directory the part ``head`` of ``path`` before its last component leads to,
        and the links followed (a walk that remembers resolutions overrides this)."""
        start = self.nodes.root() if head[0] == "/" else self.start
        return self.walk(start, head, path, 0)

    def locate(self, path: str, follow: bool) -> Located[D, N]:
        """Resolve ``path``; follow a final link when ``follow`` or a trailing slash asks."""
        directory, name, trailing, hops = self.parent(path)
        node = self.child(directory, name, path)
        if node is not None and (follow or trailing) and self.is_link(node):
            while True:
                directory, name, node, via_slash, hops = self.through(directory, node, path, hops)
                trailing = trailing or via_slash
                if node is None or not self.is_link(node):
                    break
        return directory, name, node, trailing

    def directory(self, path: str) -> D:
        """The directory ``path`` leads to (links followed); ENOENT, ENOTDIR otherwise."""
        _, _, node, _ = self.locate(path, True)
        if node is None:
            raise os_error(errno.ENOENT, path)
        if not self.is_dir(node):
            raise os_error(errno.ENOTDIR, path)
        return cast(D, node)

    def through(
        self, directory: D, link: N, path: str, hops: int
    ) -> tuple[D, str, N | None, bool, int]:
        """Follow one link found in ``directory``: where its content leads, one hop later.

        Returns (directory, last component, node or None, content ends in '/', hops).
        """
        hops += 1
        if hops > MAXSYMLINKS:
            raise os_error(errno.ELOOP, path)
        try:
            target = self.nodes.readlink(link)
        except OSError as error:
            raise named_error(error, path) from None
        if not target:
            raise os_error(errno.ENOENT, path)
        stripped = target.rstrip("/")
        if not stripped:
            root = self.nodes.root()
            return root, ROOT, cast(N, root), False, hops
        start = self.nodes.root() if target[0] == "/" else directory
        cut = stripped.rfind("/")
        if cut < 0:
            directory, name = start, stripped
        else:
            directory, hops = self.walk(start, stripped[:cut], path, hops)
            name = stripped[cut + 1 :]
            self.searchable(directory, path)
        node = self.child(directory, name, path)
        return directory, name, node, len(stripped) != len(target), hops

    def walk(
        self, directory: D, rel: str, path: str, hops: int, trail: list[D] | None = None
    ) -> tuple[D, int]:
        """Walk the components of ``rel`` from ``directory``; each must lead to a directory.
        ``trail``, if given, gets every directory searched on the way (links' included)."""
        try:
            return self._walk(directory, rel, path, hops, trail)
        except OSError as error:
            if error.filename == path and error.filename2 is None:
                raise
            raise named_error(error, path) from None

    def _walk(
        self, directory: D, rel: str, path: str, hops: int, trail: list[D] | None
    ) -> tuple[D, int]:
        nodes = self.nodes
        for name in rel.split("/"):
            if not name:
                continue
            if trail is not None:
                trail.append(directory)
            if not nodes.may_search(directory):
                raise os_error(errno.EACCES, path)
            if name == ".":
                continue
            if name == "..":
                directory = self._keep(nodes.parent(directory))
                continue
            node = nodes.lookup(directory, name)
            if node is None:
                raise os_error(errno.ENAMETOOLONG if name_too_long(name) else errno.ENOENT, path)
            self._keep(node)
            kind = nodes.kind(node)
            if kind == S_IFDIR:
                directory = cast(D, node)
            elif kind == S_IFLNK:
                hops += 1
                if hops > MAXSYMLINKS:
                    raise os_error(errno.ELOOP, path)
                target = nodes.readlink(node)
                if not target:
                    raise os_error(errno.ENOENT, path)
                start = nodes.root() if target[0] == "/" else directory
                directory, hops = self._walk(start, target, path, hops, trail)
            else:
                raise os_error(errno.ENOTDIR, path)
        return directory, hops
