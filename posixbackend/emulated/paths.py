"""The path functions of the emulated backend: stat, mkdir, rename, chmod, utime, chdir...

Each converts its arguments as CPython does, calls the provider's at-form with the directory
the path starts from (the root for an absolute path, else ``dir_fd``'s directory or the
current directory: the directories themselves, not their paths), and reports errors under the
name the caller used.
"""

from __future__ import annotations

import errno
import os
import posix
import stat as _stat
import sys
from typing import Any

import compat
from posixbackend.emulated.args import (
    NOT_GIVEN,
    PathArg,
    check_dir_fd_and_fd,
    check_fd_and_follow_symlinks,
    check_path_and_dir_fd,
    dev_arg,
    dir_fd_arg,
    fildes_arg,
    gid_arg,
    int_arg,
    off_t_arg,
    path_arg,
    uid_arg,
    utime_times,
)
from posixbackend.emulated.core import TIMES_TRUNCATED, UMASK_STARTS_AT_0022, BackendCore
from posixbackend.emulated.descriptions import Description
from vfs.errors import named_error, os_error

READLINK_OF_LINK_DESCRIPTOR = compat.declare(
    id="emulated.readlink.link_descriptor",
    function="os.readlink",
    aspect="readlink('', dir_fd=<an O_PATH|O_NOFOLLOW descriptor of a link>)",
    level=compat.Level.FINE,
    explanation="an O_PATH descriptor of a symbolic link itself is not emulated, so "
    "readlinkat with an empty path on it fails with ENOENT; Linux returns the link's target",
)
ACCESS_EFFECTIVE_IDS = compat.declare(
    id="emulated.access.effective_ids",
    function="os.access",
    aspect="effective_ids",
    level=compat.Level.FINE,
    explanation="effective ids are not supported (as in GraalPy's Java backend): "
    "NotImplementedError",
)
ACCESS_NOFOLLOW = compat.declare(
    id="emulated.access.follow_symlinks",
    function="os.access",
    aspect="follow_symlinks=False",
    level=compat.Level.FINE,
    explanation="follow_symlinks=False is only supported for F_OK (as in GraalPy's Java "
    "backend): NotImplementedError for other modes",
)
FIFOS = compat.declare(
    id="emulated.mkfifo",
    function="os.mkfifo",
    aspect="named pipes and device nodes",
    level=compat.Level.INFO,
    explanation="named pipes and device nodes cannot be created on the emulated backend "
    "(PermissionError)",
)
CHROOT = compat.declare(
    id="emulated.chroot",
    function="os.chroot",
    aspect="changing the root directory",
    level=compat.Level.INFO,
    explanation="the emulated process cannot change its root directory: chroot checks the "
    "path as Linux does (ENOENT, ENOTDIR, EACCES...), then fails with EPERM, as for a "
    "process without CAP_SYS_CHROOT",
)
UTIME_NAMES_FILE = sys.version_info >= (3, 13)
"""os.utime's errors carry the file name from Python 3.13 on."""
PATHCONF = {
    "PC_LINK_MAX": 65000, "PC_MAX_CANON": 255, "PC_MAX_INPUT": 255, "PC_NAME_MAX": 255,
    "PC_PATH_MAX": 4096, "PC_PIPE_BUF": 4096, "PC_CHOWN_RESTRICTED": 1, "PC_NO_TRUNC": 1,
    "PC_VDISABLE": 0, "PC_FILESIZEBITS": 64, "PC_REC_XFER_ALIGN": 4096,
    "PC_ALLOC_SIZE_MIN": 4096, "PC_SYMLINK_MAX": -1, "PC_2_SYMLINKS": 1,
}  # fmt: skip
"""pathconf answers, as Linux gives them for ext4."""


C_INT_MAX = (1 << 31) - 1


def plain_absolute(path: object) -> bool:
    """Whether ``path`` is an absolute ``str`` that the converters would hand on unchanged
    (ASCII, no NUL): the short cut of the common call, straight to the provider with the
    root as its start (``_at``'s answer), skipping ``path_arg``, ``dir_fd_arg`` and ``_at``."""
    return (
        path.__class__ is str
        and path[:1] == "/"
        and path.isascii()
        and "\x00" not in path
    )


class PathFunctions(BackendCore):
    """os.stat, os.mkdir, os.rename and the other functions on paths."""

    def _path(
        self, value: Any, function: str, dir_fd: Any = None, **options: Any
    ) -> tuple[PathArg, object | None, str]:
        """Convert a path argument; with where it starts (see :meth:`_at`) and the path."""
        target = path_arg(value, function, **options)
        at, path = self._at(target, dir_fd_arg(dir_fd))
        return target, at, path

    def _fd_path(self, target: PathArg) -> Description:
        """The description behind an fd given as a path; fd -1 is CPython's NULL path (EFAULT)."""
        if target.is_null:
            raise OSError(errno.EFAULT, posix.strerror(errno.EFAULT), target.original)
        assert target.fd is not None
        description = self._table.files.get(target.fd)
        if description is None:
            raise OSError(errno.EBADF, posix.strerror(errno.EBADF), target.original)
        return description

    # -- status ------------------------------------------------------------------------------

    def stat(
        self, path: Any, *, dir_fd: int | None = None, follow_symlinks: bool = True
    ) -> os.stat_result:
        """os.stat (path, or an open descriptor)."""
        if (
            path.__class__ is str
            and dir_fd is None
            and path[:1] == "/"
            and path.isascii()  # else the converter: a name os cannot encode fails there
            and "\x00" not in path
        ):
            try:  # the common case, without the converters
                return self._view(self._fs.stat(path, follow_symlinks))
            except OSError as error:
                if error.filename is path and error.filename2 is None and error.errno:
                    # it names the caller's path already: raised afresh, as from here
                    raise error.with_traceback(None) from None
                raise named_error(error, path) from None
        target = path_arg(path, "stat", allow_fd=True)
        directory = dir_fd_arg(dir_fd)
        check_path_and_dir_fd("stat", target, directory)
        check_dir_fd_and_fd("stat", target, directory)
        check_fd_and_follow_symlinks("stat", target, follow_symlinks)
        if target.fd is not None:
            return self._view(self._fd_path(target).stat())
        at, name = self._at(target, directory)
        try:
            return self._view(self._fs.stat_at(at, name, bool(follow_symlinks)))
        except OSError as error:
            raise named_error(error, target.original) from None

    def lstat(self, path: Any, *, dir_fd: int | None = None) -> os.stat_result:
        """os.lstat."""
        if dir_fd is None and plain_absolute(path):
            try:  # as stat's common case
                return self._view(self._fs.stat(path, False))
            except OSError as error:
                if error.filename is path and error.filename2 is None and error.errno:
                    raise error.with_traceback(None) from None
                raise named_error(error, path) from None
        target, at, name = self._path(path, "lstat", dir_fd)
        try:
            return self._view(self._fs.stat_at(at, name, False))
        except OSError as error:
            raise named_error(error, target.original) from None

    def access(
        self,
        path: Any,
        mode: int,
        *,
        dir_fd: int | None = None,
        effective_ids: bool = False,
        follow_symlinks: bool = True,
    ) -> bool:
        """os.access: whether the real identity may use ``path`` in ``mode``."""
        target = path_arg(path, "access")
        directory = dir_fd_arg(dir_fd)
        mode = int_arg(mode)
        if effective_ids:
            ACCESS_EFFECTIVE_IDS.hit(path=target.original)
            raise NotImplementedError("access: effective_ids unavailable on this platform")
        if not follow_symlinks and mode != os.F_OK:
            ACCESS_NOFOLLOW.hit(path=target.original)
            raise NotImplementedError("access: follow_symlinks unavailable on this platform")
        try:
            at, name = self._at(target, directory)
            self._fs.access_at(at, name, mode, bool(follow_symlinks))
        except OSError:
            return False
        return True

    def statvfs(self, path: Any) -> os.statvfs_result:
        """os.statvfs (path, or an open descriptor)."""
        target = path_arg(path, "statvfs", allow_fd=True)
        if target.fd is not None:
            try:
                return self._fd_path(target).statvfs()
            except OSError as error:
                raise named_error(error, target.original) from None
        at, name = self._at(target, None)
        try:
            return self._fs.statvfs_at(at, name)
        except OSError as error:
            raise named_error(error, target.original) from None

    def pathconf(self, path: Any, name: str | int) -> int:
        """os.pathconf: Linux's ext4 answers, once the path is known to exist."""
        target = path_arg(path, "pathconf", allow_fd=True)
        if target.fd is not None:
            self._fd_path(target)
        else:
            try:
                self._fs.stat_at(*self._at(target, None))
            except OSError as error:
                raise named_error(error, target.original) from None
        return _pathconf_value(name)

    def fpathconf(self, fd: Any, name: str | int, /) -> int:
        """os.fpathconf."""
        self._description(fildes_arg(fd))
        return _pathconf_value(name)

    def readlink(self, path: Any, *, dir_fd: int | None = None) -> str | bytes:
        """os.readlink: the link's content (bytes when asked with bytes). readlinkat takes an
        empty path as the descriptor itself: EBADF for a bad one, then ENOENT (an O_PATH
        descriptor of a link itself is not emulated: ENOENT too)."""
        target = path_arg(path, "readlink")
        directory = dir_fd_arg(dir_fd)
        if target.path == "" and directory is not None:
            if directory not in self._table.files:
                raise os_error(errno.EBADF, target.original)
            if self._table.files[directory].flags & posix.O_PATH:  # perhaps a link's
                READLINK_OF_LINK_DESCRIPTOR.hit(dir_fd=directory)
            raise os_error(errno.ENOENT, target.original)
        at, name = self._at(target, directory)
        try:
            content = self._fs.readlink_at(at, name)
        except OSError as error:
            raise named_error(error, target.original) from None
        return os.fsencode(content) if target.is_bytes else content

    # -- the current directory and the umask ---------------------------------------------------

    def chdir(self, path: Any) -> None:
        """os.chdir (path, or an open directory): the backend's cwd only, not the process's."""
        target = path_arg(path, "chdir", allow_fd=True)
        if target.fd is not None:
            description = self._fd_path(target)
            handle = description.handle
            directory = None if handle is None else handle.directory()
            if directory is None:
                raise os_error(errno.ENOTDIR)
            self._chdir_to(directory, "", None)
            return
        self._chdir_to(*self._at(target, None), target.original)

    def chroot(self, path: Any) -> None:
        """os.chroot: the path is checked as chroot(2) checks it (a directory the identity may
        search), then refused with EPERM: the backend has no root of its own to change."""
        target = path_arg(path, "chroot")
        at, name = self._at(target, None)
        fs = self._fs
        try:
            if not _stat.S_ISDIR(fs.stat_at(at, name).st_mode):
                raise os_error(errno.ENOTDIR, name)
            fs.access_at(at, name, os.X_OK)
        except OSError as error:
            raise named_error(error, target.original) from None
        CHROOT.hit(path=name)
        raise os_error(errno.EPERM, target.original)

    def getcwd(self) -> str:
        """os.getcwd: where the current directory is now."""
        return self._getcwd()

    def getcwdb(self) -> bytes:
        """os.getcwdb."""
        return os.fsencode(self._getcwd())

    def umask(self, mask: int, /) -> int:
        """os.umask: set the backend's umask (0o022 at start) and return the previous one."""
        previous = self._umask
        self._umask = int_arg(mask) & 0o777
        UMASK_STARTS_AT_0022.hit()
        return previous

    # -- names ---------------------------------------------------------------------------------

    def mkdir(self, path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        """os.mkdir, with the backend's umask applied."""
        if (
            path.__class__ is str
            and dir_fd is None
            and mode.__class__ is int
            and -C_INT_MAX - 1 <= mode <= C_INT_MAX
            and path[:1] == "/"
            and path.isascii()  # plain_absolute(path) inline: os.makedirs calls it per level
            and "\x00" not in path
        ):
            try:
                self._fs.mkdir_at(None, path, mode & ~self._umask)
            except OSError as error:
                raise named_error(error, path) from None
            return
        target, at, name = self._path(path, "mkdir", dir_fd)
        mode = int_arg(mode)
        try:
            self._fs.mkdir_at(at, name, mode & ~self._umask)
        except OSError as error:
            raise named_error(error, target.original) from None

    def rmdir(self, path: Any, *, dir_fd: int | None = None) -> None:
        """os.rmdir."""
        if dir_fd is None and plain_absolute(path):
            try:
                self._fs.rmdir_at(None, path)
            except OSError as error:
                raise named_error(error, path) from None
            return
        target, at, name = self._path(path, "rmdir", dir_fd)
        try:
            self._fs.rmdir_at(at, name)
        except OSError as error:
            raise named_error(error, target.original) from None

    def unlink(self, path: Any, *, dir_fd: int | None = None) -> None:
        """os.unlink."""
        self._unlink("unlink", path, dir_fd)

    def remove(self, path: Any, *, dir_fd: int | None = None) -> None:
        """os.remove (the same as unlink; only its name in error messages differs)."""
        self._unlink("remove", path, dir_fd)

    def _unlink(self, function: str, path: Any, dir_fd: Any) -> None:
        if dir_fd is None and plain_absolute(path):
            try:
                self._fs.unlink_at(None, path)
            except OSError as error:
                raise named_error(error, path) from None
            return
        target, at, name = self._path(path, function, dir_fd)
        try:
            self._fs.unlink_at(at, name)
        except OSError as error:
            raise named_error(error, target.original) from None

    def rename(
        self, src: Any, dst: Any, *, src_dir_fd: int | None = None, dst_dir_fd: int | None = None
    ) -> None:
        """os.rename."""
        self._rename("rename", src, dst, src_dir_fd, dst_dir_fd)

    def replace(
        self, src: Any, dst: Any, *, src_dir_fd: int | None = None, dst_dir_fd: int | None = None
    ) -> None:
        """os.replace (rename(2) already replaces)."""
        self._rename("replace", src, dst, src_dir_fd, dst_dir_fd)

    def _rename(self, function: str, src: Any, dst: Any, src_dir_fd: Any, dst_dir_fd: Any) -> None:
        if (
            src_dir_fd is None
            and dst_dir_fd is None
            and plain_absolute(src)
            and plain_absolute(dst)
        ):
            try:
                self._fs.rename_at(None, src, None, dst)
            except OSError as error:
                raise named_error(error, src, dst) from None
            return
        source = path_arg(src, function, argument="src")
        target = path_arg(dst, function, argument="dst")
        try:
            src_at, src_name = self._at(source, dir_fd_arg(src_dir_fd))
            try:
                dst_at, dst_name = self._at(target, dir_fd_arg(dst_dir_fd))
            except OSError:
                # renameat looks up the old path's parent before the new one's directory
                self._parent_of(src_at, src_name)
                raise
            self._fs.rename_at(src_at, src_name, dst_at, dst_name)
        except OSError as error:
            raise named_error(error, source.original, target.original) from None

    def _parent_of(self, at: object | None, name: str) -> None:
        """ENOENT, ENOTDIR or ELOOP where the directory holding ``name`` cannot be reached."""
        parent = name.rstrip("/").rpartition("/")[0] or ("/" if name[:1] == "/" else "")
        if parent and not _stat.S_ISDIR(self._fs.stat_at(at, parent).st_mode):
            raise os_error(errno.ENOTDIR)

    def link(
        self,
        src: Any,
        dst: Any,
        *,
        src_dir_fd: int | None = None,
        dst_dir_fd: int | None = None,
        follow_symlinks: bool = True,
    ) -> None:
        """os.link. Like CPython on Linux, without a dir_fd it calls link(2), which never
        follows a symbolic link, whatever ``follow_symlinks`` says."""
        source = path_arg(src, "link", argument="src")
        target = path_arg(dst, "link", argument="dst")
        src_fd, dst_fd = dir_fd_arg(src_dir_fd), dir_fd_arg(dst_dir_fd)
        follow = bool(follow_symlinks) and (src_fd is not None or dst_fd is not None)
        try:
            src_at, src_name = self._at(source, src_fd)
            try:
                dst_at, dst_name = self._at(target, dst_fd)
            except OSError:
                # linkat looks the old path up whole before the new one's directory: a
                # missing source is ENOENT even when dst_dir_fd is bad
                self._fs.stat_at(src_at, src_name, follow)
                raise
            self._fs.link_at(src_at, src_name, dst_at, dst_name, follow)
        except OSError as error:
            raise named_error(error, source.original, target.original) from None

    def symlink(
        self, src: Any, dst: Any, target_is_directory: bool = False, *, dir_fd: int | None = None
    ) -> None:
        """os.symlink: a link at ``dst`` whose content is ``src``."""
        content = path_arg(src, "symlink", argument="src")
        target = path_arg(dst, "symlink", argument="dst")
        assert content.path is not None
        try:
            self._fs.symlink_at(content.path, *self._at(target, dir_fd_arg(dir_fd)))
        except OSError as error:
            raise named_error(error, content.original, target.original) from None

    def mkfifo(self, path: Any, mode: int = 0o666, *, dir_fd: int | None = None) -> None:
        """os.mkfifo: named pipes are not emulated (yet): EPERM, and a logged gap, where
        Linux would make one. CPython's mkfifo names no file in its errors."""
        target = path_arg(path, "mkfifo")
        directory = dir_fd_arg(dir_fd)
        int_arg(mode)
        try:
            self._refuse_special(target, *self._at(target, directory))
        except OSError as error:
            raise named_error(error, None) from None

    def _refuse_special(self, target: PathArg, at: object | None, name: str) -> None:
        """A FIFO or device node cannot be made: the errors Linux gives first (ENOENT or
        ENOTDIR for the parent, EEXIST for the name), else EPERM and the gap."""
        self._parent_of(at, name)
        try:
            self._fs.stat_at(at, name, False)
        except FileNotFoundError:
            FIFOS.hit(path=target.original)
            raise os_error(errno.EPERM) from None
        raise os_error(errno.EEXIST)

    def mknod(
        self, path: Any, mode: int = 0o600, device: int = 0, *, dir_fd: int | None = None
    ) -> None:
        """os.mknod: regular files are created; FIFOs and devices are a logged gap (EPERM).
        CPython's mknod names no file in its errors."""
        target = path_arg(path, "mknod")
        directory = dir_fd_arg(dir_fd)
        mode = int_arg(mode)
        dev_arg(device)  # converted (and refused) as CPython does; only regular files are made
        try:
            at, name = self._at(target, directory)
            if mode & 0o170000 not in (0, 0o100000):
                self._refuse_special(target, at, name)
            flags = posix.O_CREAT | posix.O_EXCL | posix.O_WRONLY
            self._fs.open_at(at, name, flags, mode & 0o7777 & ~self._umask).close()
        except OSError as error:
            raise named_error(error, None) from None

    # -- attributes ----------------------------------------------------------------------------

    def chmod(
        self, path: Any, mode: int, *, dir_fd: int | None = None, follow_symlinks: bool = True
    ) -> None:
        """os.chmod (path or descriptor). As CPython on Linux: a link itself cannot be changed
        (NotImplementedError), but follow_symlinks=False works on anything else."""
        if (
            dir_fd is None
            and follow_symlinks is True
            and mode.__class__ is int
            and -C_INT_MAX - 1 <= mode <= C_INT_MAX
            and plain_absolute(path)
        ):
            try:
                self._fs.chmod_at(None, path, mode, True)
            except OSError as error:
                raise named_error(error, path) from None
            return
        target = path_arg(path, "chmod", allow_fd=True)
        mode = int_arg(mode)
        directory = dir_fd_arg(dir_fd)
        if target.fd is not None:  # fchmod: CPython ignores dir_fd and follow_symlinks here
            try:
                self._fd_path(target).chmod(mode)
            except OSError as error:
                raise named_error(error, target.original) from None
            return
        at, name = self._at(target, directory)
        try:
            self._fs.chmod_at(at, name, mode, bool(follow_symlinks))
        except OSError as error:
            if error.errno == errno.EOPNOTSUPP and not follow_symlinks:
                raise NotImplementedError(
                    "chmod: follow_symlinks unavailable on this platform"
                ) from None
            raise named_error(error, target.original) from None

    def chown(
        self,
        path: Any,
        uid: int,
        gid: int,
        *,
        dir_fd: int | None = None,
        follow_symlinks: bool = True,
    ) -> None:
        """os.chown (path or descriptor)."""
        target = path_arg(path, "chown", allow_fd=True)
        uid, gid = uid_arg(uid), gid_arg(gid)
        directory = dir_fd_arg(dir_fd)
        check_dir_fd_and_fd("chown", target, directory)
        check_fd_and_follow_symlinks("chown", target, follow_symlinks)
        if target.fd is not None:
            try:
                self._fd_path(target).chown(uid, gid)
            except OSError as error:
                raise named_error(error, target.original) from None
            return
        at, name = self._at(target, directory)
        try:
            self._fs.chown_at(at, name, uid, gid, bool(follow_symlinks))
        except OSError as error:
            raise named_error(error, target.original) from None

    def lchown(self, path: Any, uid: int, gid: int) -> None:
        """os.lchown."""
        target, at, name = self._path(path, "lchown")
        uid, gid = uid_arg(uid), gid_arg(gid)
        try:
            self._fs.chown_at(at, name, uid, gid, False)
        except OSError as error:
            raise named_error(error, target.original) from None

    def utime(
        self,
        path: Any,
        times: tuple[float, float] | None = None,
        *,
        ns: Any = NOT_GIVEN,
        dir_fd: int | None = None,
        follow_symlinks: bool = True,
    ) -> None:
        """os.utime (path or descriptor), truncated to the time resolution. Like CPython 3.11
        and 3.12, its errors name no file (3.13's do)."""
        if dir_fd is None and follow_symlinks is True and plain_absolute(path):
            when = utime_times("utime", times, ns)
            if when is not None:
                truncated = (self._truncate_ns(when[0]), self._truncate_ns(when[1]))
                if truncated != when:
                    TIMES_TRUNCATED.hit(path=path)
                when = truncated
            try:
                self._fs.utime_at(None, path, when, True)
            except OSError as error:
                raise named_error(error, path if UTIME_NAMES_FILE else None) from None
            return
        target = path_arg(path, "utime", allow_fd=True)
        directory = dir_fd_arg(dir_fd)
        when = utime_times("utime", times, ns)
        check_path_and_dir_fd("utime", target, directory)
        check_dir_fd_and_fd("utime", target, directory)
        check_fd_and_follow_symlinks("utime", target, follow_symlinks)
        if when is not None:
            truncated = (self._truncate_ns(when[0]), self._truncate_ns(when[1]))
            if truncated != when:
                TIMES_TRUNCATED.hit(path=target.original)
            when = truncated
        if target.fd is not None:
            self._fd_path(target).utime(when)
            return
        try:
            at, name = self._at(target, directory)  # inside: an empty path's ENOENT too
            self._fs.utime_at(at, name, when, bool(follow_symlinks))
        except OSError as error:
            raise named_error(error, target.original if UTIME_NAMES_FILE else None) from None

    def truncate(self, path: Any, length: int) -> None:
        """os.truncate (path or descriptor)."""
        target = path_arg(path, "truncate", allow_fd=True)
        length = off_t_arg(length)
        if target.fd is not None:
            description = self._fd_path(target)
            if length < 0:
                raise os_error(errno.EINVAL)
            description.truncate(length)
            return
        at, name = self._at(target, None)
        try:
            self._fs.truncate_at(at, name, length)
        except OSError as error:
            raise named_error(error, target.original) from None


def _pathconf_value(name: str | int) -> int:
    """The value for a pathconf name (or number), EINVAL for an unknown one."""
    if isinstance(name, str):
        number = os.pathconf_names.get(name)
        if number is None:
            raise ValueError("unrecognized configuration name")
    else:
        number = int_arg(name)
    for known, value in PATHCONF.items():
        if os.pathconf_names.get(known) == number:
            return value
    raise os_error(errno.EINVAL)
