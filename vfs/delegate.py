"""Providers and handles that pass every call to another: the base of the wrapping providers.

ReadOnly, Mount, Overlay and the adapters change a few calls of the provider they wrap and
pass the rest through; subclassing these classes keeps that to the calls that differ, so no
wrapper repeats another's forwarding code.
"""

from __future__ import annotations

import posix

from vfs.provider import DirEntryInfo, FileSystem, Handle
from vfs.walk.held import HeldPath


class DelegatingHandle(Handle):
    """A handle that forwards every operation to ``inner``."""

    __slots__ = ("flags", "inner")

    def __init__(self, inner: Handle) -> None:
        self.inner = inner
        self.flags = inner.flags

    @property
    def path(self) -> str:
        return self.inner.path

    @property
    def closed(self) -> bool:
        return self.inner.closed

    def pread(self, n: int, offset: int) -> bytes:
        return self.inner.pread(n, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        return self.inner.pwrite(data, offset)

    def append(self, data: bytes) -> int:
        return self.inner.append(data)

    def size(self) -> int:
        return self.inner.size()

    def truncate(self, length: int) -> None:
        self.inner.truncate(length)

    def sync(self) -> None:
        self.inner.sync()

    def close(self) -> None:
        self.inner.close()

    def stat(self) -> posix.stat_result:
        return self.inner.stat()

    def chmod(self, mode: int) -> None:
        self.inner.chmod(mode)

    def chown(self, uid: int, gid: int) -> None:
        self.inner.chown(uid, gid)

    def utime(self, ns: tuple[int, int] | None = None) -> None:
        self.inner.utime(ns)

    def listdir(self) -> list[str]:
        return self.inner.listdir()

    def scandir(self) -> list[DirEntryInfo]:
        return self.inner.scandir()

    def statvfs(self) -> posix.statvfs_result:
        return self.inner.statvfs()

    def seek_data(self, offset: int, whence: int) -> int:
        return self.inner.seek_data(offset, whence)

    def mappable(self) -> int:
        return self.inner.mappable()

    # allocate is not forwarded: Handle's own extends the file through this wrapper's truncate,
    # so a wrapper's rules on how far files grow hold for posix_fallocate too; wrappers that
    # only route calls (Mount, Overlay) forward it to reach the provider's allocation.

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.inner!r}>"


class DelegatingFileSystem(FileSystem):
    """A provider that forwards every operation to ``inner`` (closing it too)."""

    def __init__(self, inner: FileSystem) -> None:
        self.inner = inner

    def stat(self, path: str, follow_symlinks: bool = True) -> posix.stat_result:
        return self.inner.stat(path, follow_symlinks)

    def probe(self, path: str, follow_symlinks: bool = True) -> posix.stat_result | None:
        return self.inner.probe(path, follow_symlinks)

    def probe_at(
        self, at: object | None, path: str, follow_symlinks: bool = True
    ) -> posix.stat_result | None:
        return self._probe_by_path(at, path, follow_symlinks)

    def open(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        return self.inner.open(path, flags, mode)

    def listdir(self, path: str) -> list[str]:
        return self.inner.listdir(path)

    def scandir(self, path: str) -> list[DirEntryInfo]:
        return self.inner.scandir(path)

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        self.inner.mkdir(path, mode)

    def rmdir(self, path: str) -> None:
        self.inner.rmdir(path)

    def unlink(self, path: str) -> None:
        self.inner.unlink(path)

    def rename(self, src: str, dst: str) -> None:
        self.inner.rename(src, dst)

    def symlink(self, target: str, path: str) -> None:
        self.inner.symlink(target, path)

    def readlink(self, path: str) -> str:
        return self.inner.readlink(path)

    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        self.inner.link(src, dst, follow_symlinks)

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        self.inner.chmod(path, mode, follow_symlinks)

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        self.inner.chown(path, uid, gid, follow_symlinks)

    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        self.inner.utime(path, ns, follow_symlinks)

    def truncate(self, path: str, length: int) -> None:
        self.inner.truncate(path, length)

    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        self.inner.access(path, mode, follow_symlinks)

    def statvfs(self, path: str) -> posix.statvfs_result:
        return self.inner.statvfs(path)

    @property
    def uses_python_os(self) -> bool:
        return self.inner.uses_python_os

    def close(self) -> None:
        self.inner.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.inner!r}>"


class HeldDirectoryHandle(DelegatingHandle):
    """An open directory of a provider that only takes paths, holding it by canonical path
    (moved along by renames made through the provider) for the at-calls made through it."""

    __slots__ = ("_fs", "_held")

    def __init__(self, inner: Handle, fs: FileSystem, held: HeldPath) -> None:
        super().__init__(inner)
        self._fs = fs
        self._held = held

    @property
    def path(self) -> str:
        where = self._held.path
        return self.inner.path if where is None else where

    def directory(self) -> object | None:
        return self._held

    def close(self) -> None:
        self._fs.release(self._held)
        self.inner.close()
