"""A memory file system frozen as a pattern, stamped out into fresh copies.

A test suite that wants the same starting tree in every test (``/tmp``, a home directory, the
current directory, mount points) pays for every ``mkdir`` of it once per test when it builds
the tree afresh: pyfakefs does that. A :class:`MemoryTemplate` is built once; each
:meth:`~MemoryTemplate.new` copies its inodes straight into a new
:class:`~vfs.memory.MemoryFileSystem`, with no path resolution, permission check or error to
build, and the copy is then as independent of the template as two tmpfs mounts are.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from time import time_ns

from vfs.identity import Identity
from vfs.memory.extents import Extents
from vfs.memory.filesystem import MemoryFileSystem
from vfs.memory.nodes import Directory, Inode, RegularFile, Symlink
from vfs.memory.space import Space


class MemoryTemplate:
    """A tree built once by ``build`` on a private :class:`MemoryFileSystem` (made with
    ``options``), copied whole by :meth:`new`.

    The file system ``build`` fills is the template's own: nothing else may keep it (the
    template reads it later without its lock, since nothing changes it any more). Files keep
    their contents (a mapped file's as plain bytes), modes, owners, links and inode numbers;
    each copy is a new device, and every time in it is the moment it was made, as if
    ``build`` had just run on it.
    """

    __slots__ = ("_identity", "_next_inode", "_protected_hardlinks", "_root", "_space")

    def __init__(
        self,
        build: Callable[[MemoryFileSystem], object],
        *,
        identity: Identity | None = None,
        root_mode: int = 0o755,
        max_bytes: int | None = None,
        max_inodes: int | None = None,
        quota_errno: int = errno.ENOSPC,
        protected_hardlinks: bool = True,
    ) -> None:
        source = MemoryFileSystem(
            identity=identity,
            root_mode=root_mode,
            max_bytes=max_bytes,
            max_inodes=max_inodes,
            quota_errno=quota_errno,
            protected_hardlinks=protected_hardlinks,
        )
        build(source)
        self._root, self._space, self._next_inode = source.frozen_tree()
        self._identity = source.identity
        self._protected_hardlinks = protected_hardlinks

    def new(self) -> MemoryFileSystem:
        """A fresh file system holding a copy of the template's tree."""
        return self._new(None)

    def new_ahead(self) -> tuple[MemoryFileSystem, Callable[[], None]]:
        """A copy made now to be used later, and what gives every inode of it the times of
        the moment it is called (as :meth:`new` called then would have them). One call per
        inode on the copies kept here, no path resolved: for a process that forks children
        each taking its own copy-on-write copy (a pool's zygote), stamped by the child. Call
        it before the copy is used: it overwrites every time."""
        made: list[Inode] = []
        memory = self._new(made)

        def stamp() -> None:
            now = time_ns()
            for inode in made:
                inode.set_times(now, now, now)

        return memory, stamp

    def _new(self, made: list[Inode] | None) -> MemoryFileSystem:
        space = self._space
        copy = Space(None, None, space.error)
        copy.max_pages, copy.max_inodes = space.max_pages, space.max_inodes
        copy.used_pages, copy.used_inodes = space.used_pages, space.used_inodes
        return MemoryFileSystem.adopt(
            lambda dev: _copy_tree(self._root, dev, time_ns(), copy, made),
            identity=self._identity,
            space=copy,
            next_inode=self._next_inode,
            protected_hardlinks=self._protected_hardlinks,
        )


def _copy_tree(
    root: Directory, dev: int, now: int, space: Space, made: list[Inode] | None = None
) -> Directory:
    """A copy of the tree under ``root`` on device ``dev``, every time ``now``; hard links
    stay links (one copy per inode), contents are counted in ``space`` as the template's are;
    each inode copied is added to ``made``, when given. Walked with a list, not recursion: a
    deep tree must not exhaust the stack."""
    copies: dict[int, Inode] = {}
    new_root = _copy_node(root, dev, now, space)
    assert isinstance(new_root, Directory)
    if made is not None:
        made.append(new_root)
    pending = [(root, new_root)]
    while pending:
        original, directory = pending.pop()
        entries = directory.entries
        for name, node in original.entries.items():
            known = copies.get(id(node))
            if known is not None:  # another link to an inode copied already
                entries[name] = known
                continue
            copied = _copy_node(node, dev, now, space)
            if made is not None:
                made.append(copied)
            if node.nlink > 1:
                copies[id(node)] = copied
            entries[name] = copied
            if isinstance(node, Directory):
                assert isinstance(copied, Directory)
                copied.parent, copied.name = directory, name
                pending.append((node, copied))
    return new_root


def _copy_node(node: Inode, dev: int, now: int, space: Space) -> Inode:
    """One inode's copy (a directory's without its entries)."""
    copy: Inode
    if isinstance(node, Directory):
        copy = Directory(dev, node.ino, now, node.mode)
    elif isinstance(node, Symlink):
        copy = Symlink(dev, node.ino, now, node.target)
    else:
        assert isinstance(node, RegularFile)
        copy = RegularFile(dev, node.ino, now, node.mode)
        if node.data is not None:
            copy.data = bytearray(node.data)
        else:  # frozen_tree left no mapped file: this one is sparse
            extents = node.extents
            assert extents is not None
            copied = Extents(extents.size, bytearray(), space)
            copied.starts = list(extents.starts)
            copied.chunks = [bytearray(chunk) for chunk in extents.chunks]
            copied.pages = extents.pages
            copy.extents, copy.data = copied, None
    copy.mode = node.mode
    copy.uid, copy.gid, copy.nlink = node.uid, node.gid, node.nlink
    return copy


__all__ = ["MemoryTemplate"]
