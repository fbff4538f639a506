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


_UNRESERVED: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/"
)
"""Bytes a URI we build carries as they are (the rest as %XX)."""
_HEX: Final = frozenset("0123456789abcdefABCDEF")


def _unquote(text: str) -> bytes:
    """``text``'s %XX escapes decoded to bytes, as SQLite decodes a URI's path and parameters
    (no '+' for a space; a '%' not followed by two hex digits kept as it stands). Written here,
    not urllib.parse's: a guest may have replaced those functions, and what this module makes
    of a URI decides which VFS, ours or the host's, opens the file."""
    raw = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    index = 0
    while index < len(raw):
        byte = raw[index]
        escape = raw[index + 1 : index + 3]
        if byte == 0x25 and len(escape) == 2 and all(chr(digit) in _HEX for digit in escape):
            out.append(int(raw[index + 1 : index + 3], 16))
            index += 3
        else:
            out.append(byte)
            index += 1
    return bytes(out)


def _quote(raw: bytes) -> str:
    """``raw`` with every byte but the unreserved ones (and '/') as %XX."""
    return "".join(chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in raw)


def _split_uri(database: str) -> tuple[str, list[tuple[str, str]]]:
    """A ``file:`` URI's path (still %-escaped) and its parameters (decoded), in order, as
    sqlite3ParseUri splits them: the fragment dropped, 'key=value' pairs between '&', a key
    with no '=' given an empty value, empty pairs skipped."""
    path, _, query = database[5:].partition("#")[0].partition("?")
    parameters = []
    for pair in query.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            parameters.append((
                os.fsdecode(_unquote(key)), os.fsdecode(_unquote(value))
            ))  # fmt: skip
    return path, parameters


_OPEN_MODES: Final = {"ro": 0x1, "rw": 0x2, "rwc": 0x2 | 0x4, "memory": 0x80}
"""A URI's ``mode`` values as SQLITE_OPEN_* flags (READONLY, READWRITE, CREATE, MEMORY)."""
_MODE_MASK: Final = 0x1 | 0x2 | 0x4 | 0x80


def _opens_in_memory(parameters: list[tuple[str, str]]) -> bool:
    """Whether SQLite, given these URI parameters by sqlite3.connect (which asks to read,
    write and create), opens an in-memory database: sqlite3ParseUri applies each ``mode`` in
    turn, refusing an unknown one or one above what the flags so far allow (the memory flag
    aside), so ``mode=memory&mode=rwc`` opens a FILE. False where SQLite refuses the URI."""
    flags = 0x2 | 0x4
    for key, value in parameters:
        if key != "mode":
            continue
        mode = _OPEN_MODES.get(value)
        if mode is None or (mode & ~0x80) > (flags & _MODE_MASK):
            return False
        flags = (flags & ~_MODE_MASK) | mode
    return bool(flags & 0x80)


def in_memory(database: object, uri: bool) -> bool:
    """Whether ``database`` names an in-memory database (never a file of the program's): ""
    or ":memory:", or a URI whose ``mode`` parameters, applied as SQLite applies them, end at
    ``memory`` (``mode=memory&mode=rwc`` opens a file)."""
    if isinstance(database, bytes):
        database = os.fsdecode(database)
    if not isinstance(database, str):
        return False
    if database in (":memory:", ""):
        return True
    if not (uri and database.startswith("file:")):
        return False
    path, parameters = _split_uri(database)
    return path in ("", ":memory:") or _opens_in_memory(parameters)


def vfs_uri(backend: EmulatedBackend, database: Any, uri: bool, token: str) -> str:
    """The URI that opens ``database`` through the VFS on ``backend`` (its cwd makes a
    relative path absolute; the caller's URI parameters are kept, ``vfs`` is ours)."""
    name = os.fsdecode(os.fspath(database))
    parameters: list[tuple[str, str]] = []
    if uri and name.startswith("file:"):
        rest, found = _split_uri(name)
        if rest.startswith("//"):  # file://[localhost]/path: the authority goes
            authority, slash, rest = rest[2:].partition("/")
            if authority not in ("", "localhost"):  # SQLite's own refusal
                raise sqlite3.OperationalError(f"invalid uri authority: {authority}")
            rest = slash + rest
        path = os.fsdecode(_unquote(rest))  # SQLite decodes to bytes
        parameters = [(key, value) for key, value in found if key not in ("vfs", TOKEN)]
    else:
        path = name
    if not path.startswith("/"):
        path = backend.getcwd().rstrip("/") + "/" + path
    parameters += [("vfs", NAME), (TOKEN, token)]
    query = "&".join(
        _quote(os.fsencode(key)) + "=" + _quote(os.fsencode(value)) for key, value in parameters
    )
    return "file:" + _quote(os.fsencode(path)) + "?" + query


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
