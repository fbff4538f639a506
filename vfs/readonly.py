"""ReadOnlyFileSystem: another provider seen as a read-only mount (``mount -o ro``).

Every call that would change the file system fails with EROFS, but only where Linux's checks
reach ``mnt_want_write``: errors found earlier (a missing parent, an existing name for mkdir, a
directory opened for writing, a negative length) come first, exactly as measured on a
read-only bind mount. In short:

- create (mkdir, symlink, link's new name, open with O_CREAT of a missing name): parent lookup
  errors, EEXIST for an existing name, ENOENT for ``new/`` when not a directory, then EROFS;
- remove and rename (rmdir, unlink, rename): parent lookup errors and the errno of ``.``/``..``
  last components, then EROFS *before* the last component is looked up (so removing a missing
  name is EROFS, not ENOENT);
- change an existing file (chmod, chown, utime, truncate): lookup errors (truncate: EINVAL for a
  negative length, EISDIR, EINVAL for non-regular files first), then EROFS;
- open: write access or O_TRUNC on a regular file, and O_TMPFILE, are EROFS; directories keep
  EISDIR; FIFOs, sockets and devices may still be opened for writing, as on Linux;
- access(W_OK) of a regular file, directory or link is EROFS once permissions allow it;
  statvfs reports ST_RDONLY;
- handles refuse fchmod/fchown/futimens with EROFS (EBADF when closed or O_PATH).
"""

from __future__ import annotations

import errno
import posix
import stat as _stat

from vfs.arguments import check_access_mode, check_length, check_target
from vfs.delegate import DelegatingFileSystem, DelegatingHandle
from vfs.errors import named_error, os_error
from vfs.limits import MAXSYMLINKS, check_path
from vfs.openflags import O_ACCMODE, O_TMPFILE_BIT, check_open_flags
from vfs.pathnames import ROOT, special_errno, split
from vfs.provider import FileSystem, Handle

ST_RDONLY = posix.ST_RDONLY
_WRITE_INTENT = posix.O_CREAT | posix.O_TRUNC | O_TMPFILE_BIT
_STORAGE_TYPES = (_stat.S_IFREG, _stat.S_IFDIR, _stat.S_IFLNK)
"""File types whose write permission a read-only mount withdraws (sb_permission)."""


def read_only_statvfs(result: posix.statvfs_result) -> posix.statvfs_result:
    """``result`` with ST_RDONLY added to ``f_flag``."""
    fields = tuple(result)
    return posix.statvfs_result((*fields[:8], result.f_flag | ST_RDONLY, fields[9], result.f_fsid))


class ReadOnlyHandle(DelegatingHandle):
    """A handle from a read-only mount: its metadata cannot change (EROFS)."""

    __slots__ = ()

    def _refuse(self) -> None:
        if self.inner.closed or self.flags & posix.O_PATH:
            raise os_error(errno.EBADF)
        raise os_error(errno.EROFS)

    def chmod(self, mode: int) -> None:
        self._refuse()

    def chown(self, uid: int, gid: int) -> None:
        self._refuse()

    def utime(self, ns: tuple[int, int] | None = None) -> None:
        self._refuse()

    def statvfs(self) -> posix.statvfs_result:
        return read_only_statvfs(self.inner.statvfs())


class ReadOnlyFileSystem(DelegatingFileSystem):
    """``inner`` mounted read-only: reads pass through, changes fail as on a ``ro`` mount."""

    def __init__(self, inner: FileSystem) -> None:
        super().__init__(inner)

    # -- lookups the refusals are ordered after ------------------------------------------------

    def _existing(self, path: str, follow: bool, names: tuple[object, object]) -> int:
        """The file type at ``path`` (raising lookup errors as the caller's)."""
        try:
            return _stat.S_IFMT(self.inner.stat(path, follow).st_mode)
        except OSError as error:
            raise named_error(error, *names) from None

    def _parent(self, path: str, names: tuple[object, object]) -> tuple[str, bool]:
        """Look up ``path``'s directory as namei's parent walk does; return (last, trailing)."""
        head, last, trailing = split(path)
        if self._existing(head, True, names) != _stat.S_IFDIR:
            raise os_error(errno.ENOTDIR, *names)
        return last, trailing

    def _refuse_create(self, path: str, directory: bool, names: tuple[object, object]) -> None:
        """filename_create's order: parent errors, EEXIST, ENOENT for ``new/``, then EROFS."""
        try:
            self.inner.stat(path.rstrip("/") or "/", False)
        except FileNotFoundError:
            _, trailing = self._parent(path, names)
            if trailing and not directory:
                raise os_error(errno.ENOENT, *names) from None
            raise os_error(errno.EROFS, *names) from None
        except OSError as error:
            raise named_error(error, *names) from None
        raise os_error(errno.EEXIST, *names)

    def _refuse_remove(self, path: str, operation: str, names: tuple[object, object]) -> None:
        """Parent errors, then the errno of a ``.``/``..``/``/`` last component, then EROFS."""
        last, _ = self._parent(path, names)
        code = special_errno(operation, last)
        raise os_error(errno.EROFS if code is None else code, *names)

    # -- calls that would change the file system -----------------------------------------------

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        check_path(path)
        self._refuse_create(path, True, (path, None))

    def symlink(self, target: str, path: str) -> None:
        target = check_target(target, path)  # symlink(2) reads the target before the path
        check_path(path)
        self._refuse_create(path, False, (target, path))

    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        check_path(src, dst)
        check_path(dst, src)
        self._existing(src, follow_symlinks, (src, dst))
        self._refuse_create(dst, False, (src, dst))

    def rmdir(self, path: str) -> None:
        check_path(path)
        self._refuse_remove(path, "rmdir", (path, None))

    def unlink(self, path: str) -> None:
        check_path(path)
        self._refuse_remove(path, "unlink", (path, None))

    def rename(self, src: str, dst: str) -> None:
        check_path(src, dst)
        check_path(dst, src)
        names = (src, dst)
        old, _ = self._parent(src, names)
        new, _ = self._parent(dst, names)
        if old in (".", "..", ROOT) or new in (".", "..", ROOT):
            raise os_error(errno.EBUSY, *names)
        raise os_error(errno.EROFS, *names)

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        self._existing(path, follow_symlinks, (path, None))
        raise os_error(errno.EROFS, path)

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        self._existing(path, follow_symlinks, (path, None))
        raise os_error(errno.EROFS, path)

    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        check_path(path)
        self._existing(path, follow_symlinks, (path, None))
        raise os_error(errno.EROFS, path)

    def truncate(self, path: str, length: int) -> None:
        check_path(path)
        check_length(length, path)
        kind = self._existing(path, True, (path, None))
        if kind == _stat.S_IFDIR:
            raise os_error(errno.EISDIR, path)
        raise os_error(errno.EROFS if kind == _stat.S_IFREG else errno.EINVAL, path)

    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        check_access_mode(mode, path)
        # faccessat: the permission check first, then "SuS v2 requires we report a read only
        # fs too" for write access to anything but a special file.
        self.inner.access(path, mode, follow_symlinks)
        if mode & posix.W_OK:
            kind = self._existing(path, follow_symlinks, (path, None))
            if kind in _STORAGE_TYPES:
                raise os_error(errno.EROFS, path)

    def statvfs(self, path: str) -> posix.statvfs_result:
        return read_only_statvfs(self.inner.statvfs(path))

    # -- opening -------------------------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        check_path(path)
        flags = check_open_flags(flags, path)
        if flags & posix.O_PATH or not (
            flags & _WRITE_INTENT or flags & O_ACCMODE in (posix.O_WRONLY, posix.O_RDWR)
        ):
            return ReadOnlyHandle(self.inner.open(path, flags, mode))
        if flags & O_TMPFILE_BIT:
            if self._existing(path, True, (path, None)) != _stat.S_IFDIR:
                raise os_error(errno.ENOTDIR, path)
            raise os_error(errno.EROFS, path)
        if flags & posix.O_CREAT:
            self._check_create_open(path, flags)
        kind = self._existing(path, not flags & posix.O_NOFOLLOW, (path, None))
        if kind == _stat.S_IFLNK:
            raise os_error(errno.ELOOP, path)
        if kind == _stat.S_IFDIR:
            raise os_error(errno.EISDIR, path)
        if flags & posix.O_DIRECTORY:
            raise os_error(errno.ENOTDIR, path)
        writes = flags & posix.O_TRUNC or flags & O_ACCMODE in (posix.O_WRONLY, posix.O_RDWR)
        if kind == _stat.S_IFREG and writes:
            raise os_error(errno.EROFS, path)
        # A FIFO, socket or device, or a regular file opened O_RDONLY|O_CREAT: nothing changes.
        return ReadOnlyHandle(self.inner.open(path, flags & ~posix.O_CREAT, mode))

    def _check_create_open(self, path: str, flags: int) -> None:
        """open_last_lookups with O_CREAT: EISDIR for ``dir/`` or ``.``, EEXIST with O_EXCL,
        EROFS when the name (or a dangling link's target) would have to be created."""
        names = (path, None)
        for _ in range(MAXSYMLINKS + 1):
            last, trailing = self._parent(path, names)
            if trailing or last in (".", "..", ROOT):
                raise os_error(errno.EISDIR, *names)
            try:
                kind = self._existing(path, False, names)
            except FileNotFoundError:
                raise os_error(errno.EROFS, *names) from None
            if flags & posix.O_EXCL:
                raise os_error(errno.EEXIST, *names)
            if kind != _stat.S_IFLNK or flags & posix.O_NOFOLLOW:
                return
            try:
                self.inner.stat(path, True)
                return
            except FileNotFoundError:  # dangling: O_CREAT would create the link's target
                target = self.inner.readlink(path)
            except OSError as error:
                raise named_error(error, *names) from None
            head = split(path)[0]
            path = target if target.startswith("/") else head.rstrip("/") + "/" + target
        raise os_error(errno.ELOOP, *names)
