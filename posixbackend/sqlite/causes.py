"""The provider errors behind SQLite's I/O errors, kept for the sqlite3 exception.

A VFS callback cannot raise into SQLite: it returns a result code, and ``_sqlite3`` raises
``sqlite3.OperationalError`` ("disk I/O error", "database or disk is full"...) from the C
side, chaining nothing. The callback records what the provider raised (per thread, with the
code it returned); the connection classes of :mod:`posixbackend.sqlite.connections` attach it
as ``__cause__`` of the sqlite3 error the same thread then raises with that code.
"""

from __future__ import annotations

import threading


class _Recorded(threading.local):
    error: BaseException | None = None
    code = 0


_RECORDED = _Recorded()


def record(error: BaseException, code: int) -> int:
    """Keep ``error`` as the cause of the failure ``code``; return ``code``."""
    recorded = _RECORDED
    recorded.error = error
    recorded.code = code
    return code


def last_message() -> str:
    """The message of the last provider error of this thread ('' when none)."""
    error = _RECORDED.error
    return "" if error is None else str(error)


def take(code: int) -> BaseException | None:
    """The recorded cause of a failure with (extended) result ``code``, once; else None."""
    recorded = _RECORDED
    error = recorded.error
    if error is None or (recorded.code != code and recorded.code & 0xFF != code & 0xFF):
        return None
    recorded.error = None
    return error
