"""OverlayFileSystem: a copy-on-write view of a lower provider, with changes kept in an upper one.

Reads fall through to the lower layer; the first change to a lower entry copies it up (see
:mod:`vfs.overlay.copyup`); removing a lower name leaves a whiteout and a directory made where
a lower one was removed is opaque (see :mod:`vfs.overlay.markers`). Renaming a directory whose
lower contents show copies its whole tree up first, so rename works as on any Linux file
system (overlayfs without ``redirect_dir`` answers EXDEV instead). A directory merged from
both layers reports two links plus its subdirectories, as a plain file system does (overlayfs
reports 1). Whiteouts and opaque markers live in this object, not in the upper provider, so an
overlay cannot be rebuilt from its upper layer alone (use :meth:`changes`). The lower layer is never
written; neither layer may be changed behind the overlay's back (overlayfs says the same).
One lock guards the merged tree, the markers and every change; reads and writes through open
handles go straight to the layer's handle. Paths resolve by the generic walk over merged
entries (:mod:`vfs.overlay.tree`); an open directory (or a cwd) is held by its merged path,
moved along by the overlay's renames and cleared by its rmdir (:mod:`vfs.walk.held`), and
the at-forms join it with the relative path under the lock, so no rename comes between.
"""

from __future__ import annotations

import errno
import posix
import stat as _stat
import threading
import weakref
from collections.abc import Callable
from time import time_ns
from typing import TYPE_CHECKING

import compat
from vfs.arguments import check_target
from vfs.errors import named_error, os_error
from vfs.limits import check_path
from vfs.namechecks import (
    existing,
    free_name,
    open_lookup,
    rename_lookup,
    rmdir_lookup,
    unlink_lookup,
)
from vfs.openflags import O_ACCMODE, O_TMPFILE_BIT, check_open_flags
from vfs.overlay.copyup import CopyUp
from vfs.overlay.entry import Entry
from vfs.overlay.handle import OverlayHandle
from vfs.overlay.inodes import Inodes
from vfs.overlay.markers import Markers
from vfs.overlay.tree import MergedTree, OverlayNodes, join
from vfs.pathnames import special_errno
from vfs.provider import DirEntryInfo, FileSystem
from vfs.walk.held import HeldPath, HeldPaths

if TYPE_CHECKING:
    from vfs.overlay.changes import ChangeSet

RENAME_COPIES_TREE = compat.declare(
    id="vfs.overlay.rename-dir",
    function="os.rename",
    aspect="directories of the lower layer",
    level=compat.Level.FINE,
    explanation="renaming a directory whose lower contents show copies its whole tree up and "
    "succeeds, where overlayfs without redirect_dir fails with EXDEV",
)
ORPHAN_LOWER = compat.declare(
    id="vfs.overlay.orphan-copyup",
    function="os.fchmod",
    aspect="open lower files whose name is gone",
    level=compat.Level.FINE,
    explanation="changing the metadata of an open lower file that no longer has a name in the "
    "overlay fails with EROFS (overlayfs copies it up to its index directory)",
)
_WRITE_ACCESS = (posix.O_WRONLY, posix.O_RDWR)
_DROPPED_FOR_LAYER = posix.O_CREAT | posix.O_EXCL
"""Flags the overlay acts on itself before it opens an existing entry in a layer."""
Cached = tuple[
    Callable[[str], posix.stat_result], str, posix.stat_result, posix.stat_result, bool, int | None
]
"""stat cache: (the layer's restat, canonical path, layer's status, status shown, on upper,
link count)."""
_CACHE_LIMIT = 65536


UNLINKED_LOWER_LINKS = compat.declare(
    id="vfs.overlay.unlinked_lower_links",
    function="os.fstat",
    aspect="st_nlink of an open lower file after its name is removed",
    level=compat.Level.FINE,
    explanation="a file opened from the lower layer and then unlinked in the overlay still "
    "reports its lower link count through fstat (the lower layer is never changed); tmpfs "
    "would report 0 (overlayfs itself reports the lower count too)",
)
REMOVED_DIRECTORY = compat.declare(
    id="vfs.overlay.removed_directory",
    function="os.getcwd",
    aspect="a removed directory held open (or the cwd) in an overlay",
    level=compat.Level.FINE,
    explanation="the overlay holds an open directory by its merged path, moved along by "
    "renames: once the directory is removed, every call through it fails with ENOENT (Linux "
    "still answers stat, an empty listing and '..' for it)",
)


def _locked_at(name: str) -> Callable[..., object]:
    """The at-form of the path method ``name``: ``at``'s path joined with the relative path,
    both under the overlay's lock (no rename can come between)."""

    def method(self: OverlayFileSystem, at: object | None, path: str, *args: object) -> object:
        with self._lock:
            return getattr(self, name)(self._path_at(at, path), *args)

    method.__name__ = method.__qualname__ = name + "_at"
    method.__doc__ = f"{name}, relative to the directory ``at``."
    return method


class OverlayFileSystem(FileSystem):
    """``lower`` seen through ``upper``: every change lands in ``upper``, ``lower`` stays as is.

    ``upper`` is any writable provider (typically a :class:`~vfs.MemoryFileSystem`), ``lower``
    any provider (a :class:`~vfs.HostFileSystem` gives a copy-on-write view of a host
    directory). :meth:`changes` lists what differs from ``lower`` and can apply it elsewhere.
    """

    def __init__(self, upper: FileSystem, lower: FileSystem) -> None:
        self.upper = upper
        self.lower = lower
        # Every change of the merged view (copy-up, markers, the inode table, held paths):
        # a change reads the layers and changes the upper one, and two must not copy one
        # file up at once. Reentrant because the merged tree takes it too, and a change
        # walks through it. Reads of file data go to the layer's handle without it.
        self._lock = threading.RLock()
        self._markers = Markers()
        self._inodes = Inodes()
        self._tree = MergedTree(upper, lower, self._markers, self._lock)
        self._held = HeldPaths()
        """Open directories and cwds, by canonical merged path, moved along by renames."""
        self._copier = CopyUp(self._tree, self._markers, self._inodes, self._copied)
        self._stats: dict[str, Cached] = {}
        self._readers: dict[tuple[int, int], weakref.WeakSet[OverlayHandle]] = {}
        self._copied_mtimes: dict[str, int] = {}
        self._adopt_root()

    @property
    def uses_python_os(self) -> bool:
        return self.upper.uses_python_os or self.lower.uses_python_os

    def _adopt_root(self) -> None:
        """Give the upper root the lower root's mode, owner and times (the merged root shows
        the upper one, and a fresh upper layer's root says nothing of the lower tree)."""
        upper, lower = self.upper.stat("/", False), self.lower.stat("/", False)
        if not _stat.S_ISDIR(upper.st_mode) or not _stat.S_ISDIR(lower.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "an overlay layer's root is not a directory")
        self._copier.adopt(lower, "/")
        self._copied_mtimes["/"] = lower.st_mtime_ns

    @property
    def copied_mtimes(self) -> dict[str, int]:
        """The lower mtime of each path when it was copied up (a copy of the record): later
        changes made to the lower layer directly are not the overlay's."""
        with self._lock:
            return dict(self._copied_mtimes)

    @property
    def device(self) -> int:
        """The ``st_dev`` every entry of the merged view reports."""
        return self._inodes.device

    @property
    def whiteouts(self) -> frozenset[str]:
        """Canonical paths of lower entries removed in the overlay."""
        with self._lock:
            return frozenset(self._markers.whiteouts)

    @property
    def unpublished(self) -> frozenset[str]:
        """Upper entries of copy-ups not published: the merged view and changes() skip them."""
        with self._lock:
            return frozenset(self._markers.partial)

    @property
    def opaque_directories(self) -> frozenset[str]:
        """Canonical paths of upper directories that hide the lower directory of that name."""
        with self._lock:
            return frozenset(self._markers.opaque)

    def forget(self) -> None:
        """Drop cached resolutions and statuses (after any change through the overlay)."""
        with self._lock:
            self._tree.forget()
            self._stats.clear()

    # -- queries -----------------------------------------------------------------------------

    def stat(self, path: str, follow_symlinks: bool = True) -> posix.stat_result:
        hit = self._stats.get(path)
        if hit is not None:
            try:
                st = hit[0](hit[1])
            except OSError as error:
                raise named_error(error, path) from None
            old = hit[2]
            # The same status in every field a caller sees (inline: every warm stat asks).
            # ``==`` compares the first ten fields, times in whole seconds; every change of
            # the mtime (a write, utime) or of the mode, owner or links moves the ctime too,
            # in nanoseconds; a read moves only the atime; the rest (size, blocks) with them.
            if st is old or (
                st == old
                and st.st_ctime_ns == old.st_ctime_ns
                and st.st_atime_ns == old.st_atime_ns
                and st.st_blocks == old.st_blocks
            ):
                return hit[3]
            shown = self._inodes.present(st, hit[4], hit[5])
            with self._lock:
                if self._stats.get(path) is hit:
                    self._stats[path] = (hit[0], hit[1], st, shown, hit[4], hit[5])
            return shown
        check_path(path)
        with self._lock:
            _, _, found, trailing = self._tree.locate(path, False)
            cacheable = not trailing and found is not None and not found.is_symlink
            if follow_symlinks and not cacheable:
                _, _, found, trailing = self._tree.locate(path, True)
            entry = existing(self._tree, found, trailing, path)
            on_upper = entry.upper is not None
            layer = self.upper if on_upper else self.lower
            try:
                st = layer.stat(entry.path, False)
            except OSError as error:
                raise named_error(error, path) from None
            links = self._links(entry, path)
            shown = self._inodes.present(st, on_upper, links)
            if cacheable and path.__class__ is str:
                if len(self._stats) >= _CACHE_LIMIT:
                    self._stats.clear()
                self._stats[path] = (layer.restat, entry.path, st, shown, on_upper, links)
            return shown

    def probe(self, path: str, follow_symlinks: bool = True) -> posix.stat_result | None:
        if path not in self._stats:  # stat's fast path knows the names it saw
            try:
                check_path(path)
            except OSError:
                return None
            with self._lock:
                try:
                    _, _, found, trailing = self._tree.locate(path, follow_symlinks)
                except OSError:
                    return None
                if found is None or (trailing and not found.is_dir):
                    return None  # missing: no error built
        try:
            return self.stat(path, follow_symlinks)
        except OSError:
            return None

    def probe_at(
        self, at: object | None, path: str, follow_symlinks: bool = True
    ) -> posix.stat_result | None:
        return self._probe_by_path(at, path, follow_symlinks)

    def listdir(self, path: str) -> list[str]:
        check_path(path)
        with self._lock:
            _, _, found, trailing = self._tree.locate(path, True)
            entry = existing(self._tree, found, trailing, path)
            if not entry.is_dir:
                raise os_error(errno.ENOTDIR, path)
            return self._tree.names(entry, path)

    def scandir(self, path: str) -> list[DirEntryInfo]:
        check_path(path)
        with self._lock:
            _, _, found, trailing = self._tree.locate(path, True)
            entry = existing(self._tree, found, trailing, path)
            if not entry.is_dir:
                raise os_error(errno.ENOTDIR, path)
            return self._listing(entry, path)

    def _listing(self, entry: Entry, path: str) -> list[DirEntryInfo]:
        present = self._inodes.entry
        return [present(info, on_upper) for info, on_upper in self._tree.listing(entry, path)]

    def readlink(self, path: str) -> str:
        check_path(path)
        with self._lock:
            _, _, found, trailing = self._tree.locate(path, False)
            entry = existing(self._tree, found, trailing, path)
            if not entry.is_symlink:
                raise os_error(errno.EINVAL, path)
            return self._tree.readlink(entry, path)

    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        if mode & ~7:
            raise os_error(errno.EINVAL, path)
        with self._lock:
            _, _, found, trailing = self._tree.locate(path, follow_symlinks)
            entry = existing(self._tree, found, trailing, path)
            layer = self.upper if entry.upper is not None else self.lower
            try:
                layer.access(entry.path, mode, False)
            except OSError as error:
                raise named_error(error, path) from None

    def statvfs(self, path: str) -> posix.statvfs_result:
        check_path(path)
        with self._lock:
            _, _, found, trailing = self._tree.locate(path, True)
            existing(self._tree, found, trailing, path)
            return self.upper.statvfs("/")

    # -- opening -------------------------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o666) -> OverlayHandle:
        check_path(path)
        flags = check_open_flags(flags, path)
        with self._lock:
            if flags & O_TMPFILE_BIT:
                return self._open_tmpfile(path, flags, mode)
            if flags & posix.O_CREAT:
                found = open_lookup(self._tree, path, flags)
                if found.node is None:
                    return self._create(found.directory, found.name, path, flags, mode)
                entry, trailing = found.node, False
            else:
                _, _, located, trailing = self._tree.locate(path, not flags & posix.O_NOFOLLOW)
                entry = existing(self._tree, located, trailing, path)
            if flags & posix.O_CREAT and entry.is_dir:
                raise os_error(errno.EISDIR, path)
            writes = flags & O_ACCMODE in _WRITE_ACCESS or flags & posix.O_TRUNC
            if writes and entry.upper is None and entry.kind == _stat.S_IFREG:
                entry = self._copier.up(entry, path)
                self.forget()
            on_upper = entry.upper is not None
            layer = self.upper if on_upper else self.lower
            try:
                inner = layer.open(
                    entry.path + ("/" if trailing else ""), flags & ~_DROPPED_FOR_LAYER, mode
                )
            except OSError as error:
                raise named_error(error, path) from None
            held = self._held.hold(entry.path) if entry.is_dir else None
            handle = OverlayHandle(self, inner, path, entry.path, on_upper, held=held)
            if not on_upper:
                lower = entry.lower
                assert lower is not None
                key = (lower.st_dev, lower.st_ino)
                self._readers.setdefault(key, weakref.WeakSet()).add(handle)
            return handle

    def _create(
        self, directory: Entry, name: str, path: str, flags: int, mode: int
    ) -> OverlayHandle:
        """O_CREAT of a new name: the file is made in the upper layer."""
        directory = self._copier.up(directory, path)
        canonical = join(directory.path, name)
        try:
            inner = self.upper.open(canonical, flags, mode)
        except OSError as error:
            raise named_error(error, path) from None
        self._markers.covered(canonical)
        self.forget()
        return OverlayHandle(self, inner, path, canonical, True)

    def _open_tmpfile(self, path: str, flags: int, mode: int) -> OverlayHandle:
        """O_TMPFILE: an unnamed file in the upper copy of the directory ``path``."""
        _, _, found, trailing = self._tree.locate(path, not flags & posix.O_NOFOLLOW)
        entry = existing(self._tree, found, trailing, path)
        if not entry.is_dir:
            raise os_error(errno.ENOTDIR, path)
        entry = self._copier.up(entry, path)
        try:
            inner = self.upper.open(entry.path, flags, mode)
        except OSError as error:
            raise named_error(error, path) from None
        self.forget()
        return OverlayHandle(self, inner, path, entry.path, True)

    # -- creating and removing names -----------------------------------------------------------

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        check_path(path)
        with self._lock:
            directory, name = free_name(self._tree, path, "create", allow_trailing=True)
            directory = self._copier.up(directory, path)
            canonical = join(directory.path, name)
            after = None
            if canonical in self._markers.whiteouts:  # a lower directory was removed there
                after = self._markers.copy()
                after.make_opaque(canonical)
            try:
                self.upper.mkdir(canonical, mode)
                if after is not None:
                    self._markers.adopt(after)
            except BaseException as error:
                # made, then interrupted (inside the provider as it returned): opaque all the
                # same, or the removed directory's lower contents would show inside the new one
                if after is not None and self._in_upper(canonical):
                    self._markers.adopt(after)
                if isinstance(error, OSError):
                    raise named_error(error, path) from None
                raise
            self.forget()

    def symlink(self, target: str, path: str) -> None:
        target = check_target(target, path)  # before any copy-up: symlink(2) reads it first
        check_path(path, None)
        with self._lock:
            try:
                directory, name = free_name(self._tree, path, "create", allow_trailing=False)
            except OSError as error:
                raise named_error(error, target, path) from None
            directory = self._copier.up(directory, path)
            canonical = join(directory.path, name)
            try:
                self.upper.symlink(target, canonical)
            except OSError as error:
                raise named_error(error, target, path) from None
            self._markers.covered(canonical)
            self.forget()

    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        check_path(src, dst)
        check_path(dst, None)
        with self._lock:
            try:
                _, _, found, trailing = self._tree.locate(src, follow_symlinks)
                entry = existing(self._tree, found, trailing, src)
                directory, name = free_name(self._tree, dst, "create", allow_trailing=False)
                if entry.is_dir:
                    raise os_error(errno.EPERM, src)
                entry = self._copier.up(entry, src)
                directory = self._copier.up(self._again(directory), dst)
                canonical = join(directory.path, name)
                self.upper.link(entry.path, canonical, False)
            except OSError as error:
                raise named_error(error, src, dst) from None
            self._markers.covered(canonical)
            self.forget()

    def unlink(self, path: str) -> None:
        check_path(path)
        with self._lock:
            found = unlink_lookup(self._tree, path)
            entry = found.node
            if entry is None:
                raise os_error(errno.ENOENT, path)
            if entry.is_dir:
                raise os_error(errno.EISDIR, path)
            directory = self._may_delete(found.directory, path)
            self._remove(directory, entry, path, self.upper.unlink)

    def rmdir(self, path: str) -> None:
        check_path(path)
        with self._lock:
            found = rmdir_lookup(self._tree, path)
            entry = found.node
            if entry is None:
                raise os_error(errno.ENOENT, path)
            if not entry.is_dir:
                raise os_error(errno.ENOTDIR, path)
            directory = self._may_delete(found.directory, path)
            entry = self._again(entry)
            if self._tree.listing(entry, path, touch=False):
                raise os_error(errno.ENOTEMPTY, path)
            self._remove(directory, entry, path, self.upper.rmdir)
            self._held.removed(entry.path)

    def _remove(
        self, directory: Entry, entry: Entry, path: str, remove: Callable[[str], None]
    ) -> None:
        """Remove ``entry`` of the upper ``directory``: from the upper layer, or by a whiteout."""
        canonical = entry.path
        if entry.upper is not None:
            try:
                remove(canonical)
            except OSError as error:
                raise named_error(error, path) from None
        if entry.lower is not None:
            self._markers.whiteout(canonical)
            if entry.upper is None:
                self._touch(directory.path)
        else:
            self._markers.covered(canonical)
        self.forget()

    def rename(self, src: str, dst: str) -> None:
        check_path(src, dst)
        check_path(dst, None)
        try:
            with self._lock:
                self._rename(src, dst)
        except OSError as error:
            raise named_error(error, src, dst) from None

    def _rename(self, src: str, dst: str) -> None:
        """rename(2), with the kernel's order of checks, then copy-up and the upper rename."""
        tree = self._tree
        moving = rename_lookup(tree, src, dst)
        old_dir, new_dir, new_name = moving.old_dir, moving.new_dir, moving.new_name
        entry, victim, is_dir = moving.node, moving.victim, moving.is_dir
        if victim is not None and self._same_file(entry, victim):
            return
        # vfs_rename's order (fs/namei.c), judged on the upper copies: both directories
        # first, then the target's type and emptiness; only then is anything copied up
        self._may_delete(old_dir, src)
        self._may_delete(self._again(new_dir), dst)
        entry = self._again(entry)
        if victim is not None:
            victim = self._again(victim)
        if victim is not None:
            if is_dir and not victim.is_dir:
                raise os_error(errno.ENOTDIR, src)
            if not is_dir and victim.is_dir:
                raise os_error(errno.EISDIR, src)
            if victim.is_dir and tree.listing(victim, dst, touch=False):
                raise os_error(errno.ENOTEMPTY, src)
        lower_at_target = (victim is not None and victim.lower is not None) or (
            join(new_dir.path, new_name) in self._markers.whiteouts
        )
        if is_dir and entry.lower_below:
            RENAME_COPIES_TREE.hit(path=src)
            entry = self._copier.whole(entry, src)
        else:
            entry = self._copier.up(entry, src)
        old_dir = self._copier.up(self._again(old_dir), src)
        new_dir = self._copier.up(self._again(new_dir), dst)
        source = entry.path
        target = join(new_dir.path, new_name)
        after = self._markers.copy()
        if entry.lower is not None:
            after.whiteout(source)
        else:
            after.covered(source)
        if is_dir and lower_at_target:
            after.make_opaque(target)
        else:
            after.covered(target)
        self._commit_rename(source, target, after)

    def _commit_rename(self, source: str, target: str, after: Markers) -> None:
        """The upper rename and the markers and held directories that go with it, as one step.

        The caches go first (nothing refills them before the step ends), then the held
        directories (all or none of them, and put back unless the rename happens). The upper
        layer's rename may be interrupted after it happened (an exception landing inside the
        provider as it returns), so an exception out of the step is followed by a look at the
        upper layer: when the name moved, the markers are set before the exception goes on;
        the file is thus never under both names (the lower one showing again) nor under
        neither.
        """
        self.forget()
        moved_from = self.upper.stat(source, False)
        saved = self._held.snapshot()
        try:
            self._held.renamed(source, target)
            self.upper.rename(source, target)
            self._markers.adopt(after)
        except BaseException:
            if self._moved(moved_from, source, target):
                self._markers.adopt(after)  # the held directories moved before the rename
            else:
                self._held.restore(saved)
            raise
        finally:
            self.forget()

    def _in_upper(self, canonical: str) -> bool:
        try:
            self.upper.stat(canonical, False)
        except OSError:
            return False
        return True

    def _moved(self, before: posix.stat_result, source: str, target: str) -> bool:
        """Whether the upper layer's entry ``before`` (at ``source``) is now at ``target``."""
        try:
            now = self.upper.stat(target, False)
        except OSError:
            return False
        try:
            self.upper.stat(source, False)
        except FileNotFoundError:
            return (now.st_dev, now.st_ino) == (before.st_dev, before.st_ino)
        return False

    # -- changing attributes -------------------------------------------------------------------

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        with self._lock:
            _, _, found, trailing = self._tree.locate(path, follow_symlinks)
            entry = existing(self._tree, found, trailing, path)
            if entry.is_symlink:
                raise os_error(errno.EOPNOTSUPP, path)
            self._change(entry, path, lambda canonical: self.upper.chmod(canonical, mode, False))

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        with self._lock:
            _, _, found, trailing = self._tree.locate(path, follow_symlinks)
            entry = existing(self._tree, found, trailing, path)
            self._change(
                entry, path, lambda canonical: self.upper.chown(canonical, uid, gid, False)
            )

    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        check_path(path)
        with self._lock:
            _, _, found, trailing = self._tree.locate(path, follow_symlinks)
            entry = existing(self._tree, found, trailing, path)
            self._change(entry, path, lambda canonical: self.upper.utime(canonical, ns, False))

    def truncate(self, path: str, length: int) -> None:
        check_path(path)
        if length < 0:
            raise os_error(errno.EINVAL, path)
        with self._lock:
            _, _, found, trailing = self._tree.locate(path, True)
            entry = existing(self._tree, found, trailing, path)
            if entry.is_dir:
                raise os_error(errno.EISDIR, path)
            if entry.kind != _stat.S_IFREG:
                raise os_error(errno.EINVAL, path)
            self._change(entry, path, lambda canonical: self.upper.truncate(canonical, length))

    def _change(self, entry: Entry, path: str, change: Callable[[str], None]) -> None:
        """Copy ``entry`` up and apply ``change`` to its canonical upper path."""
        entry = self._copier.up(entry, path)
        try:
            change(entry.path)
        except OSError as error:
            raise named_error(error, path) from None
        finally:
            self.forget()

    # -- changes -----------------------------------------------------------------------------

    def changes(self) -> ChangeSet:
        """What the overlay changed relative to the lower layer (see :mod:`vfs.overlay.changes`)."""
        from vfs.overlay.changes import ChangeSet

        with self._lock:
            self._copier.sweep()  # what an interrupted copy-up left is no change
            return ChangeSet.of(self)

    def close(self) -> None:
        """Close both layers."""
        self.upper.close()
        self.lower.close()

    # -- directory references: canonical merged paths, moved along by renames -------------------

    def nodes(self) -> OverlayNodes:
        nodes = self._tree.nodes
        assert isinstance(nodes, OverlayNodes)
        return nodes

    def _held_paths(self) -> HeldPaths:
        return self._held

    def _base_path(self, at: object) -> str:
        if isinstance(at, Entry):
            return at.path
        if isinstance(at, HeldPath) and at.path is None:
            REMOVED_DIRECTORY.hit()
        return super()._base_path(at)

    def directory(self, at: object | None, path: str) -> object:
        with self._lock:
            return super().directory(at, path)

    def rename_at(self, src_at: object | None, src: str, dst_at: object | None, dst: str) -> None:
        # a last "." or ".." of either name is EBUSY once both parents are walked (making the
        # paths absolute would fold it away, and look up a source Linux never looks at)
        names = ((src_at, src), (dst_at, dst))
        if any(path.rstrip("/").rpartition("/")[2] in (".", "..") for _, path in names):
            for at, path in names:
                head = path.rstrip("/").rpartition("/")[0]
                if head and not _stat.S_ISDIR(self.stat_at(at, head).st_mode):
                    raise os_error(errno.ENOTDIR, path)
            raise os_error(errno.EBUSY, src)
        with self._lock:  # the overlay moves its held directories along itself
            self.rename(self._path_at(src_at, src), self._path_at(dst_at, dst))

    def rmdir_at(self, at: object | None, path: str) -> None:
        # a last "." or ".." is refused by its name (ENOTEMPTY for ".."), before the path is
        # made absolute, which would fold it away
        head, _, last = path.rstrip("/").rpartition("/")
        number = special_errno("rmdir", last)
        if number is not None and path.rstrip("/"):
            if head and not _stat.S_ISDIR(self.stat_at(at, head).st_mode):  # walked first
                raise os_error(errno.ENOTDIR, path)
            raise os_error(number, path)
        with self._lock:
            self.rmdir(self._path_at(at, path))

    def link_at(
        self,
        src_at: object | None,
        src: str,
        dst_at: object | None,
        dst: str,
        follow_symlinks: bool = True,
    ) -> None:
        with self._lock:
            self.link(self._path_at(src_at, src), self._path_at(dst_at, dst), follow_symlinks)

    def symlink_at(self, target: str, at: object | None, path: str) -> None:
        with self._lock:
            self.symlink(target, self._path_at(at, path))

    # -- for handles ---------------------------------------------------------------------------

    def present_handle(self, handle: OverlayHandle) -> posix.stat_result:
        """fstat of an overlay handle, as the merged view reports it."""
        st = handle.inner.stat()
        links = None
        if handle.on_upper and _stat.S_ISDIR(st.st_mode):
            with self._lock:
                where = handle.canonical
                entry = None if where is None else self._tree.at(where)
                if entry is not None:
                    links = self._links(entry, handle.path)
        return self._inodes.present(st, handle.on_upper, links)

    def handle_listing(self, handle: OverlayHandle) -> list[DirEntryInfo]:
        """The merged listing of an open directory (empty once it was removed)."""
        with self._lock:
            where = handle.canonical
            entry = None if where is None else self._tree.at(where)
            if entry is None or not entry.is_dir:
                return []
            return self._listing(entry, handle.path)

    def copy_up_handle(self, handle: OverlayHandle) -> None:
        """Copy up the lower file an open handle reads, so its metadata can change."""
        with self._lock:
            if handle.on_upper:
                return
            where = handle.canonical
            entry = None if where is None else self._tree.at(where)
            old = handle.inner.stat()
            if (
                entry is None
                or entry.upper is not None
                or entry.lower is None
                or (entry.lower.st_dev, entry.lower.st_ino) != (old.st_dev, old.st_ino)
            ):
                ORPHAN_LOWER.hit(path=handle.path)
                raise os_error(errno.EROFS)
            self._copier.up(entry, handle.path)
            self.forget()

    def _copied(self, lower: posix.stat_result, canonical: str) -> None:
        """After a copy-up: note the lower mtime copied, and move read-only handles of the
        lower inode to the upper copy."""
        self._copied_mtimes[canonical] = lower.st_mtime_ns
        readers = self._readers.pop((lower.st_dev, lower.st_ino), None)
        if not readers:
            return
        for handle in list(readers):
            if handle.closed:
                continue
            keep = handle.flags & ~(_DROPPED_FOR_LAYER | posix.O_TRUNC)
            handle.switch(self.upper.open(canonical, keep))

    # -- shared steps (callers hold the lock) --------------------------------------------------

    def _links(self, entry: Entry, path: str) -> int | None:
        """The link count of a merged directory (two plus its subdirectories), else None."""
        if not entry.merged:
            return None
        listing = self._tree.listing(entry, path, touch=False)
        return 2 + sum(1 for info, _ in listing if info.type == _stat.S_IFDIR)

    def _again(self, entry: Entry) -> Entry:
        """``entry`` looked up afresh after a copy-up may have changed it."""
        found = self._tree.at(entry.path)
        assert found is not None, "copy-up removes nothing"
        return found

    def _may_delete(self, directory: Entry, path: str) -> Entry:
        """The upper copy of the directory a name leaves, if the caller may write and search it.

        The check is the upper layer's, on the copy (which has the lower directory's mode and
        owner): the lower layer may well be read-only, which says nothing of the merged view.
        """
        directory = self._copier.up(directory, path)
        try:
            self.upper.access(directory.path, posix.W_OK | posix.X_OK, False)
        except OSError as error:
            raise named_error(error, path) from None
        return directory

    def _same_file(self, one: Entry, other: Entry) -> bool:
        """Whether two entries are names of one file (rename between them does nothing)."""
        if one.path == other.path:
            return True
        if (one.upper is None) != (other.upper is None):
            return False
        a, b = one.top, other.top
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    def _touch(self, directory: str) -> None:
        """A name left the upper directory by a whiteout: its mtime and ctime move."""
        st = self.upper.stat(directory, False)
        self.upper.utime(directory, (st.st_atime_ns, time_ns()), False)

    def __repr__(self) -> str:
        return f"<OverlayFileSystem upper={self.upper!r} lower={self.lower!r}>"


__all__ = ["OverlayFileSystem"]


for _name in (
    "stat", "open", "listdir", "scandir", "mkdir", "unlink", "readlink", "chmod", "chown",
    "utime", "truncate", "access", "statvfs",
):  # fmt: skip
    setattr(OverlayFileSystem, _name + "_at", _locked_at(_name))
