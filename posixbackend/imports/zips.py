"""Zip archives in the virtual file system, served by zipimport's own importer.

:class:`VirtualZipImporter` is a ``zipimport.zipimporter`` whose archive is found and read
through an emulated backend: it finds the archive (and the prefix inside it) by stat'ing
through the backend, and while one of its methods runs, zipimport's own reads of that archive
(``_io.open_code(archive)``, which looks ``open`` up in ``sys.modules['_io']``; see
:class:`~posixbackend.switch.standins.CodeOpen`) reach the virtual file system -- never a host
importer's, whatever path a guest gives its archive. Everything else
-- search order, bytecode checks against the source's time or hash, a bad magic number falling
back to source, ``get_data`` keys, errors -- is zipimport's. The finder keeps one importer per
entry while the archive's mtime and size stay the same; ``zipimport.zipimporter(path)`` itself
makes one while an emulated backend serves (the switch's stand-in, see :data:`zipimporter`).
"""

from __future__ import annotations

import contextlib
import functools
import stat
import sys
import threading
import weakref
import zipimport
from collections.abc import Callable, Iterator
from importlib.machinery import ModuleSpec
from typing import Any, Final

from posixbackend.imports import served as files

_external: Final[Any] = sys.modules["importlib._bootstrap_external"]
"""zipimport's path helpers (the prefix is split and joined as zipimport does)."""


class _Reading(threading.local):
    """The virtual importer whose method runs in this thread (zipimport reads its archive)."""

    importer: VirtualZipImporter | None = None


_READING: Final = _Reading()


@contextlib.contextmanager
def _reading(importer: VirtualZipImporter) -> Iterator[None]:
    previous, _READING.importer = _READING.importer, importer
    try:
        yield
    finally:
        _READING.importer = previous


def archive_reader(path: str) -> Any | None:
    """The backend through which zipimport reads the archive at ``path`` now: that of the
    virtual importer whose method runs in this thread, if ``path`` is its archive; None (the
    real disk) for every other read, so no host importer is ever served a virtual file."""
    importer = _READING.importer
    if importer is not None and importer.archive == path:
        return importer._served
    return None


_DROPS_ON_INVALIDATE: Final = hasattr(zipimport.zipimporter, "_get_files")
"""3.13's zipimport reads directories through _get_files and drops them on invalidate."""
_TOKENS: Final[weakref.WeakKeyDictionary[Any, object]] = weakref.WeakKeyDictionary()
"""Per backend object, the token its archives' directories are kept under."""


def _cache_key(served: Any, path: str) -> tuple[object, str]:
    """Where a virtual archive's directory is kept in zipimport's own cache: beside the host
    archives' (so clearing that cache clears it too), under a key no host path can be."""
    token = _TOKENS.get(served)
    if token is None:
        token = _TOKENS.setdefault(served, object())
    return (token, path)


def _directory_cache() -> dict[Any, Any]:
    cache: dict[Any, Any] = zipimport._zip_directory_cache  # type: ignore[attr-defined]
    return cache


class VirtualZipImporter(zipimport.zipimporter):
    """zipimport's importer for an archive (or a directory inside one) that ``served`` sees."""

    def __init__(self, path: str, served: Any, *, fresh: bool = False) -> None:
        """The importer of ``path`` as ``served`` sees it; its archive's directory comes from
        zipimport's cache under the backend's key (as a host importer's does under its path),
        read again when ``fresh``."""
        if not isinstance(path, str):
            raise TypeError(f"expected str, not {type(path)!r}")
        if not path:
            raise zipimport.ZipImportError("archive path is empty", path=path)
        prefix: list[str] = []
        while True:
            try:
                st = served.stat(path)
            except (OSError, ValueError):
                dirname, basename = _external._path_split(path)
                if dirname == path:
                    raise zipimport.ZipImportError("not a Zip file", path=path) from None
                path = dirname
                prefix.append(basename)
            else:
                if not stat.S_ISREG(st.st_mode):
                    raise zipimport.ZipImportError("not a Zip file", path=path)
                break
        self._served = served
        self.archive = path
        key = _cache_key(served, path)
        files = None if fresh else _directory_cache().get(key)
        if files is None:
            with _reading(self):
                files = zipimport._read_directory(path)  # type: ignore[attr-defined]
            _directory_cache()[key] = files
        self._files = files
        joined: str = _external._path_join(*reversed(prefix)) if prefix else ""
        self.prefix = joined + "/" if joined else ""
        self.key = (st.st_mtime_ns, st.st_size)

    def _get_files(self) -> Any:
        """The archive's directory, as 3.13's zipimport asks for it: from zipimport's cache
        under this backend's key (never a host archive's entry), read again if dropped."""
        key = _cache_key(self._served, self.archive)
        files = _directory_cache().get(key)
        if files is None:
            try:
                with _reading(self):
                    files = zipimport._read_directory(self.archive)  # type: ignore[attr-defined]
            except zipimport.ZipImportError:
                files = {}
            _directory_cache()[key] = files
        return files

    def invalidate_caches(self) -> None:
        """As zipimport's own, on this backend's entry: 3.13's drops the archive's directory
        (every importer of it reads it again), earlier ones read it again at once."""
        key = _cache_key(self._served, self.archive)
        if _DROPS_ON_INVALIDATE:
            _directory_cache().pop(key, None)
            return
        try:
            with _reading(self):
                self._files = zipimport._read_directory(self.archive)  # type: ignore[attr-defined]
            _directory_cache()[key] = self._files
        except zipimport.ZipImportError:
            _directory_cache().pop(key, None)
            self._files = {}

    def get_resource_reader(self, fullname: str) -> Any:
        """A reader over a copy of the archive read through the backend (zipimport's own
        reopens the path with ``open``, which outside a block is the host's)."""
        try:
            if not self.is_package(fullname):
                return None
        except zipimport.ZipImportError:
            return None
        directory = self.prefix + fullname.rpartition(".")[2]
        from posixbackend.imports._resources import ZipReader  # (see there: on first use)

        return ZipReader(files.read_file(self._served, self.archive), directory)


def _reading_archive(name: str) -> Callable[..., Any]:
    """zipimport's method ``name``, run with this importer's archive read through its backend."""
    method = getattr(zipimport.zipimporter, name)

    def reads_archive(self: VirtualZipImporter, *args: Any, **kwargs: Any) -> Any:
        with _reading(self):
            return method(self, *args, **kwargs)

    functools.update_wrapper(reads_archive, method)
    return reads_archive


for _name in ("find_spec", "find_loader", "find_module", "get_code", "get_data", "get_filename",
              "get_source", "load_module"):  # fmt: skip
    if hasattr(zipimport.zipimporter, _name):  # the deprecated ones are gone from 3.12 or 3.13
        setattr(VirtualZipImporter, _name, _reading_archive(_name))

# It prints as zipimport's importer, whose place it takes (code checks the type's name).
VirtualZipImporter.__name__ = VirtualZipImporter.__qualname__ = "zipimporter"
VirtualZipImporter.__module__ = "zipimport"


class Archives:
    """The importers of one backend's archive entries, made again when the archive's mtime or
    size changes (as zipimport's path hook is asked again after ``invalidate_caches``)."""

    def __init__(self) -> None:
        self._kept: dict[str, VirtualZipImporter] = {}

    def importer(self, served: Any, entry: str) -> VirtualZipImporter | None:
        """The importer for ``entry`` when it names a zip archive or a directory in one."""
        kept = self._kept.get(entry)
        if kept is None and not _may_be_archive(served, entry):
            return None
        if kept is not None:
            try:
                st = served.stat(kept.archive)
            except (OSError, ValueError):
                st = None
            if st is not None and (st.st_mtime_ns, st.st_size) == kept.key:
                return kept
        try:
            made = VirtualZipImporter(entry, served, fresh=True)
        except zipimport.ZipImportError:
            self._kept.pop(entry, None)
            return None
        self._kept[entry] = made
        return made


def _may_be_archive(served: Any, entry: str) -> bool:
    """Whether the nearest existing path of ``entry`` and its parents is a regular file, as
    the importer needs (checked without the errors its stat calls build: the stdlib's imports
    in a block ask this of every entry ahead of the library, e.g. a script's directory)."""
    path = entry
    while path:  # the importer's own walk up, which ends at ''
        st = files.status(served, path)
        if st is not None:
            return stat.S_ISREG(st.st_mode)
        parent = _external._path_split(path)[0]
        if parent == path:
            break
        path = parent
    return False


def find_in_archive(
    importer: VirtualZipImporter, fullname: str
) -> tuple[ModuleSpec | None, str | None]:
    """(a module's spec, or a namespace portion) for ``fullname`` in ``importer``'s entry."""
    spec: ModuleSpec | None = importer.find_spec(fullname)
    if spec is None:
        return None, None
    if spec.loader is None:
        return None, next(iter(spec.submodule_search_locations or ()), None)
    return spec, None


class _SwitchedZipImporter(type):
    """The metaclass of the ``zipimport.zipimporter`` stand-in: made on the serving emulated
    backend's file system inside a block, the host's otherwise; instances of both are
    instances of it."""

    def __call__(cls, path: Any) -> Any:
        from posixbackend.switch.active import get_active
        from posixbackend.switch.guard import current_emulated

        if current_emulated() is None:
            return HOST_ZIPIMPORTER(path)
        return VirtualZipImporter(path, get_active())

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, HOST_ZIPIMPORTER)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, HOST_ZIPIMPORTER)


HOST_ZIPIMPORTER: Final = zipimport.zipimporter


class zipimporter(zipimport.zipimporter, metaclass=_SwitchedZipImporter):
    """zipimport.zipimporter on whichever file system serves the caller."""

    __doc__ = zipimport.zipimporter.__doc__


zipimporter.__module__ = "zipimport"
