"""PyFilesystemProvider: any PyFilesystem2 FS (``fs.base.FS``) as a vfs provider.

The wrapped FS names resources by path only; the adapter adds what a POSIX provider needs on
top of it, consistently: ``.``/``..``/``//`` folded the way Linux walks them (each component
before a ``.`` or ``..`` must be a directory), ENOTDIR rather than ENOENT where a parent is a
file, inode numbers stable per path (:mod:`inodes`), one ``st_dev`` per adapter, modes and
owners from the FS's ``stat``/``access`` info or synthesised (:mod:`stats`), and Linux's order
of checks around each call. What an FS cannot do at all answers as Linux does for a file
system without it (vfat: EPERM for symlink, link, and for chmod or chown that would change
anything), with a compat gap hit.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import posix
import stat as _stat
import threading
import time
from collections.abc import Iterator
from typing import IO

import compat
from vfs.adapters.pyfilesystem.errors import errno_of
from vfs.adapters.pyfilesystem.handle import WRITE, PyFilesystemHandle, access_of
from vfs.adapters.pyfilesystem.inodes import InodeTable
from vfs.adapters.pyfilesystem.library import FS, Info, Permissions, fs_errors
from vfs.adapters.pyfilesystem.stats import NAMESPACES, build_stat, build_statvfs, kind_of
from vfs.arguments import check_target
from vfs.errors import os_error
from vfs.limits import check_path, name_too_long
from vfs.openflags import O_TMPFILE_BIT, check_open_flags
from vfs.pathnames import SPECIAL_NAMES, special_errno, split
from vfs.provider import DirEntryInfo, FileSystem

SYMLINKS = compat.declare(
    id="vfs.pyfilesystem.symlinks",
    function="os.symlink",
    aspect="symbolic links over PyFilesystem2",
    level=compat.Level.FINE,
    explanation="PyFilesystem2 cannot create or read links: symlink fails with EPERM (as on "
    "vfat), readlink with EINVAL, and links already in the wrapped FS look like their targets",
)
HARD_LINKS = compat.declare(
    id="vfs.pyfilesystem.hard_links",
    function="os.link",
    aspect="hard links over PyFilesystem2",
    level=compat.Level.FINE,
    explanation="PyFilesystem2 has no hard links: link fails with EPERM (as on vfat), and "
    "without a host stat record every file and directory reports one link",
)
MODES = compat.declare(
    id="vfs.pyfilesystem.modes",
    function="os.chmod",
    aspect="permission bits over PyFilesystem2",
    level=compat.Level.FINE,
    explanation="PyFilesystem2 cannot set permissions: new files and directories get the "
    "wrapped FS's own (0644/0755 if it reports none) and a chmod that would change them fails "
    "with EPERM (as on vfat)",
)
OWNERS = compat.declare(
    id="vfs.pyfilesystem.owners",
    function="os.chown",
    aspect="owners over PyFilesystem2",
    level=compat.Level.FINE,
    explanation="PyFilesystem2 cannot set owners: a chown that would change one fails with EPERM "
    "(as on vfat); files without reported owners belong to the calling process",
)
TIMES = compat.declare(
    id="vfs.pyfilesystem.times",
    function="os.utime",
    aspect="nanosecond times over PyFilesystem2",
    level=compat.Level.FINE,
    explanation="PyFilesystem2 takes times as float seconds, so utime keeps them to about a "
    "microsecond, and an FS without ctime or atime reports mtime for them",
)
TMPFILE = compat.declare(
    id="vfs.pyfilesystem.tmpfile",
    function="os.open",
    aspect="O_TMPFILE over PyFilesystem2",
    level=compat.Level.FINE,
    explanation="PyFilesystem2 has no unnamed files: O_TMPFILE fails with EOPNOTSUPP, as on a "
    "Linux file system without tmpfile support",
)
EXCLUSIVE = compat.declare(
    id="vfs.pyfilesystem.exclusive_create",
    function="os.open",
    aspect="O_CREAT|O_EXCL over PyFilesystem2",
    level=compat.Level.FINE,
    explanation="O_EXCL is exactly as atomic as the wrapped FS's 'x' open mode (it is for "
    "MemoryFS and OSFS; PyFilesystem2 promises it for no FS)",
)
DIRECTORY_RENAME = compat.declare(
    id="vfs.pyfilesystem.directory_rename",
    function="os.rename",
    aspect="renaming directories over PyFilesystem2",
    level=compat.Level.FINE,
    explanation="a wrapped FS without its own movedir moves a directory by copying it and "
    "removing the original, so the rename is not atomic and can fail half-way",
)

_devices = itertools.count(1)
_HOT_PATH_LIMIT = 63
"""Paths this long or shorter cannot hold a component over NAME_MAX bytes (4 bytes a char)."""


class PyFilesystemProvider(FileSystem):
    """A vfs provider over the PyFilesystem2 FS ``fs`` (closed with it unless ``own`` is false).

    Thread-safe as far as the wrapped FS is (PyFilesystem2's own FSs lock themselves); the
    adapter's own tables take their own locks.
    """

    uses_python_os = True
    """The wrapped library calls Python's os and open."""

    def __init__(self, fs: FS, *, own: bool = True) -> None:
        self.fs = fs
        self._own = own
        self.inodes = InodeTable()
        self.device = posix.makedev(0, 0x4000 + next(_devices))
        self.append_lock = threading.Lock()
        self.read_only = bool(fs.getmeta().get("read_only", False))
        self._atomic_movedir = type(fs).movedir is not FS.movedir

    # -- paths --------------------------------------------------------------------------------

    def _resolve(self, path: str) -> tuple[str, bool]:
        """(the FS path ``path`` leads to, whether it ended in a slash), walked as namei does."""
        trailing = len(path) > 1 and path.endswith("/") and path.strip("/") != ""
        if "/." not in path and "//" not in path and len(path) <= _HOT_PATH_LIMIT:
            return (path.rstrip("/") or "/"), trailing
        parts: list[str] = []
        for name in path.split("/"):
            if name in ("", "."):
                if name == "." and parts:
                    self._require_directory("/" + "/".join(parts), path)
                continue
            if name == "..":
                if parts:
                    self._require_directory("/" + "/".join(parts), path)
                    parts.pop()
                continue
            parts.append(name)
        return "/" + "/".join(parts), trailing

    def _require_directory(self, fs_path: str, path: str) -> None:
        """ENOENT or ENOTDIR unless ``fs_path`` is a directory (a walk passes through it)."""
        info = self._lookup(fs_path, path)
        if info is None:
            raise self._missing(fs_path, path)
        if not info.is_dir:
            raise os_error(errno.ENOTDIR, path)

    def _missing(self, fs_path: str, path: str, path2: str | None = None) -> OSError:
        """The error for a resource the FS did not find, in the order Linux walks a path:
        ENOENT for a missing directory, ENOTDIR for a file, ENAMETOOLONG for a long name."""
        cut = 0
        while True:
            start, cut = cut + 1, fs_path.find("/", cut + 1)
            if name_too_long(fs_path[start : cut if cut >= 0 else None]):
                return os_error(errno.ENAMETOOLONG, path, path2)
            if cut < 0:
                return os_error(errno.ENOENT, path, path2)
            info = self._lookup(fs_path[:cut], path)
            if info is None:
                return os_error(errno.ENOENT, path, path2)
            if not info.is_dir:
                return os_error(errno.ENOTDIR, path, path2)

    def _lookup(self, fs_path: str, path: str, namespaces: tuple[str, ...] = ()) -> Info | None:
        """The FS's info on ``fs_path``, or None if it has no such resource."""
        if len(fs_path) > _HOT_PATH_LIMIT and name_too_long(fs_path.rsplit("/", 1)[1]):
            raise self._missing(fs_path, path)
        try:
            return self.fs.getinfo(fs_path, namespaces)
        except fs_errors.ResourceNotFound:
            return None
        except fs_errors.FSError as error:
            raise os_error(errno_of(error), path) from None

    @contextlib.contextmanager
    def _calling(self, fs_path: str, path: str, path2: str | None = None) -> Iterator[None]:
        """Translate what the FS raises into Linux's OSError for the caller's path(s)."""
        try:
            yield
        except fs_errors.ResourceNotFound:
            raise self._missing(fs_path, path, path2) from None
        except fs_errors.FSError as error:
            raise os_error(errno_of(error), path, path2) from None

    def _info(self, path: str, follow: bool = True) -> tuple[str, Info]:
        """The FS path and full info of an existing ``path`` (ENOTDIR for a file with a slash)."""
        check_path(path)
        fs_path, trailing = self._resolve(path)
        info = self._lookup(fs_path, path, NAMESPACES)
        if info is None:
            raise self._missing(fs_path, path)
        if trailing and not info.is_dir:
            raise os_error(errno.ENOTDIR, path)
        return fs_path, info

    # -- queries ------------------------------------------------------------------------------

    def stat(self, path: str, follow_symlinks: bool = True) -> posix.stat_result:
        fs_path, info = self._info(path)
        return self._stat(fs_path, info)

    def _stat(self, fs_path: str, info: Info, ino: int | None = None) -> posix.stat_result:
        if "stat" not in info.raw:
            HARD_LINKS.hit()
            if "metadata_changed" not in (info.raw.get("details") or {}):
                TIMES.hit()
        if ino is None:
            ino = self.inodes.number(fs_path)
        return build_stat(info, ino, self.device)

    def stat_resource(self, fs_path: str, ino: int) -> posix.stat_result:
        """fstat of an open resource still at ``fs_path``."""
        info = self._lookup(fs_path, fs_path, NAMESPACES)
        if info is None:
            raise os_error(errno.ENOENT, fs_path)
        return self._stat(fs_path, info, ino)

    def orphan_stat(
        self, ino: int, is_dir: bool, size: int, last: posix.stat_result | None
    ) -> posix.stat_result:
        """fstat of an open resource whose name is gone: what was last seen, with no links."""
        kind = _stat.S_IFDIR if is_dir else _stat.S_IFREG
        fields = list(last) if last is not None else [kind | 0o644, ino, self.device, 0, 0, 0, 0]
        fields += [0] * (7 - len(fields))
        fields[3], fields[6] = 0, size
        ns = (last.st_atime_ns, last.st_mtime_ns, last.st_ctime_ns) if last else (0, 0, 0)
        return posix.stat_result(
            (*fields[:7], *(t // 1_000_000_000 for t in ns), *(t / 1e9 for t in ns), *ns)
        )

    def listdir(self, path: str) -> list[str]:
        check_path(path)
        fs_path, _ = self._resolve(path)
        with self._calling(fs_path, path):
            return list(self.fs.listdir(fs_path))

    def scandir(self, path: str) -> list[DirEntryInfo]:
        check_path(path)
        fs_path, _ = self._resolve(path)
        base = fs_path.rstrip("/") + "/"
        number = self.inodes.number
        with self._calling(fs_path, path):
            return [
                DirEntryInfo(info.name, kind_of(info), number(base + info.name))
                for info in self.fs.scandir(fs_path, ("details",))
            ]

    def readlink(self, path: str) -> str:
        self._info(path)
        SYMLINKS.hit(path=path)
        raise os_error(errno.EINVAL, path)

    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        if mode & ~7:
            raise os_error(errno.EINVAL, path)
        st = self.stat(path)
        if mode & posix.W_OK and self.read_only:
            raise os_error(errno.EROFS, path)
        if mode and not _permitted(st, mode):
            raise os_error(errno.EACCES, path)

    def statvfs(self, path: str) -> posix.statvfs_result:
        self._info(path)
        return build_statvfs(self.device, self.read_only)

    # -- opening ------------------------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o666) -> PyFilesystemHandle:
        check_path(path)
        flags = check_open_flags(flags, path)
        if flags & O_TMPFILE_BIT:
            _, directory = self._info(path)
            if not directory.is_dir:
                raise os_error(errno.ENOTDIR, path)
            TMPFILE.hit(path=path)
            raise os_error(errno.EOPNOTSUPP, path)
        _, last, _ = split(path)
        if flags & posix.O_CREAT and last in SPECIAL_NAMES:
            raise os_error(errno.EEXIST if flags & posix.O_EXCL else errno.EISDIR, path)
        fs_path, trailing = self._resolve(path)
        info = self._lookup(fs_path, path)
        if info is None:
            if not flags & posix.O_CREAT or flags & posix.O_PATH:
                raise self._missing(fs_path, path)
            if trailing:
                raise os_error(errno.EISDIR, path)
            return self._create(fs_path, path, flags, mode)
        if flags & posix.O_CREAT and flags & posix.O_EXCL:
            raise os_error(errno.EEXIST, path)
        if flags & posix.O_CREAT and trailing:
            raise os_error(errno.EISDIR, path)
        ino = self.inodes.number(fs_path)
        is_dir = info.is_dir
        if flags & posix.O_PATH:
            if flags & posix.O_DIRECTORY and not is_dir:
                raise os_error(errno.ENOTDIR, path)
            return PyFilesystemHandle(self, ino, flags, path, file=None, is_dir=is_dir)
        if is_dir:
            if flags & posix.O_CREAT:
                raise os_error(errno.EISDIR, path)
            if access_of(flags) & WRITE or flags & posix.O_TRUNC:
                raise os_error(errno.EISDIR, path)
            return PyFilesystemHandle(self, ino, flags, path, file=None, is_dir=True)
        if flags & posix.O_DIRECTORY or trailing:
            raise os_error(errno.ENOTDIR, path)
        access = access_of(flags)
        if flags & posix.O_TRUNC:
            file = self._openbin(fs_path, path, "w+b")
        elif access & WRITE:
            file = self._openbin(fs_path, path, "r+b")
        elif access:
            file = self._openbin(fs_path, path, "rb")
        else:
            file = None  # access mode 3: a handle that can neither read nor write
        return PyFilesystemHandle(self, ino, flags, path, file=file, is_dir=False)

    def _create(self, fs_path: str, path: str, flags: int, mode: int) -> PyFilesystemHandle:
        """O_CREAT of a name that did not exist: the FS's exclusive mode, then a plain open."""
        if flags & posix.O_EXCL:
            EXCLUSIVE.hit(path=path)
        if mode & 0o7777 != 0o666:
            MODES.hit(path=path, mode=oct(mode))
        try:
            file = self._openbin(fs_path, path, "x+b")
        except FileExistsError:
            if flags & posix.O_EXCL:
                raise
            return self.open(path, flags & ~posix.O_CREAT, mode)  # created meanwhile
        return PyFilesystemHandle(
            self, self.inodes.number(fs_path), flags, path, file=file, is_dir=False
        )

    def _openbin(self, fs_path: str, path: str, mode: str) -> IO[bytes]:
        with self._calling(fs_path, path):
            file: IO[bytes] = self.fs.openbin(fs_path, mode, buffering=0)
            return file

    # -- creating and removing names ----------------------------------------------------------

    def _free_name(self, path: str, operation: str, path2: str | None = None) -> str:
        """The FS path where ``path`` would be created: its parent must exist, it must not."""
        _, last, _ = split(path)
        code = special_errno(operation, last)
        if code:
            raise os_error(code, path, path2)
        fs_path, _ = self._resolve(path)
        if self._lookup(fs_path, path) is not None:
            raise os_error(errno.EEXIST, path, path2)
        parent = fs_path.rsplit("/", 1)[0] or "/"
        parent_info = self._lookup(parent, path)
        if parent_info is None:
            raise self._missing(parent, path, path2)
        if not parent_info.is_dir:
            raise os_error(errno.ENOTDIR, path, path2)
        if self.read_only:
            raise os_error(errno.EROFS, path, path2)
        return fs_path

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        check_path(path)
        fs_path = self._free_name(path, "create")
        if mode & 0o7777 != 0o777:
            MODES.hit(path=path, mode=oct(mode))
        with self._calling(fs_path, path):
            self.fs.makedir(fs_path, permissions=Permissions(mode=mode & 0o7777))

    def symlink(self, target: str, path: str) -> None:
        target = check_target(target, path)
        check_path(path)
        try:
            self._free_name(path, "create")
        except OSError as error:
            raise os_error(error.errno or errno.EIO, target, path) from None
        SYMLINKS.hit(path=path)
        raise os_error(errno.EPERM, target, path)

    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        check_path(src, dst)
        check_path(dst)
        try:
            self._info(src)
            self._free_name(dst, "create")
        except OSError as error:
            raise os_error(error.errno or errno.EIO, src, dst) from None
        HARD_LINKS.hit(path=dst)
        raise os_error(errno.EPERM, src, dst)

    def unlink(self, path: str) -> None:
        check_path(path)
        _, last, _ = split(path)
        code = special_errno("unlink", last)
        if code:
            raise os_error(code, path)
        fs_path, trailing = self._resolve(path)
        info = self._lookup(fs_path, path)
        if info is None:
            raise self._missing(fs_path, path)
        if info.is_dir:
            raise os_error(errno.EISDIR, path)
        if trailing:
            raise os_error(errno.ENOTDIR, path)
        with self._calling(fs_path, path):
            self.fs.remove(fs_path)
        self.inodes.forget(fs_path)

    def rmdir(self, path: str) -> None:
        check_path(path)
        _, last, _ = split(path)
        code = special_errno("rmdir", last)
        if code:
            raise os_error(code, path)
        fs_path, _ = self._resolve(path)
        info = self._lookup(fs_path, path)
        if info is None:
            raise self._missing(fs_path, path)
        if not info.is_dir:
            raise os_error(errno.ENOTDIR, path)
        if fs_path == "/":
            raise os_error(errno.EBUSY, path)
        with self._calling(fs_path, path):
            self.fs.removedir(fs_path)
        self.inodes.forget(fs_path)

    def rename(self, src: str, dst: str) -> None:
        check_path(src, dst)
        check_path(dst)
        for name in (split(src)[1], split(dst)[1]):
            if name in SPECIAL_NAMES:
                raise os_error(errno.EBUSY, src, dst)
        try:
            old, old_slash = self._resolve(src)
            new, new_slash = self._resolve(dst)
        except OSError as error:
            raise os_error(error.errno or errno.EIO, src, dst) from None
        source = self._lookup(old, src)
        if source is None:
            raise self._missing(old, src, dst)
        target = self._lookup(new, dst)
        if target is None:
            parent = new.rsplit("/", 1)[0] or "/"
            if self._lookup(parent, dst) is None or not self._lookup_is_dir(parent, dst):
                raise self._missing(new, src, dst)
        is_dir = source.is_dir
        if not is_dir and (old_slash or new_slash):
            raise os_error(errno.ENOTDIR, src, dst)
        if is_dir and (new + "/").startswith(old.rstrip("/") + "/") and new != old:
            raise os_error(errno.EINVAL, src, dst)
        if target is not None and is_dir and (old + "/").startswith(new.rstrip("/") + "/"):
            raise os_error(errno.ENOTEMPTY, src, dst)
        if old == new:
            return
        if target is not None:
            if is_dir and not target.is_dir:
                raise os_error(errno.ENOTDIR, src, dst)
            if not is_dir and target.is_dir:
                raise os_error(errno.EISDIR, src, dst)
        if self.read_only:
            raise os_error(errno.EROFS, src, dst)
        with self._calling(old, src, dst):
            if is_dir:
                self._move_directory(old, new, replace=target is not None)
            else:
                self.fs.move(old, new, overwrite=True)
        self.inodes.move(old, new)

    def _lookup_is_dir(self, fs_path: str, path: str) -> bool:
        info = self._lookup(fs_path, path)
        return info is not None and info.is_dir

    def _move_directory(self, old: str, new: str, replace: bool) -> None:
        """rename(2) of a directory; ``new``, if it exists, is an empty directory."""
        if replace:
            if not self.fs.isempty(new):
                raise os_error(errno.ENOTEMPTY, old, new)
            self.fs.removedir(new)
        if not self._atomic_movedir:
            DIRECTORY_RENAME.hit(path=old)
        self.fs.movedir(old, new, create=True)

    # -- changing attributes ------------------------------------------------------------------

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        st = self.stat(path)
        if _stat.S_IMODE(st.st_mode) != mode & 0o7777:
            MODES.hit(path=path, mode=oct(mode))
            raise os_error(errno.EPERM, path)

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        st = self.stat(path)
        if uid not in (-1, st.st_uid) or gid not in (-1, st.st_gid):
            OWNERS.hit(path=path)
            raise os_error(errno.EPERM, path)

    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        fs_path, _ = self._info(path)
        if ns is None:
            now = time.time_ns()
            ns = (now, now)
        accessed, modified = (t / 1_000_000_000 for t in ns)
        if round(accessed * 1e9) != ns[0] or round(modified * 1e9) != ns[1]:
            TIMES.hit(path=path)
        if self.read_only:
            raise os_error(errno.EROFS, path)
        with self._calling(fs_path, path):
            self.fs.setinfo(fs_path, {"details": {"accessed": accessed, "modified": modified}})

    def truncate(self, path: str, length: int) -> None:
        fs_path, info = self._info(path)
        if length < 0:
            raise os_error(errno.EINVAL, path)
        if info.is_dir:
            raise os_error(errno.EISDIR, path)
        file = self._openbin(fs_path, path, "r+b")
        ino = self.inodes.number(fs_path)
        handle = PyFilesystemHandle(self, ino, posix.O_WRONLY, path, file=file, is_dir=False)
        with handle:
            handle.truncate(length)

    def close(self) -> None:
        if self._own:
            self.fs.close()

    def __repr__(self) -> str:
        return f"<PyFilesystemProvider dev={self.device:#x} over {self.fs!r}>"


def _permitted(st: posix.stat_result, want: int) -> bool:
    """Linux's mode-bit check for the calling process (root passes all but X_OK on files)."""
    uid = posix.geteuid()
    mode = st.st_mode
    if uid == 0:
        return not want & posix.X_OK or _stat.S_ISDIR(mode) or bool(mode & 0o111)
    if uid == st.st_uid:
        bits = mode >> 6
    elif st.st_gid == posix.getegid() or st.st_gid in posix.getgroups():
        bits = mode >> 3
    else:
        bits = mode
    return bits & want == want
