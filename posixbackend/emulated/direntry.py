"""``os.DirEntry`` and the ``os.scandir`` iterator for the emulated backend.

``os.DirEntry`` cannot be instantiated from Python, so the emulated backend hands out these
look-alikes, built from what a provider's ``scandir`` reports (:class:`vfs.DirEntryInfo`) and a
stat function. They answer from the entry type without a system call, stat, cache and fail
exactly where CPython's do (``Modules/posixmodule.c``, the POSIX/``d_type`` branch, alike in
3.11-3.13 but for ``is_junction``, new in 3.12).

The stat function (:data:`StatFunction`) is ``stat(path, follow_symlinks) -> os.stat_result``:

* ``path`` is the entry's :attr:`DirEntry.path` as a str (``os.fsdecode``-d for a bytes scan).
  For a scan of a path it is that path as the caller gave it, joined with the name: a relative
  one must resolve against the backend's current directory *when called*, as CPython's does.
  For a scan of a directory fd it is the bare name, to resolve relative to that fd like
  ``fstatat(dir_fd, name)``: the backend closes over the fd number and looks it up when
  called (so a closed fd gives EBADF, as in CPython).
* ``follow_symlinks`` is a bool: false means lstat.
* It raises ``OSError`` with the errno Linux would give. The entry re-raises it as CPython
  does, as ``OSError(errno, strerror(errno), entry.path)``, whatever file name it carried;
  other exceptions pass through unchanged.
"""

from __future__ import annotations

import os
import posix
import sys
import types
import warnings
from collections.abc import Callable, Iterable, Iterator
from os import fsdecode, fsencode
from stat import S_IFDIR, S_IFLNK, S_IFMT, S_IFREG
from typing import TYPE_CHECKING, AnyStr, Final, NoReturn, Self, TypeAlias

if TYPE_CHECKING:
    from vfs.provider import DirEntryInfo

__all__ = ["UNKNOWN_TYPE", "DirEntry", "ScandirIterator", "StatFunction"]

StatFunction: TypeAlias = Callable[[str, bool], os.stat_result]
"""``stat(path, follow_symlinks)`` as a :class:`DirEntry` calls it (see the module docstring)."""

UNKNOWN_TYPE: Final = 0
"""A ``DirEntryInfo.type`` for an entry whose type the provider could not tell (``DT_UNKNOWN``).

Such an entry stats itself to answer ``is_dir``, ``is_file`` and ``is_symlink``, as CPython
does for a file system whose readdir leaves ``d_type`` unset.
"""


class DirEntry:
    """One entry of an emulated ``scandir``: behaves like ``os.DirEntry``, call for call.

    ``directory`` is what was scanned, after ``os.fspath``: a str or bytes path (``"."`` when
    none was given; bytes makes ``name`` and ``path`` bytes) or a directory fd (``path`` is then
    the bare name). ``stat`` is the backend's :data:`StatFunction`. Stat results are cached
    separately for ``stat()`` and ``lstat``; failures are not cached.
    """

    __slots__ = ("_inode", "_lstat", "_name", "_path", "_stat", "_stat_function", "_type")

    def __init__(
        self, directory: str | bytes | int, info: DirEntryInfo, stat: StatFunction
    ) -> None:
        name: str | bytes = info.name
        if isinstance(directory, str):
            path: str | bytes = _join(directory, info.name, "/")
        elif isinstance(directory, bytes):
            name = fsencode(info.name)
            path = _join(directory, name, b"/")
        else:
            path = name
        self._name = name
        self._path = path
        self._type = info.type
        self._inode = info.inode
        self._stat_function = stat
        self._stat: os.stat_result | None = None
        self._lstat: os.stat_result | None = None

    @property
    def name(self) -> str | bytes:
        """The entry's file name, relative to the scanned directory."""
        return self._name

    @property
    def path(self) -> str | bytes:
        """The scanned directory joined with :attr:`name` (just the name for a scanned fd)."""
        return self._path

    def inode(self) -> int:
        """The inode number readdir reported (no system call)."""
        return self._inode

    def is_symlink(self) -> bool:
        """Whether the entry is a symbolic link: from the entry type, lstat only if unknown."""
        if self._type != UNKNOWN_TYPE:
            return self._type == S_IFLNK
        return self._test_mode(False, S_IFLNK)

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        """Whether the entry is a directory (False if gone); stats only a link or unknown."""
        return self._test_mode(follow_symlinks, S_IFDIR)

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        """Whether the entry is a regular file (False if gone); stats only a link or unknown."""
        return self._test_mode(follow_symlinks, S_IFREG)

    if sys.version_info >= (3, 12):

        def is_junction(self) -> bool:
            """Whether the entry is a Windows junction: never, on POSIX."""
            return False

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        """The entry's status, cached; for anything but a link ``stat()`` reuses the lstat."""
        if not follow_symlinks:
            return self._get_lstat()
        if self._stat is None:
            if self.is_symlink():
                self._stat = self._fetch_stat(True)
            else:
                self._stat = self._get_lstat()
        return self._stat

    def __fspath__(self) -> str | bytes:
        return self._path

    def __repr__(self) -> str:
        return f"<DirEntry {self._name!r}>"

    def __class_getitem__(cls, item: object) -> types.GenericAlias:
        """``DirEntry[str]``: generic over the type of its path, as ``os.DirEntry`` is."""
        return types.GenericAlias(cls, item)

    def __init_subclass__(cls, **kwargs: object) -> NoReturn:
        raise TypeError("type 'DirEntry' is not an acceptable base type")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("cannot pickle 'DirEntry' object")

    def _test_mode(self, follow_symlinks: bool, mode_bits: int) -> bool:
        """CPython's DirEntry_test_mode: the type answers, unless unknown or a followed link."""
        kind = self._type
        if kind == UNKNOWN_TYPE or (follow_symlinks and kind == S_IFLNK):
            try:
                status = self.stat(follow_symlinks=follow_symlinks)
            except FileNotFoundError:  # gone since the scan, or a dangling link
                return False
            return S_IFMT(status.st_mode) == mode_bits
        return kind == mode_bits  # an unfollowed link (S_IFLNK) is neither file nor directory

    def _get_lstat(self) -> os.stat_result:
        """The cached lstat result, fetched on first use."""
        if self._lstat is None:
            self._lstat = self._fetch_stat(False)
        return self._lstat

    def _fetch_stat(self, follow_symlinks: bool) -> os.stat_result:
        """Stat (or lstat) the entry now; an OSError names the entry's path, as CPython's."""
        path = self._path
        try:
            return self._stat_function(
                path if isinstance(path, str) else fsdecode(path), follow_symlinks
            )
        except OSError as error:
            if error.errno is None:
                raise
            raise OSError(error.errno, posix.strerror(error.errno), path) from None


def _join(directory: AnyStr, name: AnyStr, separator: AnyStr) -> AnyStr:
    """``directory/name`` as CPython's join_path_filename builds it: one separator, if needed."""
    if not directory or directory.endswith(separator):
        return directory + name
    return directory + separator + name


class ScandirIterator:
    """The iterator an emulated ``os.scandir`` returns: hands out :class:`DirEntry` lazily.

    ``directory`` and ``stat`` are as for :class:`DirEntry`; ``infos`` is the provider's
    listing. Like CPython's it is its own iterator and a context manager, closes itself when
    exhausted or when reading fails, stops for good once closed, and warns (ResourceWarning) if
    collected while still open. ``on_close`` runs once, when it closes (closedir).
    """

    __slots__ = ("_directory", "_infos", "_on_close", "_stat")

    def __init__(
        self,
        directory: str | bytes | int,
        infos: Iterable[DirEntryInfo],
        stat: StatFunction,
        *,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._infos: Iterator[DirEntryInfo] | None = None
        self._directory = directory
        self._stat = stat
        self._on_close = on_close
        self._infos = iter(infos)

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> DirEntry:
        infos = self._infos
        if infos is None:
            raise StopIteration
        try:
            info = next(infos)
        except BaseException:  # exhausted, or reading failed: closed either way
            self.close()
            raise
        return DirEntry(self._directory, info, self._stat)

    def close(self) -> None:
        """Release the directory; later ``next()`` calls raise StopIteration. Idempotent."""
        if self._infos is None:
            return
        self._infos = None
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("cannot pickle 'ScandirIterator' object")

    def __del__(self) -> None:
        if getattr(self, "_infos", None) is None:  # closed, or __init__ never finished
            return
        self.close()
        # stacklevel=2: blame the frame that dropped the last reference, as CPython's does.
        warnings.warn(
            f"unclosed scandir iterator {self!r}", ResourceWarning, stacklevel=2, source=self
        )
