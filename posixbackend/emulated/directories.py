"""Listing directories on the emulated backend: os.listdir and os.scandir."""

from __future__ import annotations

import errno
import os
from typing import Any

from posixbackend.emulated.args import PathArg, path_arg
from posixbackend.emulated.core import BackendCore
from posixbackend.emulated.descriptions import is_directory
from posixbackend.emulated.direntry import ScandirIterator
from vfs.errors import os_error, rename_error


class DirectoryFunctions(BackendCore):
    """os.listdir and os.scandir, on a path (str or bytes) or an open directory."""

    def listdir(self, path: Any = None) -> list[str] | list[bytes]:
        """os.listdir: names without '.' and '..' (bytes for a bytes path; '.' by default)."""
        target = _current_if_null(path_arg(path, "listdir", allow_fd=True, nullable=True))
        if target.fd is not None:
            names: list[str] = self._open_directory(target.fd, target.original).listdir()
        else:
            try:
                names = self._fs.listdir_at(*self._at(target, None))
            except OSError as error:
                raise rename_error(error, target.original) from None
        if target.is_bytes:
            return [os.fsencode(name) for name in names]
        return names

    def scandir(self, path: Any = None) -> ScandirIterator:
        """os.scandir: an iterator of DirEntry objects that behave like os.DirEntry."""
        target = _current_if_null(path_arg(path, "scandir", allow_fd=True, nullable=True))
        if target.fd is not None:
            fd = target.fd
            infos = self._open_directory(fd, target.original).scandir()

            def stat_in_directory(name: str, follow_symlinks: bool) -> os.stat_result:
                directory = self._directory_of(fd, name)
                return self._view(self._fs.stat_at(directory, name, follow_symlinks))

            return ScandirIterator(fd, infos, stat_in_directory)
        at, name = self._at(target, None)
        try:
            infos = self._fs.scandir_at(at, name)
        except OSError as error:
            raise rename_error(error, target.original) from None

        def stat_path(entry_path: str, follow_symlinks: bool) -> os.stat_result:
            # Like os.DirEntry: a relative scan's entries are relative to the cwd of the
            # moment they are asked, which need not be the scanned directory's.
            start = None if entry_path[:1] == "/" else self._cwd
            return self._view(self._fs.stat_at(start, entry_path, follow_symlinks))

        directory = target.original
        if not isinstance(directory, (str, bytes)):  # a 3.11 bytes-like path: bytes entries
            assert target.path is not None
            directory = os.fsencode(target.path)
        return ScandirIterator(directory, infos, stat_path)

    def _open_directory(self, fd: int, filename: object) -> Any:
        """The handle of an open directory descriptor (EBADF, ENOTDIR naming ``filename``)."""
        description = self._table.files.get(fd)
        if description is None:
            raise os_error(errno.EBADF, filename)
        handle = description.handle
        if handle is None or not is_directory(description):
            raise os_error(errno.ENOTDIR, filename)
        return handle


def _current_if_null(target: PathArg) -> PathArg:
    """None (or fd -1, which CPython cannot tell from it) means the current directory."""
    if target.path is None and (target.fd is None or target.is_null):
        return PathArg(".", ".", None, False)
    return target
