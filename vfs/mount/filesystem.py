"""MountFileSystem: a root provider with other providers mounted on its directories.

Semantics, chosen to match Linux's mounts:

- A mount point must be an existing directory, reached without symbolic links, in the provider
  that holds it (pass ``create_mount_points=True`` to make missing ones, mode 0755, like
  ``mkdir -p`` before ``mount``). It stays in its parent's listing with the entry the parent
  provider reports, as readdir shows the covered directory on Linux; stat of it (and anything
  below) is served by the mounted provider, its ``/`` being the mount point.
- Paths are walked one component at a time across the mounts (:mod:`vfs.mount.nodes`): a
  mount point (a directory of the provider holding it, known by its node) leads to the
  mounted provider's root, links are followed by the walk, in the namespace (absolute links
  lead to the namespace's ``/`` whatever provider holds them), and ``..`` at a mount's root
  climbs to the mount point's parent. The walk hands the last step to the provider of the
  last directory, relative to that directory's node, so a provider never resolves a path
  prefix again. An open directory (and the cwd) is held as (mount, the provider's own
  reference), so renames and link swaps change nothing for calls through it.
- rmdir of a mount point is EBUSY, unlink EISDIR, mkdir/symlink/link onto it EEXIST, rename of
  or onto it EBUSY (after the type checks that come first on Linux; onto itself it does
  nothing, as on Linux); rename and link between mounts are EXDEV, checked where Linux
  checks them, so ``shutil.move`` falls back to copying.
- Every mount, the root included, reports device numbers of its own (see ``Mounted``), in stat
  and in fstat of its handles.

The mount table is fixed at construction, so it needs no lock; the resolution cache has its
own, whose generation every change of a name moves (see ``vfs.mount.resolver``).
"""

from __future__ import annotations

import errno
import posix
import stat as _stat
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, TypeVar

import compat
from vfs.arguments import check_access_mode, check_length, check_target
from vfs.errors import named_error, os_error
from vfs.limits import check_path, check_path_at, name_too_long
from vfs.mount.handle import MountedHandle
from vfs.mount.nodes import MountNode, MountNodes
from vfs.mount.resolver import EntryCache, RememberingWalk
from vfs.mount.table import Mounted, MountTable, canonical_mount_point, parent
from vfs.namechecks import existing, free_name, open_lookup, rmdir_lookup, unlink_lookup
from vfs.openflags import O_TMPFILE_BIT, check_open_flags
from vfs.pathnames import SPECIAL_NAMES
from vfs.provider import DirEntryInfo, FileSystem, Handle
from vfs.walk.namei import Walk

_S_IFMT = 0o170000
_S_IFLNK = _stat.S_IFLNK
_S_IFDIR = _stat.S_IFDIR
_RESOLVED_OPEN = posix.O_CREAT | posix.O_TRUNC | O_TMPFILE_BIT
"""Opens that change something (a name, a file's size) resolve their path every time."""
_RESOLVING = frozenset({_S_IFDIR, _S_IFLNK})
"""The kinds of entry a path's resolution goes through: renaming them forgets resolutions."""
T = TypeVar("T")
Target = tuple[Mounted, Any, str]
"""Where the walk hands an operation over: (mount, the provider's start node, path from it)."""

RENAME_HOLDING_MOUNT = compat.declare(
    id="vfs.mount.rename_holding_mount",
    function="os.rename",
    aspect="a directory that holds a mount point",
    level=compat.Level.FINE,
    explanation="mounts are kept by path, so renaming a directory with a mount point below it "
    "fails with EBUSY (Linux moves the mount along with the directory)",
)


class MountFileSystem(FileSystem):
    """``root_fs`` as ``/``, with each provider of ``mounts`` mounted at its (absolute) path."""

    def __init__(
        self,
        root_fs: FileSystem,
        mounts: Mapping[str, FileSystem] | None = None,
        *,
        create_mount_points: bool = False,
    ) -> None:
        if not isinstance(root_fs, FileSystem):
            raise TypeError(f"root_fs must be a vfs.FileSystem, not {root_fs!r}")
        self._table = MountTable(root_fs, mounts or {})
        self._cache = EntryCache()
        self._entries = self._cache.entries
        self._forget = self._cache.forget
        self._prepare_mount_points(create_mount_points)
        self._attach_mounts()
        self._nodes = MountNodes(self._table.root, list(self._table.by_path.values()))

    @property
    def mounts(self) -> Mapping[str, FileSystem]:
        """The mount table: canonical mount point -> provider (``/`` is the root provider)."""
        return MappingProxyType({path: m.fs for path, m in self._table.by_path.items()})

    @property
    def uses_python_os(self) -> bool:
        return any(mounted.fs.uses_python_os for mounted in self._table.by_path.values())

    def mount(self, path: str, fs: FileSystem, *, create_mount_point: bool = False) -> None:
        """Mount ``fs`` at ``path`` now (its directory must exist unless
        ``create_mount_point``): paths resolved before are resolved again. For set-up (a test
        fixture's real data): a walk under way in another thread may still end in what the
        directory held before."""
        point = canonical_mount_point(path)
        table = self._table
        if not isinstance(fs, FileSystem):
            raise TypeError(f"a mounted provider must be a vfs.FileSystem, not {fs!r}")
        if point in table.by_path:
            raise ValueError(f"two providers mounted at {point!r}")
        if table.holds_mount_below(point):
            raise ValueError(f"{point!r} holds a mount point: it would be hidden")
        self._prepare_mount_point(point, create_mount_point)
        mounted = table.add(point, fs)
        try:
            mounted.root_key = mounted.nodes.key(mounted.nodes.root())
            self._attach(mounted)
        except BaseException:
            del table.by_path[point]
            raise
        self._nodes = MountNodes(table.root, list(table.by_path.values()))
        self._forget()

    def _prepare_mount_points(self, create: bool) -> None:
        """Check (or make) the directory under every mount point, shallowest first."""
        for point in sorted(self._table.by_path, key=lambda p: p.count("/")):
            if point != "/":
                self._prepare_mount_point(point, create)

    def _prepare_mount_point(self, point: str, create: bool) -> None:
        """Check (or make) the directories down to ``point``: each component below the mount
        holding it (the ones above were checked with that mount's own point)."""
        holder = self._table.owner(parent(point))
        if holder.fs.plain_directory(holder.inner(point)):  # there already: one resolution
            return
        path = holder.path if holder.path != "/" else ""
        for part in point[len(path) + 1 :].split("/"):
            path += "/" + part
            inner = holder.inner(path)
            found = holder.fs.probe(inner, False)  # the common case builds no error
            if found is None:  # missing, or stat says what else is wrong
                try:
                    found = holder.fs.stat(inner, False)
                except FileNotFoundError:
                    if not create:
                        raise os_error(errno.ENOENT, path) from None
                    holder.fs.mkdir(inner, 0o755)
                    continue
            if not _stat.S_ISDIR(found.st_mode):
                raise OSError(
                    errno.ENOTDIR,
                    f"mount point {point!r} needs a directory, not a link or file, at",
                    path,
                )

    def _attach_mounts(self) -> None:
        """Find each mount point's directory node in the provider holding it (held while the
        Mount lives), so that the walk knows where to cross, and where ``..`` leads back."""
        table = self._table
        for mounted in table.by_path.values():
            mounted.root_key = mounted.nodes.key(mounted.nodes.root())
        for point in sorted(table.by_path, key=lambda p: p.count("/")):
            if point != "/":
                self._attach(table.by_path[point])

    def _attach(self, mounted: Mounted) -> None:
        """Hold the directory ``mounted`` covers, in the provider holding it."""
        holder = self._table.owner(parent(mounted.path))
        with Walk(holder.nodes) as walk:
            node = walk.directory(holder.inner(mounted.path))
            mounted.point_ref = holder.fs.hold(node)
        mounted.point_node = holder.nodes.start(mounted.point_ref)
        mounted.holder = holder
        holder.points[holder.nodes.key(mounted.point_node)] = mounted

    # -- the walk -----------------------------------------------------------------------------

    @contextmanager
    def _walk(self, at: object | None) -> Iterator[Walk[MountNode, MountNode]]:
        """A walk from ``at`` (the root for None), whose nodes are given back at the end."""
        start = None if at is None else self._nodes.start(at)
        with RememberingWalk(self._cache, self._nodes, start) as walk:
            yield walk

    def _known_parent(self, path: str) -> tuple[MountNode, str] | None:
        """(directory, last name) of an absolute ``path`` whose directory part the walk
        resolved before (the cache's ``heads``, as the walk itself takes it), each directory
        searched on the way and the last one still searchable, and whose last component is
        an ordinary name (no trailing slash, not ``.`` or ``..``); None for anything else,
        which the general walk then resolves (and says what is wrong).

        The fast paths of a create, a rename and an open of a missing name start here: from
        there the general walk's only step is the lookup of the last name in that directory,
        and its call into the provider is the same ``*_at`` relative to the directory's
        node, so every check and error past the directory part is the provider's as before.
        """
        cut = path.rfind("/")
        if cut <= 0:  # relative, or in the root: the general walk (one step anyway)
            return None
        name = path[cut + 1 :]
        if not name or name in SPECIAL_NAMES:
            return None
        hit = self._cache.heads.get(path[:cut])
        if hit is None:
            return None
        for may_search, node in hit[3]:  # each directory searched, and the last one
            if not may_search(node):
                return None  # the walk says where the search fails
        return hit[0], name

    def _known_name(self, path: str) -> tuple[Mounted, Any, str, bool] | None:
        """:meth:`_known_parent`'s directory and name, looked up: (mount, the directory's node
        in it, name, whether the name is there). None where the general walk must go on: a
        link there (followed, or not, in this namespace), a mount point's directory (the walk
        crosses it), or a lookup that failed. What remains is what the walk would hand to
        the provider as (its directory's node, the name), named directly."""
        known = self._known_parent(path)
        if known is None:
            return None
        directory, name = known
        mounted = directory.mounted
        nodes = mounted.nodes
        try:
            node = nodes.lookup(directory.node, name)
            if node is None:
                return mounted, directory.node, name, False
            kind = nodes.kind(node)
            if kind == _S_IFLNK:
                return None
            if kind == _S_IFDIR and mounted.points and nodes.key(node) in mounted.points:
                return None
        except OSError:  # the walk says it with the path's name
            return None
        return mounted, directory.node, name, True

    @staticmethod
    def _target(directory: MountNode, name: str, node: MountNode | None, trailing: bool) -> Target:
        """Where to act on what the walk found, without following it again: the last
        directory and the name in it, or (a mounted root, ``.``, ``..``) the node itself."""
        if node is not None and (name in SPECIAL_NAMES or node.mounted is not directory.mounted):
            return node.mounted, node.node, ""
        return directory.mounted, directory.node, name + "/" if trailing else name

    def _located(
        self, at: object | None, path: str, follow: bool, act: Callable[[Mounted, Any, str], T]
    ) -> T:
        """``act`` on the existing entry ``path`` leads to (ENOENT, ENOTDIR otherwise)."""
        with self._walk(at) as walk:
            if not path:
                start = walk.start
                return act(start.mounted, start.node, "")
            directory, name, node, trailing = walk.locate(path, follow)
            existing(walk, node, trailing, path)
            return act(*self._target(directory, name, node, trailing))

    # -- status ---------------------------------------------------------------------------------

    def stat(self, path: str, follow_symlinks: bool = True) -> posix.stat_result:
        # Fast path: a path that named an entry directly before; one lstat on the provider
        # tells whether the entry is still no link, and an unchanged record (MemoryFileSystem
        # keeps one per inode) needs no new device.
        try:
            hit = self._entries.get(path)
            if hit is not None:
                st = hit[0](hit[1], False)
                last = hit[3]
                if st is last[0]:
                    return last[1]  # type: ignore[no-any-return]
                if not follow_symlinks or st.st_mode & _S_IFMT != _S_IFLNK:
                    result = hit[2].remap(st)
                    if st.st_mode & _S_IFMT != _S_IFLNK:
                        hit[3] = (st, result)
                    return result  # type: ignore[no-any-return]
        except (OSError, TypeError):  # gone, or not a str: the general path says how
            pass
        check_path(path)
        return self.stat_at(None, path, follow_symlinks)

    def stat_at(
        self, at: object | None, path: str, follow_symlinks: bool = True
    ) -> posix.stat_result:
        if at is not None:
            # Fast path: the same relative path from the same held directory before (a dir_fd
            # call in a loop); remembered like an absolute path, forgotten on the same changes.
            try:
                hit = self._entries.get((at, path))
                if hit is not None:
                    st = hit[0](hit[1], False)
                    last = hit[3]
                    if st is last[0]:
                        return last[1]  # type: ignore[no-any-return]
                    if not follow_symlinks or st.st_mode & _S_IFMT != _S_IFLNK:
                        result = hit[2].remap(st)
                        if st.st_mode & _S_IFMT != _S_IFLNK:
                            hit[3] = (st, result)
                        return result  # type: ignore[no-any-return]
            except (OSError, TypeError):  # gone, or not hashable: the general path says how
                pass
        check_path_at(at, path)
        generation = self._cache.generation
        try:
            with self._walk(at) as walk:
                if not path:
                    start = walk.start
                    return start.mounted.remap(start.mounted.fs.stat_at(start.node, "", False))
                directory, name, node, trailing, direct = _last_step(walk, path, follow_symlinks)
                existing(walk, node, trailing, path)
                mounted, inner, rel = self._target(directory, name, node, trailing)
                st = mounted.fs.stat_at(inner, rel, False)
                if direct:
                    self._remember(
                        path if at is None else (at, path), mounted, inner, rel, generation
                    )
        except OSError as error:
            raise named_error(error, path) from None
        return mounted.remap(st)

    def _remember(
        self, key: str | tuple[object, str], mounted: Mounted, inner: Any, rel: str, generation: int
    ) -> None:
        """Remember where a path that named an entry directly (its last component by name, no
        link followed) led: ``rel`` in the directory ``inner``, or (``rel`` empty) the root of
        the mount crossed into by that name."""
        where = _join(mounted.fs.where(inner), rel) if rel else "/"
        self._cache.remember(key, mounted, where, generation)

    def probe(self, path: str, follow_symlinks: bool = True) -> posix.stat_result | None:
        return self.probe_at(None, path, follow_symlinks)

    def probe_at(
        self, at: object | None, path: str, follow_symlinks: bool = True
    ) -> posix.stat_result | None:
        try:  # stat's fast path, inline: a C library's (and the import finder's) every call
            hit = self._entries.get(path if at is None else (at, path))
            if hit is not None:
                st = hit[0](hit[1], False)
                last = hit[3]
                if st is last[0]:
                    return last[1]  # type: ignore[no-any-return]
                if not follow_symlinks or st.st_mode & _S_IFMT != _S_IFLNK:
                    result = hit[2].remap(st)
                    if st.st_mode & _S_IFMT != _S_IFLNK:
                        hit[3] = (st, result)
                    return result  # type: ignore[no-any-return]
        except (OSError, TypeError):  # gone, or not hashable: the general path says how
            pass
        if not path:
            try:  # the directory itself
                return self.stat_at(at, path, follow_symlinks)
            except OSError:
                return None
        try:
            check_path_at(at, path)
        except OSError:
            return None
        generation = self._cache.generation
        if at is None:
            # Fast path: a name in a directory the walk found before (the finder's first look
            # at each module after a directory was removed, which forgot every resolution):
            # the general walk's last step, its call into the provider, and what it remembers.
            known = self._known_name(path)
            if known is not None:
                mounted, inner, name, there = known
                if not there:
                    return None
                try:
                    st = mounted.fs.probe_at(inner, name, False)
                except OSError:
                    return None
                if st is None:
                    return None
                self._remember(path, mounted, inner, name, generation)
                return mounted.remap(st)
        try:
            with self._walk(at) as walk:  # stat_at's resolution, remembered as it is
                directory, name, node, trailing, direct = _last_step(walk, path, follow_symlinks)
                if node is None or (trailing and not walk.is_dir(node)):
                    return None
                mounted, inner, rel = self._target(directory, name, node, trailing)
                st = mounted.fs.probe_at(inner, rel, False)
                if st is not None and direct:
                    self._remember(
                        path if at is None else (at, path), mounted, inner, rel, generation
                    )
        except OSError:
            return None
        return None if st is None else mounted.remap(st)

    def watch(self, path: str) -> Callable[[], object] | None:
        # A path remembered as naming an entry directly (stat, probe or a held directory
        # resolved it), watched by the provider that holds that entry.
        try:
            hit = self._entries.get(path)
        except TypeError:
            return None
        if hit is None:
            return None
        inner = hit[2].fs.watch(hit[1])
        return None if inner is None else self._cache.watch(inner)

    def statvfs(self, path: str) -> posix.statvfs_result:
        check_path(path)
        return self.statvfs_at(None, path)

    def statvfs_at(self, at: object | None, path: str) -> posix.statvfs_result:
        check_path_at(at, path)
        try:
            return self._located(at, path, True, lambda m, n, r: m.fs.statvfs_at(n, r))
        except OSError as error:
            raise named_error(error, path) from None

    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        self.access_at(None, path, mode, follow_symlinks)

    def access_at(
        self, at: object | None, path: str, mode: int, follow_symlinks: bool = True
    ) -> None:
        check_path_at(at, path)
        check_access_mode(mode, path)
        try:
            self._located(
                at, path, follow_symlinks, lambda m, n, r: m.fs.access_at(n, r, mode, False)
            )
        except OSError as error:
            raise named_error(error, path) from None

    def readlink(self, path: str) -> str:
        check_path(path)
        return self.readlink_at(None, path)

    def readlink_at(self, at: object | None, path: str) -> str:
        check_path_at(at, path)
        try:
            return self._located(at, path, False, lambda m, n, r: m.fs.readlink_at(n, r))
        except OSError as error:
            raise named_error(error, path) from None

    # -- directories ----------------------------------------------------------------------------

    def listdir(self, path: str) -> list[str]:
        check_path(path)
        return self.listdir_at(None, path)

    def listdir_at(self, at: object | None, path: str) -> list[str]:
        # Fast path: a directory a path named directly before (the import finder lists each
        # directory on sys.path once per block). The provider lists its own entry there, if
        # it is still a directory (a link would be followed in the provider's namespace, not
        # this one) and no name changed through the Mount meanwhile.
        generation = self._cache.generation
        try:
            hit = self._entries.get(path if at is None else (at, path))
            if hit is not None and hit[0](hit[1], False).st_mode & _S_IFMT == _S_IFDIR:
                names: list[str] = hit[2].fs.listdir(hit[1])
                if self._cache.generation == generation:
                    return names
        except (OSError, TypeError):  # gone, unreadable, or not a str: the general path says
            pass
        check_path_at(at, path)
        try:
            return self._located(at, path, True, lambda m, n, r: m.fs.listdir_at(n, r))
        except OSError as error:
            raise named_error(error, path) from None

    def scandir(self, path: str) -> list[DirEntryInfo]:
        check_path(path)
        return self.scandir_at(None, path)

    def scandir_at(self, at: object | None, path: str) -> list[DirEntryInfo]:
        check_path_at(at, path)
        try:
            return self._located(at, path, True, lambda m, n, r: m.fs.scandir_at(n, r))
        except OSError as error:
            raise named_error(error, path) from None

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        check_path(path)
        self.mkdir_at(None, path, mode)

    def mkdir_at(self, at: object | None, path: str, mode: int = 0o777) -> None:
        check_path_at(at, path)
        try:
            self._cache.changing()
            with self._walk(at) as walk:
                directory, name = free_name(walk, path, "create", allow_trailing=True)
                directory.mounted.fs.mkdir_at(directory.node, name, mode)
        except OSError as error:
            raise named_error(error, path) from None

    def rmdir(self, path: str) -> None:
        check_path(path)
        self.rmdir_at(None, path)

    def rmdir_at(self, at: object | None, path: str) -> None:
        check_path_at(at, path)
        removed: tuple[object, Any] | None = None
        generation = self._cache.changing()
        try:
            with self._walk(at) as walk:
                found = rmdir_lookup(walk, path)
                directory = found.directory
                node = found.node
                if node is not None and node.mounted is not directory.mounted:
                    raise os_error(errno.EBUSY, path)
                directory.mounted.fs.rmdir_at(directory.node, found.name)
                if node is not None:  # (the key while the walk still holds the node)
                    removed = (node.mounted.fs, node.mounted.nodes.key(node.node))
        except OSError as error:
            raise named_error(error, path) from None
        finally:
            # The directory was empty: only resolutions that looked in it or ended at it
            # change (see vfs.mount.resolver), unless another change of a name came between
            # the look and the removal (what was removed may not be what the walk found).
            if removed is not None and self._cache.quiet_since(generation):
                self._cache.forget_directory(removed)
            else:
                self._forget()

    def unlink(self, path: str) -> None:
        check_path(path)
        self.unlink_at(None, path)

    def unlink_at(self, at: object | None, path: str) -> None:
        check_path_at(at, path)
        forget = True
        generation = self._cache.changing()
        try:
            with self._walk(at) as walk:
                found = unlink_lookup(walk, path)
                directory = found.directory
                if found.node is not None and found.node.mounted is not directory.mounted:
                    raise os_error(errno.EISDIR, path)
                plain = _plain(walk, found.node)
                directory.mounted.fs.unlink_at(directory.node, found.name)
                forget = not plain  # a file's removal changes no resolution (see resolver)
        except OSError as error:
            raise named_error(error, path) from None
        finally:
            if forget or not self._cache.quiet_since(generation):
                self._forget()

    # -- links ----------------------------------------------------------------------------------

    def symlink(self, target: str, path: str) -> None:
        target = check_target(target, path)
        check_path(path)
        self.symlink_at(target, None, path)

    def symlink_at(self, target: str, at: object | None, path: str) -> None:
        target = check_target(target, path)  # symlink(2) reads the target before the path
        check_path_at(at, path)
        try:
            self._cache.changing()
            with self._walk(at) as walk:
                directory, name = free_name(walk, path, "create", allow_trailing=False)
                directory.mounted.fs.symlink_at(target, directory.node, name)
        except OSError as error:
            raise named_error(error, target, path) from None

    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        check_path(src, dst)
        check_path(dst, src)
        self.link_at(None, src, None, dst, follow_symlinks)

    def link_at(
        self,
        src_at: object | None,
        src: str,
        dst_at: object | None,
        dst: str,
        follow_symlinks: bool = True,
    ) -> None:
        check_path_at(src_at, src, dst)
        check_path_at(dst_at, dst, src)
        try:
            self._cache.changing()
            with self._walk(src_at) as sources, self._walk(dst_at) as targets:
                if src:
                    old_dir, old_name, node, trailing = sources.locate(src, follow_symlinks)
                    existing(sources, node, trailing, src)
                    mounted, inner, rel = self._target(old_dir, old_name, node, trailing)
                else:
                    mounted, inner, rel = sources.start.mounted, sources.start.node, ""
                directory, name = free_name(targets, dst, "create", allow_trailing=False)
                if directory.mounted is not mounted:
                    raise os_error(errno.EXDEV)
                mounted.fs.link_at(inner, rel, directory.node, name, False)
        except OSError as error:
            raise named_error(error, src, dst) from None

    def rename(self, src: str, dst: str) -> None:
        check_path(src, dst)
        check_path(dst, src)
        self.rename_at(None, src, None, dst)

    def rename_at(self, src_at: object | None, src: str, dst_at: object | None, dst: str) -> None:
        check_path_at(src_at, src, dst)
        check_path_at(dst_at, dst, src)
        forget = True
        generation = self._cache.changing()
        try:
            if src_at is None and dst_at is None and self._rename_files(src, dst):
                forget = False  # two files' names: no resolution changed (see the resolver)
                return
            with self._walk(src_at) as sources, self._walk(dst_at) as targets:
                old_dir, old_name, old_slash, _ = sources.parent(src)
                new_dir, new_name, new_slash, _ = targets.parent(dst)
                mounted = old_dir.mounted
                if new_dir.mounted is not mounted:
                    raise os_error(errno.EXDEV)
                if old_name in SPECIAL_NAMES or new_name in SPECIAL_NAMES:
                    raise os_error(errno.EBUSY)
                old = sources.child(old_dir, old_name, src)
                new = targets.child(new_dir, new_name, dst)
                if _crosses(old, old_dir) or _crosses(new, new_dir):
                    if _crosses(old, old_dir) and _crosses(new, new_dir):
                        assert old is not None and new is not None
                        if old.mounted is new.mounted:  # one mount point onto itself:
                            return  # vfs_rename's "source == target" comes before EBUSY
                    self._refuse_mount_point_rename(sources, old, new, old_slash or new_slash)
                if old is not None and mounted.points and sources.is_dir(old):
                    nodes = mounted.nodes
                    if any(nodes.encloses(old.node, m.point_node) for m in mounted.points.values()):
                        RENAME_HOLDING_MOUNT.hit(path=src)
                        raise os_error(errno.EBUSY)
                plain = _plain(sources, old) and (new is None or _plain(targets, new))
                mounted.fs.rename_at(
                    old_dir.node,
                    old_name + "/" if old_slash else old_name,
                    new_dir.node,
                    new_name + "/" if new_slash else new_name,
                )
                forget = not plain  # a file moved onto a free name or another file changes
                # no resolution (see vfs.mount.resolver)
        except OSError as error:
            raise named_error(error, src, dst) from None
        finally:
            if forget or not self._cache.quiet_since(generation):
                self._forget()

    def _rename_files(self, src: str, dst: str) -> bool:
        """Fast path of rename: a file (neither a directory nor a link) moved onto a free name
        or over another such file, both directories found by the walk before, in one mount
        (what writing bytecode aside and replacing the old does). The general walk would
        find the same two directories and names, none of its checks (EXDEV, EBUSY for a mount
        point or a directory holding one, the type checks) could fail, and its call into the
        provider is this one. False, having done nothing, for anything else."""
        old = self._known_parent(src)
        if old is None:
            return False
        cut = dst.rfind("/")
        if cut > 0 and src.rfind("/") == cut and src[:cut] == dst[:cut]:  # one directory
            # (the common case: asked once), if the new name is an ordinary one
            name = dst[cut + 1 :]
            new = None if not name or name in SPECIAL_NAMES else (old[0], name)
        else:
            new = self._known_parent(dst)
        if new is None:
            return False
        old_dir, old_name = old
        new_dir, new_name = new
        mounted = old_dir.mounted
        if new_dir.mounted is not mounted:
            return False
        nodes = mounted.nodes
        try:
            node = nodes.lookup(old_dir.node, old_name)
            if node is None or nodes.kind(node) in _RESOLVING:
                return False
            victim = nodes.lookup(new_dir.node, new_name)
            if victim is not None and nodes.kind(victim) in _RESOLVING:
                return False
        except OSError:  # the walk says it with the paths' names
            return False
        mounted.fs.rename_at(old_dir.node, old_name, new_dir.node, new_name)
        return True

    @staticmethod
    def _refuse_mount_point_rename(
        walk: Walk[MountNode, MountNode],
        old: MountNode | None,
        new: MountNode | None,
        slash: bool,
    ) -> None:
        """vfs_rename's order when a mount point is involved: ENOENT, ENOTDIR for a
        non-directory named with a trailing slash, EISDIR/ENOTDIR, EBUSY."""
        if old is None:
            raise os_error(errno.ENOENT)
        old_is_dir = walk.is_dir(old)
        if slash and not old_is_dir:
            raise os_error(errno.ENOTDIR)
        if new is not None:
            new_is_dir = walk.is_dir(new)
            if new_is_dir and not old_is_dir:
                raise os_error(errno.EISDIR)
            if not new_is_dir and old_is_dir:
                raise os_error(errno.ENOTDIR)
        raise os_error(errno.EBUSY)

    # -- attributes -----------------------------------------------------------------------------

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        self.chmod_at(None, path, mode, follow_symlinks)

    def chmod_at(
        self, at: object | None, path: str, mode: int, follow_symlinks: bool = True
    ) -> None:
        check_path_at(at, path)
        try:
            self._located(
                at, path, follow_symlinks, lambda m, n, r: m.fs.chmod_at(n, r, mode, False)
            )
        except OSError as error:
            raise named_error(error, path) from None
        finally:
            self._forget()

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        self.chown_at(None, path, uid, gid, follow_symlinks)

    def chown_at(
        self, at: object | None, path: str, uid: int, gid: int, follow_symlinks: bool = True
    ) -> None:
        check_path_at(at, path)
        try:
            self._located(
                at, path, follow_symlinks, lambda m, n, r: m.fs.chown_at(n, r, uid, gid, False)
            )
        except OSError as error:
            raise named_error(error, path) from None
        finally:
            self._forget()

    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        check_path(path)
        self.utime_at(None, path, ns, follow_symlinks)

    def utime_at(
        self,
        at: object | None,
        path: str,
        ns: tuple[int, int] | None = None,
        follow_symlinks: bool = True,
    ) -> None:
        check_path_at(at, path)
        try:
            self._located(at, path, follow_symlinks, lambda m, n, r: m.fs.utime_at(n, r, ns, False))
        except OSError as error:
            raise named_error(error, path) from None

    def truncate(self, path: str, length: int) -> None:
        check_path(path)
        self.truncate_at(None, path, length)

    def truncate_at(self, at: object | None, path: str, length: int) -> None:
        check_path_at(at, path)
        check_length(length, path)
        try:
            self._located(at, path, True, lambda m, n, r: m.fs.truncate_at(n, r, length))
        except OSError as error:
            raise named_error(error, path) from None

    # -- opening --------------------------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        check_path(path)
        return self.open_at(None, path, flags, mode)

    def open_at(self, at: object | None, path: str, flags: int, mode: int = 0o666) -> Handle:
        check_path_at(at, path)
        flags = check_open_flags(flags, path)
        if not flags & _RESOLVED_OPEN:
            # Fast path: an existing entry a path named directly before (the import system
            # reads each module's bytecode this way), as stat's: opened in the provider by its
            # canonical path while it is no link (a link would be followed in the provider's
            # namespace, not this one) and no name changed through the Mount meanwhile. Only
            # opens that change nothing (no O_CREAT, O_TRUNC, O_TMPFILE), so one raced is
            # closed and done again the general way; any error is the general path's to say.
            generation = self._cache.generation
            try:
                hit = self._entries.get(path if at is None else (at, path))
                if hit is not None and hit[0](hit[1], False).st_mode & _S_IFMT != _S_IFLNK:
                    mounted = hit[2]
                    handle = mounted.fs.open_at(None, hit[1], flags, mode)
                    if self._cache.generation == generation:
                        return MountedHandle(handle, mounted, path, self._forget)
                    handle.close()
            except (OSError, TypeError):  # gone, refused, or not hashable: see below
                pass
        if at is None and not flags & O_TMPFILE_BIT:
            # Fast path: a name missing from a directory the walk found before (the import
            # system's first look for a module's bytecode, then its creation aside): the
            # general walk would look the name up there and, finding nothing, fail with ENOENT
            # or have the provider create it relative to the directory's node; so does this,
            # without walking the directory part again. Anything there (a file, a link, a
            # mount point's directory) is the general path's, as is a name maybe too long.
            known = self._known_name(path)
            if known is not None and not known[3] and not name_too_long(known[2]):
                if not flags & posix.O_CREAT:
                    raise os_error(errno.ENOENT, path)
                mounted, inner, name, _ = known
                try:
                    handle = mounted.fs.open_at(inner, name, flags, mode)
                except OSError as error:
                    raise named_error(error, path) from None
                return MountedHandle(handle, mounted, path, self._forget)
        generation = self._cache.generation
        try:
            with self._walk(at) as walk:
                if not path:
                    start = walk.start
                    mounted, inner, rel = start.mounted, start.node, ""
                elif flags & posix.O_CREAT:
                    found = open_lookup(walk, path, flags)
                    directory = found.directory
                    if found.node is None:
                        mounted, inner, rel = directory.mounted, directory.node, found.name
                    else:
                        mounted, inner, rel = self._target(directory, found.name, found.node, False)
                else:
                    directory, name, node, trailing, direct = _last_step(
                        walk, path, not flags & posix.O_NOFOLLOW
                    )
                    existing(walk, node, trailing, path)
                    mounted, inner, rel = self._target(directory, name, node, trailing)
                    if direct:  # for the fast path above (and stat's); before the open, so
                        # that nothing after it can fail and leave its handle open
                        key = path if at is None else (at, path)
                        self._remember(key, mounted, inner, rel, generation)
                handle = mounted.fs.open_at(inner, rel, flags, mode)
        except OSError as error:
            raise named_error(error, path) from None
        return MountedHandle(handle, mounted, path, self._forget)

    # -- directory references -------------------------------------------------------------------

    def nodes(self) -> MountNodes:
        return self._nodes

    def directory(self, at: object | None, path: str) -> MountNode:
        check_path_at(at, path)
        if not path and isinstance(at, MountNode):  # fchdir: the provider's own reference
            mounted = at.mounted
            try:
                return MountNode(mounted, mounted.fs.directory(at.node, ""))
            except OSError as error:
                raise named_error(error, path) from None
        generation = self._cache.generation
        try:
            with self._walk(at) as walk:
                if path:
                    directory, name, node, trailing, direct = _last_step(walk, path, True)
                    if node is None:
                        raise os_error(errno.ENOENT, path)
                    if not walk.is_dir(node):
                        raise os_error(errno.ENOTDIR, path)
                    walk.searchable(node, path)
                    if direct:
                        self._remember(
                            path if at is None else (at, path),
                            *self._target(directory, name, node, trailing),
                            generation,
                        )
                else:
                    node = walk.searchable(walk.start, path)
                mounted = node.mounted
                return MountNode(mounted, mounted.fs.hold(node.node))
        except OSError as error:
            raise named_error(error, path) from None

    def hold(self, directory: object) -> MountNode:
        if not isinstance(directory, MountNode):
            raise TypeError(f"not a directory of a MountFileSystem: {directory!r}")
        mounted = directory.mounted
        return MountNode(mounted, mounted.fs.hold(directory.node))

    def where(self, directory: object) -> str:
        if not isinstance(directory, MountNode):
            raise TypeError(f"not a directory of a MountFileSystem: {directory!r}")
        mounted = directory.mounted
        return mounted.outer(mounted.fs.where(directory.node))

    def release(self, directory: object) -> None:
        if isinstance(directory, MountNode):
            directory.mounted.fs.release(directory.node)

    def close(self) -> None:
        """Give back the mount points' directories, then close every mounted provider (each
        once) and the root provider."""
        for mounted in self._table.by_path.values():
            holder, held = mounted.holder, mounted.point_ref
            if holder is not None and held is not None:
                mounted.point_ref = None
                holder.fs.release(held)
        for fs in self._table.providers():
            fs.close()

    def __repr__(self) -> str:
        points = ", ".join(sorted(p for p in self._table.by_path if p != "/"))
        return f"<MountFileSystem of {self._table.root.fs!r} with {points or 'no mounts'}>"


def _last_step(
    walk: Walk[MountNode, MountNode], path: str, follow: bool
) -> tuple[MountNode, str, MountNode | None, bool, bool]:
    """(directory, name, node or None, trailing slash, named directly) of ``path``'s last
    component, links followed when ``follow`` or a trailing slash asks; "named directly": by
    its name, no link followed, no trailing slash (what the resolution cache remembers)."""
    directory, name, trailing, hops = walk.parent(path)
    node = walk.child(directory, name, path)
    direct = not trailing and node is not None and name not in SPECIAL_NAMES
    if node is not None and (follow or trailing) and walk.is_link(node):
        direct = False
        while node is not None and walk.is_link(node):
            directory, name, node, slash, hops = walk.through(directory, node, path, hops)
            trailing = trailing or slash
    return directory, name, node, trailing, direct


def _plain(walk: Walk[MountNode, MountNode], node: MountNode | None) -> bool:
    """Whether ``node`` is an entry no resolution goes through: neither a directory nor a
    link (nor a mounted root)."""
    return node is not None and not walk.is_dir(node) and not walk.is_link(node)


def _crosses(node: MountNode | None, directory: MountNode) -> bool:
    """Whether ``node``, found in ``directory``, is the root of another mount."""
    return node is not None and node.mounted is not directory.mounted


def _join(directory: str, name: str) -> str:
    return "/" + name if directory == "/" else directory + "/" + name
