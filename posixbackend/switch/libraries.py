"""C libraries that open files by path themselves: sqlite3 and the dbm modules.

Their system calls are the host's, so on the emulated backend they would miss its files and
reach the host's instead. ``sqlite3.connect`` of a database file goes through the SQLite VFS
of :mod:`posixbackend.sqlite` there, whose files are the backend's; an audit hook refuses
what still cannot (SQLite linked statically into ``_sqlite3``, a connect that bypassed the
stand-in) before SQLite opens anything. ``dbm.open`` -- and with it ``shelve`` -- makes and
opens dbm.sqlite3 databases (3.13, through that VFS) and dbm.dumb ones, which go through
``os`` and ``open`` like any Python code; dbm.gnu and dbm.ndbm are C libraries with no bridge.
"""

from __future__ import annotations

import contextlib
import dbm
import importlib
import os
import sys
import threading
from typing import Any, Final

import compat
from posixbackend.audithooks import add_hook
from posixbackend.permissions import tracesetters
from posixbackend.permissions.entrypoints import entry_points
from posixbackend.switch.active import get_active
from posixbackend.switch.guard import Guard, current_emulated
from posixbackend.switch.standins import StandIn

C_LIBRARY_FILES = compat.declare(
    id="switch.c_library_files",
    function="sqlite3.connect",
    aspect="C libraries opening files",
    level=compat.Level.WARNING,
    explanation="C libraries open files with the host's system calls, not the backend's: on "
    "the java backend a database file reaching SQLite other than through the sqlite3.connect "
    "stand-in (a connect function kept from before install) is refused, dbm.open makes and "
    "opens dbm.sqlite3 (3.13) and dbm.dumb databases only (an existing dbm.gnu or dbm.ndbm "
    "file is 'not available'), and dbm.gnu.open and dbm.ndbm.open called directly still "
    "reach the host",
)


def _emulated_serves() -> bool:
    """Whether the emulated backend (guarded or not) serves the caller."""
    if get_active() is None:  # the native backend, unguarded: the common case, first
        return False
    return current_emulated() is not None


def _routed(database: object) -> bool:
    """Whether ``database`` is a URI the connect stand-in made for the VFS."""
    from posixbackend.sqlite.vfs import NAME

    return (
        isinstance(database, str)
        and database.startswith("file:")
        and f"vfs={NAME}&" in database.partition("?")[2] + "&"
    )


def _native_access_denied() -> bool:
    """Whether restricting permissions refuse native access to the caller: the permission
    hook then refuses sockets made of descriptor numbers itself, with its own error, whichever
    of the two audit hooks runs first."""
    from posixbackend.permissions.current import get_policy

    policy = get_policy()
    return policy is not None and not policy.allow_native_access


AUDITED: Final = frozenset({"socket.__new__", "sqlite3.connect"})
"""The events :func:`_audit` reads (the C filter calls it for these alone)."""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Refuse sqlite3.connect of a database file that would reach the host's files while
    the emulated backend serves (the stand-in routes the others to the VFS first), and a
    socket made of a descriptor number (:mod:`posixbackend.switch._sockets`)."""
    if event == "socket.__new__":
        serving = get_active()
        if serving is not None and _emulated_serves() and not _native_access_denied():
            from posixbackend.switch._sockets import check_new_socket

            check_new_socket(serving, sys._getframe(1))
        return
    if event != "sqlite3.connect" or not _emulated_serves():
        return
    from posixbackend.sqlite import connect, library

    database = args[0]  # a name starting "file:" is taken as a URI (the hook sees no uri=)
    if connect.in_memory(database, uri=True) or _routed(database):
        return

    reachable = connect.registered()
    if isinstance(reachable, library.Unreachable):
        gap = library.STATIC_SQLITE
        reason = reachable.reason
    else:
        gap = C_LIBRARY_FILES
        reason = "this connect function is not the sqlite3.connect stand-in"
    gap.hit(path=repr(database))
    error = sys.modules["sqlite3"].OperationalError
    raise error(
        f"unable to open database file {database!r}: the java backend's files are out of "
        f"reach of the SQLite C library ({reason}; compat gap {gap.id})"
    )


def sqlite_connect(native: Any) -> Any:
    """The emulated side of ``sqlite3.connect``: the serving backend's files through the
    VFS (``native`` is the real connect), after the permissions' file I/O check."""
    from posixbackend.sqlite.connect import connect

    def emulated_connect(database: Any, *args: Any, **kwargs: Any) -> Any:
        backend = current_emulated()
        assert backend is not None
        active = get_active()
        opener = active.open if isinstance(active, Guard) else backend.open
        refusal = None if opener == backend.open else opener  # file I/O refused
        return connect(native, backend, refusal, database, *args, **kwargs)

    return emulated_connect


class _Hook:
    """The audit hook's one installation (PEP 578 hooks cannot be removed: it stays, and
    does nothing while the native backend serves)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.installed = False

    def install(self) -> None:
        """Install the hook, and register the SQLite VFS now, before the entering block's
        permissions apply (registering is the library's own ctypes work; a block without
        native access would refuse it)."""
        with self.lock:
            if not self.installed:
                add_hook(_audit, AUDITED)
                tracesetters.install()  # a Python hook makes 3.11's settrace refuse threads
                self.installed = True
                _register_sqlite_vfs()


def _register_sqlite_vfs() -> None:
    """Register the SQLite VFS if sqlite3 is there (an outer block refusing native access
    leaves it to the first connect, which then fails with that refusal)."""
    if "_sqlite3" not in sys.modules:
        return
    from posixbackend.sqlite import connect

    with contextlib.suppress(PermissionError):
        connect.registered()


HOOK: Final = _Hook()


def _dbm_modules() -> dict[str, Any]:
    """The dbm modules that reach the emulated backend's files, in dbm.open's order of
    preference: dbm.sqlite3 (3.13, when the SQLite VFS can be registered), dbm.dumb."""
    import dbm.dumb

    modules: dict[str, Any] = {}
    if sys.version_info >= (3, 13):
        from posixbackend.sqlite import connect, library

        if not isinstance(connect.registered(), library.Unreachable):
            modules["dbm.sqlite3"] = importlib.import_module("dbm.sqlite3")
    modules["dbm.dumb"] = dbm.dumb
    return modules


def dbm_open(file: Any, flag: str = "r", mode: int = 0o666) -> Any:
    """``dbm.open`` on the emulated backend: dbm.open's choice and errors, among the modules
    that reach the backend's files (the others are C libraries with no bridge to them)."""
    error = dbm.error[0]
    modules = _dbm_modules()
    kind = dbm.whichdb(file) if "n" not in flag else None
    if kind is None:
        if "c" not in flag and "n" not in flag:
            raise error("db file doesn't exist; use 'c' or 'n' flag to create a new db")
        module = next(iter(modules.values()))
    elif kind == "":
        raise error("db type could not be determined")
    elif kind not in modules:
        C_LIBRARY_FILES.hit(function="dbm.open", path=os.fsdecode(os.fspath(file)))
        raise error(f"db type is {kind}, but the module is not available")
    else:
        module = modules[kind]
    return module.open(file, flag, mode)


class SwitchedFunction(StandIn):
    """A stand-in whose emulated side is a function of the switch, not a backend method."""

    def __init__(self, module_name: str, name: str, native: Any, emulated: Any) -> None:
        super().__init__(module_name, name, native, name)
        self._emulated = emulated

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _emulated_serves():
            return self._emulated(*args, **kwargs)
        return self._native(*args, **kwargs)


entry_points(SwitchedFunction)


def stand_ins() -> list[tuple[Any, str, Any]]:
    """(namespace, name, stand-in) for the C libraries' entry points."""
    made: list[tuple[Any, str, Any]] = [
        (dbm, "open", SwitchedFunction("dbm", "open", dbm.open, dbm_open)),
    ]
    try:
        import sqlite3
    except ImportError:  # a Python built without _sqlite3: nothing to route
        return made
    native_connect = sqlite3.connect
    emulated_connect = sqlite_connect(native_connect)
    made.append(
        (
            sqlite3,
            "connect",
            SwitchedFunction("sqlite3", "connect", native_connect, emulated_connect),
        )
    )
    return made
