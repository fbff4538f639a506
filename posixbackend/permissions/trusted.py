"""Whose code raised an audit event: the library's (entered properly), the import system's, the
interpreter's own start-up, or the guest's.

The code objects of the library's modules and of the import system are collected lazily from
``sys.modules``; the entry points and boundaries (:mod:`posixbackend.permissions.entrypoints`)
become code objects the same way. :func:`caller` walks from the frame that raised an event up
through library and import-system frames to the first frame of anyone else, and says who is
responsible.

Also here: the code roots, the directories the import system may read from under restricting
permissions (the interpreter's library, site-packages, the directories on sys.path when the
hook was installed, this library's packages) -- never a path a loader was asked for with
``..`` out of them.
"""

from __future__ import annotations

import posix
import posixpath
import site
import sys
import sysconfig
import threading
import types
from typing import Any, Final

from posixbackend.permissions.entrypoints import BOUNDARIES, ENTRY_POINTS, PASS_THROUGHS

LIBRARY_PACKAGES: Final = ("posixbackend", "vfs", "compat")
"""The library's own packages: their code reaches the host for the backends it serves."""
IMPORT_MODULES: Final = ("importlib._bootstrap_external", "importlib._bootstrap", "zipimport")
"""The import system's modules: trusted to read (never to write) below the code roots."""

LIBRARY: Final = "library"
IMPORTER: Final = "importer"
INTERPRETER: Final = "interpreter"


class _TrustedCode:
    """The code objects of the library, the import system, the entry points and boundaries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.library: set[types.CodeType] = set()
        self.importer: set[types.CodeType] = set()
        self.entries: set[types.CodeType] = set()
        self.boundaries: set[types.CodeType] = set()
        self.pass_throughs: set[types.CodeType] = set()
        self._scanned: set[str] = set()
        self._registered = (0, 0, 0)
        """How many entry points and boundaries were turned into code already."""
        self._modules_seen = -1
        """len(sys.modules) at the last look (a miss looks again only when it changed)."""

    def refresh(self) -> None:
        """Collect the code of modules imported, and objects registered, since the last look."""
        with self._lock:
            self._modules_seen = len(sys.modules)
            for name, module in list(sys.modules.items()):
                if name in self._scanned or not isinstance(module, types.ModuleType):
                    continue
                root = name.partition(".")[0]
                if root in LIBRARY_PACKAGES:
                    target = self.library
                elif name in IMPORT_MODULES or name.startswith("_frozen_importlib"):
                    target = self.importer
                else:
                    continue
                self._scanned.add(name)
                for value in list(vars(module).values()):
                    _collect(value, name, target)
            for registered, target, done in zip(
                (ENTRY_POINTS, BOUNDARIES, PASS_THROUGHS),
                (self.entries, self.boundaries, self.pass_throughs),
                self._registered,
                strict=True,
            ):
                for value in registered[done:]:
                    _collect(value, getattr(value, "__module__", ""), target)
            self._registered = self._registrations()

    @staticmethod
    def _registrations() -> tuple[int, int, int]:
        return len(ENTRY_POINTS), len(BOUNDARIES), len(PASS_THROUGHS)

    def kind_of(self, code: types.CodeType) -> str | None:
        """ "library", "importer" or None for code of neither."""
        for attempt in (0, 1):
            if code in self.library:
                return LIBRARY
            if code in self.importer:
                return IMPORTER
            if attempt == 0:
                if self._modules_seen == len(sys.modules) and (
                    self._registered == self._registrations()
                ):
                    return None  # nothing new to look at
                self.refresh()
        return None


def _collect(value: Any, module: str, target: set[types.CodeType]) -> None:
    """Add the code objects of a module's functions and classes (and their nested code)."""
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    if isinstance(value, property):
        for accessor in (value.fget, value.fset, value.fdel):
            if accessor is not None:
                _collect(accessor, module, target)
        return
    if isinstance(value, types.FunctionType):
        if value.__module__ == module:
            _add_code(value.__code__, target)
        wrapped = getattr(value, "__wrapped__", None)
        if isinstance(wrapped, types.FunctionType) and wrapped.__module__ == module:
            _add_code(wrapped.__code__, target)
    elif isinstance(value, type) and value.__module__ == module:
        for member in list(vars(value).values()):
            _collect(member, module, target)
    elif isinstance(value, types.CodeType):
        _add_code(value, target)


def _add_code(code: types.CodeType, target: set[types.CodeType]) -> None:
    target.add(code)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            _add_code(constant, target)


TRUSTED: Final = _TrustedCode()


def caller(frame: types.FrameType | None) -> str | None:
    """Who is responsible for what ``frame`` (the innermost Python frame of an event) does:

    "importer" when the import system's code made the call; "library" when library code did
    and, between it and whoever called into the library, one of the library's entry points
    was crossed (what an entry point does goes to the backend in force, whoever called it) --
    or nothing but the library is on the stack (an at-exit handler), or an import runs the
    library's module code; "interpreter" when no Python code runs at all (python's start-up
    reading the script of a child process the policy was handed to); None for anyone else:
    the guest, the standard library it called, or library code it called directly."""
    if frame is None:
        return INTERPRETER
    kind = TRUSTED.kind_of(frame.f_code)
    if kind == LIBRARY and frame.f_code in TRUSTED.pass_throughs:
        frame = frame.f_back  # a stand-in called the real function: its caller did
        if frame is None:
            return INTERPRETER
        kind = TRUSTED.kind_of(frame.f_code)
    if kind != LIBRARY:
        return kind
    while frame is not None:
        code = frame.f_code
        if code in TRUSTED.boundaries:
            return None  # it runs what its caller chose: the library was not entered here
        if code in TRUSTED.entries:
            return LIBRARY
        kind = TRUSTED.kind_of(code)
        if kind is None:
            return None
        if kind == IMPORTER:
            return LIBRARY  # the library's own module code, run by an import
        frame = frame.f_back
    return LIBRARY  # nothing but the library on the stack


def calling_frame(depth: int) -> types.FrameType | None:
    """The frame ``depth`` levels above the caller's (None when the stack is not that deep)."""
    try:
        return sys._getframe(depth + 1)
    except ValueError:
        return None


class CodeRoots:
    """The directories the import system may read below under restricting permissions."""

    def __init__(self) -> None:
        self._roots: tuple[str, ...] = ()

    def capture(self) -> None:
        """Fix the roots now (when the hook is installed, before any guest code runs)."""
        paths = sysconfig.get_paths()
        found = [paths.get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib")]
        found += site.getsitepackages()
        found += [sysconfig.get_config_var("DESTSHARED") or ""]
        found += [entry for entry in sys.path if isinstance(entry, str)]
        for name in LIBRARY_PACKAGES:
            package = sys.modules.get(name)
            found += list(getattr(package, "__path__", ()))
        roots = {posixpath.normpath(path) for path in found if path.startswith("/")}
        roots.discard("/")
        self._roots = tuple(sorted(roots))

    def contain(self, path: Any) -> bool:
        """Whether ``path`` (str, bytes or a descriptor) names something below a root."""
        if isinstance(path, bytes):
            path = path.decode(sys.getfilesystemencoding(), "surrogateescape")
        if not isinstance(path, str):
            return False
        if not path.startswith("/"):
            path = posixpath.join(posix.getcwd(), path)
        path = posixpath.normpath(path)
        return any(path == root or path.startswith(root + "/") for root in self._roots)

    @property
    def roots(self) -> tuple[str, ...]:
        return self._roots


CODE_ROOTS: Final = CodeRoots()
