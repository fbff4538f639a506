"""Path resolution in the merged view: the generic walk over merged entries, with a cache.

Every lookup of a name asks the upper layer (when the parent is an upper directory) and the
lower layer (when the parent's lower contents show and no whiteout hides the name), so a
symbolic link in one layer may lead into a directory of the other, as in overlayfs. The
layers are only ever called with canonical paths (no links, no ``.``/``..``), whose every
component is a directory in that layer. The rules (``..`` after a link is the link target's
parent, a trailing slash follows a final link and demands a directory, ELOOP after 40 links)
are the generic walk's (:mod:`vfs.walk.namei`), over :class:`OverlayNodes`; errors name the
caller's path. The owning overlay's lock guards every call; ``forget`` drops the cache after
any change of names.
"""

from __future__ import annotations

import errno
import posix
import stat as _stat
import threading

from vfs.errors import named_error, os_error
from vfs.limits import name_too_long
from vfs.overlay.entry import Entry
from vfs.overlay.markers import Markers, below
from vfs.pathnames import SPECIAL_NAMES
from vfs.provider import DirEntryInfo, FileSystem
from vfs.walk.held import HeldPath, HeldPaths
from vfs.walk.namei import Walk

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


class MergedTree(Walk[Entry, Entry]):
    """Resolves merged paths (absolute ones) to :class:`Entry` records."""

    __slots__ = ("entries", "lower", "markers", "upper")

    def __init__(
        self, upper: FileSystem, lower: FileSystem, markers: Markers, lock: threading.RLock
    ) -> None:
        super().__init__(OverlayNodes(self, lock))
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

    def entry(self, parent: Entry, name: str, path: str) -> Entry | None:
        """The entry ``name`` (an ordinary name) in the directory ``parent``, or None."""
        canonical = join(parent.path, name)
        entry = self.entries.get(canonical)
        if entry is not None:
            return entry
        if name_too_long(name):
            raise os_error(errno.ENAMETOOLONG, path)
        upper = self._lstat(self.upper, canonical, path) if parent.upper_is_dir else None
        if upper is not None and canonical in self.markers.partial:
            upper = None  # a copy-up not published (yet): the lower entry shows
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
            found = self.entry(entry, name, canonical)
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
            raise named_error(error, path) from None

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
                if self.markers.partial:
                    found = [item for item in found if not self._partial(directory, item[0].name)]
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
            raise named_error(error, path) from None
        return found

    def names(self, directory: Entry, path: str) -> list[str]:
        """The merged directory's names, in :meth:`listing`'s order (listdir: no types needed)."""
        names: list[str] = []
        try:
            if directory.upper_is_dir:
                names = self.upper.listdir(directory.path)
                if self.markers.partial:
                    names = [name for name in names if not self._partial(directory, name)]
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
            raise named_error(error, path) from None
        return names

    def _partial(self, directory: Entry, name: str) -> bool:
        """Whether the upper entry ``name`` of ``directory`` is an unpublished copy-up."""
        return join(directory.path, name) in self.markers.partial

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
            raise named_error(error, path) from None


class OverlayNodes:
    """:class:`~vfs.walk.Nodes` over the merged entries (each step under the overlay's lock;
    the layers check search permission along the canonical paths they are asked)."""

    __slots__ = ("_lock", "_tree")
    releases = False

    def __init__(self, tree: MergedTree, lock: threading.RLock) -> None:
        self._tree = tree
        self._lock = lock

    def root(self) -> Entry:
        with self._lock:
            return self._tree.root()

    def lookup(self, directory: Entry, name: str) -> Entry | None:
        with self._lock:
            return self._tree.entry(directory, name, name)

    @staticmethod
    def kind(entry: Entry) -> int:
        return entry.kind

    def readlink(self, entry: Entry) -> str:
        with self._lock:
            return self._tree.readlink(entry, entry.path)

    def parent(self, directory: Entry) -> Entry:
        with self._lock:
            found = self._tree.at(parent_path(directory.path))
        if found is None:
            raise os_error(errno.ENOENT)
        return found

    @staticmethod
    def may_search(directory: Entry) -> bool:
        return True

    @staticmethod
    def encloses(entry: Entry, directory: Entry) -> bool:
        return entry.path == directory.path or below(directory.path, entry.path)

    @staticmethod
    def key(entry: Entry) -> str:
        return entry.path

    def start(self, directory: object) -> Entry:
        if isinstance(directory, Entry):
            return directory
        if not isinstance(directory, HeldPath):
            raise TypeError(f"not a directory of an OverlayFileSystem: {directory!r}")
        with self._lock:
            found = self._tree.at(HeldPaths.where(directory))
        if found is None:
            raise os_error(errno.ENOENT)
        return found

    def release(self, entry: Entry) -> None:
        """Entries hold nothing."""


__all__ = ["SPECIAL_NAMES", "Located", "MergedTree", "OverlayNodes", "join", "parent_path"]
