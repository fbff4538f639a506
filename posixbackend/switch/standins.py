"""The stand-ins: objects put in place of os's functions, open, io.FileIO, os.environ...

Each asks :data:`~posixbackend.switch.active.ACTIVE` which backend serves the caller and
passes the call on unchanged: to the real object for the native backend (so native behaviour,
errors and messages included, is exactly the real one's), or to the emulated backend's method of
the same name. A function the emulated backend does not have fails there with ENOSYS and a
compat gap, never silently on the host.
"""

from __future__ import annotations

import _io
import abc
import errno
import functools
import posix
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Set
from typing import Any, Final, Protocol

import compat
from posixbackend.emulated.accelerator import DIRENTRY_TYPES, ENVIRONMENT_SWITCH
from posixbackend.emulated.direntry import DirEntry as EmulatedDirEntry
from posixbackend.emulated.direntry import ScandirIterator
from posixbackend.emulated.fileio import RawFile
from posixbackend.emulated.polling import EmulatedEpoll, EmulatedPoll
from posixbackend.permissions.anchors import ANCHORS, get_ident
from posixbackend.permissions.current import get_policy
from posixbackend.permissions.denials import denied
from posixbackend.permissions.entrypoints import entry_points, pass_throughs
from posixbackend.switch import harness
from posixbackend.switch.active import ACTIVE, get_active, in_context


class Parking(Protocol):
    """What a stand-in called outside every block asks: whether the stand-ins wait to be
    parked, and how to park them."""

    pending: bool

    def settle(self) -> None:
        """Park the stand-ins if no block needs them."""


class _NothingToPark:
    pending = False

    def settle(self) -> None:
        """Nothing is installed yet."""


parking: Parking = _NothingToPark()
"""The installation's (:data:`posixbackend.switch.installation.INSTALLATION`, which imports
this module, puts itself here)."""

UNSUPPORTED = compat.declare(
    id="switch.unsupported_function",
    function="os.unsupported",
    aspect="functions the emulated backend does not provide",
    level=compat.Level.INFO,
    explanation="os functions with no emulation (openpty, login_tty, pidfd_open, waitid...) "
    "fail with ENOSYS on the java backend instead of reaching the host",
)
FILEIO_SUBCLASS = compat.declare(
    id="switch.fileio_subclass",
    function="io.FileIO",
    aspect="subclasses",
    level=compat.Level.WARNING,
    explanation="a subclass of io.FileIO is built on the real C type and cannot open an "
    "emulated file; constructing one on the java backend raises NotImplementedError",
)


def unsupported(name: str) -> OSError:
    """The error a function the emulated backend lacks fails with (and its gap, hit)."""
    UNSUPPORTED.hit(function=f"os.{name}")
    return OSError(
        errno.ENOSYS,
        f"os.{name} is not supported by the emulated ('java') POSIX backend",
    )


class StandIn:
    """A stand-in for a function: the real one natively, else the serving backend's method.

    An object with ``__call__`` rather than a Python function, because functions are
    descriptors: ``spawn = os.posix_spawn`` in a class body would turn into a bound method,
    which a builtin never does. It pickles by reference (as ``os.stat``), looks like the
    function it replaces (name, doc, ``__wrapped__`` for inspect.signature) and prints as it.
    """

    def __init__(self, module_name: str, name: str, native: Callable[..., Any], method: str):
        functools.update_wrapper(self, native)
        self.__module__ = module_name  # pickled by reference as os.<name>, which is this object
        self.__qualname__ = name
        self._native = native
        self._method = method
        self._name = name

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        # (also the C stand-ins' fallback: see make_stand_in; it reads only the attributes
        # both kinds have)
        backend = in_context()
        if ANCHORS:  # get_active() written out: this is every os call's path
            anchor = ANCHORS.get(get_ident())
            if anchor is not None:
                backend = anchor.serving
        if backend is None:
            if parking.pending:  # the first call outside every block parks them all
                parking.settle()
            return self._native(*args, **kwargs)
        if harness.PREFIXES and harness.called_by_harness(sys._getframe(1)):
            return self._native(*args, **kwargs)
        implementation = getattr(backend, self._method, None)
        if implementation is None:
            raise unsupported(self._name)
        return implementation(*args, **kwargs)

    def __reduce__(self) -> str:
        return self.__qualname__

    def __repr__(self) -> str:
        return repr(self._native)


def _fast_stand_ins() -> types.ModuleType | None:
    """:mod:`posixbackend._standin` (the C stand-in type), configured with what its fast path
    reads; None without it (not built, ``POSIXBACKEND_PURE_PYTHON`` set, or configured by an
    earlier instance of this module: its context variable would not be this one's)."""
    try:
        from posixbackend import _standin
    except ImportError:
        return None
    if posix.environ.get(ENVIRONMENT_SWITCH.encode(), b"") not in (b"", b"0"):
        return None
    try:
        _standin.configure(ACTIVE, ANCHORS, StandIn.__call__, harness.PREFIXES)
    except RuntimeError:  # configured once per process, whatever imports this module again
        return None
    return _standin


def _nothing_to_tell(flag: bool, /) -> None:
    """Without the C stand-ins nobody keeps a copy of :attr:`Parking.pending`."""


_FAST: Final = _fast_stand_ins()
FAST_STAND_IN: Final[type[Any] | None] = (
    None if _FAST is None else _FAST.StandIn
)
"""The C stand-in type, or None: the Python :class:`StandIn` serves alone."""
set_pending: Final[Callable[[bool], None]] = (
    _nothing_to_tell if _FAST is None else _FAST.set_pending
)
"""Tell the C stand-ins whether a park is pending (:attr:`Parking.pending`): they then take
:meth:`StandIn.__call__`, which parks."""


def make_stand_in(
    module_name: str, name: str, native: Callable[..., Any], method: str, *, builtin: bool = False
) -> Any:
    """The stand-in for ``module_name.name`` (the real ``native``; ``method`` of the serving
    backend): a C one when built -- the same behaviour, but a call outside every block goes
    straight to ``native`` in C, ~0.3 us less than a Python call -- else a :class:`StandIn`.

    With ``builtin`` (os's functions: every program's hot calls), the C stand-in of a module's
    builtin is itself a builtin function, which the interpreter calls as fast as the real one
    (see _standin.c): it has the real one's face, so no ``__wrapped__`` nor ``_native``
    (:func:`parts_of` reads those). The others keep them: the library reads the real
    ``fcntl.fcntl`` or ``select.poll`` as a stand-in's ``__wrapped__``."""
    if _FAST is None:
        return StandIn(module_name, name, native, method)
    if builtin:
        function = _FAST.builtin_stand_in(module_name, name, native, method)
        if function is not None:
            return function
    stand_in = _FAST.StandIn(native, method, name)
    functools.update_wrapper(stand_in, native)
    stand_in.__module__ = module_name  # pickled by reference as <module>.<name>, as StandIn
    stand_in.__qualname__ = name
    return stand_in


def parts_of(value: object) -> tuple[Callable[..., Any], str, str] | None:
    """(the real function, the serving backend's method, the name) of a stand-in of any kind
    (:func:`make_stand_in`'s), None for any other object."""
    stand_in: Any = value  # the attributes below are read only where the types have them
    if _FAST is not None:
        if type(stand_in) is _FAST.StandIn:
            return stand_in._native, stand_in._method, stand_in._name
        parts: tuple[Callable[..., Any], str, str] | None = _FAST.stand_in_parts(stand_in)
        if parts is not None:
            return parts
    if isinstance(stand_in, StandIn):
        return stand_in._native, stand_in._method, stand_in._name
    return None


class CodeOpen(StandIn):
    """``_io.open`` of the switched ``_io`` module: switched, except when the interpreter calls
    it to open code for the import system (``_io.open_code`` finds ``open`` in
    ``sys.modules['_io']``): importlib's opens stay on the real disk as every import does, and
    zipimport's open an archive through the backend ``archive_reader`` names for its path (a
    virtual archive), else the real disk."""

    def __init__(
        self,
        native: Callable[..., Any],
        import_system: dict[str, Any],
        zipimport_globals: dict[str, Any] | None,
        archive_reader: Callable[[str], Any | None],
    ):
        super().__init__("_io", "open", native, "io_open")
        self._import_system = import_system
        self._zipimport = zipimport_globals
        self._archive_reader = archive_reader

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1).f_globals
        if caller is self._import_system:
            return self._native(*args, **kwargs)
        if caller is self._zipimport:
            reader = self._archive_reader(args[0]) if args and isinstance(args[0], str) else None
            if reader is None:
                return self._native(*args, **kwargs)
            return reader.io_open(*args, **kwargs)
        return super().__call__(*args, **kwargs)


def guarded_audit_hook(native: Callable[[Any], None]) -> Callable[[Any], None]:
    """``sys.addaudithook`` refusing, with a PermissionError, guests denied native access (an
    audit hook of theirs would run for the embedder too; the audit hook's own check can only
    make CPython drop it silently)."""

    def addaudithook(hook: Any, /) -> None:
        policy = get_policy()
        if policy is not None and not policy.allow_native_access:
            raise denied("sys.addaudithook", "allow_native_access")
        native(hook)

    functools.update_wrapper(addaudithook, native)
    return addaudithook


class SwitchedSupports(Set[Any]):
    """``os.supports_fd`` and its siblings: the truth about whichever backend serves the caller.

    Natively it holds what the real set holds, with the stand-ins in place of the functions they
    replaced; on the emulated backend it holds the stand-ins of the functions whose names are in
    the backend's own set.
    """

    def __init__(
        self,
        attribute: str,
        native: Set[Any],
        stand_ins: Mapping[str, Any],
        natives: Mapping[Any, Any],
    ) -> None:
        self._attribute = attribute
        self._native = native
        self._stand_ins = stand_ins
        self._natives = natives
        self._names: dict[type, frozenset[str]] = {}

    @classmethod
    def _from_iterable(cls, items: Iterable[Any]) -> set[Any]:
        """Results of ``|``, ``&``, ``-``... are plain sets, as the real ones give."""
        return set(items)

    def _emulated_names(self, backend: Any) -> frozenset[str]:
        names = self._names.get(type(backend))
        if names is None:
            names = frozenset(item.__name__ for item in getattr(backend, self._attribute))
            self._names[type(backend)] = names
        return names

    def _members(self) -> list[Any]:
        backend = get_active()
        if backend is None:
            return [self._stand_ins.get(item.__name__, item) for item in self._native]
        names = self._emulated_names(backend)
        return [stand_in for name, stand_in in self._stand_ins.items() if name in names]

    def __contains__(self, item: object) -> bool:
        backend = get_active()
        if backend is None:
            return self._natives.get(item, item) in self._native
        name = getattr(item, "__name__", None)
        return (
            name in self._emulated_names(backend)
            and (self._stand_ins.get(name) is item or getattr(backend, name, None) == item)
        )

    def __iter__(self) -> Iterator[Any]:
        return iter(self._members())

    def __len__(self) -> int:
        return len(self._members())

    def __repr__(self) -> str:
        return "{" + ", ".join(sorted(repr(item) for item in self._members())) + "}"


class SwitchedEnviron(MutableMapping[Any, Any]):
    """``os.environ`` (or ``environb``): the real mapping natively, the backend's otherwise."""

    def __init__(self, native: MutableMapping[Any, Any], attribute: str) -> None:
        self._native = native
        self._attribute = attribute

    def target(self) -> MutableMapping[Any, Any]:
        """The mapping that serves the caller now."""
        backend = get_active()
        if backend is None or (harness.PREFIXES and harness.called_by_harness(sys._getframe(1))):
            return self._native
        mapping: MutableMapping[Any, Any] = getattr(backend, self._attribute)
        return mapping

    def __getitem__(self, key: Any) -> Any:
        return self.target()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.target()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self.target()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.target())

    def __len__(self) -> int:
        return len(self.target())

    def __contains__(self, key: object) -> bool:
        return key in self.target()

    def get(self, key: Any, default: Any = None) -> Any:
        return self.target().get(key, default)

    def copy(self) -> dict[Any, Any]:
        return dict(self.target())

    def __or__(self, other: Any) -> Any:
        if not isinstance(other, Mapping):
            return NotImplemented
        return {**self.target(), **other}

    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, Mapping):
            return NotImplemented
        return {**other, **self.target()}

    def __ior__(self, other: Any) -> SwitchedEnviron:
        self.target().update(other)
        return self

    def __repr__(self) -> str:
        return repr(self.target())


class _SwitchedFileIO(abc.ABCMeta):  # ABCMeta, since typeshed gives io classes that one
    """The metaclass of the io.FileIO stand-in: construction and isinstance switch."""

    stand_in: type | None = None

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        backend = get_active()
        if cls is _SwitchedFileIO.stand_in:
            if backend is None:
                return _io.FileIO(*args, **kwargs)
            return backend.FileIO(*args, **kwargs)
        if backend is not None:
            FILEIO_SUBCLASS.hit(cls=cls.__qualname__)
            raise NotImplementedError(
                f"{cls.__qualname__}, a subclass of io.FileIO, cannot open files on the emulated "
                "('java') POSIX backend"
            )
        return super().__call__(*args, **kwargs)

    def __instancecheck__(cls, instance: object) -> bool:
        if cls is _SwitchedFileIO.stand_in:
            return isinstance(instance, (_io.FileIO, RawFile))
        return super().__instancecheck__(instance)

    def __subclasscheck__(cls, subclass: type) -> bool:
        if cls is _SwitchedFileIO.stand_in:
            return issubclass(subclass, (_io.FileIO, RawFile))
        return super().__subclasscheck__(subclass)


class FileIO(_io.FileIO, metaclass=_SwitchedFileIO):
    """io.FileIO on whichever backend serves the caller (a real FileIO natively)."""

    __doc__ = _io.FileIO.__doc__
    __slots__ = ()


FileIO.__module__ = "_io"
_SwitchedFileIO.stand_in = FileIO


class _SwitchedDirEntry(type):
    """The metaclass of the os.DirEntry stand-in: both backends' entries are instances."""

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, (posix.DirEntry, *DIRENTRY_TYPES))

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, (posix.DirEntry, *DIRENTRY_TYPES))

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("cannot create 'posix.DirEntry' instances")


class DirEntry(metaclass=_SwitchedDirEntry):
    """os.DirEntry: what os.scandir yields on either backend (never constructed directly)."""

    __doc__ = posix.DirEntry.__doc__
    __class_getitem__: Any = classmethod(types.GenericAlias)


DirEntry.__module__ = "posix"


pass_throughs(StandIn.__call__, CodeOpen.__call__, _SwitchedFileIO.__call__)
entry_points(
    StandIn, SwitchedSupports, SwitchedEnviron, _SwitchedFileIO, FileIO, _SwitchedDirEntry,
    DirEntry, RawFile, EmulatedDirEntry, ScandirIterator, EmulatedPoll, EmulatedEpoll,
)  # fmt: skip
