"""One vocabulary of file system operations, served by real ``os`` calls or by a provider.

A scenario names operations (``"stat"``, ``"open"``, ``"pread"``...) and their arguments;
:class:`NativeOps` performs them on the host (inside a chroot, or below a prefix) and
:class:`ProviderOps` on a ``vfs`` provider, so the same scenario runs on both. Open files are
referred to by small integers that both sides hand out in the same order.
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Callable
from typing import Any

from vfs import FileSystem, Handle

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_SYMLINK_FOLLOW = 0x400
SYS_FCHMODAT2 = 452
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, path: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), path)


def guest_error(error: OSError, guest: Callable[[object], object]) -> OSError:
    """``error`` with its file names as the guest sees them (``guest`` maps a host name)."""
    return OSError(error.errno, error.strerror, guest(error.filename), None, guest(error.filename2))


def entry_type(entry: os.DirEntry[str]) -> int:
    """``entry``'s file type as the directory gives it (readdir's d_type, which needs no
    search permission on the directory, as the providers' scandir types), a status asked
    only for a kind that DirEntry cannot tell (a fifo, a socket, a device)."""
    if entry.is_symlink():
        return stat.S_IFLNK
    if entry.is_dir(follow_symlinks=False):
        return stat.S_IFDIR
    if entry.is_file(follow_symlinks=False):
        return stat.S_IFREG
    return stat.S_IFMT(entry.stat(follow_symlinks=False).st_mode)


class Ops:
    """Operations common to both sides; subclasses provide the primitives."""

    def __init__(self) -> None:
        self._handles: dict[int, Any] = {}
        self._next = 0

    def _register(self, handle: Any) -> int:
        self._next += 1
        self._handles[self._next] = handle
        return self._next

    def call(self, name: str, args: tuple[Any, ...]) -> Any:
        """Run operation ``name``; exceptions propagate to the caller."""
        return getattr(self, "op_" + name)(*args)

    def op_times(self, path: str, follow: bool = True) -> tuple[int, int, int]:
        st = self.op_stat(path, follow)
        return st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns

    def op_ftimes(self, h: int) -> tuple[int, int, int]:
        st = self.op_fstat(h)
        return st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns

    def op_tree(self) -> list[tuple[Any, ...]]:
        """Every entry below ``/``: path, lstat, and the content of files and links."""
        rows: list[tuple[Any, ...]] = []
        pending = ["/"]
        while pending:
            directory = pending.pop()
            for name in sorted(self.op_listdir(directory)):
                path = directory.rstrip("/") + "/" + name
                st = self.op_stat(path, False)
                kind = stat.S_IFMT(st.st_mode)
                if kind == stat.S_IFDIR:
                    pending.append(path)
                    extra: Any = None
                elif kind == stat.S_IFLNK:
                    extra = self.op_readlink(path)
                else:
                    extra = self.op_read_file(path)
                rows.append((path, st, extra))
        return rows

    def op_read_file(self, path: str) -> bytes:
        h = self.op_open(path, os.O_RDONLY, 0)
        try:
            return bytes(self.op_pread(h, 1 << 20, 0))
        finally:
            self.op_close(h)

    def op_write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        h = self.op_open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            self.op_pwrite(h, data, 0)
        finally:
            self.op_close(h)

    # primitives, overridden below
    def op_stat(self, path: str, follow: bool = True) -> os.stat_result:
        raise NotImplementedError

    def op_listdir(self, path: str) -> list[str]:
        raise NotImplementedError

    def op_readlink(self, path: str) -> str:
        raise NotImplementedError

    def op_open(self, path: str, flags: int, mode: int = 0o666) -> int:
        raise NotImplementedError

    def op_pread(self, h: int, n: int, offset: int) -> bytes:
        raise NotImplementedError

    def op_pwrite(self, h: int, data: bytes, offset: int) -> int:
        raise NotImplementedError

    def op_close(self, h: int) -> None:
        raise NotImplementedError

    def op_fstat(self, h: int) -> os.stat_result:
        raise NotImplementedError


class NativeOps(Ops):
    """Real ``os`` calls; guest paths are host paths below ``prefix`` ('' inside a chroot)."""

    def __init__(self, prefix: str = "") -> None:
        super().__init__()
        self.prefix = prefix

    def host(self, path: str) -> str:
        return self.prefix + path if self.prefix and path.startswith("/") else path

    def guest(self, name: object) -> object:
        """A file name from a host error, as the guest would see it."""
        prefix = self.prefix
        if prefix and isinstance(name, str) and name.startswith(prefix):
            return name[len(prefix) :] or "/"
        return name

    def op_stat(self, path: str, follow: bool = True) -> os.stat_result:
        return os.stat(self.host(path), follow_symlinks=follow)

    def op_open(self, path: str, flags: int, mode: int = 0o666) -> int:
        return self._register(os.open(self.host(path), flags, mode))

    def op_close(self, h: int) -> None:
        os.close(self._handles.pop(h))

    def op_pread(self, h: int, n: int, offset: int) -> bytes:
        return os.pread(self._handles[h], n, offset)

    def op_pwrite(self, h: int, data: bytes, offset: int) -> int:
        return os.pwrite(self._handles[h], data, offset)

    def op_append(self, h: int, data: bytes) -> int:
        fd = self._handles[h]
        os.write(fd, data)
        return os.lseek(fd, 0, os.SEEK_CUR)

    def op_size(self, h: int) -> int:
        return os.fstat(self._handles[h]).st_size

    def op_ftruncate(self, h: int, length: int) -> None:
        os.ftruncate(self._handles[h], length)

    def op_fsync(self, h: int) -> None:
        os.fsync(self._handles[h])

    def op_fstat(self, h: int) -> os.stat_result:
        return os.fstat(self._handles[h])

    def op_fchmod(self, h: int, mode: int) -> None:
        os.fchmod(self._handles[h], mode)

    def op_fchown(self, h: int, uid: int, gid: int) -> None:
        os.fchown(self._handles[h], uid, gid)

    def op_futime(self, h: int, ns: tuple[int, int] | None) -> None:
        try:
            if ns is None:
                os.utime(self._handles[h])
            else:
                os.utime(self._handles[h], ns=ns)
        except OSError as error:  # a handle's error names no file; 3.13 gives the fd number
            raise OSError(error.errno, error.strerror) from None

    def op_flistdir(self, h: int) -> list[str]:
        return os.listdir(self._handles[h])

    def op_listdir(self, path: str) -> list[str]:
        return os.listdir(self.host(path))

    def op_scandir(self, path: str) -> list[tuple[str, int, int]]:
        with os.scandir(self.host(path)) as entries:
            return [(e.name, entry_type(e), e.inode()) for e in entries]

    def op_mkdir(self, path: str, mode: int = 0o777) -> None:
        os.mkdir(self.host(path), mode)

    def op_rmdir(self, path: str) -> None:
        os.rmdir(self.host(path))

    def op_unlink(self, path: str) -> None:
        os.unlink(self.host(path))

    def op_rename(self, src: str, dst: str) -> None:
        os.rename(self.host(src), self.host(dst))

    def op_symlink(self, target: str, path: str) -> None:
        os.symlink(target, self.host(path))

    def op_readlink(self, path: str) -> str:
        return os.readlink(self.host(path))

    def op_link(self, src: str, dst: str, follow: bool = True) -> None:
        # linkat(2) itself: os.link(follow_symlinks=True) without dir_fd calls link(2), which
        # on Linux does not follow a link (CPython's quirk, reproduced by the backend instead).
        source, target = self.host(src), self.host(dst)
        flags = AT_SYMLINK_FOLLOW if follow else 0
        result = _libc.linkat(AT_FDCWD, os.fsencode(source), AT_FDCWD, os.fsencode(target), flags)
        if result != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), source, None, target)

    def op_chmod(self, path: str, mode: int, follow: bool = True) -> None:
        if follow:
            os.chmod(self.host(path), mode)
            return
        # fchmodat2(2) itself: glibc's fchmodat emulates AT_SYMLINK_NOFOLLOW through /proc,
        # which a chroot lacks.
        host = self.host(path)
        result = _libc.syscall(
            ctypes.c_long(SYS_FCHMODAT2), AT_FDCWD, os.fsencode(host), mode, AT_SYMLINK_NOFOLLOW
        )
        _check(result, host)

    def op_chown(self, path: str, uid: int, gid: int, follow: bool = True) -> None:
        os.chown(self.host(path), uid, gid, follow_symlinks=follow)

    def op_utime(self, path: str, ns: tuple[int, int] | None = None, follow: bool = True) -> None:
        host = self.host(path)
        try:
            if ns is None:
                os.utime(host, follow_symlinks=follow)
            else:
                os.utime(host, ns=ns, follow_symlinks=follow)
        except OSError as error:  # CPython's os.utime does not name the file; the kernel's error
            raise OSError(error.errno, error.strerror, host) from None

    def op_truncate(self, path: str, length: int) -> None:
        os.truncate(self.host(path), length)

    def op_access(self, path: str, mode: int, follow: bool = True) -> None:
        host = self.host(path)
        flags = 0 if follow else AT_SYMLINK_NOFOLLOW
        _check(_libc.faccessat(AT_FDCWD, os.fsencode(host), mode, flags), host)

    def op_statvfs(self, path: str) -> tuple[int, int]:
        st = os.statvfs(self.host(path))
        return st.f_bsize, st.f_namemax


class ProviderOps(Ops):
    """The same operations on a ``vfs`` provider (below ``prefix`` for an unconfined host)."""

    def __init__(self, fs: FileSystem, prefix: str = "") -> None:
        super().__init__()
        self.fs = fs
        self.prefix = prefix

    def call(self, name: str, args: tuple[Any, ...]) -> Any:
        if not self.prefix:
            return super().call(name, args)
        mapped = tuple(self.host(arg) if isinstance(arg, str) else arg for arg in args)
        if name == "symlink":  # a link's content is data, not a path to map
            mapped = (args[0], *mapped[1:])
        try:
            return super().call(name, mapped)
        except OSError as error:
            raise guest_error(error, self.guest) from None

    def close(self) -> None:
        """Close the handles a scenario left open (as the native worker's exit does), then the
        provider."""
        while self._handles:
            self.op_close(next(iter(self._handles)))
        self.fs.close()

    def host(self, path: str) -> str:
        return self.prefix + path if path.startswith("/") else path

    def guest(self, name: object) -> object:
        prefix = self.prefix
        if prefix and isinstance(name, str) and name.startswith(prefix):
            return name[len(prefix) :] or "/"
        return name

    def _h(self, h: int) -> Handle:
        handle: Handle = self._handles[h]
        return handle

    def op_stat(self, path: str, follow: bool = True) -> os.stat_result:
        return self.fs.stat(path, follow)

    def op_open(self, path: str, flags: int, mode: int = 0o666) -> int:
        return self._register(self.fs.open(path, flags, mode))

    def op_close(self, h: int) -> None:
        self._handles.pop(h).close()

    def op_pread(self, h: int, n: int, offset: int) -> bytes:
        return self._h(h).pread(n, offset)

    def op_pwrite(self, h: int, data: bytes, offset: int) -> int:
        return self._h(h).pwrite(data, offset)

    def op_append(self, h: int, data: bytes) -> int:
        return self._h(h).append(data)

    def op_size(self, h: int) -> int:
        return self._h(h).size()

    def op_ftruncate(self, h: int, length: int) -> None:
        self._h(h).truncate(length)

    def op_fsync(self, h: int) -> None:
        self._h(h).sync()

    def op_fstat(self, h: int) -> os.stat_result:
        return self._h(h).stat()

    def op_fchmod(self, h: int, mode: int) -> None:
        self._h(h).chmod(mode)

    def op_fchown(self, h: int, uid: int, gid: int) -> None:
        self._h(h).chown(uid, gid)

    def op_futime(self, h: int, ns: tuple[int, int] | None) -> None:
        self._h(h).utime(ns)

    def op_flistdir(self, h: int) -> list[str]:
        return self._h(h).listdir()

    def op_listdir(self, path: str) -> list[str]:
        return self.fs.listdir(path)

    def op_scandir(self, path: str) -> list[tuple[str, int, int]]:
        return [(e.name, e.type, e.inode) for e in self.fs.scandir(path)]

    def op_mkdir(self, path: str, mode: int = 0o777) -> None:
        self.fs.mkdir(path, mode)

    def op_rmdir(self, path: str) -> None:
        self.fs.rmdir(path)

    def op_unlink(self, path: str) -> None:
        self.fs.unlink(path)

    def op_rename(self, src: str, dst: str) -> None:
        self.fs.rename(src, dst)

    def op_symlink(self, target: str, path: str) -> None:
        self.fs.symlink(target, path)

    def op_readlink(self, path: str) -> str:
        return self.fs.readlink(path)

    def op_link(self, src: str, dst: str, follow: bool = True) -> None:
        self.fs.link(src, dst, follow)

    def op_chmod(self, path: str, mode: int, follow: bool = True) -> None:
        self.fs.chmod(path, mode, follow)

    def op_chown(self, path: str, uid: int, gid: int, follow: bool = True) -> None:
        self.fs.chown(path, uid, gid, follow)

    def op_utime(self, path: str, ns: tuple[int, int] | None = None, follow: bool = True) -> None:
        self.fs.utime(path, ns, follow)

    def op_truncate(self, path: str, length: int) -> None:
        self.fs.truncate(path, length)

    def op_access(self, path: str, mode: int, follow: bool = True) -> None:
        self.fs.access(path, mode, follow)

    def op_statvfs(self, path: str) -> tuple[int, int]:
        st = self.fs.statvfs(path)
        return st.f_bsize, st.f_namemax


def host_provider_ops(root: str, resolver: str = "openat2") -> ProviderOps:
    """ProviderOps on a HostFileSystem confined to ``root`` (module level: a worker's set-up
    made of it pickles, so a fork server can start the worker)."""
    from vfs import HostFileSystem

    return ProviderOps(HostFileSystem(root, resolver=resolver))
