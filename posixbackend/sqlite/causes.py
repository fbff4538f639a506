"""The provider errors behind SQLite's I/O errors, kept as the cause of the sqlite3 error.

A VFS callback cannot raise into SQLite: it returns a result code, and ``_sqlite3`` makes
``sqlite3.OperationalError`` ("disk I/O error", "database or disk is full", "unable to open
database file") in C, chaining nothing. The callback records what the provider raised, per
thread, with the code it returned; :func:`chain_causes` gives ``OperationalError`` an
``__init__`` that takes the record when the new error's message is the one SQLite gives for
that code, and sets it as the error's ``__cause__`` (a KeyboardInterrupt or SystemExit that
interrupted a callback is raised again in its place). It costs nothing on the success path,
unlike wrapping every connection and cursor method, and keeps the caller's classes.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any, Final

from posixbackend.sqlite import codes

MESSAGES: Final = {
    codes.IOERR: "disk I/O error",
    codes.FULL: "database or disk is full",
    codes.CANTOPEN: "unable to open database file",
}
"""sqlite3_errstr of the primary result codes a recorded error can surface as."""


class _Recorded(threading.local):
    error: BaseException | None = None
    message = ""


_RECORDED = _Recorded()


def record(error: BaseException, code: int) -> int:
    """Keep ``error`` as the cause of the failure ``code`` (extended); return ``code``."""
    recorded = _RECORDED
    recorded.error = error
    recorded.message = MESSAGES.get(code & 0xFF, "")
    return code


def last_message() -> str:
    """The message of the last provider error of this thread ('' when none)."""
    error = _RECORDED.error
    return "" if error is None else str(error)


def _take(message: object) -> BaseException | None:
    """The recorded error if an sqlite3 error with ``message`` is what it became, once."""
    recorded = _RECORDED
    error = recorded.error
    if error is None or message != recorded.message:
        return None
    recorded.error = None
    return error


class _Chaining:
    """The one installation of the chaining ``__init__`` (kept for the process's life)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.installed = False

    def install(self) -> None:
        with self.lock:
            if self.installed:
                return
            base_init = sqlite3.OperationalError.__init__

            def __init__(self: sqlite3.OperationalError, *args: Any) -> None:
                base_init(self, *args)
                cause = _take(args[0]) if args else None
                if cause is None:
                    return
                if not isinstance(cause, Exception):
                    raise cause
                self.__cause__ = cause

            sqlite3.OperationalError.__init__ = __init__  # type: ignore[method-assign,assignment]
            self.installed = True


chain_causes = _Chaining().install
