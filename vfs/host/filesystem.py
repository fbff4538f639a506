"""HostFileSystem: the real file system, whole or confined to one directory.

With ``root=None`` every call goes to the host as it is. With ``root=DIR`` the guest sees DIR as
``/`` and cannot get out: not with ``..``, absolute or climbing symbolic links, nor by swapping a
component for a link while a call runs. Paths are resolved inside the root by the kernel with
openat2(RESOLVE_IN_ROOT) where it exists, else one component at a time with directory fds and
O_NOFOLLOW (see :mod:`vfs.host.beneath`); the last component is then acted on relative to its
directory's fd with a call that does not follow links, and links that must be followed are read
and interpreted here, inside the root. Errors name the path as the guest gave it.

Modes arrive final: a file or directory created here gets exactly the permission bits asked
for, whatever the process umask is.
"""

from __future__ import annotations

import errno
import os
import posix
import stat
import sys
from collections.abc import Callable

from vfs.errors import os_error, rename_error
from vfs.host import openat2 as _openat2
from vfs.host.beneath import open_beneath
from vfs.host.handle import HostHandle, entry_info
from vfs.limits import MAXSYMLINKS, PATH_MAX, check_path
from vfs.openflags import O_TMPFILE_BIT, check_open_flags
from vfs.pathnames import ROOT, SPECIAL_NAMES, special_errno, split
from vfs.provider import DirEntryInfo, FileSystem

O_PATH = posix.O_PATH
O_CLOEXEC = posix.O_CLOEXEC
RESOLVERS = ("auto", "openat2", "walk")
_PROC_FD = "/proc/self/fd"


def host_is_directory(path: str) -> bool:
    """Whether ``path`` is a directory on the host (through posix: os may be switched)."""
    try:
        return stat.S_ISDIR(posix.stat(path).st_mode)
    except OSError:
        return False


class HostFileSystem(FileSystem):
    """The host's files, optionally confined below ``root``.

    ``resolver`` chooses how a confined path is resolved: ``"openat2"`` (the kernel, Linux 5.6+),
    ``"walk"`` (component by component in Python) or ``"auto"`` (openat2 when it works).
    """

    def __init__(
        self, root: str | os.PathLike[str] | None = None, *, resolver: str = "auto"
    ) -> None:
        if resolver not in RESOLVERS:
            raise ValueError(f"resolver must be one of {', '.join(RESOLVERS)}, not {resolver!r}")
        shown = None if root is None else os.fsdecode(os.fspath(root))
        sys.audit("vfs.HostFileSystem", shown, resolver)  # the host's files: hooks may refuse
        self._root: str | None = None
        self._root_fd = -1
        self._opener: Callable[[str, int, int], int] | None = None
        self._resolver: str | None = None
        if root is not None:
            self._root = os.fsdecode(os.fspath(root))
            self._root_fd = posix.open(self._root, O_PATH | posix.O_DIRECTORY | O_CLOEXEC)
            self._opener = self._choose_opener(resolver)
        self._proc = host_is_directory(_PROC_FD)

    def _choose_opener(self, resolver: str) -> Callable[[str, int, int], int]:
        root = self._root_fd

        def walk(path: str, flags: int, mode: int) -> int:
            return open_beneath(root, path, flags, mode)

        if resolver != "walk":
            opener = _openat2.in_root(root, walk)
            if opener is not None:
                self._resolver = "openat2"
                return opener
            if resolver == "openat2":
                posix.close(root)
                raise OSError(errno.ENOSYS, "openat2(RESOLVE_IN_ROOT) is not available here")
        self._resolver = "walk"
        return walk

    @property
    def root(self) -> str | None:
        """The host directory the guest sees as ``/``, or None for the whole file system."""
        return self._root

    @property
    def resolver(self) -> str | None:
        """How confined paths are resolved: ``"openat2"`` or ``"walk"`` (None when unconfined)."""
        return self._resolver

    def close(self) -> None:
        if self._root_fd >= 0:
            posix.close(self._root_fd)
            self._root_fd = -1

    def _slash(self) -> int:
        """An O_PATH fd of the host's ``/`` (unconfined only): a dir_fd that changes nothing
        for absolute paths but makes CPython call the *at form of a function."""
        if self._root_fd < 0:
            self._root_fd = posix.open("/", O_PATH | posix.O_DIRECTORY | O_CLOEXEC)
        return self._root_fd

    def __repr__(self) -> str:
        where = "the whole host" if self._root is None else repr(self._root)
        return f"<HostFileSystem {where}>"

    # -- resolution --------------------------------------------------------------------------

    def _open(self, path: str, flags: int, mode: int = 0) -> int:
        """A host fd for ``path`` (inside the root when confined)."""
        opener = self._opener
        if opener is None:
            return posix.open(path, flags | O_CLOEXEC, mode)
        return opener(path, flags, mode)

    def _parent(self, path: str, operation: str) -> tuple[int | None, str]:
        """(directory fd or None, name to pass it) for acting on the last component of ``path``.

        Unconfined, the name is the whole path and no fd is opened. Confined, ``.`` and ``..``
        go to the kernel with the directory's fd (calls that create or remove names refuse them
        before any lookup, with the right errno and permission checks); only a bare ``/``, which
        has no directory inside the root, gets the errno ``operation`` gives it here.
        """
        if self._opener is None:
            return None, path
        head, last, trailing = split(path)
        if last == ROOT and operation:
            raise os_error(special_errno(operation, ROOT) or errno.EINVAL, path)
        fd = self._directory(head)
        return fd, last + "/" if trailing else last

    def _directory(self, path: str) -> int:
        """An O_PATH fd for the directory ``path``, checking search permission on it as the
        kernel does before looking up a last component there (opening ``path/.`` does both)."""
        return self._open(path.rstrip("/") + "/.", O_PATH | posix.O_DIRECTORY)

    def _entry(self, path: str, follow: bool) -> tuple[int, str]:
        """(directory fd, name) of the entry ``path`` leads to, links followed inside the root.

        The entry exists, and is never a link that should have been followed, so callers act
        on it with ``follow_symlinks=False``. A trailing slash follows links and demands a
        directory; ``.``, ``..`` and ``/`` give the directory itself, as (its fd, ".").
        """
        must_be_directory = False
        for _ in range(MAXSYMLINKS + 1):
            head, last, trailing = split(path)
            if trailing:
                must_be_directory = follow = True
            if last in SPECIAL_NAMES:
                return self._open(path, O_PATH | posix.O_DIRECTORY), "."
            fd = self._directory(head)
            try:
                mode = posix.stat(last, dir_fd=fd, follow_symlinks=False).st_mode
                if not (follow and stat.S_ISLNK(mode)):
                    if must_be_directory and not stat.S_ISDIR(mode):
                        raise os_error(errno.ENOTDIR, path)
                    return fd, last
                target = posix.readlink(last, dir_fd=fd)
            except BaseException:
                posix.close(fd)
                raise
            posix.close(fd)
            path = target if target.startswith("/") else head.rstrip("/") + "/" + target
            if must_be_directory and not path.endswith("/"):
                path += "/"
        raise os_error(errno.ELOOP, path)

    @staticmethod
    def _close(fd: int | None) -> None:
        if fd is not None:
            posix.close(fd)

    # -- queries -----------------------------------------------------------------------------

    def stat(self, path: str, follow_symlinks: bool = True) -> posix.stat_result:
        check_path(path)
        if self._opener is None:
            return posix.stat(path, follow_symlinks=follow_symlinks)
        try:
            fd = self._opener(path, O_PATH if follow_symlinks else O_PATH | posix.O_NOFOLLOW, 0)
        except OSError as error:
            raise rename_error(error, path) from None
        try:
            return posix.fstat(fd)
        finally:
            posix.close(fd)

    def listdir(self, path: str) -> list[str]:
        check_path(path)
        if self._opener is None:
            return posix.listdir(path)
        try:
            fd = self._open(path, posix.O_RDONLY | posix.O_DIRECTORY)
            try:
                return posix.listdir(fd)
            finally:
                posix.close(fd)
        except OSError as error:
            raise rename_error(error, path) from None

    def scandir(self, path: str) -> list[DirEntryInfo]:
        check_path(path)
        try:
            if self._opener is None:
                with posix.scandir(path) as entries:
                    return [entry_info(entry) for entry in entries]
            fd = self._open(path, posix.O_RDONLY | posix.O_DIRECTORY)
            try:
                with posix.scandir(fd) as entries:
                    return [entry_info(entry) for entry in entries]
            finally:
                posix.close(fd)
        except OSError as error:
            raise rename_error(error, path) from None

    def readlink(self, path: str) -> str:
        check_path(path)
        try:
            if self._opener is None:
                return posix.readlink(path)
            _, last, trailing = split(path)
            if last in SPECIAL_NAMES or trailing:
                posix.close(self._open(path, O_PATH))
                raise os_error(errno.EINVAL, path)
            fd, name = self._parent(path, "")
            try:
                return posix.readlink(name, dir_fd=fd)
            finally:
                self._close(fd)
        except OSError as error:
            raise rename_error(error, path) from None

    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        if mode & ~7:
            raise os_error(errno.EINVAL, path)
        try:
            if self._opener is None:
                posix.stat(path, follow_symlinks=follow_symlinks)
                allowed = posix.access(path, mode, follow_symlinks=follow_symlinks)
            else:
                fd, name = self._entry(path, follow_symlinks)
                try:
                    posix.stat(name, dir_fd=fd, follow_symlinks=False)
                    allowed = posix.access(name, mode, dir_fd=fd, follow_symlinks=False)
                finally:
                    posix.close(fd)
        except OSError as error:
            raise rename_error(error, path) from None
        if not allowed:
            raise os_error(errno.EACCES, path)

    def statvfs(self, path: str) -> posix.statvfs_result:
        check_path(path)
        try:
            if self._opener is None:
                return posix.statvfs(path)
            fd = self._open(path, O_PATH)
            try:
                return posix.fstatvfs(fd)
            finally:
                posix.close(fd)
        except OSError as error:
            raise rename_error(error, path) from None

    # -- opening -----------------------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o666) -> HostHandle:
        check_path(path)
        flags = check_open_flags(flags, path)
        try:
            if flags & posix.O_CREAT or flags & O_TMPFILE_BIT:
                fd = self._open_creating(path, flags, mode)
            else:
                fd = self._open(path, flags)
        except OSError as error:
            raise rename_error(error, path) from None
        return HostHandle(fd, flags, path)

    def _open_creating(self, path: str, flags: int, mode: int) -> int:
        """open(2) with O_CREAT or O_TMPFILE, giving a created file exactly ``mode``.

        The first attempt adds O_EXCL so that a file made here can be told from one that was
        already there (whose mode must stay as it is).
        """
        if flags & posix.O_EXCL or flags & O_TMPFILE_BIT or flags & O_PATH:
            fd = self._open(path, flags, mode)
            if not flags & O_PATH:
                self._give_mode(fd, mode)
            return fd
        try:
            fd = self._open(path, flags | posix.O_EXCL, mode)
        except FileExistsError:
            pass
        else:
            self._give_mode(fd, mode)
            return fd
        try:
            fd = self._open(path, flags & ~posix.O_CREAT)
        except FileNotFoundError:  # a dangling link (or the name just went): create through it
            fd = self._open(path, flags, mode)
            self._give_mode(fd, mode)
            return fd
        except OSError:
            # Without O_CREAT the checks differ in order (EISDIR for a directory comes before
            # EACCES, a link's trailing slash before ELOOP...): ask open(2) itself, with the
            # caller's flags, for the error it gives. Should it succeed after all, something
            # raced with us and the file is left as it is.
            return self._open(path, flags, mode)
        reads_only = flags & 3 == posix.O_RDONLY and not flags & posix.O_TRUNC
        if reads_only and stat.S_ISDIR(posix.fstat(fd).st_mode):  # the kernel said EISDIR for
            posix.close(fd)  # the writing opens; O_CREAT makes it say so for this one too
            raise os_error(errno.EISDIR, path)
        return fd

    @staticmethod
    def _give_mode(fd: int, mode: int) -> None:
        """Undo the process umask on a file just created through ``fd``."""
        current = posix.fstat(fd).st_mode
        if (current ^ mode) & 0o777:
            posix.fchmod(fd, (current & 0o7000) | (mode & 0o777))

    # -- names -------------------------------------------------------------------------------

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        check_path(path)
        try:
            fd, name = self._parent(path, "create")
            try:
                posix.mkdir(name, mode, dir_fd=fd)
                self._give_directory_mode(fd, name.rstrip("/") or name, mode)
            finally:
                self._close(fd)
        except OSError as error:
            raise rename_error(error, path) from None

    def _give_directory_mode(self, fd: int | None, name: str, mode: int) -> None:
        """Undo the process umask on a directory just created, without following links."""
        new = posix.open(name, O_PATH | posix.O_NOFOLLOW | posix.O_DIRECTORY | O_CLOEXEC, dir_fd=fd)
        try:
            current = posix.fstat(new).st_mode
            if (current ^ mode) & 0o777:
                self._fchmod_path_fd(new, (current & 0o7000) | (mode & 0o777))
        finally:
            posix.close(new)

    def _fchmod_path_fd(self, fd: int, mode: int) -> None:
        """chmod the file an O_PATH fd refers to, through procfs (a directory also by reopening).

        Python has no chmod that refuses to follow a link, so without /proc only directories
        can be changed safely; anything else fails with a clear ENOSYS.
        """
        if self._proc:
            posix.chmod(f"{_PROC_FD}/{fd}", mode)
            return
        if not stat.S_ISDIR(posix.fstat(fd).st_mode):
            raise OSError(
                errno.ENOSYS, "chmod in a confined HostFileSystem needs procfs at /proc/self/fd"
            )
        reopened = posix.open(".", posix.O_RDONLY | posix.O_DIRECTORY | O_CLOEXEC, dir_fd=fd)
        try:
            posix.fchmod(reopened, mode)
        finally:
            posix.close(reopened)

    def rmdir(self, path: str) -> None:
        check_path(path)
        try:
            fd, name = self._parent(path, "rmdir")
            try:
                posix.rmdir(name, dir_fd=fd)
            finally:
                self._close(fd)
        except OSError as error:
            raise rename_error(error, path) from None

    def unlink(self, path: str) -> None:
        check_path(path)
        try:
            fd, name = self._parent(path, "unlink")
            try:
                posix.unlink(name, dir_fd=fd)
            finally:
                self._close(fd)
        except OSError as error:
            raise rename_error(error, path) from None

    def rename(self, src: str, dst: str) -> None:
        check_path(src, dst)
        check_path(dst, None)
        try:
            src_fd, src_name = self._parent(src, "")
            try:
                dst_fd, dst_name = self._parent(dst, "")
                try:
                    # Both directories resolve before '/' is refused, as in Linux.
                    for path in (src, dst):
                        if split(path)[1] == ROOT:
                            raise os_error(errno.EBUSY, path)
                    posix.rename(src_name, dst_name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
                finally:
                    self._close(dst_fd)
            finally:
                self._close(src_fd)
        except OSError as error:
            raise rename_error(error, src, dst) from None

    def symlink(self, target: str, path: str) -> None:
        check_path(path, None)
        if type(target) is not str:
            raise TypeError(f"symlink target should be str, not {type(target).__name__}")
        if "\x00" in target:
            raise ValueError("embedded null byte")
        try:
            if not target:
                raise os_error(errno.ENOENT)
            if len(target) >= PATH_MAX // 4 and len(os.fsencode(target)) >= PATH_MAX:
                raise os_error(errno.ENAMETOOLONG)
            fd, name = self._parent(path, "create")
            try:
                posix.symlink(target, name, dir_fd=fd)
            finally:
                self._close(fd)
        except OSError as error:
            raise rename_error(error, target, path) from None

    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        check_path(src, dst)
        check_path(dst, None)
        try:
            if self._opener is None:
                # Through linkat(2) (a dir_fd makes CPython use it): os.link without one calls
                # link(2), which never follows a link whatever follow_symlinks says.
                posix.link(src, dst, src_dir_fd=self._slash(), follow_symlinks=follow_symlinks)
                return
            src_fd, src_name = self._entry(src, follow_symlinks)
            try:
                dst_fd, dst_name = self._parent(dst, "create")
                try:
                    posix.link(
                        src_name,
                        dst_name,
                        src_dir_fd=src_fd,
                        dst_dir_fd=dst_fd,
                        follow_symlinks=False,
                    )
                finally:
                    self._close(dst_fd)
            finally:
                posix.close(src_fd)
        except OSError as error:
            raise rename_error(error, src, dst) from None

    # -- attributes --------------------------------------------------------------------------

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        try:
            if self._opener is None:
                if not follow_symlinks and stat.S_ISLNK(posix.lstat(path).st_mode):
                    raise os_error(errno.EOPNOTSUPP, path)
                posix.chmod(path, mode)
                return
            fd = self._open(path, O_PATH if follow_symlinks else O_PATH | posix.O_NOFOLLOW)
            try:
                if stat.S_ISLNK(posix.fstat(fd).st_mode):
                    raise os_error(errno.EOPNOTSUPP, path)
                self._fchmod_path_fd(fd, mode)
            finally:
                posix.close(fd)
        except OSError as error:
            raise rename_error(error, path) from None

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        try:
            if self._opener is None:
                posix.chown(path, uid, gid, follow_symlinks=follow_symlinks)
                return
            fd, name = self._entry(path, follow_symlinks)
            try:
                posix.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
            finally:
                posix.close(fd)
        except OSError as error:
            raise rename_error(error, path) from None

    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        check_path(path)
        try:
            if self._opener is None:
                fd, name, follow = None, path, follow_symlinks
            else:
                fd, name = self._entry(path, follow_symlinks)
                follow = False
            try:
                if ns is None:
                    posix.utime(name, dir_fd=fd, follow_symlinks=follow)
                else:
                    posix.utime(name, ns=ns, dir_fd=fd, follow_symlinks=follow)
            finally:
                self._close(fd)
        except OSError as error:
            raise rename_error(error, path) from None

    def truncate(self, path: str, length: int) -> None:
        check_path(path)
        if length < 0:
            raise os_error(errno.EINVAL, path)
        try:
            if self._opener is None:
                posix.truncate(path, length)
                return
            fd, name = self._entry(path, True)
            try:
                kind = stat.S_IFMT(posix.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
                if kind == stat.S_IFDIR:
                    raise os_error(errno.EISDIR, path)
                if kind != stat.S_IFREG:
                    raise os_error(errno.EINVAL, path)
                file = posix.open(name, posix.O_WRONLY | posix.O_NOFOLLOW | O_CLOEXEC, dir_fd=fd)
                try:
                    posix.ftruncate(file, length)
                finally:
                    posix.close(file)
            finally:
                posix.close(fd)
        except OSError as error:
            raise rename_error(error, path) from None
