"""A launcher run that builds its emulated backend at the program's first use of it.

Importing the emulated backend and installing the switch's stand-ins costs several times what
``python -c pass`` costs; a program that touches no file (``-c pass``, pure computation) never
needs them. So, for the runs where nothing about the session can fail or must happen before
the program (see :func:`eligible`), the launcher puts *light* stand-ins in the places the
switch replaces that a program can reach without importing anything new, and the first use of
any of them builds the session (the backend, its file system, the real installation) and then
does what was asked:

- every public ``os`` function (but the pure ones the switch leaves alone), ``os.environ``,
  ``os.environb`` and ``os.supports_*``; ``builtins.open``, ``io.open`` and ``io.open_code``;
  ``_thread``'s thread starts and ``threading.Thread.start`` if threading is loaded (so no
  thread of the program runs before the build: its threads all start on the built backend,
  and no other thread can race the build) and ``sys.addaudithook``; ``importlib.util``'s
  ``spec_from_file_location`` (the switch's import stand-in); the same objects wherever a
  loaded module bound them (``threading._start_new_thread``, the editable install's finder);
- the classes ``io.FileIO`` and ``zipimport.zipimporter`` are taken out of their modules, whose
  ``__getattr__`` builds and then gives the switch's class;
- ``posix`` and ``_io`` leave ``sys.modules``, and an import finder ahead of every other one
  builds at the first import of a module not yet loaded (``import posix`` included, which then
  gets the switch's copy): whatever the program imports (``select``, ``subprocess``,
  ``threading``, ``ctypes``) it imports on the built backend.

The build runs once, under a lock (a thread calling a light stand-in meanwhile waits for it),
with the process's signals blocked and the cyclic garbage collector paused, so that no handler
or finalizer of the program runs in the middle of it. It first puts every original object back
(the library's modules, imported now, must bind the real ``posix`` and ``os``), then builds and
activates the session exactly as an eager launcher does; if that fails (an exception, a
MemoryError), whatever it installed is taken out again and the light stand-ins go back in
place, so the next call builds again from the start. Light stand-ins copied before the build
(``from os import stat``) stay valid: once built, each passes its calls to what its name holds.

This module imports nothing but modules every interpreter has loaded by the time it runs.
"""

from __future__ import annotations

import _collections_abc
import _thread
import builtins
import gc
import importlib.util
import io
import os
import posix
import signal
import sys
import types
import zipimport

TYPE_CHECKING = False  # typing costs milliseconds to import; mypy knows this one
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

PURE = frozenset({
    "WCOREDUMP", "WEXITSTATUS", "WIFCONTINUED", "WIFEXITED", "WIFSIGNALED", "WIFSTOPPED",
    "WSTOPSIG", "WTERMSIG", "waitstatus_to_exitcode", "fspath", "major", "minor", "makedev",
    "strerror", "confstr", "sysconf", "sched_get_priority_max", "sched_get_priority_min",
    "sched_yield", "getrandom", "getloadavg", "register_at_fork", "abort",
})  # fmt: skip
"""os functions that compute, or act on this interpreter alone: the switch's own list
(:data:`posixbackend.switch.installation.PURE`, which a test compares), repeated here because
importing the switch is what this module exists to put off."""
PURE_FUNCTIONS = frozenset({"fsencode", "fsdecode"})
"""os's Python functions that only convert names: calling them builds nothing."""
SUPPORTS = ("supports_fd", "supports_dir_fd", "supports_follow_symlinks", "supports_effective_ids")
THREAD_STARTS = ("start_new_thread", "start_new", "start_joinable_thread")
"""_thread's ways of starting a thread (the last from 3.13)."""
DEFERRED_MODULES = ("posix", "_io")
"""Taken out of sys.modules until the build: importing them again builds."""
SKIPPED_MODULES = frozenset({
    "os", "posix", "io", "_io", "builtins", "sys", "_thread", "importlib.util", "zipimport",
    "importlib._bootstrap", "importlib._bootstrap_external", "_frozen_importlib",
    "_frozen_importlib_external", "__main__",
})  # fmt: skip
"""Modules never scanned for copies: the first ones are the replaced places themselves; the
import system keeps the real objects, as under the switch."""
OWN_PACKAGES = ("posixbackend", "vfs", "compat")
"""The library calls the real objects itself: its modules keep them."""
EAGER_VARIABLE = "POSIXBACKEND_EAGER_START"
"""Set (non-empty), every launcher run builds its backend before the program, as an eager
start: for comparisons (the tests run programs both ways), or to rule the lazy start out."""
_MISSING = object()
_INSTALLED: list[LazyStart] = []
"""The lazy start of this process, once installed (a launcher the program calls again
starts eagerly: its light stand-ins would stand for the first one's)."""


class LazyStart:
    """The light stand-ins of one launcher run and the build they lead to (see the module's
    docstring). ``build`` builds and activates the session; it runs at most once
    successfully."""

    def __init__(self, build: Callable[[], None]) -> None:
        self._build = build
        self._lock = _thread.RLock()
        self._builder: int | None = None
        """The thread running the build, while it runs."""
        self.built = False
        self.builds = 0
        """Builds attempted (tests read it: one per run, however many threads asked)."""
        self._placed: list[tuple[Any, str, Any, Any]] = []
        """(namespace, name, original, light) for each name holding a light stand-in."""
        self._taken: list[tuple[dict[str, Any], str, Any]] = []
        """(module dictionary, name, original) for the classes taken out of modules."""
        self._getattrs: list[tuple[dict[str, Any], Any]] = []
        """(module dictionary, its own ``__getattr__`` or _MISSING) before this one's."""
        self._modules: dict[str, Any] = {}
        self._finder = _BuildingFinder(self)

    # -- the light stand-ins ---------------------------------------------------------------

    def install(self) -> None:
        """Put the light stand-ins in place (all or nothing)."""
        try:
            self._place_all()
        except BaseException:
            self._take_out(finder=True)
            raise
        _INSTALLED.append(self)

    def _place_all(self) -> None:
        lights: dict[int, tuple[Any, Any]] = {}  # id(original) -> (original, light)
        for name in dir(os):
            value = vars(os)[name]
            if name.startswith("_") or name in PURE or name in PURE_FUNCTIONS:
                continue
            if isinstance(value, types.BuiltinFunctionType) or (
                isinstance(value, types.FunctionType) and value.__module__ == "os"
            ):
                self._place(os, name, LightCall(self, os, name, value), lights)
        for name in SUPPORTS:
            self._place(os, name, LightSet(self, os, name), lights)
        self._place(os, "environ", LightEnviron(self, os, "environ"), lights)
        self._place(os, "environb", LightEnviron(self, os, "environb"), lights)
        for namespace, name in (
            (builtins, "open"), (io, "open"), (io, "open_code"), (sys, "addaudithook"),
            (importlib.util, "spec_from_file_location"),
            *((_thread, name) for name in THREAD_STARTS if hasattr(_thread, name)),
        ):  # fmt: skip
            original = getattr(namespace, name)
            known = lights.get(id(original))  # io.open is builtins.open: one light for both
            light = known[1] if known is not None else LightCall(self, namespace, name, original)
            self._place(namespace, name, light, lights)
        threading = sys.modules.get("threading")
        if threading is not None:  # loaded already: its threads must start on the backend
            start = threading.Thread.start
            light = _light_method(self, threading.Thread, "start", start)
            self._place(threading.Thread, "start", light, lights)
        self._take_class(io, "FileIO")
        self._take_class(zipimport, "zipimporter")
        for namespace, name, light, original in self._copies(lights):
            self._place(namespace, name, light, None, original)
        for name in DEFERRED_MODULES:
            self._modules[name] = sys.modules.pop(name)
        sys.meta_path.insert(0, self._finder)

    def _place(
        self,
        namespace: Any,
        name: str,
        light: Any,
        lights: dict[int, tuple[Any, Any]] | None,
        original: Any = _MISSING,
    ) -> None:
        if original is _MISSING:
            original = getattr(namespace, name)
        if lights is not None:
            lights[id(original)] = (original, light)
        self._placed.append((namespace, name, original, light))
        setattr(namespace, name, light)

    def _take_class(self, module: types.ModuleType, name: str) -> None:
        """Take ``module.name`` out; the module's ``__getattr__`` builds and gives it."""
        space = vars(module)
        if not any(entry[0] is space for entry in self._getattrs):
            self._getattrs.append((space, space.get("__getattr__", _MISSING)))
            space["__getattr__"] = _ModuleGetattr(self, space, space.get("__getattr__"))
        self._taken.append((space, name, space.pop(name)))

    def _copies(self, lights: dict[int, tuple[Any, Any]]) -> Iterator[tuple[Any, str, Any, Any]]:
        """(module, name, light, original) for each original a loaded module bound to one of
        its own names (``threading._start_new_thread``), as the switch's scan finds them."""
        wanted = lights.keys()
        for module_name, module in list(sys.modules.items()):
            if (
                not isinstance(module, types.ModuleType)
                or module_name in SKIPPED_MODULES
                or module_name.partition(".")[0] in OWN_PACKAGES
            ):
                continue
            space = vars(module)
            if wanted.isdisjoint(map(id, space.values())):  # the common case, in C
                continue
            for name, value in list(space.items()):
                found = lights.get(id(value))
                if found is not None and found[0] is value:
                    yield module, name, found[1], value

    def _take_out(self, *, finder: bool = False) -> None:
        """Put every original back, newest first (lights that copies hold stay valid); the
        finder too with ``finder`` (see :class:`_BuildingFinder`)."""
        if finder and self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        for name, module in self._modules.items():
            sys.modules.setdefault(name, module)
        self._modules.clear()
        for space, name, original in reversed(self._taken):
            space[name] = original
        self._taken.clear()
        for space, previous in reversed(self._getattrs):
            if previous is _MISSING:
                space.pop("__getattr__", None)
            else:
                space["__getattr__"] = previous
        self._getattrs.clear()
        for namespace, name, original, light in reversed(self._placed):
            if vars(namespace).get(name) is light:
                setattr(namespace, name, original)
        self._placed.clear()

    # -- the build -------------------------------------------------------------------------

    def ensure(self) -> bool:
        """Build the session unless it is built; False when the calling thread is the one
        building it (a light stand-in it reaches then serves natively, as the library's own
        calls are served)."""
        if self.built:
            return True
        me = _thread.get_ident()
        if self._builder == me:
            return False
        with self._lock:
            if not self._done():  # (another thread may have built it meanwhile)
                self._build_once()
        return True

    def _done(self) -> bool:
        return self.built

    def _build_once(self) -> None:
        """Build with signals blocked and the collector paused; all or nothing."""
        blocked = _block_signals()
        collecting = gc.isenabled()
        gc.disable()
        self._builder = _thread.get_ident()
        light = _LightState(self)
        before = _Switched()
        try:
            self.builds += 1
            self._take_out()
            try:
                self._build()
            except BaseException:
                before.restore()
                light.restore()
                raise
            self.built = True
        finally:
            self._builder = None
            if collecting:
                gc.enable()
            _unblock_signals(blocked)


class _Switched:
    """What a build changes beyond the light stand-ins (the switch's installation, the
    serving backend, the standard streams), as it was before: what a failed build puts
    back. The audit hook and the start method a build installs stay: they do nothing while
    no emulated backend serves, and are installed once."""

    _STREAMS = ("stdin", "stdout", "stderr", "__stdin__", "__stdout__", "__stderr__")

    def __init__(self) -> None:
        self._streams = [getattr(sys, name) for name in self._STREAMS]
        installation = sys.modules.get("posixbackend.switch.installation")
        self._installed = installation is not None and installation.INSTALLATION.installed
        active = sys.modules.get("posixbackend.switch.active")
        self._active = None if active is None else active.ACTIVE.get()

    def restore(self) -> None:
        installation = sys.modules.get("posixbackend.switch.installation")
        if installation is not None and not self._installed and installation.INSTALLATION.installed:
            installation.INSTALLATION.uninstall()  # (the build's: it was not in place before)
        active = sys.modules.get("posixbackend.switch.active")
        if active is not None:
            active.ACTIVE.set(self._active)
        for name, stream in zip(self._STREAMS, self._streams, strict=True):
            setattr(sys, name, stream)


class _LightState:
    """Where the light stand-ins were as a build began: what a failed build puts back."""

    def __init__(self, start: LazyStart) -> None:
        self._start = start
        self._placed = list(start._placed)
        self._taken = [(space, name) for space, name, _ in start._taken]
        self._modules = list(start._modules)

    def restore(self) -> None:
        """The light stand-ins back in the places that hold their originals again."""
        start = self._start
        for namespace, name, original, light in self._placed:
            if vars(namespace).get(name) is original:
                start._placed.append((namespace, name, original, light))
                setattr(namespace, name, light)
        for space, name in self._taken:
            start._take_class(_module_of(space), name)
        for name in self._modules:
            if name in sys.modules:
                start._modules[name] = sys.modules.pop(name)


def _module_of(space: dict[str, Any]) -> types.ModuleType:
    module = sys.modules[space["__name__"]]
    assert vars(module) is space, "a module replaced in sys.modules during the build"
    return module


class LightCall:
    """A light stand-in for a function: builds at its first call, then calls what its name
    holds (the switch's stand-in, or the original where the switch leaves the name)."""

    __slots__ = ("_name", "_namespace", "_original", "_start")

    def __init__(self, start: LazyStart, namespace: Any, name: str, original: Any) -> None:
        self._start = start
        self._namespace = namespace
        self._name = name
        self._original = original

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._start.ensure():
            return self._original(*args, **kwargs)
        return getattr(self._namespace, self._name)(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # __name__, __doc__, __module__ ... as the original
        return getattr(self._original, name)

    def __repr__(self) -> str:
        return repr(self._original)


def _light_method(start: LazyStart, cls: type, name: str, original: Any) -> Any:
    """A light stand-in for a method (a function, so that instances bind it): builds at its
    first call, then calls what the class holds (the switch's method)."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not start.ensure():
            return original(self, *args, **kwargs)
        return getattr(cls, name)(self, *args, **kwargs)

    method.__name__, method.__qualname__ = original.__name__, original.__qualname__
    method.__doc__, method.__module__ = original.__doc__, original.__module__
    return method


class _Delegate:
    """A light stand-in for a data object: every use builds, then uses what its name holds."""

    def __init__(self, start: LazyStart, namespace: Any, name: str) -> None:
        self._start = start
        self._namespace = namespace
        self._name = name
        self._original = getattr(namespace, name)

    def _target(self) -> Any:
        if not self._start.ensure():
            return self._original
        return getattr(self._namespace, self._name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __repr__(self) -> str:
        return repr(self._target())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._target())

    def __len__(self) -> int:
        return len(self._target())

    def __contains__(self, item: object) -> bool:
        return _resolved(item) in self._target()

    def __eq__(self, other: object) -> bool:
        return bool(self._target() == other)

    __hash__ = None  # type: ignore[assignment]  # as the mutable objects it stands for


class LightEnviron(_Delegate, _collections_abc.MutableMapping):  # type: ignore[type-arg]
    """``os.environ`` / ``os.environb`` until the build (then the backend's)."""

    def __getitem__(self, key: Any) -> Any:
        return self._target()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._target()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._target()[key]

    def __or__(self, other: Any) -> Any:
        return self._target() | other

    def __ror__(self, other: Any) -> Any:
        return other | self._target()

    def __ior__(self, other: Any) -> LightEnviron:
        target = self._target()
        target |= other
        return self


class LightSet(_Delegate, _collections_abc.Set):  # type: ignore[type-arg]
    """One of ``os.supports_*`` until the build (then the switch's)."""

    def __le__(self, other: Any) -> bool:
        return bool(self._target() <= _resolved_set(other))

    def __ge__(self, other: Any) -> bool:
        return bool(self._target() >= _resolved_set(other))

    def __lt__(self, other: Any) -> bool:
        return bool(self._target() < _resolved_set(other))

    def __gt__(self, other: Any) -> bool:
        return bool(self._target() > _resolved_set(other))

    def __and__(self, other: Any) -> Any:
        return self._target() & _resolved_set(other)

    def __or__(self, other: Any) -> Any:
        return self._target() | _resolved_set(other)

    def __sub__(self, other: Any) -> Any:
        return self._target() - _resolved_set(other)


def _resolved(item: object) -> object:
    """What a light stand-in's name holds once built (the item itself for anything else)."""
    if isinstance(item, LightCall):
        item._start.ensure()
        return getattr(item._namespace, item._name)
    return item


def _resolved_set(items: Any) -> Any:
    if isinstance(items, set | frozenset):
        return {_resolved(item) for item in items}
    return items


class _ModuleGetattr:
    """A module's ``__getattr__`` while some of its classes are taken out: asking for one
    builds and gives what the module holds then; anything else goes to the module's own."""

    def __init__(self, start: LazyStart, space: dict[str, Any], previous: Any) -> None:
        self._start = start
        self._space = space
        self._previous = previous

    def __call__(self, name: str) -> Any:
        start = self._start
        if any(space is self._space and taken == name for space, taken, _ in start._taken):
            if not start.ensure():
                for space, taken, original in start._taken:
                    if space is self._space and taken == name:
                        return original
            value = self._space.get(name, _MISSING)
            if value is not _MISSING:
                return value
        if self._previous is not None:
            return self._previous(name)
        raise AttributeError(f"module {self._space['__name__']!r} has no attribute {name!r}")


class _BuildingFinder:
    """First on ``sys.meta_path``: the first import of a module not loaded yet builds, then
    the import goes on, to the switch's finders, so that what a program imports binds the
    switch's objects. A module the build itself loaded (``threading``, ``posix``, ``_io``: the
    switch's copies of the last two) is given as it is, never run a second time. It stays in
    ``sys.meta_path`` once built (passing every import on): it is called while the import
    system walks that list, which must not change under the walk."""

    def __init__(self, start: LazyStart) -> None:
        self._start = start

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        start = self._start
        if start.built or target is not None:
            return None
        if not start.ensure():
            return None  # the build's own imports
        module = sys.modules.get(name)
        if module is None:
            return None
        loader: Any = _Loaded(module)
        spec = importlib.util.spec_from_loader(name, loader, is_package=hasattr(module, "__path__"))
        # The import system takes the spec of a module loaded while the finders ran from the
        # module itself (and would run it again from that spec): it finds this one there, and
        # the loader puts the module's own back.
        module.__spec__ = spec
        return spec


class _Loaded:
    """A loader giving a module already loaded (by the build), its own spec kept."""

    def __init__(self, module: types.ModuleType) -> None:
        self._module = module
        self._spec = getattr(module, "__spec__", None)

    def create_module(self, spec: Any) -> types.ModuleType:
        return self._module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run (the module is whole): its own spec back (the import system set
        the one that led here)."""
        module.__spec__ = self._spec


def _block_signals() -> Any:
    """Block every signal this thread may take (a program's handler must not run during the
    build); the mask before."""
    try:
        return signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    except (AttributeError, OSError):
        return None


def _unblock_signals(previous: Any) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def eligible(command: Any) -> bool:
    """Whether a launcher's run may build its session lazily: the emulated backend on a file
    system that cannot fail to be made (memory, overlay or the whole host; no mounts, no
    --cwd), nothing that must be in force before the program's first line or be read at exit
    (permissions, a time limit, logging, the compat report, --changes, the sandbox report),
    a program given as -c CODE or on standard input, no python -i, and no session already
    activated or lazy start installed in this process (a child Python's, from the
    environment; a launcher the program runs in-process)."""
    options = command.options
    spec = options.file_system
    return (
        options.backend.emulated
        and spec.kind.value in ("memory", "overlay", "host")
        and spec.root == "/"
        and not options.mounts
        and options.cwd is None
        and not options.grants.given
        and options.time_limit is None
        and options.log_level is None
        and command.compat_report is None
        and not command.changes
        and command.sandbox_report is None
        and command.target.kind.value in ("code", "stdin")
        and not sys.flags.inspect
        and "posixbackend.launcher.session" not in sys.modules
        and not _INSTALLED
        and not posix.environ.get(EAGER_VARIABLE.encode())
    )
