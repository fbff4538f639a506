"""ProviderFS: any vfs provider as a PyFilesystem2 file system (an ``fs.base.FS``).

Paths follow PyFilesystem2's conventions (relative to the FS's root, normalised, ``..`` above
the root an IllegalBackReference) and every failure is the ``fs.errors`` class OSFS raises for
the same errno. Files and directories are created with mode 0666/0777 less ``umask`` (0022 by
default), as a process would create them: a provider itself applies no umask.
"""

from __future__ import annotations

import contextlib
import posix
import stat as _stat
from collections.abc import Collection, Iterator, Mapping
from typing import Any, BinaryIO, cast

from vfs.adapters.handlefile import HandleFile, buffered
from vfs.adapters.pyfilesystem.errors import fs_error_from
from vfs.adapters.pyfilesystem.library import (
    FS,
    Info,
    Mode,
    Permissions,
    ResourceType,
    SubFS,
    fs_errors,
    fs_path,
)
from vfs.provider import FileSystem

_TYPES = {
    _stat.S_IFDIR: ResourceType.directory,
    _stat.S_IFREG: ResourceType.file,
    _stat.S_IFLNK: ResourceType.symlink,
    _stat.S_IFIFO: ResourceType.fifo,
    _stat.S_IFSOCK: ResourceType.socket,
    _stat.S_IFCHR: ResourceType.character,
    _stat.S_IFBLK: ResourceType.block_special_file,
}
"""stat file type -> PyFilesystem2 resource type."""
_STAT_FIELDS = tuple(name for name in dir(posix.stat_result) if name.startswith("st_"))


class ProviderFS(FS):
    """A PyFilesystem2 FS whose resources live in the vfs provider ``provider``.

    ``own``: close the provider when this FS closes. ``umask``: taken from the modes of new
    files and directories (PyFilesystem2 has no umask of its own).
    """

    _meta: dict[str, str | int | bool | None] = {
        "case_insensitive": False,
        "invalid_path_chars": "\0",
        "max_path_length": 4095,
        "max_sys_path_length": None,
        "network": False,
        "read_only": False,
        "supports_rename": True,
        "thread_safe": True,
        "unicode_paths": True,
        "virtual": False,
    }

    def __init__(self, provider: FileSystem, *, own: bool = False, umask: int = 0o022) -> None:
        super().__init__()
        self.provider = provider
        self.umask = umask
        self._own = own

    def __repr__(self) -> str:
        return f"ProviderFS({self.provider!r})"

    # -- paths and errors ---------------------------------------------------------------------

    def _path(self, path: str) -> str:
        """The provider path for a PyFilesystem2 path (after the FS's own validation)."""
        self.check()
        valid: str = self.validatepath(path)
        return valid

    @contextlib.contextmanager
    def _errors(self, path: str, directory: bool = False) -> Iterator[None]:
        """Raise the fs.errors class OSFS would for a provider's OSError on ``path``."""
        try:
            yield
        except OSError as error:
            raise fs_error_from(error, path, directory) from error

    def _stat(self, path: str, follow: bool = True) -> posix.stat_result:
        with self._errors(path):
            return self.provider.stat(self._path(path), follow)

    # -- required methods ---------------------------------------------------------------------

    def getinfo(self, path: str, namespaces: Collection[str] | None = None) -> Info:
        real = self._path(path)
        wanted = namespaces or ()
        with self._errors(path):
            try:
                st = self.provider.stat(real)
            except FileNotFoundError:
                st = self.provider.stat(real, False)  # a dangling link still exists
            lst = st if "lstat" not in wanted and "link" not in wanted else None
            if lst is None:
                lst = self.provider.stat(real, False)
            target = self.provider.readlink(real) if _stat.S_ISLNK(lst.st_mode) else None
        return Info(self._raw_info(real, st, lst, target, wanted))

    def _raw_info(
        self,
        real: str,
        st: posix.stat_result,
        lst: posix.stat_result,
        target: str | None,
        namespaces: Collection[str],
    ) -> dict[str, dict[str, Any]]:
        raw: dict[str, dict[str, Any]] = {
            "basic": {"name": fs_path.basename(real), "is_dir": _stat.S_ISDIR(st.st_mode)}
        }
        if "details" in namespaces:
            raw["details"] = {
                "_write": ["accessed", "modified"],
                "accessed": st.st_atime_ns / 1e9,
                "modified": st.st_mtime_ns / 1e9,
                "metadata_changed": st.st_ctime_ns / 1e9,
                "created": None,
                "size": st.st_size,
                "type": int(_TYPES.get(_stat.S_IFMT(st.st_mode), ResourceType.unknown)),
            }
        if "access" in namespaces:
            raw["access"] = {
                "_write": ["permissions", "uid", "gid"],
                "permissions": Permissions(mode=_stat.S_IMODE(st.st_mode)).dump(),
                "uid": st.st_uid,
                "gid": st.st_gid,
            }
        if "stat" in namespaces:
            raw["stat"] = {name: getattr(st, name) for name in _STAT_FIELDS}
        if "lstat" in namespaces:
            raw["lstat"] = {name: getattr(lst, name) for name in _STAT_FIELDS}
        if "link" in namespaces:
            raw["link"] = {"target": target}
        return raw

    def listdir(self, path: str) -> list[str]:
        real = self._path(path)
        with self._errors(path, directory=True):
            return self.provider.listdir(real)

    def makedir(
        self, path: str, permissions: Permissions | None = None, recreate: bool = False
    ) -> SubFS[FS]:
        real = self._path(path)
        mode = permissions.mode if permissions is not None else 0o777 & ~self.umask
        if real == "/":
            if not recreate:
                raise fs_errors.DirectoryExists(path)
            return self.opendir(path)
        try:
            self.provider.mkdir(real, mode)
        except FileExistsError as error:
            if not (recreate and self.isdir(path)):
                raise fs_errors.DirectoryExists(path, exc=error) from error
        except NotADirectoryError as error:
            raise fs_errors.ResourceNotFound(path, exc=error) from error
        except OSError as error:
            raise fs_error_from(error, path, directory=True) from error
        return self.opendir(path)

    def openbin(self, path: str, mode: str = "r", buffering: int = -1, **options: Any) -> BinaryIO:
        real = self._path(path)
        parsed = Mode(mode)
        parsed.validate_bin()
        flags = (
            posix.O_RDWR
            if parsed.reading and parsed.writing
            else (posix.O_WRONLY if parsed.writing else posix.O_RDONLY)
        )
        if parsed.create:
            flags |= posix.O_CREAT
        if parsed.truncate:
            flags |= posix.O_TRUNC
        if parsed.exclusive:
            flags |= posix.O_EXCL
        if parsed.appending:
            flags |= posix.O_APPEND
        with self._errors(path):
            if parsed.exclusive and self.provider_exists(real):
                raise fs_errors.FileExists(path)
            handle = self.provider.open(real, flags, 0o666 & ~self.umask)
            try:
                if _stat.S_ISDIR(handle.stat().st_mode):
                    raise fs_errors.FileExpected(path)
            except BaseException:
                handle.close()
                raise
        raw = HandleFile(handle, path, parsed.to_platform_bin())
        return cast(BinaryIO, buffered(raw, buffering))

    def provider_exists(self, real: str) -> bool:
        """Whether the provider path ``real`` names anything (a dangling link included)."""
        try:
            self.provider.stat(real, False)
        except FileNotFoundError:
            return False
        return True

    def remove(self, path: str) -> None:
        real = self._path(path)
        with self._errors(path):
            self.provider.unlink(real)

    def removedir(self, path: str) -> None:
        real = self._path(path)
        if real == "/":
            raise fs_errors.RemoveRootError(path)
        with self._errors(path, directory=True):
            self.provider.rmdir(real)

    def setinfo(self, path: str, info: Mapping[str, Mapping[str, Any]]) -> None:
        real = self._path(path)
        with self._errors(path):
            st = self.provider.stat(real)
            details = info.get("details", {})
            if "accessed" in details or "modified" in details:
                accessed = details.get("accessed")
                modified = details.get("modified", accessed)
                accessed = modified if accessed is None else accessed
                self.provider.utime(
                    real, (_ns(accessed, st.st_atime_ns), _ns(modified, st.st_mtime_ns))
                )
            access = info.get("access", {})
            if access.get("permissions") is not None:
                self.provider.chmod(real, Permissions.load(access["permissions"]).mode)
            if "uid" in access or "gid" in access:
                uid, gid = access.get("uid"), access.get("gid")
                self.provider.chown(real, -1 if uid is None else uid, -1 if gid is None else gid)

    # -- overridden for speed and fidelity ----------------------------------------------------

    def exists(self, path: str) -> bool:
        return self.provider_exists(self._path(path))

    def isdir(self, path: str) -> bool:
        try:
            return _stat.S_ISDIR(self.provider.stat(self._path(path)).st_mode)
        except OSError:
            return False

    def isfile(self, path: str) -> bool:
        try:
            return _stat.S_ISREG(self.provider.stat(self._path(path)).st_mode)
        except OSError:
            return False

    def islink(self, path: str) -> bool:
        return _stat.S_ISLNK(self._stat(path, follow=False).st_mode)

    def getsize(self, path: str) -> int:
        return self._stat(path).st_size

    def scandir(
        self,
        path: str,
        namespaces: Collection[str] | None = None,
        page: tuple[int, int] | None = None,
    ) -> Iterator[Info]:
        real = self._path(path)
        wanted = namespaces or ()
        with self._errors(path, directory=True):
            entries = self.provider.scandir(real)
        if page is not None:
            entries = entries[page[0] : page[1]]
        base = real.rstrip("/") + "/"
        plain = not {"details", "access", "stat", "lstat", "link"} & set(wanted)
        for entry in entries:
            if plain and entry.type != _stat.S_IFLNK:
                yield Info({"basic": {"name": entry.name, "is_dir": entry.is_dir}})
                continue
            try:
                yield self.getinfo(base + entry.name, wanted)
            except fs_errors.ResourceNotFound:
                continue  # removed since the listing was taken

    def move(
        self, src_path: str, dst_path: str, overwrite: bool = False, preserve_time: bool = False
    ) -> None:
        src, dst = self._path(src_path), self._path(dst_path)
        with self._errors(src_path):
            if _stat.S_ISDIR(self.provider.stat(src).st_mode):
                raise fs_errors.FileExpected(src_path)
        with self._errors(dst_path):
            try:
                target = self.provider.stat(dst)
            except FileNotFoundError:
                target = None
            if target is not None:
                if not overwrite:
                    raise fs_errors.DestinationExists(dst_path)
                if _stat.S_ISDIR(target.st_mode):
                    raise fs_errors.FileExpected(dst_path)
            before = self.provider.stat(src)
            self.provider.rename(src, dst)
            if preserve_time:
                self.provider.utime(dst, (before.st_atime_ns, before.st_mtime_ns))

    def movedir(
        self, src_path: str, dst_path: str, create: bool = False, preserve_time: bool = False
    ) -> None:
        src, dst = self._path(src_path), self._path(dst_path)
        with self._errors(src_path, directory=True):
            if not _stat.S_ISDIR(self.provider.stat(src).st_mode):
                raise fs_errors.DirectoryExpected(src_path)
        if not self.provider_exists(dst) and create:
            with self._errors(dst_path, directory=True):
                self.provider.rename(src, dst)  # keeps times: nothing is copied
            return
        super().movedir(src_path, dst_path, create=create, preserve_time=preserve_time)

    def close(self) -> None:
        if not self.isclosed() and self._own:
            self.provider.close()
        super().close()


def _ns(seconds: float | None, default: int) -> int:
    """Seconds (as PyFilesystem2 gives times) in nanoseconds; ``default`` for None."""
    return default if seconds is None else round(seconds * 1_000_000_000)
