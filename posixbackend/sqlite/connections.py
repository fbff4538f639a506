"""Connections and cursors that keep the provider's error as the cause of sqlite3's.

The VFS records the exception a provider raised (:mod:`posixbackend.sqlite.causes`); these
subclasses of the caller's connection factory and of ``sqlite3.Cursor`` attach it as
``__cause__`` of the ``sqlite3.Error`` the failed call raises. A callback interrupted by a
BaseException that is no Exception (KeyboardInterrupt, SystemExit) has it raised again, the
sqlite3 error as its context. They keep the name and module of the classes they extend.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from posixbackend.sqlite import causes

T = TypeVar("T")


def _chain(error: sqlite3.Error) -> None:
    """Give ``error`` the provider error behind it as its cause, if one was recorded."""
    cause = causes.take(getattr(error, "sqlite_errorcode", 0) or 0)
    if cause is None:
        return
    if not isinstance(cause, Exception):
        raise cause
    if error.__cause__ is None:
        error.__cause__ = cause


def chained(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, its sqlite3 error chained to the provider's."""
    try:
        return call(*args, **kwargs)
    except sqlite3.Error as error:
        _chain(error)
        raise


class Cursor(sqlite3.Cursor):
    """sqlite3.Cursor whose errors carry the provider's as their cause."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute(*args, **kwargs)
        except sqlite3.Error as error:
            _chain(error)
            raise

    def executemany(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().executemany(*args, **kwargs)
        except sqlite3.Error as error:
            _chain(error)
            raise

    def executescript(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().executescript(*args, **kwargs)
        except sqlite3.Error as error:
            _chain(error)
            raise

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as error:
            _chain(error)
            raise

    def fetchmany(self, *args: Any, **kwargs: Any) -> list[Any]:
        try:
            return super().fetchmany(*args, **kwargs)
        except sqlite3.Error as error:
            _chain(error)
            raise

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as error:
            _chain(error)
            raise

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as error:
            _chain(error)
            raise


Cursor.__module__, Cursor.__qualname__ = sqlite3.Cursor.__module__, sqlite3.Cursor.__qualname__


@functools.cache
def chaining(factory: type[sqlite3.Connection]) -> type[sqlite3.Connection]:
    """A subclass of the connection class ``factory`` whose errors carry their cause."""

    class Connection(factory):  # type: ignore[valid-type,misc]
        def cursor(self, factory: Any = Cursor) -> Any:
            if factory is sqlite3.Cursor:
                factory = Cursor
            return super().cursor(factory)

        def execute(self, *args: Any, **kwargs: Any) -> Any:
            return chained(self.cursor().execute, *args, **kwargs)

        def executemany(self, *args: Any, **kwargs: Any) -> Any:
            return chained(self.cursor().executemany, *args, **kwargs)

        def executescript(self, *args: Any, **kwargs: Any) -> Any:
            return chained(self.cursor().executescript, *args, **kwargs)

        def commit(self) -> None:
            chained(super().commit)

        def rollback(self) -> None:
            chained(super().rollback)

        def close(self) -> None:
            chained(super().close)

        def __exit__(self, *exc_info: Any) -> Any:
            return chained(super().__exit__, *exc_info)

    Connection.__module__ = factory.__module__
    Connection.__qualname__ = Connection.__name__ = factory.__name__
    return Connection
