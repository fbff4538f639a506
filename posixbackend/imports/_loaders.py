"""Loaders bound to the backend their module was found on.

Subclasses of importlib's own file loaders: the import machinery (bytecode validation and
caching, ``source_to_code``, ``get_source``'s decoding) is importlib's; only the file work
goes to the bound backend. ``__pycache__`` is written there unless ``sys.dont_write_bytecode``
says not to, with importlib's rule that a bytecode file that cannot be written is skipped.
"""

from __future__ import annotations

import _imp
import atexit
import importlib.machinery
import posixpath
import stat
import sys
import threading
import types
from importlib.machinery import ExtensionFileLoader, SourceFileLoader, SourcelessFileLoader
from typing import TYPE_CHECKING, Any, Final

import compat
from posixbackend.imports import _sources as sources
from posixbackend.imports import served as files
from posixbackend.permissions.current import get_policy
from posixbackend.permissions.denials import denied

if TYPE_CHECKING:
    from posixbackend.imports._resources import VirtualReader

_bootstrap_external: Any = importlib.machinery.SourceFileLoader.__module__
_real = sys.modules[_bootstrap_external]
_os: Any = _real._os  # the real posix module the import system itself uses
_FileLoader: Any = _real.FileLoader  # the concrete base of importlib's file loaders
_verbose_message: Any = sys.modules["importlib._bootstrap"]._verbose_message

EXTENSION_COPY = compat.declare(
    id="imports.extension_copy",
    function="importlib.import_module",
    aspect="C extension modules in the virtual file system",
    level=compat.Level.INFO,
    explanation="the dynamic loader can only map host files: an extension module found in "
    "the virtual file system is copied to a private host file, loaded from there and that "
    "file removed at once; its __file__ is the virtual path, and a guest whose permissions "
    "deny native access cannot import one",
)


class _OnBackend(_FileLoader):  # type: ignore[misc]  # importlib's concrete FileLoader
    """What the virtual loaders share: the backend their file is on, read through it."""

    served: Any

    def __init__(self, fullname: str, path: str, served: Any) -> None:
        super().__init__(fullname, path)
        self.served = served

    def get_data(self, path: str) -> bytes:
        """The bytes of ``path``, read through the bound backend."""
        return files.read_file(self.served, path)

    def get_resource_reader(self, name: str | None = None) -> VirtualReader:
        """Resources next to the module, on the bound backend (``importlib.resources``)."""
        from posixbackend.imports._resources import VirtualReader  # (see there: on first use)

        return VirtualReader(self.served, posixpath.dirname(self.path))


class VirtualSourceLoader(_OnBackend, SourceFileLoader):  # type: ignore[misc]  # typeshed
    """A ``.py`` module (or package ``__init__.py``) in the virtual file system."""

    _source_mode: tuple[str, int] | None = None
    """(path, st_mode) of the last :meth:`path_stats`: get_code asks it of the source just
    before it writes the bytecode, whose mode importlib takes from a second stat of it."""

    def path_stats(self, path: str) -> dict[str, Any]:
        st = self.served.stat(path)
        self._source_mode = (path, st.st_mode)
        return {"mtime": st.st_mtime, "size": st.st_size}

    def _cache_bytecode(self, source_path: str, bytecode_path: str, data: bytes) -> None:
        # importlib's mode: the source's (as get_code's path_stats just found it) | 0o200
        known, self._source_mode = self._source_mode, None  # used once: never a stale one
        if known is not None and known[0] == source_path:
            mode = known[1] | 0o200
        else:
            try:
                mode = self.served.stat(source_path).st_mode | 0o200
            except OSError:
                mode = 0o666
        self.set_data(bytecode_path, data, _mode=mode)

    def set_data(self, path: str, data: Any, *, _mode: int = 0o666) -> None:
        """Write a bytecode file; on any OSError forget about it, as importlib does. The
        missing directories (``__pycache__``) are made only when the write finds its
        directory missing: after the first module of a directory it is there, and importlib's
        look for it first would cost a stat per module."""
        try:
            try:
                files.write_atomic(self.served, path, data, _mode)
            except FileNotFoundError:
                files.make_parents(self.served, posixpath.dirname(path))
                files.write_atomic(self.served, path, data, _mode)
        except OSError as exc:
            _verbose_message("could not create {!r}: {!r}", path, exc)
        else:
            _verbose_message("created {!r}", path)

    def exec_module(self, module: types.ModuleType) -> None:
        super().exec_module(module)
        _remember_source(self, module)


def _remember_source(loader: VirtualSourceLoader, module: types.ModuleType) -> None:
    """Let linecache read the module's lines through its loader (see
    :mod:`posixbackend.imports._sources`)."""
    sources.remember(loader.path, loader.get_source, loader.name)


class VirtualSourcelessLoader(_OnBackend, SourcelessFileLoader):  # type: ignore[misc]
    """A ``.pyc`` module with no source, in the virtual file system."""


class VirtualExtensionLoader(_OnBackend, ExtensionFileLoader):  # type: ignore[misc]
    """A C extension module in the virtual file system, loaded from a private host copy."""

    def create_module(self, spec: Any) -> types.ModuleType:
        policy = get_policy()
        if policy is not None and not policy.allow_native_access:  # before any host write
            raise denied(f"importing the C extension module {spec.name!r}", "allow_native_access")
        data = files.read_file(self.served, self.path)
        private = _private_copy(data, posixpath.basename(self.path))
        try:
            copy = importlib.machinery.ModuleSpec(spec.name, self, origin=private)
            module: types.ModuleType = _imp.create_dynamic(copy)
        finally:
            _os.unlink(private)  # the mapping stays; the name is not needed any more
        module.__file__ = self.path
        return module

    def is_package(self, fullname: str) -> bool:
        name = posixpath.basename(self.path)
        return any(name == "__init__" + suffix for suffix in importlib.machinery.EXTENSION_SUFFIXES)


_private_lock: Final = threading.Lock()
_private_directory: list[str] = []


def _private_copy(data: bytes, name: str) -> str:
    """A new host file holding ``data``, in a directory only this process's user can enter."""
    with _private_lock:
        if not _private_directory:
            base = _os.environ.get(b"TMPDIR", b"/tmp").decode("utf-8", "surrogateescape")
            directory = f"{base}/posixbackend-extensions-{_os.getpid()}-{id(_private_lock):x}"
            try:
                _os.mkdir(directory, 0o700)
            except FileExistsError:
                found = _os.lstat(directory)
                ours = stat.S_ISDIR(found.st_mode) and found.st_uid == _os.geteuid()
                if not ours or stat.S_IMODE(found.st_mode) != 0o700:
                    raise
            _private_directory.append(directory)
            atexit.register(_remove_private_directory, directory)
        directory = _private_directory[0]
    path = f"{directory}/{_os.getpid()}-{threading.get_ident():x}-{id(data):x}-{name}"
    fd = _os.open(path, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL | _os.O_CLOEXEC, 0o700)
    try:
        view = memoryview(data)
        while view:
            view = view[_os.write(fd, view) :]
    except BaseException:
        _os.close(fd)
        _os.unlink(path)
        raise
    _os.close(fd)
    return path


def _remove_private_directory(directory: str) -> None:
    """At exit: the private directory goes (its files were removed as soon as loaded)."""
    try:
        _os.rmdir(directory)
    except OSError as exc:
        _verbose_message("could not remove {!r}: {!r}", directory, exc)


# They print as importlib's own loaders, whose place they take (as the os stand-ins print as
# the functions they replace): code checks ``type(loader).__name__``, CPython's tests and
# runpy's users among it. ``isinstance`` with importlib's classes holds as it is.
for _loader, _name in (
    (VirtualSourceLoader, "SourceFileLoader"),
    (VirtualSourcelessLoader, "SourcelessFileLoader"),
    (VirtualExtensionLoader, "ExtensionFileLoader"),
):
    _loader.__name__ = _loader.__qualname__ = _name
