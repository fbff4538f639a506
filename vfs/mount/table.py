"""The mount table: which provider serves which part of the namespace.

Mount points are canonical namespace paths (absolute, no ``.``/``..``/empty components, no
trailing slash); the root provider is mounted at ``/``. The table is fixed when it is built, so
lookups need no lock.
"""

from __future__ import annotations

import itertools
import posix
import threading
from collections.abc import Hashable, Mapping

import compat
from vfs.provider import FileSystem

_DEVICE_BASE = 0x80000
"""Minor numbers (major 0, the anonymous devices) handed out to mounts start here, far above
the ones MemoryFileSystem uses, so a Mount's devices never meet a provider's own."""
_devices = itertools.count(_DEVICE_BASE)
_device_lock = threading.Lock()
DEVICE_PER_MOUNT = compat.declare(
    id="vfs.mount.st_dev",
    function="os.stat",
    aspect="st_dev",
    level=compat.Level.FINE,
    explanation="every mount reports device numbers of its own, even two mounts of one "
    "underlying file system (Linux's bind mounts share st_dev), so os.path.samefile is false "
    "across them",
)

STAT_CACHE_LIMIT = 4096
"""Rebuilt status records remembered per mount before that memory starts over."""


def new_device() -> int:
    """A device number no other mount in this process reports."""
    with _device_lock:
        return posix.makedev(0, next(_devices))


def parent(path: str) -> str:
    """The parent of a canonical path (``/`` for ``/`` itself)."""
    cut = path.rfind("/")
    return path[:cut] if cut > 0 else "/"


def child(directory: str, name: str) -> str:
    """The canonical path of ``name`` in the canonical ``directory``."""
    return "/" + name if directory == "/" else directory + "/" + name


def canonical_mount_point(path: object) -> str:
    """Check a mount point as given to MountFileSystem and return it without trailing slash."""
    if not isinstance(path, str):
        raise TypeError(f"mount points are str paths, not {type(path).__name__}")
    if "\x00" in path:
        raise ValueError("embedded null byte")
    parts = [part for part in path.split("/") if part]
    if not path.startswith("/") or any(part in (".", "..") for part in parts):
        raise ValueError(f"a mount point must be absolute, without '.' or '..': {path!r}")
    if not parts:
        raise ValueError("'/' is the root provider's: pass that provider as root_fs")
    return "/" + "/".join(parts)


class Mounted:
    """One mount: a provider serving the namespace below ``path``, with its own devices.

    Every device number the provider reports is replaced by one of this mount's own (one per
    device the provider reports), so two mounts never share an ``st_dev``, even when both are
    HostFileSystems on one disk: ``os.path.ismount`` and ``(st_dev, st_ino)`` identity work.
    """

    __slots__ = (
        "_cut", "_devices", "_lock", "_seen", "_stats", "fs", "holder", "nodes", "path",
        "point_node", "point_ref", "points", "root_key",
    )  # fmt: skip

    def __init__(self, path: str, fs: FileSystem, seen: dict[int, str] | None = None) -> None:
        self.path = path
        self.fs = fs
        self.nodes = fs.nodes()
        """The provider's nodes, for the walk across the namespace."""
        self.points: dict[Hashable, Mounted] = {}
        """The mounts on directories of this provider, by their node's key."""
        self.root_key: Hashable = None
        """The key of the provider's root node (``..`` from it leaves the mount)."""
        self.holder: Mounted | None = None
        """The mount whose directory this one covers (None for ``/``)."""
        self.point_ref: object = None
        """The holder's reference to that directory, held while the Mount lives."""
        self.point_node: object = None
        """The walk node of that directory in the holder."""
        self._seen = {} if seen is None else seen
        self._cut = 0 if path == "/" else len(path)
        self._devices: dict[int, int] = {}
        self._stats: dict[int, tuple[posix.stat_result, posix.stat_result]] = {}
        self._lock = threading.Lock()

    def inner(self, canonical: str) -> str:
        """The provider's own path for a canonical namespace path at or below this mount."""
        return canonical[self._cut :] or "/"

    def outer(self, inner: str) -> str:
        """The namespace path of the provider's path ``inner``."""
        if not self._cut:
            return inner
        return self.path if inner == "/" else self.path + inner

    def device(self, inner_device: int) -> int:
        """This mount's device number for the provider's device ``inner_device``."""
        device = self._devices.get(inner_device)
        if device is None:
            with self._lock:
                device = self._devices.get(inner_device)
                if device is None:
                    device = self._devices[inner_device] = new_device()
                    first = self._seen.setdefault(inner_device, self.path)
                    if first != self.path:
                        DEVICE_PER_MOUNT.hit(path=self.path, also_at=first)
        return device

    def remap(self, st: posix.stat_result) -> posix.stat_result:
        """``st`` with this mount's device number (the rebuilt record is remembered while the
        provider keeps returning the same record object, as MemoryFileSystem does)."""
        stats = self._stats
        known = stats.get(id(st))
        if known is not None and known[0] is st:
            return known[1]
        result = posix.stat_result(
            (
                st.st_mode,
                st.st_ino,
                self.device(st.st_dev),
                st.st_nlink,
                st.st_uid,
                st.st_gid,
                st.st_size,
                st[7],
                st[8],
                st[9],
                st.st_atime,
                st.st_mtime,
                st.st_ctime,
                st.st_atime_ns,
                st.st_mtime_ns,
                st.st_ctime_ns,
                st.st_blksize,
                st.st_blocks,
                st.st_rdev,
            )
        )
        if len(stats) >= STAT_CACHE_LIMIT:
            stats.clear()
        stats[id(st)] = (st, result)
        return result

    def __repr__(self) -> str:
        return f"<Mounted {self.path} {self.fs!r}>"


class MountTable:
    """Mounts by canonical path, with the longest-prefix lookup path resolution needs."""

    __slots__ = ("by_path", "root", "seen")

    def __init__(self, root: FileSystem, mounts: Mapping[str, FileSystem]) -> None:
        self.seen: dict[int, str] = {}
        """The providers' device numbers -> the first mount point that reported each."""
        self.root = Mounted("/", root, self.seen)
        self.by_path: dict[str, Mounted] = {"/": self.root}
        for path, fs in mounts.items():
            self.add(path, fs)

    def add(self, path: str, fs: FileSystem) -> Mounted:
        """A new mount of ``fs`` at ``path`` in the table (not attached yet)."""
        point = canonical_mount_point(path)
        if point in self.by_path:
            raise ValueError(f"two providers mounted at {point!r}")
        if not isinstance(fs, FileSystem):
            raise TypeError(f"a mounted provider must be a vfs.FileSystem, not {fs!r}")
        mounted = self.by_path[point] = Mounted(point, fs, self.seen)
        return mounted

    def owner(self, canonical: str) -> Mounted:
        """The mount serving a canonical path: the longest mount point at or above it."""
        by_path = self.by_path
        path = canonical
        while True:
            mounted = by_path.get(path)
            if mounted is not None:
                return mounted
            path = parent(path)

    def holds_mount_below(self, canonical: str) -> bool:
        """Whether some mount point lies strictly below the canonical directory path."""
        prefix = "/" if canonical == "/" else canonical + "/"
        return any(point.startswith(prefix) for point in self.by_path if point != "/")

    def providers(self) -> list[FileSystem]:
        """Each mounted provider once, root first."""
        seen: dict[int, FileSystem] = {}
        for mounted in self.by_path.values():
            seen.setdefault(id(mounted.fs), mounted.fs)
        return list(seen.values())
