"""Copy-up: bringing lower entries into the upper layer before they change.

As overlayfs does: a regular file is copied with its data, a symbolic link with its content, a
directory alone (its contents stay below and merge); missing parent directories come first.
The copy keeps mode, owner and atime/mtime of the lower entry (ctime is the copy's own), and
the upper parent's times are put back, since a copy-up is not a change of the directory.
Copies are published whole: made under their own names while marked partial (the merged view,
``changes()`` and ``apply()`` skip them, as overlayfs keeps a copy in its work directory until
it renames it into place), and unmarked in one call once complete; a failed or interrupted
copy-up is swept away, its upper parent's times put back. Callers hold the overlay's lock.
"""

from __future__ import annotations

import errno
import posix
import stat as _stat
from collections.abc import Callable

import compat
from vfs.content import copy_content
from vfs.errors import errors_name, os_error
from vfs.overlay.entry import Entry
from vfs.overlay.inodes import Inodes
from vfs.overlay.markers import Markers
from vfs.overlay.tree import MergedTree, join, parent_path

"""Bytes copied per read when a file is copied up."""

HARD_LINKS_SPLIT = compat.declare(
    id="vfs.overlay.hardlink-copyup",
    function="os.open",
    aspect="hard links of lower files",
    level=compat.Level.FINE,
    explanation="copying up one name of a lower file with several links copies that name "
    "only; its other names keep showing the lower file (overlayfs without index=on)",
)
OWNER_NOT_KEPT = compat.declare(
    id="vfs.overlay.copyup-owner",
    function="os.open",
    aspect="owner of copied-up files",
    level=compat.Level.FINE,
    explanation="when the upper layer's identity may not give a file away, a copied-up file "
    "belongs to that identity (overlayfs copies up with the mounter's privileges)",
)
SPECIAL_FILES = compat.declare(
    id="vfs.overlay.special-copyup",
    function="os.chmod",
    aspect="FIFOs, sockets and devices of the lower layer",
    level=compat.Level.FINE,
    explanation="providers cannot create special files, so changing a lower FIFO, socket or "
    "device fails with EOPNOTSUPP",
)

Copied = Callable[[posix.stat_result, str], None]
"""Called after a lower inode (given by its lower status) was copied up to a canonical path."""


class CopyUp:
    """Copies entries of the merged tree into its upper layer."""

    __slots__ = ("_copied", "_inodes", "_markers", "_parent_times", "_tree")

    def __init__(self, tree: MergedTree, markers: Markers, inodes: Inodes, copied: Copied) -> None:
        self._tree = tree
        self._markers = markers
        self._inodes = inodes
        self._copied = copied
        self._parent_times: tuple[str, tuple[int, int]] | None = None
        """The upper directory a copy-up in progress adds to, and its times before."""

    def up(self, entry: Entry, path: str) -> Entry:
        """``entry`` with an upper counterpart (a copy of it, made with its parents if needed).

        The copies are made under their own names but marked partial first (the merged view,
        changes() and apply() act as if they were not there), and published together with
        one call that drops the marks, once data, owner, mode and times are all there. A
        copy-up that fails (ENOSPC, EIO) or is interrupted removes what it made and puts the
        upper parent's times back (:meth:`sweep`); an interruption of that cleanup leaves the
        marks, so the remains stay hidden until the next change through the overlay sweeps
        them. The lower entry shows, unchanged, until the copy is published.
        """
        if self._markers.partial or self._parent_times is not None:
            self.sweep()  # before any change through the overlay (each starts with a copy-up)
        if entry.upper is not None:
            return entry
        tree = self._tree
        chain = [entry]
        parent = tree.parent_of(entry)
        while parent.upper is None:
            chain.append(parent)
            parent = tree.parent_of(parent)
        upper = tree.upper
        before = upper.stat(parent.path, False)
        self._parent_times = (parent.path, (before.st_atime_ns, before.st_mtime_ns))
        made = [missing.path for missing in reversed(chain)]
        partial = self._markers.partial
        published = False
        try:
            partial.update(made)  # hidden before they exist
            for missing in reversed(chain):
                self._copy(missing, path)
            for missing in chain:  # after the children, whose creation moved them
                self._set_times(missing, path)
            upper.utime(parent.path, (before.st_atime_ns, before.st_mtime_ns), False)
            for missing in chain:
                assert missing.lower is not None
                self._copied(missing.lower, missing.path)
            tree.forget()
            self._parent_times = None
            partial.difference_update(made)  # published: one call, after which nothing fails
            published = True
        finally:
            if not published:
                self.sweep()
            tree.forget()
        found = tree.at(entry.path)
        assert found is not None and found.upper is not None
        return found

    def sweep(self) -> None:
        """Remove what unpublished copy-ups left in the upper layer (children first) and put
        their upper parent's times back."""
        partial = self._markers.partial
        if not partial and self._parent_times is None:
            return
        upper = self._tree.upper
        for canonical in sorted(partial, key=len, reverse=True):
            try:
                st = upper.stat(canonical, False)
            except FileNotFoundError:
                partial.discard(canonical)
                continue
            self._inodes.origins.pop(st.st_ino, None)
            if _stat.S_ISDIR(st.st_mode):
                upper.rmdir(canonical)
            else:
                upper.unlink(canonical)
            partial.discard(canonical)
        if self._parent_times is not None:
            directory, times = self._parent_times
            upper.utime(directory, times, False)
            self._parent_times = None
        self._tree.forget()

    def whole(self, directory: Entry, path: str) -> Entry:
        """The directory copied up with everything of the lower layer that shows inside it.

        Afterwards the upper directory is opaque: it holds the whole merged content.
        """
        directory = self.up(directory, path)
        if not directory.lower_below:
            return directory
        self._fill(directory, path)
        self._markers.make_opaque(directory.path)
        self._tree.forget()
        found = self._tree.at(directory.path)
        assert found is not None
        return found

    def _fill(self, directory: Entry, path: str) -> None:
        tree = self._tree
        for info, _ in tree.listing(directory, path, touch=False):
            child = tree.entry(directory, info.name, path)
            assert child is not None
            child = self.up(child, path)
            if child.is_dir and child.lower_below:
                self._fill(child, path)

    # -- one entry ---------------------------------------------------------------------------

    def _copy(self, entry: Entry, path: str) -> None:
        """Create the upper copy of the lower-only ``entry`` (its parent is already upper)."""
        lower = entry.lower
        assert lower is not None
        upper = self._tree.upper
        canonical = entry.path
        kind = _stat.S_IFMT(lower.st_mode)
        with errors_name(path):
            if kind == _stat.S_IFDIR:
                upper.mkdir(canonical, 0o700)
            elif kind == _stat.S_IFREG:
                self._copy_data(canonical)
            elif kind == _stat.S_IFLNK:
                upper.symlink(self._tree.lower.readlink(canonical), canonical)
            else:
                SPECIAL_FILES.hit(path=path)
                raise os_error(errno.EOPNOTSUPP, path)
        if kind == _stat.S_IFREG and lower.st_nlink > 1:
            HARD_LINKS_SPLIT.hit(path=path)
        self._owner_and_mode(lower, canonical, path)
        if kind == _stat.S_IFDIR or lower.st_nlink == 1:
            self._inodes.origins[upper.stat(canonical, False).st_ino] = lower.st_ino

    def adopt(self, lower: posix.stat_result, canonical: str) -> None:
        """Give an existing upper directory the lower one's owner, mode and times."""
        self._owner_and_mode(lower, canonical, canonical)
        self._tree.upper.utime(canonical, (lower.st_atime_ns, lower.st_mtime_ns), False)
        self._tree.forget()

    def _owner_and_mode(self, lower: posix.stat_result, canonical: str, path: str) -> None:
        upper = self._tree.upper
        copy = upper.stat(canonical, False)
        if copy.st_uid != lower.st_uid or copy.st_gid != lower.st_gid:
            try:
                upper.chown(canonical, lower.st_uid, lower.st_gid, False)
            except PermissionError:
                OWNER_NOT_KEPT.hit(path=path)
        if not _stat.S_ISLNK(lower.st_mode):
            upper.chmod(canonical, _stat.S_IMODE(lower.st_mode), False)

    def _copy_data(self, canonical: str) -> None:
        """Copy a regular file's bytes; a copy that fails half-way is removed again."""
        upper = self._tree.upper
        with self._tree.lower.open(canonical, posix.O_RDONLY) as source:
            target = upper.open(canonical, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL, 0o600)
            try:
                copy_content(source, target)  # a short write is ENOSPC; holes stay holes
            except OSError:
                target.close()
                upper.unlink(canonical)
                raise
            target.close()

    def _set_times(self, entry: Entry, path: str) -> None:
        lower = entry.lower
        assert lower is not None
        with errors_name(path):
            self._tree.upper.utime(entry.path, (lower.st_atime_ns, lower.st_mtime_ns), False)


__all__ = ["CopyUp", "join", "parent_path"]
