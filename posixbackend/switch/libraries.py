"""C libraries that open files by path themselves: sqlite3 and the dbm modules.

Their system calls are the host's, so on the emulated backend they would miss its files and
reach the host's instead. ``sqlite3.connect`` of a database file is refused there (an audit
hook sees it before SQLite opens anything; in-memory databases work), and ``dbm.open`` -- and
with it ``shelve`` -- makes and opens dbm.dumb databases, which go through ``os`` and ``open``
like any Python code (3.13's default, dbm.sqlite3, could not).
"""

from __future__ import annotations

import dbm
import os
import sys
import threading
from typing import Any, Final

import compat
from posixbackend.permissions.entrypoints import entry_points
from posixbackend.switch.active import get_active
from posixbackend.switch.standins import StandIn

C_LIBRARY_FILES = compat.declare(
    id="switch.c_library_files",
    function="sqlite3.connect",
    aspect="C libraries opening files",
    level=compat.Level.WARNING,
    explanation="C libraries open files with the host's system calls, not the backend's: on "
    "the java backend sqlite3.connect refuses a database file (':memory:' and '' work) and "
    "dbm.open makes and opens dbm.dumb databases only (an existing dbm.sqlite3, dbm.gnu or "
    "dbm.ndbm file is 'not available'); dbm.gnu.open and dbm.ndbm.open called directly still "
    "reach the host",
)
IN_MEMORY: Final = (":memory:", "")
"""sqlite3 databases that are no file of the program's (the empty name is a private one)."""


def _in_memory(database: object) -> bool:
    """Whether ``database`` names an in-memory database (a name or a memory URI)."""
    if isinstance(database, bytes):
        database = os.fsdecode(database)
    if not isinstance(database, str):
        return False
    return database in IN_MEMORY or (
        database.startswith("file:")
        and (database.startswith("file::memory:") or "mode=memory" in database)
    )


def _emulated_serves() -> bool:
    """Whether the emulated backend (guarded or not) serves the caller."""
    if get_active() is None:  # the native backend, unguarded: the common case, first
        return False
    from posixbackend.switch.block import current_emulated  # block builds on this module

    return current_emulated() is not None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Refuse sqlite3.connect of a database file while the emulated backend serves, and a
    socket made of a descriptor number (:mod:`posixbackend.switch.sockets`)."""
    if event == "socket.__new__":
        serving = get_active()
        if serving is not None and _emulated_serves():
            from posixbackend.switch.sockets import check_new_socket

            check_new_socket(serving, sys._getframe(1))
        return
    if event != "sqlite3.connect" or _in_memory(args[0]) or not _emulated_serves():
        return
    database = args[0]
    C_LIBRARY_FILES.hit(path=repr(database))
    error = sys.modules["sqlite3"].OperationalError
    raise error(
        f"unable to open database file {database!r}: the java backend's files are out of "
        "reach of the SQLite C library (compat gap switch.c_library_files)"
    )


class _Hook:
    """The audit hook's one installation (PEP 578 hooks cannot be removed: it stays, and
    does nothing while the native backend serves)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.installed = False

    def install(self) -> None:
        with self.lock:
            if not self.installed:
                sys.addaudithook(_audit)
                self.installed = True


HOOK: Final = _Hook()


def dbm_open(file: Any, flag: str = "r", mode: int = 0o666) -> Any:
    """``dbm.open`` on the emulated backend: dbm.open's choice and errors, with dbm.dumb the
    only module (the others are C libraries that cannot reach the backend's files)."""
    import dbm.dumb

    error = dbm.error[0]
    kind = dbm.whichdb(file) if "n" not in flag else None
    if kind is None:
        if "c" not in flag and "n" not in flag:
            raise error("db file doesn't exist; use 'c' or 'n' flag to create a new db")
    elif kind == "":
        raise error("db type could not be determined")
    elif kind != "dbm.dumb":
        C_LIBRARY_FILES.hit(function="dbm.open", path=os.fsdecode(os.fspath(file)))
        raise error(f"db type is {kind}, but the module is not available")
    return dbm.dumb.open(file, flag, mode)


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
    return [(dbm, "open", SwitchedFunction("dbm", "open", dbm.open, dbm_open))]
