"""The optional C accelerator of the hottest descriptor calls (read, lseek, open and close),
of os.stat, and of ``open()``'s raw file on them.

``posixbackend/_speedups.c`` is built with the package when a C compiler is there. It serves
the common case of each call (a memory file read at its offset, a SEEK_SET, an open of a file
whose path resolved before, a close) and hands everything else to the Python methods, which
stay the definition of the behaviour. Without it, or with ``POSIXBACKEND_PURE_PYTHON=1`` in the
environment, or ``EmulatedBackend(accelerated=False)``, the Python methods serve alone.
It also gives the SQLite VFS a memory handle's pwrite in C (:func:`pwrite_of`), and an
accelerated backend's ``io.FileIO`` its methods in C (:data:`FAST_BOUND_RAW_FILE`):
``RawFile``'s common cases on a memory file, its Python methods for the rest. An accelerated
backend's scandir hands out the C ``DirEntry`` and iterator of ``posixbackend/_direntry.c``
(:func:`scandir_class`, :data:`SCAN_NODES`), built alongside: direntry.py's behaviour
without a Python frame per entry.

Both C modules read slots of the classes below by offset; the classes declare those slots in
``__accelerated_slots__`` and a C module that disagrees with them is left out, the Python code
serving in its place (accelerator_contract.py).
"""

from __future__ import annotations

import functools
import io
import os
import posix
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import IO, Any, Final

import compat
from posixbackend.emulated import accelerator_contract, fileio
from posixbackend.emulated.descriptions import Description, FileDescription
from posixbackend.emulated.direntry import DirEntry, ScandirIterator, StatFunction
from posixbackend.emulated.fdtable import FdTable
from posixbackend.emulated.fileio import BoundRawFile, RawFile
from posixbackend.permissions.entrypoints import PASS_THROUGHS
from vfs.identity import Identity
from vfs.memory.filesystem import _FAST_STATE, _SLOW_OPEN_FLAGS, MAX_FILE_SIZE, MemoryFileSystem
from vfs.memory.handle import OPEN, READ, TOUCH, WRITE, MemoryHandle
from vfs.memory.nodes import BLOCK_SIZE, NO_HANDLES, Directory, Inode, RegularFile
from vfs.memory.resolver import Resolver
from vfs.memory.space import Space
from vfs.openflags import O_TMPFILE_BIT
from vfs.provider import Handle

ENVIRONMENT_SWITCH = "POSIXBACKEND_PURE_PYTHON"
_SWITCH_KEY = ENVIRONMENT_SWITCH.encode()
"""Set to anything but "" or "0" to leave the accelerator out of every new backend."""
ACCELERATED_CALLS = ("read", "lseek", "open", "close", "stat", "lstat")
CONTRACT_GAP = accelerator_contract.CONTRACT_BROKEN.id


SPEEDUPS_CLASSES: Final[Mapping[str, type]] = {
    "description": Description,
    "file_description": FileDescription,
    "fd_table": FdTable,
    "memory_handle": MemoryHandle,
    "inode": Inode,
    "regular_file": RegularFile,
    "directory": Directory,
    "resolver": Resolver,
    "identity": Identity,
    "space": Space,
    "raw_file": RawFile,
}
"""The classes ``_speedups`` reads, by role (the keyword its configure functions take)."""
DIRENTRY_CLASSES: Final[Mapping[str, type]] = {"inode": Inode}
"""The classes ``_direntry`` reads, by role."""


def _configured(
    module: ModuleType, classes: Mapping[str, type], configure: Callable[[], None]
) -> str:
    """Configure ``module`` when it keeps its contract with ``classes``: "" when done, else
    why it is left out (each breach logged, see accelerator_contract.py)."""
    if not accelerator_contract.check(module, classes):
        return f"{module.__name__} does not match the classes it reads ({CONTRACT_GAP})"
    try:
        configure()
    except (AttributeError, TypeError) as error:
        # what configure checks beyond the declared names: the kind of each slot, the
        # methods and properties it takes by name (RawFile's _finish_open, closed...)
        breach = accelerator_contract.Breach(
            module.__name__, module.__name__, "configure", str(error)
        )
        accelerator_contract.report([breach])
        return f"{module.__name__} does not match the classes it reads ({error})"
    return ""


def _configure_speedups(speedups: ModuleType) -> None:
    """Give ``_speedups`` its classes and the constants of the code its fast paths stand for."""
    classes = SPEEDUPS_CLASSES
    speedups.configure(
        **{role: cls for role, cls in classes.items() if role != "raw_file"},
        fast_state=tuple(_FAST_STATE[mode] for mode in range(4)),
        no_handles=NO_HANDLES,
        open_state=OPEN,
        reader_state=READ | TOUCH,
        # the flags the memory fs checks only on its general path (an O_CREAT that creates
        # and an O_TRUNC of an unusual file go there too: fast_open tells them apart)
        slow_flags=_SLOW_OPEN_FLAGS | O_TMPFILE_BIT,
        writer_state=WRITE,
        max_file_size=MAX_FILE_SIZE,
    )
    speedups.configure_mkdir(
        inode=classes["inode"], directory=classes["directory"], space=classes["space"]
    )
    speedups.configure_raw_file(
        raw_file=classes["raw_file"],
        iobase_close=io.RawIOBase.close,  # what RawFile.close's super().close() reaches
        block_size=BLOCK_SIZE,  # a memory file's st_blksize
        # RawFile._take_mode's flags for 'r', 'w', 'a' and 'x'; '+' makes them O_RDWR
        mode_flags=(
            os.O_RDONLY | os.O_CLOEXEC,
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
            os.O_WRONLY | os.O_EXCL | os.O_CREAT | os.O_CLOEXEC,
        ),
        plus_flag=os.O_RDWR,
    )


def _load() -> tuple[ModuleType | None, str]:
    """The configured C module, or None and why it is missing."""
    try:
        from posixbackend import _speedups
    except ImportError as error:
        return None, f"posixbackend._speedups is not built ({error})"
    why = _configured(_speedups, SPEEDUPS_CLASSES, lambda: _configure_speedups(_speedups))
    return (None, why) if why else (_speedups, "")


def _load_direntry() -> ModuleType | None:
    """The configured C DirEntry module, or None when it is not built or does not match."""
    try:
        from posixbackend import _direntry
    except ImportError:
        return None
    why = _configured(_direntry, DIRENTRY_CLASSES, lambda: _direntry.configure(Inode))
    return None if why else _direntry


_speedups, MISSING = _load()
_direntry = _load_direntry()
AVAILABLE = _speedups is not None
"""Whether the C accelerator is built (and so used by default)."""


def _fast_bound_raw_file() -> type[BoundRawFile] | None:
    """BoundRawFile with the C methods of ``_speedups.RawFileBase`` first: the common cases of
    a memory file behind an accelerated backend done there, RawFile's Python methods for the
    rest, and ``_python_init`` (BoundRawFile's) for the constructions the C ``__init__`` leaves."""
    if _speedups is None:
        return None
    metaclass: Any = type(BoundRawFile)  # ABCMeta, as io.RawIOBase's
    namespace = {
        "__doc__": BoundRawFile.__doc__,
        "__module__": __name__,
        "__slots__": (),
        "_python_init": BoundRawFile.__init__,
    }
    cls: type[BoundRawFile] = metaclass(
        "FastBoundRawFile", (_speedups.RawFileBase, BoundRawFile), namespace
    )
    return cls


def raw_file_maker(file_io: type[RawFile]) -> Callable[..., RawFile]:
    """What makes ``file_io``'s objects for ``open()``: the class itself, or for a class with
    the C methods (see :data:`FAST_BOUND_RAW_FILE`) the C ``new_raw_file`` bound to it, which
    makes the new object's closed state without RawFile.__new__'s Python frame."""
    if _speedups is None or not issubclass(file_io, _speedups.RawFileBase):
        return file_io
    maker: Callable[..., RawFile] = functools.partial(_speedups.new_raw_file, file_io)
    return maker


def fast_open(
    python: Callable[..., IO[Any]], make_raw: Callable[..., RawFile]
) -> Callable[..., IO[Any]]:
    """``open()`` with a usual binary mode's call on a str path or a backend's DirEntry in C
    (``make_raw`` makes the raw file, as make_open's fast path does) when ``make_raw`` is the C
    maker of :func:`raw_file_maker`; every other call (and every call from a stand-in's
    pass-through frame), or without it all, ``python`` (make_open's open)."""
    if _speedups is None or not (
        type(make_raw) is functools.partial and make_raw.func is _speedups.new_raw_file
    ):
        return python
    entry_types = (DirEntry,) if _direntry is None else (DirEntry, _direntry.DirEntry)
    # (called from a pass-through -- the Python stand-in -- it hands the call to ``python``,
    # whose frame makes the raw file's audit event count as the library's)
    opened: Callable[..., IO[Any]] = _speedups.FastOpen(
        python, make_raw, fileio.COMMON_MODES, entry_types, PASS_THROUGHS
    ).open
    return opened


TRUNCATED_STAT: Callable[[os.stat_result, int], os.stat_result | None] | None = (
    None if _speedups is None else _speedups.truncated_stat
)
"""``truncated_stat(result, resolution)``: the C copy of a stat result with its times truncated
(BackendCore._view's), None for times it leaves to Python; None when not built."""

FAST_BOUND_RAW_FILE = _fast_bound_raw_file()
"""The base of an accelerated backend's FileIO (None without the accelerator)."""


def wanted(accelerated: bool | None) -> bool:
    """Whether a new backend gets the C fast paths: ``accelerated`` if given, else whenever
    they are built and the environment does not turn them off."""
    if accelerated is None:
        # posix.environ is os.environ's own store (a bytes-keyed lookup converts nothing)
        return AVAILABLE and posix.environ.get(_SWITCH_KEY, b"") in (b"", b"0")
    if accelerated and not AVAILABLE:
        raise RuntimeError(f"accelerated=True, but {MISSING}")
    return accelerated


def fast_paths(
    table: FdTable,
    file_system: object,
    python: dict[str, Callable[..., Any]],
    view: Callable[[os.stat_result], os.stat_result],
    resolution: int,
) -> dict[str, Callable[..., Any]]:
    """C versions of the calls in ``python`` (bound Python methods, used for every case off
    the fast paths) over ``table``; opens and stats are fast only on a MemoryFileSystem
    (``view``: the backend's stat result at its time ``resolution``, in ns)."""
    assert _speedups is not None
    memory = file_system if type(file_system) is MemoryFileSystem else None
    fast = _speedups.FastPaths(table, memory, view=view, resolution=resolution, **python)
    return {name: getattr(fast, name) for name in ACCELERATED_CALLS}


def configure_stat_view(hit: Callable[[], None]) -> None:
    """Let the C stat make a record's copy at a backend's time resolution itself (no call of
    BackendCore._view), calling ``hit`` where the copy's times differ, as _view does."""
    if _speedups is not None:
        _speedups.configure_stat_view(hit)


def fast_mkdir(
    fast: dict[str, Callable[..., Any]], mkdir: Callable[..., None]
) -> Callable[..., None]:
    """The C os.mkdir over the fast paths ``fast`` (what :func:`fast_paths` gave): a plain
    absolute path on their MemoryFileSystem made there, every other case by ``mkdir`` (the
    backend's bound Python method)."""
    assert _speedups is not None
    paths: Any = fast["stat"]  # a bound method of the FastPaths object
    made: Callable[..., None] = _speedups.FastMkdir(paths.__self__, mkdir).mkdir
    return made


NAME_CALLS = ("unlink", "remove", "rename", "replace")
"""The calls :func:`fast_names` gives in C."""


def fast_names(
    fast: dict[str, Callable[..., Any]], python: dict[str, Callable[..., None]]
) -> dict[str, Callable[..., None]]:
    """The C os.unlink, os.remove, os.rename and os.replace over the fast paths ``fast`` (what
    :func:`fast_paths` gave): a regular file's plain absolute names on their MemoryFileSystem
    changed there, every other case by the backend's bound Python method of that name in
    ``python``."""
    assert _speedups is not None
    paths: Any = fast["stat"]  # a bound method of the FastPaths object
    names = _speedups.FastNames(paths.__self__, **python)
    return {name: getattr(names, name) for name in NAME_CALLS}


COPY_CALLS = ("sendfile", "chmod", "utime")
"""The calls :func:`fast_copies` gives in C (shutil's copies)."""


def fast_copies(
    fast: dict[str, Callable[..., Any]], python: dict[str, Callable[..., Any]]
) -> dict[str, Callable[..., Any]]:
    """The C os.sendfile, os.chmod and os.utime over the fast paths ``fast`` (what
    :func:`fast_paths` gave): one memory file to another of their MemoryFileSystem copied,
    and a plain absolute path's mode and ns times set, there; every other case by the
    backend's bound Python method of that name in ``python``."""
    assert _speedups is not None
    paths: Any = fast["stat"]  # a bound method of the FastPaths object
    copies = _speedups.FastCopies(paths.__self__, **python)
    return {name: getattr(copies, name) for name in COPY_CALLS}


STAT_CALLS = ("fstat", "listxattr")
"""The calls :func:`fast_copy_stats` gives in C (shutil's copies)."""


def fast_copy_stats(
    fast: dict[str, Callable[..., Any]],
    python: dict[str, Callable[..., Any]],
    hit: Callable[..., None],
) -> dict[str, Callable[..., Any]]:
    """The C os.fstat and os.listxattr over the fast paths ``fast`` (what :func:`fast_paths`
    gave): an open memory file's status, and the refusal of a plain absolute path's (or a C
    DirEntry's) extended attributes with ``hit(path=...)`` recording the gap, there; every
    other case by the backend's bound Python method of that name in ``python``."""
    assert _speedups is not None
    paths: Any = fast["stat"]  # a bound method of the FastPaths object
    # (either DirEntry class's __fspath__ is the library's: it runs none of the caller's code)
    entry_type = DirEntry if _direntry is None else _direntry.DirEntry
    stats = _speedups.FastCopyStats(paths.__self__, **python, hit=hit, entry_type=entry_type)
    return {name: getattr(stats, name) for name in STAT_CALLS}


def fast_entry_stat(
    stat: Callable[..., Any], python: StatFunction, file_system: object
) -> StatFunction:
    """The StatFunction of a backend's scans of paths in C when ``stat`` is its C os.stat (a
    FastPaths method) on a MemoryFileSystem ``file_system``: a plain absolute path's file or
    directory answered as ``stat`` answers it, every other case by ``python`` (the backend's
    own StatFunction); else ``python`` itself."""
    owner = getattr(stat, "__self__", None)
    if (
        _speedups is None
        or type(owner) is not _speedups.FastPaths
        or type(file_system) is not MemoryFileSystem
    ):
        return python
    fast: StatFunction = _speedups.FastEntryStat(owner, python).stat
    return fast


def pwrite_of(handle: Handle) -> Callable[[bytes, int], int]:
    """``handle.pwrite``, in C for its common case when the handle is a memory file system's
    and the accelerator is wanted (see :func:`wanted`); the handle's own method otherwise."""
    if wanted(None) and type(handle) is MemoryHandle and type(handle._fs) is MemoryFileSystem:
        assert _speedups is not None
        writer: Callable[[bytes, int], int] = _speedups.MemoryWriter(handle)
        return writer
    return handle.pwrite


def scandir_class(accelerated: bool) -> Callable[..., Iterator[Any]]:
    """The class of an emulated scandir's iterator: the C one when ``accelerated`` and built,
    direntry.ScandirIterator otherwise (same behaviour, same arguments)."""
    if accelerated and _direntry is not None:
        c_class: Callable[..., Iterator[Any]] = _direntry.ScandirIterator
        return c_class
    return ScandirIterator


UNCOLLECTED_ENTRY_CYCLE = compat.declare(
    id="os.DirEntry.uncollected_cycle",
    function="os.scandir",
    aspect="an accelerated entry kept in a reference cycle through its backend",
    level=compat.Level.FINEST,
    explanation="the C DirEntry joins the cycle collector only once it caches a stat result "
    "(as CPython's, it stays out otherwise, so a million kept entries cost the collector "
    "nothing); an entry that never stat'ed and was stored on an object its backend reaches "
    "(the backend or its file system) forms a cycle that is freed only when broken",
)

SCAN_NODES: Callable[[str | bytes | int, list[str], list[Inode], StatFunction], Iterator[Any]]
SCAN_NODES = None if _direntry is None else _direntry.scan_nodes  # type: ignore[assignment]
"""``scan_nodes(directory, names, nodes, stat)``: the C iterator over a memory directory's
listing (MemoryFileSystem.listing_at, MemoryHandle.listing); None when not built."""

C_DIRENTRY: type | None = None if _direntry is None else _direntry.DirEntry
"""The class of an accelerated backend's scandir entries (None when not built)."""

DIRENTRY_TYPES: tuple[type, ...] = (
    (DirEntry,) if _direntry is None else (DirEntry, _direntry.DirEntry)
)
"""Every class an emulated scandir's entries can have (``isinstance(entry, os.DirEntry)``)."""
