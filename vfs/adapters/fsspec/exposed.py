"""ProviderFsspec: any provider shown to fsspec users as a file system of protocol ``vfs``.

fsspec makes file systems from a protocol and keyword arguments, and caches instances by those
arguments. Providers are live objects, so this class is not cached at all (instances are
cheap), and a provider is named either directly (``ProviderFsspec(provider=p)``,
``fsspec.filesystem("vfs", provider=p)``) or through a name given to :func:`register`, which
URLs carry as their host: ``fsspec.open("vfs://data/table.csv")`` reads ``/table.csv`` of the
provider registered as ``data``. Paths inside are the provider's absolute paths.
"""

from __future__ import annotations

import errno
import glob
import posix
import re
import stat as _stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any, cast

import fsspec
from fsspec.spec import AbstractFileSystem

from vfs.adapters.fsspec.modes import open_flags
from vfs.adapters.handlefile import HandleFile, buffered
from vfs.content import copy_content
from vfs.errors import os_error
from vfs.provider import FileSystem, write_all
from vfs.renamed import renamed_names

PROTOCOL = "vfs"
_PREFIX = PROTOCOL + "://"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_registry: dict[str, FileSystem] = {}
_registry_lock = threading.Lock()


def register(name: str, provider: FileSystem, *, replace: bool = False) -> str:
    """Make ``provider`` reachable as ``vfs://<name>/...``; return that URL prefix.

    A name already taken by another provider is a ValueError unless ``replace`` is true.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"invalid provider name {name!r}: use letters, digits, '_', '.', '-'")
    if not isinstance(provider, FileSystem):
        raise TypeError(f"provider must be a vfs FileSystem, not {type(provider).__name__}")
    with _registry_lock:
        current = _registry.get(name)
        if current is not None and current is not provider and not replace:
            raise ValueError(f"a provider is already registered as {name!r}")
        _registry[name] = provider
    return _PREFIX + name


def unregister(name: str) -> None:
    """Forget the provider registered as ``name`` (a ValueError if there is none)."""
    with _registry_lock:
        if _registry.pop(name, None) is None:
            raise ValueError(f"no provider is registered as {name!r}")


@contextmanager
def registered(name: str, provider: FileSystem) -> Iterator[str]:
    """Register ``provider`` as ``name`` for the ``with`` block; yield its URL prefix."""
    prefix = register(name, provider)
    try:
        yield prefix
    finally:
        unregister(name)


def _registered(name: str) -> FileSystem:
    with _registry_lock:
        provider = _registry.get(name)
    if provider is None:
        raise ValueError(
            f"no provider is registered as {name!r} (see vfs.adapters.fsspec.register)"
        )
    return provider


def _timestamp(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


class ProviderFsspec(AbstractFileSystem):  # type: ignore[misc]
    """An fsspec file system over a vfs provider (given, or registered under ``name``)."""

    protocol = PROTOCOL
    root_marker = "/"
    cachable = False
    blocksize = 1 << 16

    def __init__(
        self, provider: FileSystem | None = None, name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if provider is None:
            if name is None:
                raise ValueError("ProviderFsspec needs a provider or the name of a registered one")
            provider = _registered(name)
        elif not isinstance(provider, FileSystem):
            raise TypeError(f"provider must be a vfs FileSystem, not {type(provider).__name__}")
        self.provider = provider
        self.name = name

    # -- paths ---------------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        """``vfs://name/a/b`` and ``a/b`` both become the provider path ``/a/b``."""
        if isinstance(path, list | tuple):
            return [cls._strip_protocol(p) for p in path]
        path = fsspec.utils.stringify_path(path)
        if path.startswith(_PREFIX):
            rest = path[len(_PREFIX) :]
            path = rest[rest.find("/") :] if "/" in rest else "/"
        stripped = path.strip("/")
        return "/" + stripped if stripped else "/"

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        if path.startswith(_PREFIX):
            name = path[len(_PREFIX) :].split("/", 1)[0]
            if name:
                return {"name": name}
        return {}

    def unstrip_protocol(self, name: str) -> str:
        return f"{_PREFIX}{self.name or ''}{self._strip_protocol(name)}"

    @classmethod
    def _parent(cls, path: str) -> str:
        path = cls._strip_protocol(path)
        head = path.rsplit("/", 1)[0]
        return head or "/"

    # -- queries -------------------------------------------------------------------------------

    def _describe(self, path: str, st: posix.stat_result) -> dict[str, Any]:
        """The info dict fsspec users expect (the fields LocalFileSystem gives)."""
        info: dict[str, Any] = {
            "name": path,
            "size": st.st_size,
            "type": "directory" if _stat.S_ISDIR(st.st_mode) else "file",
            "created": st.st_ctime,
            "islink": False,
            "mode": st.st_mode,
            "uid": st.st_uid,
            "gid": st.st_gid,
            "mtime": st.st_mtime,
            "ino": st.st_ino,
            "nlink": st.st_nlink,
        }
        if _stat.S_ISLNK(st.st_mode):
            info["islink"] = True
            info["destination"] = self.provider.readlink(path)
            try:
                target = self.provider.stat(path)
            except OSError:
                info["type"] = "other"
                info["size"] = 0
            else:
                info["size"] = target.st_size
                info["type"] = "directory" if _stat.S_ISDIR(target.st_mode) else "file"
        elif not _stat.S_ISREG(st.st_mode) and not _stat.S_ISDIR(st.st_mode):
            info["type"] = "other"
        return info

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        return self._describe(path, self.provider.stat(path, False))

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        st = self.provider.stat(path)
        if not _stat.S_ISDIR(st.st_mode):
            entries = [self._describe(path, self.provider.stat(path, False))]
        else:
            base = path.rstrip("/")
            entries = []
            for name in sorted(self.provider.listdir(path)):
                child = f"{base}/{name}"
                try:
                    entries.append(self._describe(child, self.provider.stat(child, False)))
                except FileNotFoundError:  # removed while listing
                    continue
        return entries if detail else [entry["name"] for entry in entries]

    def exists(self, path: str, **kwargs: Any) -> bool:
        try:
            self.provider.stat(self._strip_protocol(path))
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    def lexists(self, path: str, **kwargs: Any) -> bool:
        try:
            self.provider.stat(self._strip_protocol(path), False)
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    def islink(self, path: str) -> bool:
        try:
            st = self.provider.stat(self._strip_protocol(path), False)
        except (FileNotFoundError, NotADirectoryError):
            return False
        return _stat.S_ISLNK(st.st_mode)

    def modified(self, path: str) -> datetime:
        return _timestamp(self.provider.stat(self._strip_protocol(path)).st_mtime_ns)

    def created(self, path: str) -> datetime:
        """The last status change (st_ctime), as LocalFileSystem reports it on Linux."""
        return _timestamp(self.provider.stat(self._strip_protocol(path)).st_ctime_ns)

    # -- contents ------------------------------------------------------------------------------

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> IO[bytes]:
        if not autocommit:
            raise NotImplementedError("vfs file systems write in place: no transactions")
        path = self._strip_protocol(path)
        flags = open_flags(mode)
        handle = self.provider.open(path, flags, 0o666)
        if handle.stat().st_mode & 0o170000 == _stat.S_IFDIR:
            handle.close()
            raise os_error(errno.EISDIR, path)
        size = block_size if block_size and block_size > 0 else self.blocksize
        return cast(IO[bytes], buffered(HandleFile(handle, path, mode), size))

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        path = self._strip_protocol(path)
        with self.provider.open(path, posix.O_RDONLY) as handle:
            if _stat.S_ISDIR(handle.stat().st_mode):
                raise os_error(errno.EISDIR, path)
            size = handle.size()
            first = 0 if start is None else (start if start >= 0 else max(size + start, 0))
            last = size if end is None else (end if end >= 0 else max(size + end, 0))
            if last <= first:
                return b""
            return handle.pread(last - first, first)

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        flags = posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC
        if mode == "create":
            flags |= posix.O_EXCL
        with self.provider.open(path, flags, 0o666) as handle:
            write_all(handle, bytes(value), 0)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        if self.isdir(path1):
            self.makedirs(path2, exist_ok=True)
            return
        with self.provider.open(path1, posix.O_RDONLY) as source:
            flags = posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC
            with self.provider.open(path2, flags, 0o666) as target:
                copy_content(source, target)

    def touch(self, path: str, truncate: bool = True, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        if not truncate and self.exists(path):
            self.provider.utime(path, None)
            return
        flags = posix.O_WRONLY | posix.O_CREAT | (posix.O_TRUNC if truncate else 0)
        self.provider.open(path, flags, 0o666).close()

    # -- names ---------------------------------------------------------------------------------

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        if create_parents:
            if self.exists(path):
                raise os_error(errno.EEXIST, path)
            self.makedirs(path, exist_ok=True)
        else:
            self.provider.mkdir(path, 0o777)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        path = self._strip_protocol(path)
        parts = [part for part in path.split("/") if part]
        for end in range(1, len(parts) + 1):
            current = "/" + "/".join(parts[:end])
            try:
                self.provider.mkdir(current, 0o777)
            except FileExistsError:
                if end == len(parts) and not exist_ok:
                    raise
                if not self.isdir(current):
                    raise os_error(errno.ENOTDIR, current) from None
        if not parts and not exist_ok:
            raise os_error(errno.EEXIST, path)

    def rmdir(self, path: str) -> None:
        self.provider.rmdir(self._strip_protocol(path))

    def rm_file(self, path: str) -> None:
        self.provider.unlink(self._strip_protocol(path))

    def _rm(self, path: str) -> None:
        path = self._strip_protocol(path)
        if _stat.S_ISDIR(self.provider.stat(path, False).st_mode):
            self.provider.rmdir(path)
        else:
            self.provider.unlink(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        for found in reversed(self.expand_path(path, recursive=recursive, maxdepth=maxdepth)):
            self._rm(found)

    def mv(
        self,
        path1: Any,
        path2: Any,
        recursive: bool = False,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        """A rename where one path names one thing (into ``path2`` if it is a directory)."""
        if (
            isinstance(path1, str)
            and isinstance(path2, str)
            and not glob.has_magic(path1)
            and self.lexists(path1)
        ):
            source, target = self._strip_protocol(path1), self._strip_protocol(path2)
            if self.isdir(target):  # shutil.move's rule, as LocalFileSystem.mv
                target = target.rstrip("/") + "/" + source.rsplit("/", 1)[-1]
            self.provider.rename(source, target)
            return
        super().mv(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)

    def chmod(self, path: str, mode: int) -> None:
        self.provider.chmod(self._strip_protocol(path), mode)

    def symlink(self, source: str, destination: str, **kwargs: Any) -> None:
        self.provider.symlink(source, self._strip_protocol(destination))

    def __repr__(self) -> str:
        return f"<ProviderFsspec {self.name or ''} over {self.provider!r}>"


fsspec.register_implementation(PROTOCOL, ProviderFsspec, clobber=True)


__getattr__ = renamed_names(__name__, {"VfsFileSystem": "ProviderFsspec"}, globals())
"""``VfsFileSystem``, the old name of :class:`ProviderFsspec`, for one release."""
