"""Putting the stand-ins in place once, and taking every one of them out again.

``install()`` replaces, in ``os``, ``io``, ``builtins``, ``select`` and ``_posixsubprocess``,
every object that reaches the operating system (see :mod:`posixbackend.switch.standins`), and
the same objects wherever other modules imported them earlier (``from os import stat``). The
real ``posix`` and ``_io`` modules are never touched: ``sys.modules['posix']`` and
``sys.modules['_io']`` become switched copies (their functions are the stand-ins), so code that
imports them after install switches too, while modules that imported them before (this library,
the import system) keep the real ones. The interpreter finds the ``open`` that opens imported
modules' code in ``sys.modules['_io']``: the copy's ``open`` leaves those calls to the real disk.
``uninstall()`` restores every replaced name, including the copies modules made of the
stand-ins while they were installed."""

from __future__ import annotations

import _io
import _posixsubprocess
import builtins
import fcntl
import importlib.machinery
import io
import mmap
import os
import posix
import select
import selectors
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any, Final

import attrs

import compat
from posixbackend.emulated import EmulatedBackend
from posixbackend.switch import libraries, mapping, standins
from posixbackend.switch.threads import thread_patches

PURE = frozenset({
    "WCOREDUMP", "WEXITSTATUS", "WIFCONTINUED", "WIFEXITED", "WIFSIGNALED", "WIFSTOPPED",
    "WSTOPSIG", "WTERMSIG", "waitstatus_to_exitcode", "fspath", "major", "minor", "makedev",
    "strerror", "confstr", "sysconf", "sched_get_priority_max", "sched_get_priority_min",
    "sched_yield", "getrandom", "getloadavg", "register_at_fork", "abort",
})  # fmt: skip
"""os functions that compute, or act on this interpreter alone: the same on every backend."""
SUPPORTS = ("supports_fd", "supports_dir_fd", "supports_follow_symlinks", "supports_effective_ids")
SKIPPED_MODULES = (
    "os", "posix", "io", "_io", "builtins", "_posixsubprocess", "sys",
    "importlib._bootstrap", "importlib._bootstrap_external",
)  # fmt: skip
"""Modules never scanned for copies (the first ones are handled by name; the import system
keeps the real ``posix``: imports are never served by the emulated backend)."""
REAL_IO_MODULE = compat.declare(
    id="switch.real_io_module",
    function="_io.FileIO",
    aspect="the _io module used directly",
    level=compat.Level.INFO,
    explanation="sys.modules['_io'] becomes a switched copy at install, but modules that bound "
    "_io or its open, open_code or FileIO before (from _io import FileIO, in a module imported "
    "earlier) keep the real objects: they open host files relative to the process's directory "
    "and get real descriptors the emulated backend does not know; the import system keeps the "
    "real module on purpose (imports of native roots read the real disk)",
)
HOST_SOCKETS = compat.declare(
    id="switch.host_sockets",
    function="socket.socket",
    aspect="sockets",
    level=compat.Level.INFO,
    explanation="the socket module is the host's: its descriptors are real ones the emulated "
    "backend does not know (os.sendfile to a socket fails with EBADF), and an AF_UNIX socket "
    "bound to a path is made on the host file system, not the emulated one",
)
OWN_PACKAGES = ("posixbackend", "vfs", "compat")
"""The library calls the real objects itself: its modules keep them."""


@attrs.define
class Replacement:
    """One name in one namespace (module or class) that a stand-in took over."""

    namespace: Any
    name: str
    original: Any
    stand_in: Any


class Installation:
    """The stand-ins of this interpreter: built at install, removed at uninstall."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._replacements: list[Replacement] = []
        self._natives: dict[int, tuple[Any, Any]] = {}
        """id(real object) -> (real object, stand-in), for finding copies in other modules."""
        self._finder: Any = None

    @property
    def installed(self) -> bool:
        """Whether the stand-ins are in place."""
        return bool(self._replacements)

    def install(self) -> None:
        """Put every stand-in in place; installing twice changes nothing."""
        with self._lock:
            if self.installed:
                return
            stand_ins = self._stand_ins()
            try:
                for namespace, name, stand_in in stand_ins:
                    self._replace(namespace, name, stand_in)
                for namespace, name, stand_in in thread_patches():
                    self._replace(namespace, name, stand_in)
                self._swap_copies(self._natives, record=True)
                self._add_finder()
            except BaseException:
                self._restore()
                raise

    def uninstall(self) -> None:
        """Restore every replaced name; the interpreter is as it was before install."""
        with self._lock:
            self._restore()

    # -- building --------------------------------------------------------------------------

    def _stand_ins(self) -> list[tuple[Any, str, Any]]:
        """(namespace, name, stand-in) for everything the switch replaces."""
        made: list[tuple[Any, str, Any]] = []
        functions: dict[str, Any] = {}
        natives: dict[Any, Any] = {}
        for name in dir(os):
            native = getattr(os, name)
            if name.startswith("_") or name in PURE:
                continue
            is_builtin = isinstance(native, types.BuiltinFunctionType)
            is_emulated_helper = isinstance(native, types.FunctionType) and callable(
                getattr(EmulatedBackend, name, None)
            )
            if is_builtin or is_emulated_helper:
                stand_in = standins.StandIn("os", name, native, name)
                functions[name] = stand_in
                natives[stand_in] = native
                made.append((os, name, stand_in))
        for name in SUPPORTS:
            switched = standins.SwitchedSupports(name, getattr(os, name), functions, natives)
            made.append((os, name, switched))
        made.append((os, "environ", standins.SwitchedEnviron(os.environ, "os_environ")))
        made.append((os, "environb", standins.SwitchedEnviron(os.environb, "os_environb")))
        made.append((os, "DirEntry", standins.DirEntry))
        made.append((MODULES, "posix", _switched_posix(functions)))
        opener = standins.StandIn("io", "open", _io.open, "io_open")
        open_code = standins.StandIn("io", "open_code", _io.open_code, "open_code")
        made.append((MODULES, "_io", _switched_io(open_code)))
        select_stand_in = standins.StandIn("select", "select", select.select, "select_select")
        poll_stand_in = standins.StandIn("select", "poll", select.poll, "select_poll")
        epoll_stand_in = standins.StandIn("select", "epoll", select.epoll, "select_epoll")
        made += [
            (io, "open", opener),
            (builtins, "open", opener),
            (io, "open_code", open_code),
            (io, "FileIO", standins.FileIO),
            (select, "select", select_stand_in),
            (select, "poll", poll_stand_in),
            (selectors.PollSelector, "_selector_cls", poll_stand_in),
            (select, "epoll", epoll_stand_in),
            (selectors.EpollSelector, "_selector_cls", epoll_stand_in),
            *libraries.stand_ins(),
            *[
                (
                    fcntl,
                    name,
                    standins.StandIn("fcntl", name, getattr(fcntl, name), "fcntl_" + name),
                )
                for name in ("fcntl", "flock", "lockf", "ioctl")
            ],
            (mmap, "mmap", mapping.mmap),
            *_import_stand_ins(),
            (sys, "addaudithook", standins.guarded_audit_hook(sys.addaudithook)),
            (
                _posixsubprocess,
                "fork_exec",
                standins.StandIn(
                    "_posixsubprocess", "fork_exec", _posixsubprocess.fork_exec, "fork_exec"
                ),
            ),
        ]
        return made

    # -- replacing and restoring ----------------------------------------------------------

    def _replace(self, namespace: Any, name: str, stand_in: Any) -> None:
        original = getattr(namespace, name)
        if namespace is not MODULES:  # modules that imported posix before keep the real one
            self._natives[id(original)] = (original, stand_in)
        setattr(namespace, name, stand_in)
        self._replacements.append(Replacement(namespace, name, original, stand_in))

    def _swap_copies(self, table: dict[int, tuple[Any, Any]], *, record: bool) -> None:
        """Swap each object ``old`` of ``table`` (``id(old) -> (old, new)``) for ``new`` wherever
        a module bound it to its own names or to a default argument value of a function it
        defines (tempfile's ``close(self, unlink=_os.unlink)`` took the real unlink when it was
        defined) or to an attribute of a class it defines, as is or as a staticmethod (3.13's
        ``glob._StringGlobber.scandir = staticmethod(os.scandir)``). With ``record``, each swap
        is a replacement that uninstall undoes."""
        for module_name, module in list(sys.modules.items()):
            if not _scanned(module_name, module):
                continue
            for name, value in list(vars(module).items()):
                found = table.get(id(value))
                if found is not None and found[0] is value:
                    self._swap(module, name, value, found[1], record)
            for cls in _classes_of(module_name, module):
                for name, value in list(vars(cls).items()):
                    new = _swapped_member(value, table)
                    if new is not None:
                        self._swap(cls, name, value, new, record)
            for function in _functions_of(module_name, module):
                for name in ("__defaults__", "__kwdefaults__"):
                    values = getattr(function, name)
                    changed = _swapped(values, table) if values else None
                    if changed is not None:
                        self._swap(function, name, values, changed, record)

    def _swap(self, namespace: Any, name: str, old: Any, new: Any, record: bool) -> None:
        setattr(namespace, name, new)
        if record:
            self._replacements.append(Replacement(namespace, name, old, new))

    def _add_finder(self) -> None:
        """Put the virtual file system's finder in ``sys.meta_path``, ahead of the path finder
        (see :mod:`posixbackend.imports`)."""
        from posixbackend.imports import VirtualFinder  # it builds on the switch's modules

        finder = VirtualFinder()
        meta_path = sys.meta_path
        place = next(
            (i for i, f in enumerate(meta_path) if f is importlib.machinery.PathFinder),
            len(meta_path),
        )
        meta_path.insert(place, finder)
        self._finder = finder

    def _remove_finder(self) -> None:
        finder, self._finder = self._finder, None
        if finder is not None:
            sys.meta_path[:] = [f for f in sys.meta_path if f is not finder]

    def _restore(self) -> None:
        """Undo every replacement (newest first), then fix copies made of stand-ins meanwhile."""
        self._remove_finder()
        undo = {id(r.stand_in): (r.stand_in, r.original) for r in self._replacements}
        for replacement in reversed(self._replacements):
            namespace, name = replacement.namespace, replacement.name
            if _own_attribute(namespace, name) is replacement.stand_in:
                setattr(namespace, name, replacement.original)
        self._swap_copies(undo, record=False)
        self._replacements.clear()
        self._natives.clear()


def _import_stand_ins() -> list[tuple[Any, str, Any]]:
    """py_compile's, importlib.util's (see :mod:`posixbackend.imports.compiling`) and
    ``zipimport.zipimporter`` (see :mod:`posixbackend.imports.zips`)."""
    import zipimport

    from posixbackend.imports import compiling, zips  # they build on the switch's modules

    return [*compiling.stand_ins(), (zipimport, "zipimporter", zips.zipimporter)]


def _scanned(module_name: str, module: Any) -> bool:
    """Whether a module of sys.modules may hold copies to replace."""
    if not isinstance(module, types.ModuleType) or module_name in SKIPPED_MODULES:
        return False
    root = module_name.partition(".")[0]
    return root not in OWN_PACKAGES and not module_name.startswith("_frozen_importlib")


class _ModuleTable:
    """``sys.modules`` seen as a namespace, so that a module is replaced like any other name."""

    def __init__(self) -> None:
        self.__dict__ = sys.modules


MODULES: Final = _ModuleTable()


def _switched_posix(functions: dict[str, Any]) -> types.ModuleType:
    """A second instance of the ``posix`` module whose functions are the ``os`` stand-ins of
    ``functions`` and whose ``environ`` (bytes, as posix's) is the serving backend's.

    A real instance, not a plain module: from 3.12 ``os.stat_result(...)`` finds its
    constructor in the state of whatever module ``sys.modules['posix']`` holds. Every other
    attribute is the original module's object (``os.stat_result is posix.stat_result``)."""
    importer: Any = importlib.machinery.BuiltinImporter  # typeshed wants a Loader instance
    spec = importlib.machinery.ModuleSpec("posix", importer)
    switched = importlib.machinery.BuiltinImporter.create_module(spec)
    if switched is None or switched is posix:
        raise ImportError("cannot make a second instance of the posix module to switch")
    importlib.machinery.BuiltinImporter.exec_module(switched)
    for name, value in vars(posix).items():
        if name not in ("__name__", "__doc__", "__spec__", "__loader__"):
            switched.__dict__[name] = functions.get(name, value)
    switched.__spec__ = posix.__spec__  # importlib.util.find_spec('posix') reads it
    switched.__loader__ = posix.__loader__
    switched.__dict__["environ"] = standins.SwitchedEnviron(posix.environ, "os_environb")
    switched.__dict__["DirEntry"] = standins.DirEntry
    return switched


def _switched_io(open_code: standins.StandIn) -> types.ModuleType:
    """A copy of the ``_io`` module whose ``open``, ``open_code`` and ``FileIO`` switch (code
    that imports ``_io`` itself, as test_fileio does); its other objects are the real ones.

    The import system keeps the real module (it bound it at start-up), but ``_io.open_code``
    looks ``open`` up in ``sys.modules['_io']``: for the import system's calls that ``open``
    is the real one (see :class:`~posixbackend.switch.standins.CodeOpen`)."""
    from posixbackend.imports.zips import archive_reader  # it builds on the switch's modules

    zipimport = sys.modules.get("zipimport")
    opener = standins.CodeOpen(
        _io.open,
        vars(importlib._bootstrap_external),
        None if zipimport is None else vars(zipimport),
        archive_reader,
    )
    switched = types.ModuleType("_io", _io.__doc__)
    switched.__dict__.update(vars(_io))
    switched.__dict__["open"] = opener
    switched.__dict__["open_code"] = open_code
    switched.__dict__["FileIO"] = standins.FileIO
    return switched


def _own_attribute(namespace: Any, name: str) -> Any:
    """The value ``namespace`` itself binds to ``name`` (not one inherited by a class)."""
    if isinstance(namespace, types.FunctionType):  # __defaults__ or __kwdefaults__
        return getattr(namespace, name)
    return vars(namespace).get(name)


def _functions_of(name: str, module: Any) -> Iterator[types.FunctionType]:
    """The functions a module defines, at its top level and as methods of its classes."""
    for value in list(vars(module).values()):
        if isinstance(value, types.FunctionType):
            if value.__module__ == name:
                yield value
        elif isinstance(value, type) and value.__module__ == name:
            for member in list(vars(value).values()):
                if isinstance(member, staticmethod | classmethod):
                    member = member.__func__  # noqa: PLW2901
                if isinstance(member, types.FunctionType):
                    yield member


def _classes_of(name: str, module: Any) -> Iterator[type]:
    """The classes a module defines at its top level."""
    for value in list(vars(module).values()):
        if isinstance(value, type) and value.__module__ == name:
            yield value


def _swapped_member(value: Any, table: dict[int, tuple[Any, Any]]) -> Any:
    """What a class attribute becomes with ``table``'s swaps: the new object for an old one
    (a staticmethod included), a staticmethod of the new object for a staticmethod of an old
    one; None when neither is the case."""
    found = table.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    if isinstance(value, staticmethod):
        inner = value.__func__
        found = table.get(id(inner))
        if found is not None and found[0] is inner:
            return staticmethod(found[1])
    return None


def _swapped(values: Any, table: dict[int, tuple[Any, Any]]) -> Any:
    """``values`` (a defaults tuple or dict) with each object ``old`` of ``table``'s
    ``id(old) -> (old, new)`` replaced by ``new``, or None when none of them is there."""
    items = values.items() if isinstance(values, dict) else enumerate(values)
    changes = {}
    for key, value in items:
        found = table.get(id(value))
        if found is not None and found[0] is value:
            changes[key] = found[1]
    if not changes:
        return None
    if isinstance(values, dict):
        return {**values, **changes}
    return tuple(changes.get(index, value) for index, value in enumerate(values))


INSTALLATION = Installation()
"""The interpreter's one installation."""
