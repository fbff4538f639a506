"""The libsqlite3 that ``_sqlite3`` uses, found through the extension's own link.

``dlopen`` of the extension's file gives a handle whose symbol look-ups search the extension
and the libraries it was linked with, so ``sqlite3_vfs_register`` found there is the one
``_sqlite3``'s connections use (no guessing of library names or versions). ``dladdr`` on that
symbol names the file that defines it: the extension itself (or no symbol at all) means
SQLite is linked statically into ``_sqlite3`` and its copy cannot be reached -- a declared gap.
"""

from __future__ import annotations

import ctypes
import functools
import os

import attrs

import compat

STATIC_SQLITE = compat.declare(
    id="sqlite.static_library",
    function="sqlite3.connect",
    aspect="statically linked SQLite",
    level=compat.Level.WARNING,
    explanation="when _sqlite3 carries its own copy of SQLite (no shared libsqlite3), no VFS "
    "can be registered into it: on the java backend sqlite3.connect refuses database files "
    "(':memory:' and '' work)",
)


class _DlInfo(ctypes.Structure):
    _fields_ = (
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    )


@attrs.frozen
class Library:
    """The shared libsqlite3 behind ``_sqlite3``: its ctypes handle and its file."""

    handle: ctypes.CDLL
    path: str


@attrs.frozen
class Unreachable:
    """Why SQLite's library cannot take a VFS of ours."""

    reason: str


@functools.cache
def find() -> Library | Unreachable:
    """The library ``_sqlite3`` links, or why there is none to register into."""
    try:
        import _sqlite3
    except ImportError as error:
        return Unreachable(f"the _sqlite3 extension cannot be imported ({error})")
    extension = getattr(_sqlite3, "__file__", None)
    if not extension:
        return Unreachable("_sqlite3 is built into the interpreter, with SQLite linked in")
    handle = ctypes.CDLL(extension, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    try:
        symbol = handle.sqlite3_vfs_register
    except AttributeError:
        return Unreachable(f"{extension} exports no SQLite symbols (SQLite is linked in)")
    info = _DlInfo()
    dladdr = ctypes.CDLL(None).dladdr
    dladdr.argtypes = (ctypes.c_void_p, ctypes.POINTER(_DlInfo))
    address = ctypes.cast(symbol, ctypes.c_void_p).value
    if not dladdr(address, ctypes.byref(info)) or info.dli_fname is None:
        return Unreachable("dladdr cannot name the file that defines sqlite3_vfs_register")
    path = os.fsdecode(info.dli_fname)
    if os.path.realpath(path) == os.path.realpath(extension):
        return Unreachable(f"SQLite is linked statically into {extension}")
    return Library(handle, path)
