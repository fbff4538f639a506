"""``sqlite3.connect`` on the emulated backend: a database file goes through the VFS.

While an emulated backend serves, a database file (a path, or a ``file:`` URI with
``uri=True``) becomes ``file:<absolute path>?<the caller's parameters>&vfs=posixbackend&
posixbackend-backend=<token>`` with ``uri=True``; every other argument is passed on as given.
In-memory databases (``:memory:``, ``''``, memory URIs) stay SQLite's own. Natively nothing
changes. A provider's error becomes the ``__cause__`` of the sqlite3 error it turned into
(:mod:`posixbackend.sqlite.causes`).
"""

from __future__ import annotations

import ctypes
import functools
import os
import posix
import sqlite3
from collections.abc import Callable
from typing import Any, Final

import compat
from posixbackend.emulated import EmulatedBackend
from posixbackend.sqlite import causes, library, structs
from posixbackend.sqlite.locking import LOCKS
from posixbackend.sqlite.vfs import NAME, TOKEN, Vfs

_URI_POSITION: Final = 6
"""``uri`` among connect's positional parameters after ``database``."""
_FACTORY_POSITION: Final = 4
"""``factory`` among them."""


CTYPES_NATIVE_ACCESS = compat.declare(
    id="sqlite.ctypes_native_access",
    function="sqlite3.connect",
    aspect="permissions without native access",
    level=compat.Level.INFO,
    explanation="where the VFS's C trampolines (posixbackend._sqlitevfs) are not built or are "
    "switched off, its ctypes adaptors serve, and their memory work counts as the caller's "
    "native access: a block without allow_native_access cannot open database files",
)
FACTORY_DATABASE = compat.declare(
    id="sqlite.factory_database",
    function="sqlite3.connect",
    aspect="factory=",
    level=compat.Level.INFO,
    explanation="a database file is opened through the VFS by a URI naming it (file:PATH?vfs="
    "posixbackend&...), and that URI, with uri=True, is what a factory= callable gets as its "
    "database argument, where natively it gets the caller's own; a factory that passes it on "
    "to sqlite3.Connection opens the same file as natively",
)
ENVIRONMENT_SWITCH = "POSIXBACKEND_PURE_PYTHON"
"""Set to anything but "" or "0": the ctypes adaptors serve even where the C ones are built."""


@functools.cache
def registered() -> Vfs | library.Unreachable:
    """The process's VFS, registered on first use (never freed), or why there can be none."""
    found = library.find()
    if isinstance(found, library.Unreachable):
        return found
    vfs = Vfs()
    sqlite = found.handle
    find = sqlite.sqlite3_vfs_find
    find.argtypes, find.restype = (ctypes.c_char_p,), ctypes.c_void_p
    default_address = find(None)
    trampolines = _trampolines()
    if trampolines is not None:
        functions = (
            "sqlite3_vfs_register", "sqlite3_uri_parameter", "sqlite3_uri_boolean",
            "sqlite3_filename_journal", "sqlite3_filename_wal",
        )  # fmt: skip
        addresses = [
            ctypes.cast(getattr(sqlite, name), ctypes.c_void_p).value for name in functions
        ]
        LOCKS.record_type = trampolines.LockRecord  # the trampolines lock in C
        trampolines.register(vfs, NAME.encode(), default_address, *addresses)
        keep_forever(vfs)
        vfs.trampolines = True
    else:
        from posixbackend.sqlite.ctypesvfs import CtypesVfs

        default = ctypes.cast(default_address, ctypes.POINTER(structs.Vfs)).contents
        adaptors = CtypesVfs(vfs, default, sqlite)
        keep_forever(adaptors)  # before SQLite can hold a pointer into it
        adaptors.register(sqlite.sqlite3_vfs_register)
    causes.chain_causes()
    return vfs


def _trampolines() -> Any:
    """posixbackend._sqlitevfs, or None when it is not built or switched off (by the
    process's own environment, whatever a block shows as ``os.environ``)."""
    if posix.environ.get(ENVIRONMENT_SWITCH.encode(), b"") not in (b"", b"0"):
        return None
    try:
        from posixbackend import _sqlitevfs
    except ImportError:
        return None
    return _sqlitevfs


def uses_c() -> bool:
    """Whether the registered VFS is served by the C trampolines (False: ctypes, or none)."""
    vfs = registered()
    return not isinstance(vfs, library.Unreachable) and vfs.trampolines


def _check_native_access() -> None:
    """The ctypes adaptors' memory work is judged as the caller's: refuse up front, clearly,
    where the permissions refuse native access."""
    from posixbackend.permissions.current import get_policy
    from posixbackend.permissions.denials import denied

    policy = get_policy()
    if policy is not None and not policy.allow_native_access:
        CTYPES_NATIVE_ACCESS.hit()
        raise denied(
            "sqlite3.connect of a database file through the SQLite VFS's ctypes adaptors "
            "(posixbackend._sqlitevfs is not built or is switched off)",
            "allow_native_access",
        )


def keep_forever(value: object) -> None:
    """Take a reference no one gives back: SQLite holds pointers into ``value`` for the
    life of the process, and its callbacks must outlive even interpreter finalization."""
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(value))


def in_memory(database: object, uri: bool) -> bool:
    """Whether ``database`` names an in-memory database (never a file of the program's)."""
    if isinstance(database, bytes):
        database = os.fsdecode(database)
    if not isinstance(database, str):
        return False
    if database in (":memory:", ""):
        return True
    if not (uri and database.startswith("file:")):
        return False
    # urllib.parse imported only for a URI (here and in vfs_uri): this module is loaded by
    # every managed process with sqlite3 (a pool's zygote too), and urllib.parse brings
    # ipaddress -- memory each pooled guest's fork pays for
    import urllib.parse

    path, _, query = database[5:].partition("#")[0].partition("?")
    parameters = urllib.parse.parse_qs(query, keep_blank_values=True)
    return path in ("", ":memory:") or "memory" in parameters.get("mode", ())


def vfs_uri(backend: EmulatedBackend, database: Any, uri: bool, token: str) -> str:
    """The URI that opens ``database`` through the VFS on ``backend`` (its cwd makes a
    relative path absolute; the caller's URI parameters are kept, ``vfs`` is ours)."""
    import urllib.parse  # (see in_memory)

    name = os.fsdecode(os.fspath(database))
    parameters: list[tuple[str, str]] = []
    if uri and name.startswith("file:"):
        rest, _, query = name[5:].partition("#")[0].partition("?")
        if rest.startswith("//"):  # file://[localhost]/path: the authority goes
            authority, slash, rest = rest[2:].partition("/")
            if authority not in ("", "localhost"):  # SQLite's own refusal
                raise sqlite3.OperationalError(f"invalid uri authority: {authority}")
            rest = slash + rest
        path = os.fsdecode(urllib.parse.unquote_to_bytes(rest))  # SQLite decodes to bytes
        parameters = [
            (key, value)
            for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True)
            if key not in ("vfs", TOKEN)
        ]
    else:
        path = name
    if not path.startswith("/"):
        path = backend.getcwd().rstrip("/") + "/" + path
    parameters += [("vfs", NAME), (TOKEN, token)]
    query = urllib.parse.urlencode(parameters, quote_via=urllib.parse.quote)
    return "file:" + urllib.parse.quote(os.fsencode(path), safe="/") + "?" + query


def connect(
    native: Callable[..., Any],
    backend: EmulatedBackend,
    refusal: Callable[..., Any] | None,
    database: Any,
    *args: Any,
    **kwargs: Any,
) -> Any:
    """sqlite3.connect(database, ...) with the database file on ``backend`` (``native`` is
    the real sqlite3.connect; ``refusal``, the permissions' os.open when they refuse file
    I/O, is called on a database file and raises the denial)."""
    vfs = registered()
    uri = kwargs.get("uri", args[_URI_POSITION] if len(args) > _URI_POSITION else False)
    if isinstance(vfs, library.Unreachable) or in_memory(database, bool(uri)):
        return native(database, *args, **kwargs)
    if refusal is not None:
        refusal(database, os.O_RDONLY)
    if not uses_c():
        _check_native_access()
    if len(args) > _URI_POSITION:
        args = (*args[:_URI_POSITION], True, *args[_URI_POSITION + 1 :])
    else:
        kwargs["uri"] = True
    if "factory" in kwargs or len(args) > _FACTORY_POSITION:
        FACTORY_DATABASE.hit(database=repr(database))
    token = vfs.tokens.issue(backend)
    try:
        return native(vfs_uri(backend, database, bool(uri), token), *args, **kwargs)
    finally:
        vfs.tokens.release(token)
