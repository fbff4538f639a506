"""Path resolution in the merged view: namei over two layers, with a cache of entries.

Every lookup of a name asks the upper layer (when the parent is an upper directory) and the
lower layer (when the parent's lower contents show and no whiteout hides the name), so a
symbolic link in one layer may lead into a directory of the other, as in overlayfs. The
layers are only ever called with canonical paths (no links, no ``.``/``..``), whose every
component is a directory in that layer. The resolver follows Linux's rules (``..`` after a
link is the link target's parent, a trailing slash follows a final link and demands a
directory, ELOOP after 40 links) and raises the caller's path in its errors. The owning
overlay's lock guards every call; ``forget`` drops the cache after any change of names.
"""

from __future__ import annotations

import errno
import posix
import stat as _stat

from vfs.errors import os_error, rename_error
from vfs.limits import MAXSYMLINKS, name_too_long
from vfs.overlay.entry import Entry
from vfs.overlay.markers import Markers, below
from vfs.pathnames import ROOT, SPECIAL_NAMES, split
from vfs.provider import DirEntryInfo, FileSystem

CACHE_LIMIT = 65536
"""Entries kept before the cache starts over."""

Located = tuple[Entry, str, Entry | None, bool]
"""(directory holding the last component, last component, its entry or None, trailing slash)."""


def join(directory: str, name: str) -> str:
    """The canonical path of ``name`` inside the canonical directory ``directory``."""
    return "/" + name if directory == "/" else directory + "/" + name


def parent_path(path: str) -> str:
    """The canonical parent of a canonical path (``/`` for ``/``)."""
    return path[: path.rfind("/")] or "/"


class MergedTree:
    """Resolves merged paths to :class:`Entry` records."""

    __slots__ = ("entries", "lower", "markers", "upper")

    def __init__(self, upper: FileSystem, lower: FileSystem, markers: Markers) -> None:
        self.upper = upper
        self.lower = lower
        self.markers = markers
        self.entries: dict[str, Entry] = {}

    def forget(self) -> None:
        """Drop every cached entry (names or kinds changed)."""
        self.entries.clear()

    # -- single steps ------------------------------------------------------------------------

    def root(self) -> Entry:
        """The entry of ``/`` (both layers' roots; the lower one always shows through)."""
        entry = self.entries.get("/")
        if entry is None:
            upper = self.upper.stat("/", False)
            lower = self.lower.stat("/", False)
            below = _stat.S_ISDIR(lower.st_mode) and "/" not in self.markers.opaque
            entry = self.entries["/"] = Entry("/", upper, lower, below)
        return entry

    def child(self, parent: Entry, name: str, path: str) -> Entry | None:
        """The entry ``name`` (an ordinary name) in the directory ``parent``, or None."""
        canonical = join(parent.path, name)
        entry = self.entries.get(canonical)
        if entry is not None:
            return entry
        if name_too_long(name):
            raise os_error(errno.ENAMETOOLONG, path)
        upper = self._lstat(self.upper, canonical, path) if parent.upper_is_dir else None
        lower = None
        if parent.lower_below and canonical not in self.markers.whiteouts:
            lower = self._lstat(self.lower, canonical, path)
        if upper is None and lower is None:
            return None
        below = (
            lower is not None
            and _stat.S_ISDIR(lower.st_mode)
            and (
                upper is None
                or (_stat.S_ISDIR(upper.st_mode) and canonical not in self.markers.opaque)
            )
        )
        entry = Entry(canonical, upper, lower, below)
        if len(self.entries) >= CACHE_LIMIT:
            self.entries.clear()
        self.entries[canonical] = entry
        return entry

    @staticmethod
    def is_dir(entry: Entry) -> bool:
        """Whether the merged entry is a directory."""
        return entry.is_dir

    @staticmethod
    def is_link(entry: Entry) -> bool:
        """Whether the merged entry is a symbolic link."""
        return entry.is_symlink

    @staticmethod
    def encloses(entry: Entry, directory: Entry) -> bool:
        """Whether ``entry`` is the directory ``directory`` or holds it at any depth."""
        return entry.is_dir and (directory.path == entry.path or below(directory.path, entry.path))

    def lookup(self, parent: Entry, name: str, path: str) -> Entry | None:
        """Like :meth:`child`, but ``.``, ``..`` and the root pseudo-name too."""
        if name == ".":
            return parent
        if name == "..":
            return self.parent_of(parent)
        if name == ROOT:
            return self.root()
        return self.child(parent, name, path)

    def parent_of(self, entry: Entry) -> Entry:
        """The directory holding ``entry`` (``/`` for ``/``)."""
        found = self.at(parent_path(entry.path))
        assert found is not None, "a resolved entry's parent directory exists"
        return found

    def at(self, canonical: str) -> Entry | None:
        """The entry at a canonical path, or None if something along it is gone."""
        entry = self.entries.get(canonical)
        if entry is not None:
            return entry
        entry = self.root()
        for name in canonical.split("/"):
            if not name:
                continue
            found = self.child(entry, name, canonical)
            if found is None:
                return None
            entry = found
        return entry

    def readlink(self, entry: Entry, path: str) -> str:
        """The content of the symbolic link ``entry``, from the layer that shows it."""
        layer = self.upper if entry.upper is not None else self.lower
        try:
            return layer.readlink(entry.path)
        except OSError as error:
            raise rename_error(error, path) from None

    def listing(
        self, directory: Entry, path: str, touch: bool = True
    ) -> list[tuple[DirEntryInfo, bool]]:
        """The merged directory's entries: upper ones first, then lower ones still visible.

        Each comes with whether it is the upper layer's (its inode number is the upper one's).
        ``touch=False`` reads without moving the directories' atime (for the overlay's own
        checks, which Linux makes without reading the directory).
        """
        found: list[tuple[DirEntryInfo, bool]] = []
        read = self._scan if touch else self._scan_quietly
        try:
            if directory.upper_is_dir:
                found = [(info, True) for info in read(self.upper, directory.path)]
            if directory.lower_below:
                seen = {info.name for info, _ in found}
                whiteouts = self.markers.whiteouts
                base = directory.path
                found.extend(
                    (info, False)
                    for info in read(self.lower, base)
                    if info.name not in seen and join(base, info.name) not in whiteouts
                )
        except OSError as error:
            raise rename_error(error, path) from None
        return found

    def names(self, directory: Entry, path: str) -> list[str]:
        """The merged directory's names, in :meth:`listing`'s order (listdir: no types needed)."""
        names: list[str] = []
        try:
            if directory.upper_is_dir:
                names = self.upper.listdir(directory.path)
            if directory.lower_below:
                seen = set(names)
                whiteouts = self.markers.whiteouts
                base = directory.path
                names.extend(
                    name
                    for name in self.lower.listdir(base)
                    if name not in seen and (not whiteouts or join(base, name) not in whiteouts)
                )
        except OSError as error:
            raise rename_error(error, path) from None
        return names

    @staticmethod
    def _scan(layer: FileSystem, canonical: str) -> list[DirEntryInfo]:
        return layer.scandir(canonical)

    @staticmethod
    def _scan_quietly(layer: FileSystem, canonical: str) -> list[DirEntryInfo]:
        """scandir through an O_NOATIME handle (without it where the layer refuses, EPERM)."""
        flags = posix.O_RDONLY | posix.O_DIRECTORY
        try:
            handle = layer.open(canonical, flags | posix.O_NOATIME)
        except PermissionError:
            handle = layer.open(canonical, flags)
        with handle:
            return handle.scandir()

    @staticmethod
    def _lstat(layer: FileSystem, canonical: str, path: str) -> posix.stat_result | None:
        try:
            return layer.stat(canonical, False)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise rename_error(error, path) from None

    # -- whole paths ---------------------------------------------------------------------------

    def parent(self, path: str) -> tuple[Entry, str, bool, int]:
        """Resolve all but the last component: (directory, last name, trailing slash, hops)."""
        head, name, trailing = split(path)
        if name == ROOT:
            return self.root(), ROOT, False, 0
        directory, hops = self.walk(self.root(), head, path, 0)
        return directory, name, trailing, hops

    def locate(self, path: str, follow: bool) -> Located:
        """Resolve ``path``; follow a final link when ``follow`` or a trailing slash asks."""
        directory, name, trailing, hops = self.parent(path)
        entry = self.lookup(directory, name, path)
        while entry is not None and entry.is_symlink and (follow or trailing):
            directory, name, entry, via_slash, hops = self.through(directory, entry, path, hops)
            trailing = trailing or via_slash
        return directory, name, entry, trailing

    def through(
        self, directory: Entry, link: Entry, path: str, hops: int
    ) -> tuple[Entry, str, Entry | None, bool, int]:
        """Follow one link found in ``directory``: (directory, name, entry, ends in '/', hops)."""
        hops += 1
        if hops > MAXSYMLINKS:
            raise os_error(errno.ELOOP, path)
        target = self.readlink(link, path)
        stripped = target.rstrip("/")
        start = self.root() if target[:1] == "/" else directory
        if not stripped:
            root = self.root()
            return root, ROOT, root, False, hops
        cut = stripped.rfind("/")
        if cut < 0:
            directory, name = start, stripped
        else:
            directory, hops = self.walk(start, stripped[:cut], path, hops)
            name = stripped[cut + 1 :]
        entry = self.lookup(directory, name, path)
        return directory, name, entry, len(stripped) != len(target), hops

    def walk(self, directory: Entry, rel: str, path: str, hops: int) -> tuple[Entry, int]:
        """Walk the components of ``rel`` from ``directory``; each must lead to a directory."""
        for name in rel.split("/"):
            if not name or name == ".":
                continue
            if name == "..":
                directory = self.parent_of(directory)
                continue
            entry = self.child(directory, name, path)
            if entry is None:
                raise os_error(errno.ENOENT, path)
            kind = entry.kind
            if kind == _stat.S_IFDIR:
                directory = entry
            elif kind == _stat.S_IFLNK:
                hops += 1
                if hops > MAXSYMLINKS:
                    raise os_error(errno.ELOOP, path)
                target = self.readlink(entry, path)
                start = self.root() if target[:1] == "/" else directory
                directory, hops = self.walk(start, target, path, hops)
            else:
                raise os_error(errno.ENOTDIR, path)
        return directory, hops


__all__ = ["SPECIAL_NAMES", "Located", "MergedTree", "join", "parent_path"]
