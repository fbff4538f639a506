"""EmulatedBackend: the "java" POSIX backend, assembled from its function groups."""

from __future__ import annotations

import functools
import os
import posix
import weakref
from collections.abc import Callable
from typing import IO, Any, Final

from posixbackend.emulated import accelerator
from posixbackend.emulated._directories import DirectoryFunctions
from posixbackend.emulated._eventfd import EventfdFunctions
from posixbackend.emulated._locks import LockFunctions
from posixbackend.emulated._memfd import MemfdFunctions
from posixbackend.emulated._pipecalls import PipeFunctions
from posixbackend.emulated._processattributes import ProcessAttributeFunctions
from posixbackend.emulated._processcalls import ProcessFunctions
from posixbackend.emulated._spawning import SpawnFunctions
from posixbackend.emulated._xattrs import NO_XATTRS, XattrFunctions
from posixbackend.emulated.direntry import DirEntry, StatFunction
from posixbackend.emulated.environ import BackendEnviron, bytes_environ, str_environ
from posixbackend.emulated.fcntlcalls import FcntlFunctions
from posixbackend.emulated.fileio import BoundRawFile, RawFile, bind, make_open
from posixbackend.emulated.files import FileFunctions
from posixbackend.emulated.mapping import MappingFunctions
from posixbackend.emulated.paths import PathFunctions
from posixbackend.emulated.polling import PollingFunctions
from posixbackend.emulated.transfers import TransferFunctions
from posixbackend.emulated.vectored import VectoredFunctions

SUPPORTS_FD = ("chdir", "chmod", "chown", "listdir", "pathconf", "scandir", "stat", "statvfs",
               "truncate", "utime")  # fmt: skip
SUPPORTS_DIR_FD = ("access", "chmod", "chown", "link", "mkdir", "mkfifo", "mknod", "open",
                   "readlink", "rename", "rmdir", "stat", "symlink", "unlink", "utime")  # fmt: skip
SUPPORTS_FOLLOW_SYMLINKS = ("access", "chown", "link", "stat", "utime")


_ACCELERATED_BASES = (FileFunctions, FcntlFunctions, PathFunctions)
"""The classes that define the accelerated calls."""

_KEEPS_OWN_CALLS: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()
"""Backend classes -> whether they keep the library's read, lseek, open, close, stat and
lstat (asked once per class: every block builds a backend)."""


class _FirstUse:
    """Calls whose C versions one maker gives together (accelerator.fast_names: unlink,
    remove, rename, replace; accelerator.fast_copies: sendfile, chmod, utime), made at the
    first lookup of one of them on an accelerated backend, whose fast paths wait in its dict
    under ``pending`` until then: most blocks never remove, rename or copy a file, and making
    them with every backend cost ~25k instructions a build (a C object, its bound methods, a
    cycle with the backend)."""

    def __init__(
        self,
        pending: str,
        definitions: dict[str, Callable[..., Any]],
        make: Callable[[Any, dict[str, Callable[..., Any]]], dict[str, Callable[..., Any]]],
    ) -> None:
        self.pending = pending
        self.definitions = definitions
        """The library's own definitions (a class redefining one keeps all in Python)."""
        self.functions = tuple(definitions.items())
        """The Python methods the C ones fall back to, by name."""
        self.make = make
        self._kept: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()

    def keeps(self, cls: type) -> bool:
        """Whether ``cls`` keeps the library's definitions of all of them (asked once per
        class: every block builds a backend)."""
        kept = self._kept.get(cls)
        if kept is None:
            kept = self._kept[cls] = all(
                getattr(cls, name) is function for name, function in self.definitions.items()
            )
        return kept


class _OnFirstUse:
    """One call of a :class:`_FirstUse` group as EmulatedBackend's attribute: on an
    accelerated backend the group's C versions, made the first time one of them is looked up
    and kept in the instance's dict from then on; else the Python method (kept there too)."""

    def __init__(self, group: _FirstUse, name: str) -> None:
        self.group = group
        self.name = name
        self.function = group.definitions[name]
        self.__doc__ = self.function.__doc__

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:  # the class's attribute is the Python function, as before
            return self.function
        own = vars(instance)
        fast = own.pop(self.group.pending, None)  # (one thread makes them; a racing one gets
        if fast is None:  # the Python method, correct and slower until the next lookup)
            bound = own[self.name] = self.function.__get__(instance, owner)
            return bound
        python = {name: function.__get__(instance) for name, function in self.group.functions}
        made = self.group.make(fast, python)
        own.update(made)
        return made[self.name]


_NAMES: Final = _FirstUse(
    "_fast_names_pending",
    {name: vars(PathFunctions)[name] for name in accelerator.NAME_CALLS},
    accelerator.fast_names,
)
_COPIES: Final = _FirstUse(
    "_fast_copies_pending",
    {
        "sendfile": vars(TransferFunctions)["sendfile"],
        "chmod": vars(PathFunctions)["chmod"],
        "utime": vars(PathFunctions)["utime"],
    },
    accelerator.fast_copies,
)



def _fast_copy_stats(
    fast: dict[str, Callable[..., Any]], python: dict[str, Callable[..., Any]]
) -> dict[str, Callable[..., Any]]:
    """accelerator.fast_copy_stats, recording the refusals as XattrFunctions does."""
    return accelerator.fast_copy_stats(fast, python, NO_XATTRS.hit)


_STATS: Final = _FirstUse(
    "_fast_stats_pending",
    {name: vars(cls)[name] for name, cls in (("fstat", FileFunctions),
                                             ("listxattr", XattrFunctions))},
    _fast_copy_stats,
)  # fmt: skip

_ENTRY_STAT: Final = vars(DirectoryFunctions)["_entry_stat"]
"""The library's StatFunction of a backend's scans of paths (a class redefining it keeps it)."""


def _keeps_own_calls(cls: type) -> bool:
    """Whether ``cls`` serves the accelerated calls with the library's own definitions (a
    subclass redefining one keeps the Python code in charge)."""
    for name in accelerator.ACCELERATED_CALLS:
        own = {vars(base)[name] for base in _ACCELERATED_BASES if name in vars(base)}
        if getattr(cls, name) not in own:
            return False
    return True


class EmulatedBackend(
    # Every group is named, a subclass before the group it builds on (LockFunctions on
    # FcntlFunctions, XattrFunctions on PathFunctions, SpawnFunctions on ProcessFunctions):
    # the method resolution order is the one these bases give, group by group.
    LockFunctions, FcntlFunctions, FileFunctions, VectoredFunctions, TransferFunctions,
    XattrFunctions, PathFunctions, DirectoryFunctions, PipeFunctions, EventfdFunctions,
    MemfdFunctions, SpawnFunctions, ProcessFunctions, ProcessAttributeFunctions,
    PollingFunctions, MappingFunctions,
):  # fmt: skip
    """An emulated POSIX process over a file system provider (GraalPy's "java" backend).

    Its methods have the names, signatures and errors of the ``os`` functions they stand for;
    ``supports_fd``, ``supports_dir_fd``, ``supports_follow_symlinks`` and
    ``supports_effective_ids`` say which of them accept what, as the ``os`` sets do.

    ``file_system`` defaults to a new MemoryFileSystem; ``cwd`` must be an existing directory
    of it; ``umask`` starts at 0o022 whatever the process's is; file times are truncated to
    ``time_resolution_ns`` (a second, as GraalPy's Java backend guarantees); ``identity``
    defaults to the provider's (or this process's); ``environ`` to a copy of the process's.
    ``accelerated`` chooses the C fast paths of read, lseek, open, close, stat and lstat
    (accelerator.py): None uses them when they are built, True insists, False keeps to the
    Python code.
    """

    name = "java"
    O_RDONLY = os.O_RDONLY
    O_WRONLY = os.O_WRONLY
    O_RDWR = os.O_RDWR
    O_CREAT = os.O_CREAT
    O_EXCL = os.O_EXCL
    O_TRUNC = os.O_TRUNC
    O_APPEND = os.O_APPEND
    O_CLOEXEC = os.O_CLOEXEC
    """(The rest of os's constants are copied onto the class below.)"""
    error = OSError
    stat_result = posix.stat_result
    statvfs_result = posix.statvfs_result
    times_result = posix.times_result
    uname_result = posix.uname_result
    terminal_size = posix.terminal_size
    DirEntry = DirEntry
    unlink = _OnFirstUse(_NAMES, "unlink")
    remove = _OnFirstUse(_NAMES, "remove")
    rename = _OnFirstUse(_NAMES, "rename")
    replace = _OnFirstUse(_NAMES, "replace")
    sendfile = _OnFirstUse(_COPIES, "sendfile")
    chmod = _OnFirstUse(_COPIES, "chmod")
    utime = _OnFirstUse(_COPIES, "utime")
    fstat = _OnFirstUse(_STATS, "fstat")
    listxattr = _OnFirstUse(_STATS, "listxattr")

    @functools.cached_property
    def _entry_stat(self) -> StatFunction:
        """The StatFunction of this backend's scans of paths (one per backend): in C for plain
        absolute paths on an accelerated backend's memory file system (shutil.copytree's
        entries), else the library's."""
        python: StatFunction = _ENTRY_STAT.func(self)
        if not self._accelerated:
            return python
        return accelerator.fast_entry_stat(vars(self)["stat"], python, self._fs)

    def _accelerate(self, accelerated: bool | None) -> bool:
        """Serve read, lseek, open, close, stat and lstat from the C fast paths, unless a subclass
        redefines one of them (its definition must stay in charge); whether they serve."""
        cls = type(self)
        names = accelerator.ACCELERATED_CALLS
        keeps = _KEEPS_OWN_CALLS.get(cls)
        if keeps is None:
            keeps = _KEEPS_OWN_CALLS[cls] = _keeps_own_calls(cls)
        if not keeps:
            if accelerated:
                raise ValueError(f"{cls.__name__} redefines one of {names}: accelerated=True")
            return False
        python = {name: getattr(cls, name).__get__(self, cls) for name in names}
        fast = accelerator.fast_paths(self._table, self._fs, python, self._view, self._resolution)
        vars(self).update(fast)
        if cls.mkdir is PathFunctions.mkdir:  # (a subclass's own mkdir stays in charge)
            vars(self)["mkdir"] = accelerator.fast_mkdir(fast, PathFunctions.mkdir.__get__(self))
        for group in (_NAMES, _COPIES, _STATS):  # made at their first use (_OnFirstUse)
            if group.keeps(cls):  # (another provider: the C ones hand all to Python)
                vars(self)[group.pending] = fast
        if accelerator.C_DIRENTRY is not None:  # the class its scandir's entries then have
            vars(self)["DirEntry"] = accelerator.C_DIRENTRY
        return True

    @functools.cached_property
    def io_open(self) -> Callable[..., IO[Any]]:
        """``open()`` on this backend: io.open's behaviour over its descriptors."""
        make_raw = accelerator.raw_file_maker(self.FileIO)
        # (a usual binary mode's call in C when the raw files are: shutil's copies)
        return accelerator.fast_open(make_open(self, make_raw), make_raw)

    def open_code(self, path: str) -> IO[bytes]:
        """io.open_code: ``path`` (a str) opened for reading bytes, on this backend."""
        if not isinstance(path, str):
            raise TypeError(f"open_code() argument 'path' must be str, not {type(path).__name__}")
        binary: IO[bytes] = self.io_open(path, "rb")
        return binary

    @functools.cached_property
    def os_environ(self) -> BackendEnviron[str]:
        """``os.environ`` on this backend: str keys and values over :attr:`environ`."""
        return str_environ(self)

    @functools.cached_property
    def os_environb(self) -> BackendEnviron[bytes]:
        """``os.environb`` on this backend."""
        return bytes_environ(self)

    @functools.cached_property
    def FileIO(self) -> type[RawFile]:
        """io.FileIO's look-alike bound to this backend: ``backend.FileIO(name, mode)`` (with
        the accelerator's C methods when this backend is accelerated)."""
        fast = accelerator.FAST_BOUND_RAW_FILE if self._accelerated else None
        return bind(fast or BoundRawFile, self)

    @property
    def supports_fd(self) -> set[Callable[..., Any]]:
        """The functions that accept an open descriptor as their path."""
        return {getattr(self, name) for name in SUPPORTS_FD}

    @property
    def supports_dir_fd(self) -> set[Callable[..., Any]]:
        """The functions that accept ``dir_fd``."""
        return {getattr(self, name) for name in SUPPORTS_DIR_FD}

    @property
    def supports_follow_symlinks(self) -> set[Callable[..., Any]]:
        """The functions that accept ``follow_symlinks=False``."""
        return {getattr(self, name) for name in SUPPORTS_FOLLOW_SYMLINKS}

    @property
    def supports_effective_ids(self) -> set[Callable[..., Any]]:
        """None: os.access(effective_ids=True) is a gap of the emulated backend."""
        return set()

    def __repr__(self) -> str:
        return f"<EmulatedBackend fs={self._fs!r} cwd={self._cwd!r}>"


def _copy_constants() -> None:
    """Give the backend class every constant of the os module (O_*, SEEK_*, F_OK...)."""
    for constant in dir(os):
        value = getattr(os, constant)
        if constant.isupper() and isinstance(value, int) and not hasattr(EmulatedBackend, constant):
            setattr(EmulatedBackend, constant, value)


_copy_constants()
