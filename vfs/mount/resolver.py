"""Path resolution across mounts: namei over several providers, with a cache.

Each provider resolves only canonical paths of its own (no symbolic link or ``..`` left), so
links are followed here, in the namespace: an absolute link in a mounted provider leads to the
namespace's ``/``, and ``..`` at a mount's root climbs to the directory holding the mount
point, as on Linux. One ``lstat`` per component would be slow, so resolved directories are
remembered by the text of the path that named them (``heads``), and whole paths that name an
entry without a link in their directory part by their text (``entries``, used by stat's fast
path); both are forgotten whenever a name is removed, renamed, or permissions change through
the Mount. A generation number keeps a resolution that raced with such a change out of the
caches.
"""

from __future__ import annotations

import errno
import stat as _stat
import threading
from typing import Any

import compat
from vfs.errors import os_error, rename_error
from vfs.limits import MAXSYMLINKS
from vfs.mount.table import Mounted, MountTable, child, parent

CACHE_LIMIT = 8192
"""Remembered resolutions kept before the caches start over."""
Names = tuple[object, object]

DIRECT_CHANGES = compat.declare(
    id="vfs.mount.direct_changes",
    function="vfs.MountFileSystem",
    aspect="changes made to a mounted provider directly",
    level=compat.Level.FINE,
    explanation="the Mount remembers how paths resolved and forgets on changes made through "
    "it; a link or rename made on a mounted provider directly (not through the Mount), or the "
    "removal of a mount point's directory there, is not seen by paths resolved before",
)


class Location:
    """Where a path leads: the canonical namespace path, its mount and the provider's path."""

    __slots__ = ("canonical", "direct", "inner", "mounted", "trailing")

    def __init__(self, canonical: str, mounted: Mounted, trailing: bool) -> None:
        self.canonical = canonical
        self.mounted = mounted
        self.trailing = trailing
        self.direct = False
        """Whether the path's last component named this entry itself: a plain name, no link
        followed, no trailing slash (what stat's fast path may remember)."""
        inner = mounted.inner(canonical)
        self.inner = inner + "/" if trailing and inner != "/" else inner

    @property
    def is_mount_root(self) -> bool:
        """Whether this is the root of a mounted provider (a mount point, or ``/``)."""
        return self.canonical == self.mounted.path


class Resolver:
    """Resolves namespace paths to (mount, provider path), following links across mounts."""

    def __init__(self, table: MountTable) -> None:
        self.table = table
        self.heads: dict[str, tuple[str, Mounted]] = {}
        self.entries: dict[str, list[Any]] = {}
        """path -> [provider's stat, provider path, mount, (last record, its remapped copy)]"""
        self._generation = 0
        self._lock = threading.Lock()

    # -- caches --------------------------------------------------------------------------------

    def forget(self) -> None:
        """Drop every remembered resolution (a name went away or permissions changed)."""
        with self._lock:
            self._generation += 1
            self.heads.clear()
            self.entries.clear()

    def _remember(self, cache: dict[str, object], key: str, value: object, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                cache[key] = value

    def remember_entry(self, path: str, location: Location, generation: int) -> None:
        """Remember that ``path`` names ``location`` without following a link in its last part."""
        mounted = location.mounted
        entry = [mounted.fs.stat, location.inner, mounted, (None, None)]
        self._remember(self.entries, path, entry, generation)  # type: ignore[arg-type]

    @property
    def generation(self) -> int:
        """Read before resolving; a resolution is cached only if it is still current after."""
        return self._generation

    # -- resolution ----------------------------------------------------------------------------

    def directory(self, head: str, names: Names) -> tuple[str, Mounted]:
        """The canonical directory ``head`` (a path's directory part) resolves to, and its mount."""
        cached = self.heads.get(head)
        if cached is not None:
            return cached
        generation = self._generation
        found = self._walk(head, "/", self.table.root, True, True, True, names)
        result = (found.canonical, found.mounted)
        self._remember(self.heads, head, result, generation)  # type: ignore[arg-type]
        return result

    def locate(self, path: str, follow: bool, names: Names) -> Location:
        """Where ``path`` leads; its last component followed if it is a link and ``follow`` (or
        a trailing slash) says so. A missing last component is no error here: the operation on
        the provider reports it (or creates it)."""
        stripped = path.rstrip("/")
        if not stripped:
            return Location("/", self.table.root, False)
        cut = stripped.rfind("/")
        directory, mounted = self.directory(stripped[:cut] or "/", names)
        trailing = len(stripped) != len(path)
        last = stripped[cut + 1 :]
        location = self._walk(last, directory, mounted, follow, trailing, False, names)
        location.direct = (
            not trailing
            and last not in (".", "..")
            and location.canonical == child(directory, last)
        )
        return location

    def parent(self, path: str, names: Names) -> tuple[str, Mounted, str, bool]:
        """For calls that create, remove or rename a name: the canonical directory holding it,
        that directory's mount, the last component as written and whether a slash followed."""
        stripped = path.rstrip("/")
        if not stripped:
            return "/", self.table.root, "/", False
        cut = stripped.rfind("/")
        directory, mounted = self.directory(stripped[:cut] or "/", names)
        return directory, mounted, stripped[cut + 1 :], len(stripped) != len(path)

    def _walk(  # noqa: PLR0917 - the walk's whole state, named at each of two call sites
        self,
        path: str,
        current: str,
        mounted: Mounted,
        follow_last: bool,
        trailing: bool,
        directory: bool,
        names: Names,
    ) -> Location:
        """namei from the canonical directory ``current``: one component at a time, links
        expanded in place. With ``directory`` the result must be an existing directory."""
        table = self.table
        pending = [part for part in path.split("/") if part]
        pending.reverse()
        links = 0
        while pending:
            name = pending.pop()
            last = not pending
            if name == ".":
                continue
            if name == "..":
                if current == mounted.path and current != "/":
                    current = parent(current)
                    mounted = table.owner(current)
                else:
                    current = parent(current)
                continue
            candidate = child(current, name)
            below = table.by_path.get(candidate)
            if below is not None:  # a mount point: the mounted root, always a directory
                current, mounted = candidate, below
                continue
            if last and not (follow_last or trailing or directory):
                return Location(candidate, mounted, False)
            inner = mounted.inner(candidate)
            try:
                mode = mounted.fs.stat(inner, False).st_mode
            except OSError as error:
                if last and not directory:
                    return Location(candidate, mounted, trailing)
                raise rename_error(error, *names) from None
            if _stat.S_ISLNK(mode):
                links += 1
                if links > MAXSYMLINKS:
                    raise os_error(errno.ELOOP, *names)
                try:
                    target = mounted.fs.readlink(inner)
                except OSError as error:
                    raise rename_error(error, *names) from None
                if not target:
                    raise os_error(errno.ENOENT, *names)
                if target.startswith("/"):
                    current, mounted = "/", table.root
                if last and target.endswith("/"):
                    trailing = True
                parts = [part for part in target.split("/") if part]
                parts.reverse()
                pending.extend(parts)
                continue
            if not _stat.S_ISDIR(mode) and (not last or directory):
                raise os_error(errno.ENOTDIR, *names)
            current = candidate
        return Location(current, mounted, trailing and current != "/")
