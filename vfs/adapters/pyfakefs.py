"""PyfakefsFileSystem: a pyfakefs ``FakeFilesystem`` as a provider, without patching ``os``.

pyfakefs already models POSIX: symbolic and hard links, modes, owners, its own errors with
errno and file name. Path calls go to a ``FakeOsModule`` over the file system (never the
Patcher); open files are handles on pyfakefs's file objects, so they keep working after a
rename or unlink as Linux's do. Where pyfakefs differs from Linux (times it does not move,
O_TMPFILE, calls it lacks) the adapter either does what Linux does itself or hits a gap.

The adapter sets the fake file system's umask to 0: providers receive final modes. pyfakefs
judges permissions by its process-wide user id (``pyfakefs.helpers.set_uid``).
"""

from __future__ import annotations

import errno
import posix
import stat as _stat
import threading
from collections.abc import Callable
from time import time_ns
from typing import Any, TypeVar

from pyfakefs.fake_file import FakeDirectory
from pyfakefs.fake_filesystem import FakeFilesystem, OSType
from pyfakefs.fake_os import FakeOsModule
from pyfakefs.helpers import is_root

import compat
from vfs.arguments import check_target
from vfs.errors import errors_name, named_error, os_error
from vfs.limits import NAME_MAX, check_path
from vfs.memory.permissions import privileges_dropped
from vfs.openflags import O_ACCMODE, O_TMPFILE_BIT, check_open_flags
from vfs.pathnames import SPECIAL_NAMES, special_errno, split
from vfs.provider import DirEntryInfo, FileSystem, Handle

NO_TMPFILE = compat.declare(
    id="vfs.pyfakefs.tmpfile",
    function="os.open",
    aspect="O_TMPFILE",
    level=compat.Level.FINE,
    explanation="pyfakefs has no unnamed files: O_TMPFILE fails with EOPNOTSUPP",
)
OWN_RESOLUTION = compat.declare(
    id="vfs.pyfakefs.resolution",
    function="os.stat",
    aspect="path resolution limits",
    level=compat.Level.FINE,
    explanation="pyfakefs resolves paths itself: it has no NAME_MAX (ENAMETOOLONG) and no "
    "limit of 40 symbolic links (ELOOP), and walks '..' after a non-directory",
)
NO_ATIME = compat.declare(
    id="vfs.pyfakefs.times",
    function="os.read",
    aspect="access and change times",
    level=compat.Level.FINE,
    explanation="over pyfakefs, reads never move atime and pyfakefs's own calls move times "
    "by its rules (microsecond clock), not always as Linux does",
)

_READS = (posix.O_RDONLY, posix.O_RDWR)
_WRITES = (posix.O_WRONLY, posix.O_RDWR)
T = TypeVar("T")


def _stat_result(st: Any, nlink: int | None = None) -> posix.stat_result:
    """A real ``os.stat_result`` from pyfakefs's FakeStatResult (``nlink`` replacing its own)."""
    size = st.st_size
    links = st.st_nlink if nlink is None else nlink
    atime, mtime, ctime = st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns
    return posix.stat_result(
        (
            st.st_mode, st.st_ino, st.st_dev, links, st.st_uid, st.st_gid, size,
            atime // 1_000_000_000, mtime // 1_000_000_000, ctime // 1_000_000_000,
            atime / 1e9, mtime / 1e9, ctime / 1e9,
            atime, mtime, ctime,
            4096, (size + 4095) // 4096 * 8, 0,
        )
    )  # fmt: skip


def _touched(obj: Any, content: bool = True) -> None:
    """Record a change of ``obj`` made by the adapter: mtime (for content) and ctime move."""
    now = time_ns()
    if content:
        obj.stat_result.st_mtime_ns = now
    obj.stat_result.st_ctime_ns = now


class PyfakefsHandle(Handle):
    """A handle on one pyfakefs file object (``FakeFile`` or ``FakeDirectory``)."""

    __slots__ = ("_closed", "_fs", "_obj", "_opened_as", "flags")

    def __init__(self, fs: PyfakefsFileSystem, obj: Any, path: str, flags: int) -> None:
        self._fs = fs
        self._obj = obj
        self._opened_as = path
        self.flags = flags
        self._closed = False

    @property
    def path(self) -> str:
        return self._opened_as

    @property
    def closed(self) -> bool:
        return self._closed

    def _usable(self) -> Any:
        if self._closed or self.flags & posix.O_PATH:
            raise os_error(errno.EBADF)
        return self._obj

    def _file(self, allowed: tuple[int, ...]) -> Any:
        obj = self._usable()
        if self.flags & O_ACCMODE not in allowed:
            raise os_error(errno.EBADF)
        if isinstance(obj, FakeDirectory):
            raise os_error(errno.EISDIR)
        return obj

    def pread(self, n: int, offset: int) -> bytes:
        obj = self._file(_READS)
        if n < 0 or offset < 0:
            raise os_error(errno.EINVAL)
        if n:
            NO_ATIME.hit(path=self._opened_as)
        with self._fs._lock:
            content: bytes = obj.byte_contents or b""
        return content[offset : offset + n]

    def _write_at(self, obj: Any, data: bytes, offset: int | None) -> int:
        """Write ``data`` at ``offset`` (None: the end); return the offset after it."""
        with self._fs._lock:
            content = bytearray(obj.byte_contents or b"")
            start = len(content) if offset is None else offset
            if data:
                if start > len(content):
                    content.extend(bytes(start - len(content)))
                content[start : start + len(data)] = data
                self._fs._call(lambda: obj.set_initial_contents(bytes(content)), self._opened_as)
                _touched(obj)
            return start + len(data)

    def pwrite(self, data: bytes, offset: int) -> int:
        obj = self._file(_WRITES)
        if offset < 0:
            raise os_error(errno.EINVAL)
        at = None if self.flags & posix.O_APPEND else offset
        self._write_at(obj, bytes(data), at)
        return len(data)

    def append(self, data: bytes) -> int:
        return self._write_at(self._file(_WRITES), bytes(data), None)

    def size(self) -> int:
        return int(self._usable().st_size)

    def truncate(self, length: int) -> None:
        if self._closed:
            raise os_error(errno.EBADF)
        obj = self._obj
        writable = self.flags & O_ACCMODE in _WRITES and not self.flags & posix.O_PATH
        if not writable or isinstance(obj, FakeDirectory) or length < 0:
            raise os_error(errno.EINVAL)
        with self._fs._lock:
            self._fs._call(lambda: setattr(obj, "size", length), self._opened_as)
            _touched(obj)

    def sync(self) -> None:
        self._usable()

    def close(self) -> None:
        self._closed = True

    def stat(self) -> posix.stat_result:
        if self._closed:
            raise os_error(errno.EBADF)
        obj = self._obj
        with self._fs._lock:
            if not isinstance(obj, FakeDirectory):
                return _stat_result(obj.stat_result)
            nlink = 2 + sum(1 for c in obj.entries.values() if isinstance(c, FakeDirectory))
            return _stat_result(obj.stat_result, nlink)

    def chmod(self, mode: int) -> None:
        obj = self._usable()
        with self._fs._lock:
            obj.st_mode = (obj.st_mode & 0o170000) | (mode & 0o7777)
            _touched(obj, content=False)

    def chown(self, uid: int, gid: int) -> None:
        obj = self._usable()
        with self._fs._lock:
            if uid != -1:
                obj.st_uid = uid
            if gid != -1:
                obj.st_gid = gid
            _touched(obj, content=False)

    def utime(self, ns: tuple[int, int] | None = None) -> None:
        obj = self._usable()
        now = time_ns()
        atime, mtime = (now, now) if ns is None else ns
        with self._fs._lock:
            obj.stat_result.st_atime_ns = atime
            obj.stat_result.st_mtime_ns = mtime
            obj.stat_result.st_ctime_ns = now

    def _directory(self) -> Any:
        obj = self._usable()
        if not isinstance(obj, FakeDirectory):
            raise os_error(errno.ENOTDIR)
        return obj

    def listdir(self) -> list[str]:
        directory = self._directory()
        with self._fs._lock:
            return list(directory.entries)

    def scandir(self) -> list[DirEntryInfo]:
        directory = self._directory()
        with self._fs._lock:
            return [
                DirEntryInfo(name, _stat.S_IFMT(child.st_mode), child.st_ino)
                for name, child in directory.entries.items()
            ]

    def statvfs(self) -> posix.statvfs_result:
        if self._closed:
            raise os_error(errno.EBADF)
        return self._fs.statvfs("/")


class PyfakefsFileSystem(FileSystem):
    """A provider over ``filesystem`` (a new Linux-flavoured ``FakeFilesystem`` by default)."""

    uses_python_os = True
    """The wrapped library calls Python's os and open."""

    def __init__(self, filesystem: FakeFilesystem | None = None) -> None:
        fake = FakeFilesystem(path_separator="/") if filesystem is None else filesystem
        if not isinstance(fake, FakeFilesystem):
            raise TypeError(f"filesystem must be a FakeFilesystem, not {type(fake).__name__}")
        if fake.os != OSType.LINUX:
            fake.os = OSType.LINUX
        fake.umask = 0
        if filesystem is None:  # a fresh root as Linux makes one, not pyfakefs's 0o777
            fake.root.st_mode = _stat.S_IFDIR | 0o755
        self.fake = fake
        self.os = FakeOsModule(fake)
        self._lock = threading.RLock()

    def _call(self, action: Callable[[], T], path: str, path2: str | None = None) -> T:
        """Run a pyfakefs call; its errors name the caller's path(s), with Linux's errno."""
        try:
            return action()
        except OSError as error:
            raise named_error(error, path, path2) from None
        except NotImplementedError:
            raise os_error(errno.EOPNOTSUPP, path, path2) from None

    def _run(self, action: Callable[[], T], path: str, path2: str | None = None) -> T:
        with self._lock:
            return self._call(action, path, path2)

    def _name(self, path: str, operation: str) -> None:
        """Linux's errno for a last component of ``.``, ``..`` or ``/``, before pyfakefs's."""
        code = special_errno(operation, split(path)[1])
        if code:
            raise os_error(code, path)

    def _slash(self, path: str, follow: bool = True) -> None:
        """A trailing slash on anything but a directory is ENOTDIR (pyfakefs ignores it)."""
        if path.endswith("/") and not _stat.S_ISDIR(self.stat(path, follow).st_mode):
            raise os_error(errno.ENOTDIR, path)

    def stat(self, path: str, follow_symlinks: bool = True) -> posix.stat_result:
        check_path(path)
        with self._lock:
            st = self._call(lambda: self.os.stat(path, follow_symlinks=follow_symlinks), path)
            if not _stat.S_ISDIR(st.st_mode):
                return _stat_result(st)
            # pyfakefs counts directory links its own way; Linux: 2 + subdirectories
            entries = self._object(path, follow_symlinks).entries.values()
            nlink = 2 + sum(1 for child in entries if isinstance(child, FakeDirectory))
            return _stat_result(st, nlink)

    def listdir(self, path: str) -> list[str]:
        check_path(path)
        names: list[str] = self._run(lambda: self.os.listdir(path), path)
        return names

    def scandir(self, path: str) -> list[DirEntryInfo]:
        check_path(path)

        def entries() -> list[DirEntryInfo]:
            return [
                DirEntryInfo(e.name, _stat.S_IFMT(e.stat(follow_symlinks=False).st_mode), e.inode())
                for e in self.os.scandir(path)
            ]

        return self._run(entries, path)

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        check_path(path)
        self._name(path, "create")
        self._run(lambda: self.os.mkdir(path, mode & 0o1777), path)

    def rmdir(self, path: str) -> None:
        check_path(path)
        self._name(path, "rmdir")
        self._run(lambda: self.os.rmdir(path), path)

    def unlink(self, path: str) -> None:
        check_path(path)
        self._name(path, "unlink")
        self._run(lambda: self.os.unlink(path), path)

    def rename(self, src: str, dst: str) -> None:
        check_path(src, dst)
        check_path(dst)
        with self._lock:
            with errors_name(src, dst):
                self._name(src, "rename")
                self._name(dst, "rename")
            with errors_name(src, dst):
                self._rename_checks(src, dst)
            self._call(lambda: self.os.rename(src, dst), src, dst)

    def _rename_checks(self, src: str, dst: str) -> None:
        """The checks where pyfakefs's rename answers differently from Linux."""
        source = self.stat(src, False)
        is_dir = _stat.S_ISDIR(source.st_mode)
        if not is_dir and (src.endswith("/") or dst.endswith("/")):
            raise os_error(errno.ENOTDIR, src)
        try:
            target = self.stat(dst, False)
        except FileNotFoundError:
            return
        if _stat.S_ISDIR(target.st_mode) and not is_dir:
            raise os_error(errno.EISDIR, dst)

    def symlink(self, target: str, path: str) -> None:
        target = check_target(target, path)
        check_path(path)
        self._run(lambda: self.os.symlink(target, path), target, path)

    def readlink(self, path: str) -> str:
        check_path(path)
        target: str = self._run(lambda: self.os.readlink(path), path)
        return target

    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        check_path(src, dst)
        check_path(dst)
        self._run(lambda: self.os.link(src, dst, follow_symlinks=follow_symlinks), src, dst)

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        with self._lock:
            if not follow_symlinks and _stat.S_ISLNK(self.stat(path, False).st_mode):
                raise os_error(errno.EOPNOTSUPP, path)
            self._slash(path)
            self._call(lambda: self.os.chmod(path, mode & 0o7777), path)

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        with self._lock:
            self._slash(path, follow_symlinks)
            self._call(lambda: self.os.chown(path, uid, gid, follow_symlinks=follow_symlinks), path)
            obj = self._object(path, follow_symlinks)
            if _stat.S_ISREG(obj.st_mode):  # chown clears set-user-ID bits, as Linux does
                obj.st_mode = privileges_dropped(obj.st_mode)

    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        check_path(path)
        if ns is None:
            self._run(lambda: self.os.utime(path, follow_symlinks=follow_symlinks), path)
        else:
            self._run(lambda: self.os.utime(path, ns=ns, follow_symlinks=follow_symlinks), path)

    def truncate(self, path: str, length: int) -> None:
        check_path(path)
        if length < 0:
            raise os_error(errno.EINVAL, path)
        with self._lock:
            self._slash(path)
            self._call(lambda: self.os.truncate(path, length), path)

    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        if mode & ~7:
            raise os_error(errno.EINVAL, path)
        with self._lock:
            st = self.stat(path, follow_symlinks)
            if is_root():  # Linux's root: read and write always, search always
                allowed = True
            else:
                allowed = self._call(
                    lambda: self.os.access(path, mode, follow_symlinks=follow_symlinks), path
                )
        if not allowed:
            raise os_error(errno.EACCES, path)
        if mode & posix.X_OK and not _stat.S_ISDIR(st.st_mode) and not st.st_mode & 0o111:
            raise os_error(errno.EACCES, path)  # not even root may execute a file without x

    def statvfs(self, path: str) -> posix.statvfs_result:
        self.stat(path)
        with self._lock:
            total, _, free = self.fake.get_disk_usage(path)
        blocks = total // 4096
        spare = free // 4096
        return posix.statvfs_result((4096, 4096, blocks, spare, spare, 0, 0, 0, 0, NAME_MAX, 0))

    # -- opening -----------------------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o666) -> PyfakefsHandle:
        check_path(path)
        flags = check_open_flags(flags, path)
        with self._lock:
            if flags & O_TMPFILE_BIT:
                if not _stat.S_ISDIR(self.stat(path).st_mode):
                    raise os_error(errno.ENOTDIR, path)
                NO_TMPFILE.hit(path=path)
                raise os_error(errno.EOPNOTSUPP, path)
            follow = not flags & posix.O_NOFOLLOW or path.endswith("/")
            if flags & posix.O_PATH:
                st = self.stat(path, follow)
                if flags & posix.O_DIRECTORY and not _stat.S_ISDIR(st.st_mode):
                    raise os_error(errno.ENOTDIR, path)
                return PyfakefsHandle(self, self._object(path, follow), path, flags)
            if flags & posix.O_CREAT and self._create(path, flags, mode):
                return PyfakefsHandle(self, self._object(path, True), path, flags)
            st = self.stat(path, follow)
            if _stat.S_ISLNK(st.st_mode):
                raise os_error(errno.ELOOP, path)
            self._may_open(path, st, flags)
            obj = self._object(path, follow)
            if flags & posix.O_TRUNC and _stat.S_ISREG(st.st_mode):
                self._call(lambda: obj.set_initial_contents(b""), path)
                _touched(obj)
            return PyfakefsHandle(self, obj, path, flags)

    def _create(self, path: str, flags: int, mode: int) -> bool:
        """O_CREAT: create the file if nothing is there (following links); whether it did."""
        exclusive = flags & posix.O_EXCL
        _, name, trailing = split(path)
        if name in SPECIAL_NAMES:
            raise os_error(errno.EEXIST if exclusive else errno.EISDIR, path)
        if trailing:
            raise os_error(errno.EISDIR, path)
        try:
            self.os.lstat(path)
        except OSError:
            pass
        else:
            if exclusive:
                raise os_error(errno.EEXIST, path)
            if not self.fake.exists(path) and flags & posix.O_NOFOLLOW:
                raise os_error(errno.ELOOP, path)
        if self.fake.exists(path):
            return False
        creating = posix.O_WRONLY | posix.O_CREAT | (flags & posix.O_EXCL)
        fd = self._call(lambda: self.os.open(path, creating, mode & 0o7777), path)
        self.os.close(fd)
        return True

    def _may_open(self, path: str, st: posix.stat_result, flags: int) -> None:
        """Linux's checks before opening an existing file (type, then permission)."""
        access = flags & O_ACCMODE
        writes = access != posix.O_RDONLY or flags & posix.O_TRUNC
        if _stat.S_ISDIR(st.st_mode):
            if flags & posix.O_CREAT or writes:
                raise os_error(errno.EISDIR, path)
        elif flags & posix.O_DIRECTORY or path.endswith("/") or split(path)[1] in (".", ".."):
            raise os_error(errno.ENOTDIR, path)
        want = (posix.R_OK if access != posix.O_WRONLY else 0) | (posix.W_OK if writes else 0)
        if want and not self.os.access(path, want):
            raise os_error(errno.EACCES, path)

    def _object(self, path: str, follow: bool) -> Any:
        if follow:
            return self._call(lambda: self.fake.resolve(path), path)
        return self._call(lambda: self.fake.lresolve(path), path)

    def __repr__(self) -> str:
        return f"<PyfakefsFileSystem {self.fake!r}>"


__all__ = ["PyfakefsFileSystem", "PyfakefsHandle"]
