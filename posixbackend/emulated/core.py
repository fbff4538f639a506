"""The state every part of the emulated backend shares, and the steps they all take.

The backend is a process of its own as far as its callers can tell: a file descriptor table, a
current directory, a umask (0o022 at start, whatever the host says), a time resolution, an
identity and an environment. The current directory, like every open directory, is the
provider's reference to the directory itself, not a path: a relative path or a ``dir_fd`` call
goes to the provider's at-form with that reference, so renaming the directory (or swapping a
link into the path it was reached by) changes nothing for it, and ``getcwd`` asks the provider
where it is now. Errors coming back are renamed to the path the caller gave.
"""

from __future__ import annotations

import errno
import os
import posix
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Self, TypeVar, cast

import compat
from posixbackend.emulated import accelerator
from posixbackend.emulated._children import ChildTable
from posixbackend.emulated.accelerator import TRUNCATED_STAT
from posixbackend.emulated.args import PathArg
from posixbackend.emulated.descriptions import Description, HostDescription
from posixbackend.emulated.fdtable import FdTable
from posixbackend.emulated.processhandlers import ProcessHandler
from vfs import FileSystem, Identity, MemoryFileSystem
from vfs.errors import os_error

DEFAULT_UMASK = 0o022
SECOND_NS = 1_000_000_000

CWD_DISCONNECTED = compat.declare(
    id="emulated.cwd.disconnected",
    function="os.chdir",
    aspect="process cwd",
    level=compat.Level.FINE,
    explanation="the current directory is the backend's own; the process's working "
    "directory does not move",
)
UMASK_STARTS_AT_0022 = compat.declare(
    id="emulated.umask.initial",
    function="os.umask",
    aspect="initial value",
    level=compat.Level.FINE,
    explanation="the umask starts at 0o022 whatever the process's umask is, and setting it "
    "does not change the process's",
)
TIMES_TRUNCATED = compat.declare(
    id="emulated.times.resolution",
    function="os.stat",
    aspect="time resolution",
    level=compat.Level.FINER,
    explanation="file times are truncated to the backend's time resolution (one second by "
    "default, like GraalPy's Java backend)",
)
accelerator.configure_stat_view(TIMES_TRUNCATED.hit)  # the C stat's copies note it too
VIRTUAL_FDS = compat.declare(
    id="emulated.fds.virtual",
    function="os.open",
    aspect="file descriptors",
    level=compat.Level.FINE,
    explanation="descriptors are the backend's own numbers, not the process's: a C extension "
    "or a real system call given one cannot use it",
)


T = TypeVar("T")

_PENDING: Final = "_pending_build"
"""A deferred backend's instance key: its arguments (a _Pending) until it is built, then
None."""
_Pending = tuple[Any, str, int, int, "Identity | None", dict[bytes, bytes], "ProcessHandler | None"]
"""A deferred backend's arguments: file system (or its maker), cwd, umask, time resolution,
identity, environment (the copy made at once), process handler."""
_BUILDING = threading.Lock()
"""Held while a deferred backend builds itself (two threads asking at once build it once)."""


def _check_options(umask: int, time_resolution_ns: int) -> None:
    """The ValueError of an impossible umask or time resolution."""
    if not isinstance(time_resolution_ns, int) or time_resolution_ns < 1:
        raise ValueError(f"time_resolution_ns must be a positive int, not {time_resolution_ns!r}")
    if not isinstance(umask, int) or not 0 <= umask <= 0o777:
        raise ValueError(f"umask must be an int from 0 to 0o777, not {umask!r}")


def _build_at_first_use(self: BackendCore, name: str) -> Any:
    """``__getattr__`` of a deferred backend's waiting class: reached only for a name the
    instance and its class lack -- its state before it is built, or a name no backend has."""
    pending = self.__dict__.get(_PENDING)
    if pending is None:
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
    self._build(pending)
    return object.__getattribute__(self, name)


_WAITING: Final = "_waiting_class_"
"""The class attribute that holds a class's waiting class (set on the class itself: a plain
attribute look-up finds it, where the weak table it replaced cost 2k instructions a block)."""


def _waiting_class(cls: type[T]) -> type[T]:
    """The class of ``cls``'s deferred backends until they are built: ``cls`` with a
    ``__getattr__`` that builds them (a hook every attribute look-up of its instances pays
    for, so a built backend leaves it: see BackendCore._build)."""
    waiting: type[T] | None = getattr(cls, _WAITING, None)
    # a subclass finds its base's waiting class by inheritance: it needs one of its own
    if waiting is None or waiting.__base__ is not cls:
        namespace = {
            "__getattr__": _build_at_first_use, "__slots__": (), "__module__": cls.__module__,
            "__qualname__": cls.__qualname__, "__doc__": cls.__doc__,
        }  # fmt: skip
        waiting = type(cls.__name__, (cls,), namespace)
        # (the class and its waiting class refer to each other: a cycle the collector frees
        # with a class made and dropped at run time, as the weak table did)
        setattr(cls, _WAITING, waiting)
    return waiting


def environment_copy(environ: Mapping[bytes, bytes] | None) -> dict[bytes, bytes]:
    """A copy of ``environ`` (None: the process's environment, ``posix.environ``).

    A dict's own ``copy()``, not ``dict(...)``: once a variable was deleted (or the table grew
    sparse) ``dict(posix.environ)`` inserts every item again, ~25 ns each (38 variables:
    1.1 us against 0.2; 337: 9.5 us against 1.3), where ``copy()`` clones the table whenever
    at most a third of it is deleted entries. Every block pays it: one ``del os.environ[...]``
    anywhere in the process once made each block ~1 us slower."""
    source = posix.environ if environ is None else environ
    if source.__class__ is dict:
        return source.copy()
    return dict(source)


def deferred_backend(  # noqa: PLR0917 - positional: a keyword call costs ~250 ns a block
    cls: type[T],
    file_system: FileSystem | Callable[[], FileSystem],
    cwd: str,
    umask: int,
    time_resolution_ns: int,
    identity: Identity | None,
    environ: Mapping[bytes, bytes] | None,
    process_handler: ProcessHandler | None,
) -> T:
    """:meth:`BackendCore.deferred` with every argument positional: what ``with backend(...)``
    calls for each block (keyword arguments cost it ~250 ns)."""
    if (
        umask.__class__ is not int or time_resolution_ns.__class__ is not int
        or not 0 <= umask <= 0o777 or time_resolution_ns < 1
    ):  # (the usual plain ints pass without the call; the rest get its checks)
        _check_options(umask, time_resolution_ns)
    waiting: type[T] | None = getattr(cls, _WAITING, None)  # (_waiting_class's, inline)
    if waiting is None or waiting.__base__ is not cls:
        waiting = _waiting_class(cls)
    backend: Any = object.__new__(waiting)
    # A tuple of the arguments, _Pending's order. Set as an attribute, not through
    # __dict__: the instance keeps it in its inline values, no dict made until built
    backend._pending_build = (
        file_system, cwd, umask, time_resolution_ns, identity,
        environment_copy(environ), process_handler,
    )  # fmt: skip
    return backend  # type: ignore[no-any-return]  # (cast() would cost a call a block)


Views = dict[int, tuple[os.stat_result, os.stat_result]]
"""id(stat result) -> (that result, held so that its id stays its own; its truncated copy)."""

_VIEWS: dict[int, Views] = {}
"""The truncated copies made so far, by time resolution: shared by every backend, so that a
block's fresh backend finds the copies an earlier block made (a file's cached status is the
same object until it changes); each kept to VIEWS_KEPT."""

VIEWS_KEPT = 4096
RESOLUTIONS_KEPT = 16


def _views_at(resolution: int) -> Views:
    """The shared copies at ``resolution`` (one dict for each; dict calls are atomic, so the
    backends of many threads may share it)."""
    views = _VIEWS.get(resolution)
    if views is None:
        if len(_VIEWS) >= RESOLUTIONS_KEPT:
            _VIEWS.clear()  # (backends holding a dropped one keep using it alone)
        views = _VIEWS.setdefault(resolution, {})
    return views


def truncated_view(result: os.stat_result, resolution: int) -> os.stat_result:
    """A copy of ``result`` with its times truncated to ``resolution`` nanoseconds (what the
    accelerator's truncated_stat computes, and what it leaves to Python)."""
    atime = result.st_atime_ns // resolution * resolution
    mtime = result.st_mtime_ns // resolution * resolution
    ctime = result.st_ctime_ns // resolution * resolution
    return posix.stat_result(
        (
            result.st_mode, result.st_ino, result.st_dev, result.st_nlink, result.st_uid,
            result.st_gid, result.st_size,
            atime // SECOND_NS, mtime // SECOND_NS, ctime // SECOND_NS,
            atime / 1e9, mtime / 1e9, ctime / 1e9,
            atime, mtime, ctime,
            result.st_blksize, result.st_blocks, result.st_rdev,
        )
    )  # fmt: skip


class BackendCore:
    """State and shared steps; the function groups (files, paths, ...) build on it."""

    _pending_build: _Pending | None
    """A deferred backend's arguments until it is built (see :meth:`deferred`)."""

    @classmethod
    def deferred(
        cls,
        file_system: FileSystem | Callable[[], FileSystem],
        *,
        cwd: str = "/",
        umask: int = DEFAULT_UMASK,
        time_resolution_ns: int = SECOND_NS,
        identity: Identity | None = None,
        environ: Mapping[bytes, bytes] | None = None,
        process_handler: ProcessHandler | None = None,
    ) -> Self:
        """A backend that builds itself at its first use (a block whose code makes no call
        costs nothing more): its arguments are checked and the environment is copied now, the
        rest (descriptor table, standard streams, fast paths) is made when anything is first
        asked of it. ``file_system`` may be a callable that makes the provider then; ``cwd``
        is entered then too, so it must be a directory the provider is sure to have (its own
        root, or one it is made with): a missing one fails that first call."""
        return deferred_backend(
            cls, file_system, cwd, umask, time_resolution_ns, identity, environ, process_handler
        )

    def _build(self, pending: _Pending) -> None:
        """Build a deferred backend: its state is made aside and published in one step (no
        thread sees half of it, an interrupt leaves it unbuilt), then it becomes an instance
        of its real class (whose attribute look-ups have no ``__getattr__`` hook to pay
        for), and then the fast paths, which are bound to this very object, are put in
        place."""
        with _BUILDING:
            if self.__dict__.get(_PENDING) is not pending:
                return  # another thread built it meanwhile
            real = cast("type[BackendCore]", type(self).__base__)  # the waiting class's one base
            provider, cwd, umask, resolution, identity, environ, handler = pending
            if not isinstance(provider, FileSystem):  # a callable making it now
                provider = provider()
            aside = real(
                provider, cwd=cwd, umask=umask, time_resolution_ns=resolution,
                identity=identity, environ=environ, process_handler=handler, accelerated=False,
            )  # fmt: skip
            state = aside.__dict__
            state[_PENDING] = None
            self.__dict__.update(state)
            self.__class__ = real
            if accelerator.wanted(None):
                self._accelerated = self._accelerate(None)

    def __init__(
        self,
        file_system: FileSystem | None = None,
        *,
        cwd: str = "/",
        umask: int = DEFAULT_UMASK,
        time_resolution_ns: int = SECOND_NS,
        identity: Identity | None = None,
        environ: Mapping[bytes, bytes] | None = None,
        standard_streams: bool = True,
        process_handler: ProcessHandler | None = None,
        accelerated: bool | None = None,
    ) -> None:
        _check_options(umask, time_resolution_ns)
        self._fs = MemoryFileSystem() if file_system is None else file_system
        if identity is None:
            identity = getattr(self._fs, "identity", None) or Identity.current()
        self._identity: Identity = identity
        self._table = FdTable()
        self._files = self._table.files
        """The table's fd -> description map, for the hot paths' single lookup."""
        self._umask = umask
        self._resolution = time_resolution_ns
        self._truncated = _views_at(time_resolution_ns)
        self._environ: dict[bytes, bytes] = environment_copy(environ)
        self._cwd: object | None = None
        """The provider's reference to the current directory (None: the root, until a chdir)."""
        self._virtual_fds_unreported = True
        """The virtual-descriptor gap is reported once per backend, at its first descriptor."""
        self._process_handler = process_handler
        """Starts programs for subprocess, os.system and posix_spawn; None forbids them."""
        self._children = ChildTable()
        """The programs this backend started (waitpid and kill reach only these)."""
        if standard_streams:
            for fd in (0, 1, 2):
                description = HostDescription.standard(fd)
                if description is not None:
                    self._table.install_at(fd, description, cloexec=False)
        if cwd != "/":
            self._chdir_to(None, cwd, cwd, record=False)  # the program did not: no gap hit
        self._accelerated = accelerator.wanted(accelerated) and self._accelerate(accelerated)

    def _accelerate(self, accelerated: bool | None) -> bool:
        """Serve the accelerated calls from the C fast paths; whether they serve. The core
        has none of those calls: the assembled backend (backend.py) knows them."""
        if accelerated:
            raise ValueError(f"{type(self).__name__} has no accelerated calls: accelerated=True")
        return False

    def adopt_host_descriptors(self, fds: Iterable[int]) -> list[int]:
        """Let the program use real descriptors it inherited (a parent's ``pass_fds``, a
        shell's ``3>file``) under the same numbers, closed with them; the ones adopted."""
        adopted = []
        for fd in fds:
            found = None if fd in self._table.files else HostDescription.inherited(fd)
            if found is not None:
                self._table.install_at(fd, found[0], cloexec=found[1])
                adopted.append(fd)
        return adopted

    # -- properties ------------------------------------------------------------------------

    @property
    def file_system(self) -> FileSystem:
        """The provider every path of this backend goes to."""
        return self._fs

    @property
    def accelerated(self) -> bool:
        """Whether the C accelerator serves this backend's read, lseek, open, close, stat and
        lstat."""
        return self._accelerated

    @property
    def identity(self) -> Identity:
        """The user and groups this backend's process reports (getuid and friends)."""
        return self._identity

    @property
    def time_resolution_ns(self) -> int:
        """File times are truncated to a multiple of this many nanoseconds."""
        return self._resolution

    # -- shared steps ------------------------------------------------------------------------

    def _at(self, path: PathArg, dir_fd: int | None) -> tuple[object | None, str]:
        """Where a provider at-call on ``path`` starts (None for an absolute path: the root),
        and the path itself: relative to ``dir_fd``'s directory or the current directory."""
        name = path.path
        assert name is not None
        if name[:1] == "/":
            return None, name
        if not name:
            raise os_error(errno.ENOENT, path.original)
        if dir_fd is None:
            return self._cwd, name
        return self._directory_of(dir_fd, path.original), name

    def _directory_of(self, dir_fd: int, filename: object) -> object:
        """The provider's reference to the open directory ``dir_fd`` (EBADF, ENOTDIR as
        openat gives them)."""
        description = self._table.files.get(dir_fd)
        if description is None:
            raise os_error(errno.EBADF, filename)
        handle = description.handle
        directory = None if handle is None else handle.directory()
        if directory is None:
            raise os_error(errno.ENOTDIR, filename)
        return directory

    def _description(self, fd: int) -> Description:
        """The description behind ``fd``, or EBADF."""
        description = self._table.files.get(fd)
        if description is None:
            raise os_error(errno.EBADF)
        return description

    def _view(self, result: os.stat_result) -> os.stat_result:
        """A stat result with its times truncated to the backend's resolution.

        The provider may hand back the same result object while a file is unchanged, so the
        truncated copy is kept against that object (held, so its id cannot be reused).
        """
        resolution = self._resolution
        if resolution == 1:
            return result
        cached = self._truncated.get(id(result))
        if cached is not None and cached[0] is result:
            return cached[1]
        truncate = TRUNCATED_STAT if self._accelerated else None
        view = None if truncate is None else truncate(result, resolution)
        if view is None:
            view = truncated_view(result, resolution)
        if len(self._truncated) >= VIEWS_KEPT:
            self._truncated.clear()
        self._truncated[id(result)] = (result, view)
        if view.st_mtime_ns != result.st_mtime_ns or view.st_atime_ns != result.st_atime_ns:
            TIMES_TRUNCATED.hit()
        return view

    def _truncate_ns(self, ns: int) -> int:
        resolution = self._resolution
        return ns // resolution * resolution

    def _chdir_to(
        self, at: object | None, path: str, original: object, *, record: bool = True
    ) -> None:
        """Make the directory ``path`` leads to (from ``at``; empty: ``at`` itself) the
        current directory, once the identity may search it; ``record`` says whether a
        program's chdir hit the disconnected-cwd gap."""
        fs = self._fs
        try:
            directory = fs.directory(at, path)
        except OSError as error:
            raise os_error(error.errno or errno.EIO, original) from None
        previous, self._cwd = self._cwd, directory
        if previous is not None:
            fs.release(previous)
        if record:
            CWD_DISCONNECTED.hit()

    def _getcwd(self) -> str:
        """Where the current directory is now (ENOENT once it was removed, as Linux says)."""
        if self._cwd is None:
            return "/"
        return self._fs.where(self._cwd)

    def release_cwd(self) -> None:
        """Give the current directory back to the provider (the backend is done with it)."""
        previous, self._cwd = self._cwd, None
        if previous is not None:
            self._fs.release(previous)


def join(base: str, name: str) -> str:
    """``base/name`` for an absolute directory ``base`` (no doubled slash after ``/``)."""
    return (base + "/" if base != "/" else "/") + name
