"""MountFileSystem: a root provider with other providers mounted on its directories.

Semantics, chosen to match Linux's mounts:

- A mount point must be an existing directory, reached without symbolic links, in the provider
  that holds it (pass ``create_mount_points=True`` to make missing ones, mode 0755, like
  ``mkdir -p`` before ``mount``). It stays in its parent's listing with the entry the parent
  provider reports, as readdir shows the covered directory on Linux; stat of it (and anything
  below) is served by the mounted provider, its ``/`` being the mount point.
- The longest mount point that is a prefix of the *resolved* path wins. Links are followed by
  the Mount, in the namespace: absolute links lead to the namespace's ``/`` whatever provider
  holds them, and ``..`` at a mount's root climbs to the mount point's parent.
- rmdir of a mount point is EBUSY, unlink EISDIR, mkdir/symlink/link onto it EEXIST, rename of
  or onto it EBUSY (after the type checks that come first on Linux); rename and link between
  mounts are EXDEV, checked where Linux checks them, so ``shutil.move`` falls back to copying.
- Every mount, the root included, reports device numbers of its own (see ``Mounted``), in stat
  and in fstat of its handles.

The mount table is fixed at construction, so it needs no lock; the resolution caches have
their own (see ``vfs.mount.resolver``).
"""

from __future__ import annotations

import errno
import posix
import stat as _stat
from collections.abc import Mapping
from types import MappingProxyType

import compat
from vfs.arguments import check_access_mode, check_length, check_target
from vfs.errors import os_error, rename_error
from vfs.limits import check_path
from vfs.mount.handle import MountedHandle
from vfs.mount.resolver import Location, Names, Resolver
from vfs.mount.table import Mounted, MountTable, child, parent
from vfs.openflags import check_open_flags
from vfs.pathnames import special_errno
from vfs.provider import DirEntryInfo, FileSystem, Handle

_S_IFMT = 0o170000
_S_IFLNK = _stat.S_IFLNK

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
        self._resolver = Resolver(self._table)
        self._entries = self._resolver.entries
        self._forget = self._resolver.forget
        self._prepare_mount_points(create_mount_points)

    @property
    def mounts(self) -> Mapping[str, FileSystem]:
        """The mount table: canonical mount point -> provider (``/`` is the root provider)."""
        return MappingProxyType({path: m.fs for path, m in self._table.by_path.items()})

    @property
    def uses_python_os(self) -> bool:
        return any(mounted.fs.uses_python_os for mounted in self._table.by_path.values())

    def _prepare_mount_points(self, create: bool) -> None:
        """Check (or make) the directory under every mount point, shallowest first."""
        by_path = self._table.by_path
        for point in sorted(by_path, key=lambda p: p.count("/")):
            if point == "/":
                continue
            path = ""
            for part in point.strip("/").split("/"):
                path += "/" + part
                if path != point and path in by_path:
                    continue
                holder = self._table.owner(parent(path))
                inner = holder.inner(path)
                try:
                    mode = holder.fs.stat(inner, False).st_mode
                except FileNotFoundError:
                    if not create:
                        raise os_error(errno.ENOENT, path) from None
                    holder.fs.mkdir(inner, 0o755)
                    continue
                if not _stat.S_ISDIR(mode):
                    raise OSError(
                        errno.ENOTDIR,
                        f"mount point {point!r} needs a directory, not a link or file, at",
                        path,
                    )

    # -- status ---------------------------------------------------------------------------------

    def stat(self, path: str, follow_symlinks: bool = True) -> posix.stat_result:
        # Fast path: a path that named an entry directly before (its directory part resolved
        # and cached); one lstat on the provider tells whether the entry is still no link, and
        # an unchanged record (MemoryFileSystem keeps one per inode) needs no new device.
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
        names = (path, None)
        generation = self._resolver.generation
        location = self._resolver.locate(path, follow_symlinks, names)
        mounted = location.mounted
        try:
            st = mounted.fs.stat(location.inner, False)
        except OSError as error:
            raise rename_error(error, *names) from None
        if location.direct:
            self._resolver.remember_entry(path, location, generation)
        return mounted.remap(st)

    def statvfs(self, path: str) -> posix.statvfs_result:
        location = self._locate(path, True)
        try:
            return location.mounted.fs.statvfs(location.inner)
        except OSError as error:
            raise rename_error(error, path) from None

    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        check_access_mode(mode, path)
        location = self._locate(path, follow_symlinks)
        try:
            location.mounted.fs.access(location.inner, mode, follow_symlinks)
        except OSError as error:
            raise rename_error(error, path) from None

    def readlink(self, path: str) -> str:
        location = self._locate(path, False)
        try:
            return location.mounted.fs.readlink(location.inner)
        except OSError as error:
            raise rename_error(error, path) from None

    # -- directories ----------------------------------------------------------------------------

    def listdir(self, path: str) -> list[str]:
        location = self._locate(path, True)
        try:
            return location.mounted.fs.listdir(location.inner)
        except OSError as error:
            raise rename_error(error, path) from None

    def scandir(self, path: str) -> list[DirEntryInfo]:
        location = self._locate(path, True)
        try:
            return location.mounted.fs.scandir(location.inner)
        except OSError as error:
            raise rename_error(error, path) from None

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        names = (check_path(path), None)
        mounted, inner = self._new_name(path, names)
        try:
            mounted.fs.mkdir(inner, mode)
        except OSError as error:
            raise rename_error(error, *names) from None

    def rmdir(self, path: str) -> None:
        names = (check_path(path), None)
        mounted, inner = self._old_name(path, "rmdir", errno.EBUSY, names)
        try:
            mounted.fs.rmdir(inner)
        except OSError as error:
            raise rename_error(error, *names) from None
        finally:
            self._forget()

    def unlink(self, path: str) -> None:
        names = (check_path(path), None)
        mounted, inner = self._old_name(path, "unlink", errno.EISDIR, names)
        try:
            mounted.fs.unlink(inner)
        except OSError as error:
            raise rename_error(error, *names) from None
        finally:
            self._forget()

    # -- links ----------------------------------------------------------------------------------

    def symlink(self, target: str, path: str) -> None:
        check_path(path)
        target = check_target(target, path)
        names = (target, path)
        mounted, inner = self._new_name(path, names)
        try:
            mounted.fs.symlink(target, inner)
        except OSError as error:
            raise rename_error(error, *names) from None

    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        check_path(src, dst)
        check_path(dst, src)
        names = (src, dst)
        source = self._resolver.locate(src, follow_symlinks, names)
        try:
            source.mounted.fs.stat(source.inner, False)  # linkat looks the old name up first
        except OSError as error:
            raise rename_error(error, *names) from None
        mounted, inner = self._new_name(dst, names)
        if mounted is not source.mounted:
            self._refuse_existing(mounted, inner, dst.endswith("/"), names)
            raise os_error(errno.EXDEV, *names)
        try:
            mounted.fs.link(source.inner, inner, False)
        except OSError as error:
            raise rename_error(error, *names) from None

    def rename(self, src: str, dst: str) -> None:
        check_path(src, dst)
        check_path(dst, src)
        names = (src, dst)
        resolver = self._resolver
        old_dir, old_mount, old_last, old_trailing = resolver.parent(src, names)
        new_dir, new_mount, new_last, new_trailing = resolver.parent(dst, names)
        if old_mount is not new_mount:
            raise os_error(errno.EXDEV, *names)
        if special_errno("rename", old_last) or special_errno("rename", new_last):
            raise os_error(errno.EBUSY, *names)
        old, new = child(old_dir, old_last), child(new_dir, new_last)
        by_path = self._table.by_path
        if old in by_path or new in by_path:
            self._refuse_mount_point_rename(old, new, names)
        if self._table.holds_mount_below(old):
            self._kind(old, names)  # ENOENT and the like first
            RENAME_HOLDING_MOUNT.hit(path=src)
            raise os_error(errno.EBUSY, *names)
        inner_old = old_mount.inner(old) + ("/" if old_trailing else "")
        inner_new = new_mount.inner(new) + ("/" if new_trailing else "")
        try:
            old_mount.fs.rename(inner_old, inner_new)
        except OSError as error:
            raise rename_error(error, *names) from None
        finally:
            self._forget()

    # -- attributes -----------------------------------------------------------------------------

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        location = self._locate(path, follow_symlinks)
        try:
            location.mounted.fs.chmod(location.inner, mode, follow_symlinks)
        except OSError as error:
            raise rename_error(error, path) from None
        finally:
            self._forget()

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        location = self._locate(path, follow_symlinks)
        try:
            location.mounted.fs.chown(location.inner, uid, gid, follow_symlinks)
        except OSError as error:
            raise rename_error(error, path) from None
        finally:
            self._forget()

    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        location = self._locate(path, follow_symlinks)
        try:
            location.mounted.fs.utime(location.inner, ns, follow_symlinks)
        except OSError as error:
            raise rename_error(error, path) from None

    def truncate(self, path: str, length: int) -> None:
        check_path(path)
        check_length(length, path)
        location = self._locate(path, True)
        try:
            location.mounted.fs.truncate(location.inner, length)
        except OSError as error:
            raise rename_error(error, path) from None

    # -- opening --------------------------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        check_path(path)
        flags = check_open_flags(flags, path)
        exclusive = flags & posix.O_CREAT and flags & posix.O_EXCL
        follow = not (flags & posix.O_NOFOLLOW or exclusive)
        location = self._resolver.locate(path, follow, (path, None))
        if exclusive and location.direct and location.is_mount_root:
            raise os_error(errno.EEXIST, path)
        mounted = location.mounted
        try:
            handle = mounted.fs.open(location.inner, flags, mode)
        except OSError as error:
            raise rename_error(error, path) from None
        return MountedHandle(handle, mounted, path, self._forget)

    # -- helpers --------------------------------------------------------------------------------

    def _locate(self, path: str, follow: bool) -> Location:
        check_path(path)
        return self._resolver.locate(path, follow, (path, None))

    def _new_name(self, path: str, names: Names) -> tuple[Mounted, str]:
        """Where a call that creates ``path`` acts: EEXIST for ``.``/``..``/``/`` and mount
        points (after the parent's lookup errors), else the parent's mount and inner path."""
        directory, mounted, last, trailing = self._resolver.parent(path, names)
        target = child(directory, last)
        if special_errno("create", last) or target in self._table.by_path:
            raise os_error(errno.EEXIST, *names)
        return mounted, mounted.inner(target) + ("/" if trailing else "")

    def _old_name(
        self, path: str, operation: str, mount_point_errno: int, names: Names
    ) -> tuple[Mounted, str]:
        """Where rmdir/unlink of ``path`` acts; the special-name errno, or ``mount_point_errno``
        for a mount point, after the parent's lookup errors."""
        directory, mounted, last, trailing = self._resolver.parent(path, names)
        code = special_errno(operation, last)
        if code is not None:
            raise os_error(code, *names)
        target = child(directory, last)
        if target in self._table.by_path:
            raise os_error(mount_point_errno, *names)
        return mounted, mounted.inner(target) + ("/" if trailing else "")

    def _kind(self, canonical: str, names: Names) -> int | None:
        """The file type at a canonical path (a mount point is a directory); None if missing."""
        if canonical in self._table.by_path:
            return _stat.S_IFDIR
        mounted = self._table.owner(canonical)
        try:
            return _stat.S_IFMT(mounted.fs.stat(mounted.inner(canonical), False).st_mode)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise rename_error(error, *names) from None

    def _refuse_mount_point_rename(self, old: str, new: str, names: Names) -> None:
        """vfs_rename's order when a mount point is involved: ENOENT, EISDIR/ENOTDIR, EBUSY."""
        old_kind = self._kind(old, names)
        if old_kind is None:
            raise os_error(errno.ENOENT, *names)
        new_kind = self._kind(new, names)
        if new_kind == _stat.S_IFDIR and old_kind != _stat.S_IFDIR:
            raise os_error(errno.EISDIR, *names)
        if new_kind is not None and new_kind != _stat.S_IFDIR and old_kind == _stat.S_IFDIR:
            raise os_error(errno.ENOTDIR, *names)
        raise os_error(errno.EBUSY, *names)

    def _refuse_existing(self, mounted: Mounted, inner: str, trailing: bool, names: Names) -> None:
        """filename_create's checks on a new name: EEXIST if it exists, ENOENT for ``new/``."""
        try:
            mounted.fs.stat(inner.rstrip("/") or "/", False)
        except FileNotFoundError:
            if trailing:
                raise os_error(errno.ENOENT, *names) from None
            return
        except OSError as error:
            raise rename_error(error, *names) from None
        raise os_error(errno.EEXIST, *names)

    def close(self) -> None:
        """Close every mounted provider (each once) and the root provider."""
        for fs in self._table.providers():
            fs.close()

    def __repr__(self) -> str:
        points = ", ".join(sorted(p for p in self._table.by_path if p != "/"))
        return f"<MountFileSystem of {self._table.root.fs!r} with {points or 'no mounts'}>"
