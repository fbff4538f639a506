"""What an overlay changed relative to its lower layer, and applying that to another provider.

:meth:`OverlayFileSystem.changes` walks the upper layer and the markers: an upper entry with no
lower counterpart was *created*; one whose lower counterpart differs (type, content, link
target, mode, owner or mtime) was *modified*; a lower entry hidden by a whiteout or by an
opaque directory was *deleted* (a deleted directory is one record, standing for its tree). A
regular file also counts as modified when its link count differs from the lower file's (it
gained a hard link, or its copy-up parted it from the lower file's other names), and so do the
unchanged names of a file one of whose other names changed: applying must make them one file.
Records come sorted by path, parents before children. :meth:`ChangeSet.apply` makes a target
provider (e.g. a HostFileSystem on the directory the lower layer reads) show the same: first
the deletions, children before parents; then new and changed entries, parents first, with the
content the upper layer holds when ``apply`` runs, the names of one upper file as hard links of
the first one written; last the mode, owner and times of the changed directories and of every
directory holding a change, children first, so that adding entries does not leave their times
moved.
"""

from __future__ import annotations

import enum
import errno
import posix
import stat as _stat
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, overload

import attrs

from vfs.content import copy_content
from vfs.errors import os_error
from vfs.overlay.tree import join, parent_path
from vfs.provider import FileSystem

if TYPE_CHECKING:
    from vfs.overlay.filesystem import OverlayFileSystem


class Action(enum.Enum):
    """What happened to a path."""

    CREATED = "created"
    MODIFIED = "modified"
    DELETED = "deleted"


_KINDS = {_stat.S_IFREG: "file", _stat.S_IFDIR: "directory", _stat.S_IFLNK: "symlink"}


def kind_name(mode: int) -> str:
    """``file``, ``directory``, ``symlink`` or ``special`` for a status's mode."""
    return _KINDS.get(_stat.S_IFMT(mode), "special")


def _order(path: str) -> list[str]:
    """Sort key: by components, so a directory comes right before its contents."""
    return path.split("/")


@attrs.frozen(slots=True)
class Change:
    """One changed path: what happened, and the kind of entry now there (or that was removed)."""

    path: str
    action: Action
    kind: str

    def __str__(self) -> str:
        return f"{self.action.value} {self.kind} {self.path}"


class ChangeSet(Sequence[Change]):
    """The changes of one overlay, in path order; :meth:`apply` replays them on a provider."""

    def __init__(self, upper: FileSystem, changes: Sequence[Change]) -> None:
        self._upper = upper
        self._changes = tuple(sorted(changes, key=lambda change: _order(change.path)))

    @classmethod
    def of(cls, overlay: OverlayFileSystem) -> ChangeSet:
        """The changes ``overlay`` holds now (the caller holds the overlay's lock)."""
        differ = _Differ(
            overlay.upper, overlay.lower, overlay.whiteouts, overlay.opaque_directories,
            overlay.copied_mtimes, unpublished=overlay.unpublished,
        )  # fmt: skip
        if differ.differs("/", overlay.upper.stat("/", False), overlay.lower.stat("/", False)):
            differ.found.append(Change("/", Action.MODIFIED, "directory"))
        differ.directory("/", lower_is_dir=True, hidden=False)
        differ.link_partners()
        return cls(overlay.upper, differ.found)

    @overload
    def __getitem__(self, index: int) -> Change: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Change]: ...

    def __getitem__(self, index: int | slice) -> Change | Sequence[Change]:
        return self._changes[index]

    def __len__(self) -> int:
        return len(self._changes)

    def __iter__(self) -> Iterator[Change]:
        return iter(self._changes)

    def __repr__(self) -> str:
        return f"<ChangeSet of {len(self._changes)} changes>"

    def apply(self, target: FileSystem) -> None:
        """Make ``target`` show what the overlay shows at every changed path."""
        _Applier(self._upper, target).run(self._changes)


class _Differ:
    """Compares the upper layer with the lower one, directory by directory."""

    def __init__(
        self,
        upper: FileSystem,
        lower: FileSystem,
        whiteouts: frozenset[str],
        opaque: frozenset[str],
        copied_mtimes: dict[str, int],
        *,
        unpublished: frozenset[str] = frozenset(),
    ) -> None:
        self.upper = upper
        self.unpublished = unpublished
        self.lower = lower
        self.whiteouts = whiteouts
        self.opaque = opaque
        self.copied_mtimes = copied_mtimes
        self.found: list[Change] = []
        self.links: dict[int, list[str]] = {}
        """Upper inode -> its names, for regular files with more than one."""

    def directory(self, path: str, lower_is_dir: bool, hidden: bool) -> None:
        """Record the changes inside the upper directory ``path``.

        ``lower_is_dir``: the lower layer has a directory there too; ``hidden``: none of its
        lower contents show (an opaque directory, or inside one).
        """
        upper_names = sorted(
            name for name in self.upper.listdir(path) if join(path, name) not in self.unpublished
        )
        lower_names = set(self.lower.listdir(path)) if lower_is_dir else set()
        for name in sorted(lower_names.difference(upper_names)):
            child = join(path, name)
            if hidden or child in self.whiteouts:
                mode = self.lower.stat(child, False).st_mode
                self.found.append(Change(child, Action.DELETED, kind_name(mode)))
        for name in upper_names:
            child = join(path, name)
            up = self.upper.stat(child, False)
            low = self.lower.stat(child, False) if name in lower_names else None
            if up.st_nlink > 1 and _stat.S_ISREG(up.st_mode):
                self.links.setdefault(up.st_ino, []).append(child)
            if low is None:
                self.found.append(Change(child, Action.CREATED, kind_name(up.st_mode)))
            elif self.differs(child, up, low):
                self.found.append(Change(child, Action.MODIFIED, kind_name(up.st_mode)))
            if _stat.S_ISDIR(up.st_mode):
                low_dir = low is not None and _stat.S_ISDIR(low.st_mode)
                self.directory(child, low_dir, hidden or child in self.opaque)

    def link_partners(self) -> None:
        """Record as modified the names of a file that has a created or modified name and
        some unchanged ones: applied, they are all replaced by one file and links to it."""
        changed = {change.path for change in self.found}
        for names in self.links.values():
            if changed.intersection(names):
                self.found.extend(
                    Change(name, Action.MODIFIED, "file") for name in names if name not in changed
                )

    def differs(self, path: str, up: posix.stat_result, low: posix.stat_result) -> bool:
        if (_stat.S_IFMT(up.st_mode), up.st_uid, up.st_gid) != (
            _stat.S_IFMT(low.st_mode),
            low.st_uid,
            low.st_gid,
        ):
            return True
        kind = _stat.S_IFMT(up.st_mode)
        if kind == _stat.S_IFLNK:
            return self.upper.readlink(path) != self.lower.readlink(path)
        if kind == _stat.S_IFDIR:  # against the lower directory as it was copied up
            low_mtime = self.copied_mtimes.get(path, low.st_mtime_ns)
            return up.st_mode != low.st_mode or up.st_mtime_ns != low_mtime
        if up.st_mode != low.st_mode or up.st_mtime_ns != low.st_mtime_ns:
            return True
        if kind != _stat.S_IFREG:
            return False
        if up.st_nlink != low.st_nlink:  # it gained links, or a copy-up parted it from some
            return True
        return up.st_size != low.st_size or _content(self.upper, path) != _content(self.lower, path)


def _content(fs: FileSystem, path: str) -> bytes:
    with fs.open(path, posix.O_RDONLY | posix.O_NOATIME) as handle:
        return handle.pread(handle.size(), 0)


class _Applier:
    """Replays changes read from ``upper`` onto ``target``."""

    def __init__(self, upper: FileSystem, target: FileSystem) -> None:
        self.upper = upper
        self.target = target
        self.linked: dict[int, str] = {}
        """Upper inode number -> the first path it was written to (for its other hard links)."""

    def run(self, changes: Sequence[Change]) -> None:
        removals = [c for c in changes if c.action is Action.DELETED or self._replaces(c)]
        for change in sorted(removals, key=lambda c: _order(c.path), reverse=True):
            self._remove_tree(change.path)
        written = [c for c in changes if c.action is not Action.DELETED]
        for change in written:
            self._write(change)
        directories = {c.path for c in written if c.kind == "directory"}
        directories.update(parent_path(c.path) for c in changes if c.path != "/")
        for path in sorted(directories, key=_order, reverse=True):
            self._metadata(path, self.upper.stat(path, False))

    def _replaces(self, change: Change) -> bool:
        """Whether the target's entry at a modified path must go before the new one comes."""
        if change.action is not Action.MODIFIED:
            return False
        try:
            st = self.target.stat(change.path, False)
        except FileNotFoundError:
            return False
        return change.kind != "directory" or not _stat.S_ISDIR(st.st_mode)

    def _remove_tree(self, path: str) -> None:
        target = self.target
        try:
            st = target.stat(path, False)
        except FileNotFoundError:  # already gone with a directory removed before it
            return
        if not _stat.S_ISDIR(st.st_mode):
            target.unlink(path)
            return
        for name in target.listdir(path):
            self._remove_tree(join(path, name))
        target.rmdir(path)

    def _write(self, change: Change) -> None:
        path = change.path
        st = self.upper.stat(path, False)
        kind = _stat.S_IFMT(st.st_mode)
        target = self.target
        if kind == _stat.S_IFDIR:
            try:
                target.mkdir(path, 0o700)
            except FileExistsError:
                pass  # a modified directory: only its metadata changes, at the end
            return
        if kind == _stat.S_IFLNK:
            target.symlink(self.upper.readlink(path), path)
        elif kind == _stat.S_IFREG:
            first = self.linked.get(st.st_ino) if st.st_nlink > 1 else None
            if first is not None:
                target.link(first, path, False)
                return
            self._copy_file(path)
            self.linked[st.st_ino] = path
        else:
            raise os_error(errno.EOPNOTSUPP, path)
        self._metadata(path, st)

    def _copy_file(self, path: str) -> None:
        with self.upper.open(path, posix.O_RDONLY | posix.O_NOATIME) as source:
            flags = posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL
            with self.target.open(path, flags, 0o600) as copy:
                copy_content(source, copy)

    def _metadata(self, path: str, st: posix.stat_result) -> None:
        """Give ``path`` in the target the owner, mode and times of the upper entry."""
        target = self.target
        now = target.stat(path, False)
        if (now.st_uid, now.st_gid) != (st.st_uid, st.st_gid):
            target.chown(path, st.st_uid, st.st_gid, False)
        if not _stat.S_ISLNK(st.st_mode):
            target.chmod(path, _stat.S_IMODE(st.st_mode), False)
        target.utime(path, (st.st_atime_ns, st.st_mtime_ns), False)


__all__ = ["Action", "Change", "ChangeSet", "kind_name"]
