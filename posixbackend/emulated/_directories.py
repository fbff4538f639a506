"""Listing directories on the emulated backend: os.listdir and os.scandir."""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Iterator
from typing import Any

from posixbackend.emulated import accelerator
from posixbackend.emulated.args import PathArg, path_arg
from posixbackend.emulated.core import BackendCore
from posixbackend.emulated.descriptions import is_directory
from posixbackend.emulated.direntry import StatFunction
from posixbackend.permissions.entrypoints import entry_points
from vfs.errors import named_error, os_error
from vfs.memory.filesystem import MemoryFileSystem
from vfs.memory.handle import MemoryHandle


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
                raise named_error(error, target.original) from None
        if target.is_bytes:
            return [os.fsencode(name) for name in names]
        return names

    def scandir(self, path: Any = None) -> Iterator[Any]:
        """os.scandir: an iterator of DirEntry objects that behave like os.DirEntry (in C
        when accelerated; a memory directory's listing then costs no record per entry)."""
        if (
            path.__class__ is str
            and path[:1] == "/"
            and path.isascii()  # else the converter: a name os cannot encode fails there
            and "\x00" not in path
            and self._accelerated
            and accelerator.SCAN_NODES is not None
            and self._fs.__class__ is MemoryFileSystem
        ):
            # the common case without the converters and the walk (a 10-entry scandir cost
            # more than native's opendir+getdents before)
            fs: Any = self._fs
            try:
                names, nodes = fs.listing(path)
            except OSError as error:
                raise named_error(error, path) from None
            return accelerator.SCAN_NODES(path, names, nodes, self._entry_stat)
        target = _current_if_null(path_arg(path, "scandir", allow_fd=True, nullable=True))
        fast = self._accelerated and accelerator.SCAN_NODES is not None
        if target.fd is not None:
            fd = target.fd
            handle = self._open_directory(fd, target.original)
            stat_in_directory = _stat_in_directory(self, fd)
            if fast and type(handle) is MemoryHandle:
                return accelerator.SCAN_NODES(fd, *handle.listing(), stat_in_directory)
            iterator_class = accelerator.scandir_class(self._accelerated)
            return iterator_class(fd, handle.scandir(), stat_in_directory)
        at, name = self._at(target, None)
        fs = self._fs
        try:
            if fast and type(fs) is MemoryFileSystem:
                names, nodes = fs.listing_at(at, name)
            else:
                infos = fs.scandir_at(at, name)
                fast = False
        except OSError as error:
            raise named_error(error, target.original) from None
        directory = target.original
        if not isinstance(directory, (str, bytes)):  # a 3.11 bytes-like path: bytes entries
            assert target.path is not None
            directory = os.fsencode(target.path)
        if fast:
            return accelerator.SCAN_NODES(directory, names, nodes, self._entry_stat)
        iterator_class = accelerator.scandir_class(self._accelerated)
        return iterator_class(directory, infos, self._entry_stat)

    @functools.cached_property
    def _entry_stat(self) -> StatFunction:
        """The StatFunction of this backend's scans of paths: one per backend, not per scan."""
        return _stat_by_path(self)

    def _open_directory(self, fd: int, filename: object) -> Any:
        """The handle of an open directory descriptor (EBADF, ENOTDIR naming ``filename``)."""
        description = self._table.files.get(fd)
        if description is None:
            raise os_error(errno.EBADF, filename)
        handle = description.handle
        if handle is None or not is_directory(description):
            raise os_error(errno.ENOTDIR, filename)
        return handle


def _stat_by_path(backend: DirectoryFunctions) -> StatFunction:
    """The StatFunction of a scan of a path: an entry's path, resolved when asked."""

    def stat_path(entry_path: str, follow_symlinks: bool) -> os.stat_result:
        # Like os.DirEntry: a relative scan's entries are relative to the cwd of the
        # moment they are asked, which need not be the scanned directory's.
        if entry_path[:1] == "/":  # a provider's stat may take a short cut (a cache)
            return backend._view(backend._fs.stat(entry_path, follow_symlinks))
        return backend._view(backend._fs.stat_at(backend._cwd, entry_path, follow_symlinks))

    return stat_path


def _stat_in_directory(backend: DirectoryFunctions, fd: int) -> StatFunction:
    """The StatFunction of a scan of directory ``fd``: a name in it (EBADF once closed)."""

    def stat_in_directory(name: str, follow_symlinks: bool) -> os.stat_result:
        directory = backend._directory_of(fd, name)
        return backend._view(backend._fs.stat_at(directory, name, follow_symlinks))

    return stat_in_directory


# The C DirEntry calls these closures with no library frame above them: the library is
# entered here, as through the Python DirEntry's methods (permissions/trusted.py).
entry_points(_stat_by_path, _stat_in_directory)


def _current_if_null(target: PathArg) -> PathArg:
    """None (or fd -1, which CPython cannot tell from it) means the current directory."""
    if target.path is None and (target.fd is None or target.is_null):
        return PathArg(".", ".", None, False)
    return target
