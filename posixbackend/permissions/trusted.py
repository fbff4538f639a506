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
from typing import TYPE_CHECKING, Any, Final

from posixbackend.permissions.denials import denied
from posixbackend.permissions.entrypoints import BOUNDARIES, ENTRY_POINTS, PASS_THROUGHS

if TYPE_CHECKING:
    from posixbackend.permissions.policy import Permissions

LIBRARY_PACKAGES: Final = ("posixbackend", "vfs", "compat")
"""The library's own packages: their code reaches the host for the backends it serves."""
IMPORT_MODULES: Final = ("importlib._bootstrap_external", "importlib._bootstrap", "zipimport")
"""The import system's modules: trusted to read (never to write) below the code roots."""

LIBRARY: Final = "library"
IMPORTER: Final = "importer"
INTERPRETER: Final = "interpreter"


ENTRY: Final = 1
"""A trusted code's role: an entry point (:mod:`posixbackend.permissions.entrypoints`)."""
BOUNDARY: Final = 2
"""A trusted code's role: a boundary."""
PASS_THROUGH: Final = 4
"""A trusted code's role: a pass-through."""


class Trust:
    """What one trusted code object is: whose (``kind``), its roles, the globals it runs in."""

    __slots__ = ("code", "kind", "namespaces", "roles")

    def __init__(self, code: types.CodeType) -> None:
        self.code = code
        """Kept alive here, so that no other object gets its id while it is trusted."""
        self.kind: str | None = None
        """LIBRARY or IMPORTER; None for a registered object's code of neither."""
        self.roles = 0
        """ENTRY, BOUNDARY and PASS_THROUGH or-ed."""
        self.namespaces: tuple[dict[str, Any], ...] = ()
        """The ``__globals__`` of the functions holding it (a frame elsewhere is not trusted)."""

    def runs(self, frame: types.FrameType) -> bool:
        """Whether ``frame`` (of this code) runs in globals the code was found with."""
        current = frame.f_globals
        for namespace in self.namespaces:  # noqa: SIM110 - no generator on this hot path
            if namespace is current:
                return True
        return False


class _TrustedCode:
    """The code objects of the library, the import system, the entry points and boundaries.

    Trust is by identity, never equality (3.11's code equality ignores co_filename: a guest can
    compile an equal copy), and only for a frame running in the globals the code was found
    with: ``types.FunctionType(code, guest_globals)`` or ``exec(code, guest_globals)`` makes a
    frame of the very code object whose global names (and builtins) resolve to the guest's.
    Functions made of trusted code with free variables by anyone else (``function.__new__``,
    ``__code__`` set, ``exec`` with a closure) are refused by :func:`closure_event`: their
    cells would be the guest's, and a frame does not tell whose cells it runs with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.codes: dict[int, Trust] = {}
        """id(code) -> its Trust (one look-up per frame)."""
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
                    mark = _Mark(LIBRARY, 0)
                elif name in IMPORT_MODULES or name.startswith("_frozen_importlib"):
                    mark = _Mark(IMPORTER, 0)
                else:
                    continue
                self._scanned.add(name)
                namespace = vars(module)
                for value in list(namespace.values()):
                    _collect(value, name, namespace, mark, self.codes)
            for registered, role, done in zip(
                (ENTRY_POINTS, BOUNDARIES, PASS_THROUGHS),
                (ENTRY, BOUNDARY, PASS_THROUGH),
                self._registered,
                strict=True,
            ):
                for value in registered[done:]:
                    owner = str(getattr(value, "__module__", ""))
                    _collect(value, owner, _namespace_of(owner), _Mark(None, role), self.codes)
            self._registered = self._registrations()

    @staticmethod
    def _registrations() -> tuple[int, int, int]:
        return len(ENTRY_POINTS), len(BOUNDARIES), len(PASS_THROUGHS)

    def _stale(self) -> bool:
        """Whether modules were imported or objects registered since the last look."""
        return self._modules_seen != len(sys.modules) or (
            self._registered != self._registrations()
        )

    def of(self, frame: types.FrameType) -> Trust | None:
        """The trust of ``frame``'s code object, when the frame runs in that code's globals."""
        found = self.codes.get(id(frame.f_code))  # alive in the table: same id, same object
        if found is None:
            if not self._stale():
                return None  # nothing new to look at
            self.refresh()
            found = self.codes.get(id(frame.f_code))
            if found is None:
                return None
        return found if found.runs(frame) else None

    def kind_of(self, frame: types.FrameType) -> str | None:
        """ "library", "importer" or None for a frame of neither's code in its own globals."""
        found = self.of(frame)
        return None if found is None else found.kind

    def trusts(self, code: object) -> bool:
        """Whether ``code`` is (identically) a code object of the library or the importer."""
        found = self.codes.get(id(code))
        if found is None and isinstance(code, types.CodeType) and self._stale():
            self.refresh()
            found = self.codes.get(id(code))
        return found is not None and found.kind is not None

    def replace_code(self, old: types.CodeType, new: types.CodeType) -> None:
        """Trust ``new`` (and its nested code) as ``old`` is trusted, in the same globals: for
        the library's own replacement of a function's ``__code__`` by an equal copy (the pool's
        zygote). ValueError unless ``new == old`` and ``old`` is trusted code."""
        if new != old:
            raise ValueError(f"{new!r} is not an equal copy of {old!r}")
        if self._stale():
            self.refresh()
        with self._lock:
            if id(old) not in self.codes:
                raise ValueError(f"{old!r} is not trusted code")
            _add_copy(old, new, self.codes)


class _Mark:
    """What code found in one place is trusted as: its kind (or None), its role."""

    __slots__ = ("kind", "role")

    def __init__(self, kind: str | None, role: int) -> None:
        self.kind = kind
        self.role = role


def _namespace_of(module: str) -> dict[str, Any] | None:
    """The globals of the module named ``module`` (None when it is not imported)."""
    found = sys.modules.get(module)
    return vars(found) if isinstance(found, types.ModuleType) else None


def _collect(
    value: Any, module: str, namespace: dict[str, Any] | None, mark: _Mark,
    codes: dict[int, Trust],
) -> None:  # fmt: skip
    """Add the code objects of a module's functions and classes (and their nested code), each
    with the globals its function runs in (``namespace``, the module's, for bare code)."""
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    if isinstance(value, property):
        for accessor in (value.fget, value.fset, value.fdel):
            if accessor is not None:
                _collect(accessor, module, namespace, mark, codes)
        return
    if isinstance(value, types.FunctionType):
        if value.__module__ == module:
            _add_code(value.__code__, value.__globals__, mark, codes)
        wrapped = getattr(value, "__wrapped__", None)
        if isinstance(wrapped, types.FunctionType) and wrapped.__module__ == module:
            _add_code(wrapped.__code__, wrapped.__globals__, mark, codes)
    elif isinstance(value, type) and value.__module__ == module:
        for member in list(vars(value).values()):
            _collect(member, module, namespace, mark, codes)
    elif isinstance(value, types.CodeType) and namespace is not None:
        _add_code(value, namespace, mark, codes)


def _add_code(
    code: types.CodeType, namespace: dict[str, Any], mark: _Mark, codes: dict[int, Trust]
) -> None:
    """Trust ``code`` and its nested code in ``namespace``, as ``mark`` says."""
    found = codes.get(id(code))
    if found is None:  # made whole before a reader (holding no lock) can see it
        made = Trust(code)
        made.kind, made.roles, made.namespaces = mark.kind, mark.role, (namespace,)
        codes[id(code)] = made
    else:
        if mark.kind is not None:
            found.kind = mark.kind
        found.roles |= mark.role
        if not any(known is namespace for known in found.namespaces):
            found.namespaces += (namespace,)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            _add_code(constant, namespace, mark, codes)


def _add_copy(old: types.CodeType, new: types.CodeType, codes: dict[int, Trust]) -> None:
    """Trust ``new`` as ``old`` is trusted, nested code pairwise (equal code: equal nesting)."""
    original = codes.get(id(old))
    if original is not None:
        copy = codes.get(id(new))
        if copy is None:  # made whole before a reader can see it
            made = Trust(new)
            made.kind, made.roles, made.namespaces = (
                original.kind, original.roles, original.namespaces
            )
            codes[id(new)] = made
        else:
            copy.kind = original.kind if copy.kind is None else copy.kind
            copy.roles |= original.roles
            copy.namespaces += tuple(
                namespace for namespace in original.namespaces
                if not any(known is namespace for known in copy.namespaces)
            )  # fmt: skip
    for old_constant, new_constant in zip(old.co_consts, new.co_consts, strict=True):
        if isinstance(old_constant, types.CodeType) and isinstance(new_constant, types.CodeType):
            _add_copy(old_constant, new_constant, codes)


TRUSTED: Final = _TrustedCode()


def caller(frame: types.FrameType | None) -> str | None:
    """Who is responsible for what ``frame`` (the innermost Python frame of an event) does:

    "importer" when the import system's code made the call; "library" when library code did
    and, between it and whoever called into the library, one of the library's entry points
    was crossed (what an entry point does goes to the backend in force, whoever called it) --
    or nothing but the library is on the stack (an at-exit handler), or an import runs the
    library's module code; "interpreter" when no Python code runs at all (python's start-up
    reading the script of a child process the policy was handed to); None for anyone else:
    the guest, the standard library it called, or library code it called directly. A frame
    counts as the library's or the importer's only when it runs their very code object in
    the globals it was found with (see :class:`_TrustedCode`)."""
    if frame is None:
        return INTERPRETER
    found = TRUSTED.of(frame)
    if found is not None and found.kind == LIBRARY and found.roles & PASS_THROUGH:
        frame = frame.f_back  # a stand-in called the real function: its caller did
        if frame is None:
            return INTERPRETER
        found = TRUSTED.of(frame)
    if found is None or found.kind != LIBRARY:
        return None if found is None else found.kind
    return _entered(frame, found)


def _entered(frame: types.FrameType, found: Trust) -> str | None:
    """LIBRARY when the library's ``frame`` (of ``found``) was entered through an entry point
    (or run by the import system, or nothing else is on the stack), else None."""
    while True:
        if found.roles & BOUNDARY:
            return None  # it runs what its caller chose: the library was not entered here
        if found.roles & ENTRY:
            return LIBRARY
        if found.kind is None:
            return None
        if found.kind == IMPORTER:
            return LIBRARY  # the library's own module code, run by an import
        back = frame.f_back
        if back is None:
            return LIBRARY  # nothing but the library on the stack
        frame = back
        next_found = TRUSTED.of(frame)
        if next_found is None:
            return None
        found = next_found


def calling_frame(depth: int) -> types.FrameType | None:
    """The frame ``depth`` levels above the caller's (None when the stack is not that deep)."""
    try:
        return sys._getframe(depth + 1)
    except ValueError:
        return None


def closure_event(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
    """function.__new__, exec (which takes a closure from 3.11 on) and a function's
    ``__code__`` set: a function of the library's (or the importer's) code with free variables
    gets cells its maker chose, and a frame does not tell whose cells it runs with -- so only
    the library makes them, or a guest granted allow_native_access. (Trusted code without free
    variables run in the guest's globals is told by :func:`caller` and judged as the guest's.)"""
    if event == "object.__setattr__":
        if len(args) < 3 or args[1] != "__code__":
            return
        code = args[2]
    else:
        code = args[0] if args else None
    if not isinstance(code, types.CodeType) or not code.co_freevars:
        return  # the frequent case (exec of a module's code): no cells to choose
    if policy.allow_native_access or not TRUSTED.trusts(code):
        return
    if caller(calling_frame(2)) == LIBRARY:  # the frames: this check <- the hook <- the maker
        return
    raise denied(f"{event} of the library's code {code.co_qualname}", "allow_native_access")


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
