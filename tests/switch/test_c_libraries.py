"""C libraries that open files themselves (sqlite3, the dbm modules) on the java backend.

Their files would be the host's: a database file is refused, in-memory ones work, and dbm.open
(so shelve) makes dbm.dumb databases, which go through the backend. Natively nothing changes.
"""

from __future__ import annotations

import dbm
import os
import shelve
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import compat
import posixbackend
from posixbackend import Permissions, backend
from tests.launcher.running import launch
from vfs import MemoryFileSystem

GAP = "switch.c_library_files"


@pytest.fixture(autouse=True)
def uninstalled() -> Iterator[None]:
    """The switch's stand-ins are taken out again after each test."""
    yield
    posixbackend.uninstall()


def hits() -> int:
    entry = compat.report().get(GAP)
    return entry.count if entry is not None else 0


def outcome(call: Any, *args: Any) -> Any:
    try:
        call(*args)
    except Exception as error:  # noqa: BLE001 - the outcome is what is compared
        return type(error).__name__, str(error)
    return "ok"


@pytest.mark.parametrize("name", ["x.db", b"x.db", Path("x.db")], ids=["str", "bytes", "path"])
def test_a_database_file_is_refused_and_the_host_untouched(name: Any, tmp_path: Path) -> None:
    database = os.path.join(os.fsencode(tmp_path) if isinstance(name, bytes) else tmp_path, name)
    before = hits()
    refused = pytest.raises(sqlite3.OperationalError, match=f"unable to open database file.*{GAP}")
    with backend("managed", file_system=MemoryFileSystem()), refused:
        sqlite3.connect(database)
    assert hits() == before + 1
    assert list(tmp_path.iterdir()) == [], "SQLite must not have made the file on the host"


@pytest.mark.parametrize(
    ("database", "uri"),
    [(":memory:", False), ("", False), ("file::memory:?cache=shared", True),
     ("file:named?mode=memory&cache=shared", True)],
)  # fmt: skip
def test_in_memory_databases_work(database: str, uri: bool) -> None:
    with backend("managed", file_system=MemoryFileSystem()):
        connection = sqlite3.connect(database, uri=uri)
        try:
            connection.execute("create table t (x)")
            connection.execute("insert into t values (42)")
            assert connection.execute("select x from t").fetchall() == [(42,)]
        finally:
            connection.close()


def test_natively_and_under_a_native_guard_sqlite_opens_its_files(tmp_path: Path) -> None:
    with backend("managed", file_system=MemoryFileSystem()):
        pass  # the audit hook is in place from here on
    for block in (backend("native"), backend("native", permissions=Permissions(
            allow_create_process=False))):  # fmt: skip
        with block:
            sqlite3.connect(tmp_path / "native.db").close()
    sqlite3.connect(tmp_path / "outside.db").close()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["native.db", "outside.db"]


def test_dbm_and_shelve_make_dumb_databases_on_the_backend(tmp_path: Path) -> None:
    with backend("managed", file_system=MemoryFileSystem()):
        os.mkdir("/data")
        with shelve.open("/data/shelf", "c") as shelf:
            shelf["list"] = [1, 2, {"three": 3}]
        with shelve.open("/data/shelf", "r") as shelf:
            assert dict(shelf) == {"list": [1, 2, {"three": 3}]}
        with dbm.open("/data/plain", "n") as db:
            db[b"key"] = b"value"
        with dbm.open("/data/plain", "w") as db:
            assert db[b"key"] == b"value"
        assert (dbm.whichdb("/data/shelf"), dbm.whichdb("/data/plain")) == ("dbm.dumb",) * 2
        assert sorted(os.listdir("/data")) == [
            "plain.bak", "plain.dat", "plain.dir", "shelf.bak", "shelf.dat", "shelf.dir",
        ]  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_dbm_open_fails_as_natively_where_the_kinds_agree(tmp_path: Path) -> None:
    """A missing database and one of no known kind: the same error class and message."""
    cases = [("missing", "r"), ("missing", "w"), ("unknown", "r"), ("unknown", "c")]
    with open(tmp_path / "unknown", "wb") as file:
        file.write(b"neither dbm nor anything else" * 10)
    native = [outcome(dbm.open, str(tmp_path / name), flag) for name, flag in cases]
    with backend("managed", file_system=MemoryFileSystem()):
        with open("/unknown", "wb") as file:
            file.write(b"neither dbm nor anything else" * 10)
        managed = [outcome(dbm.open, "/" + name, flag) for name, flag in cases]
    assert managed == native
    assert managed[0] == ("error", "db file doesn't exist; use 'c' or 'n' flag to create a new db")


def test_a_database_of_a_c_library_is_not_available(tmp_path: Path) -> None:
    """An SQLite file (3.13's dbm.sqlite3 kind) on the backend: dbm.open says its module is
    not available, as dbm does for a kind it cannot open (before 3.13 the kind is unknown)."""
    with sqlite3.connect(tmp_path / "made") as connection:
        connection.execute("create table Dict (key blob unique not null, value blob not null)")
    connection.close()
    content = (tmp_path / "made").read_bytes()
    before = hits()
    with backend("managed", file_system=MemoryFileSystem()):
        with open("/db", "wb") as file:
            file.write(content)
        result = outcome(dbm.open, "/db", "r")
    if sys.version_info >= (3, 13):
        assert result == ("error", "db type is dbm.sqlite3, but the module is not available")
        assert hits() == before + 1
    else:
        assert result == ("error", "db type could not be determined")


def test_a_program_on_the_java_backend_gets_the_refusal(tmp_path: Path) -> None:
    program = (
        "import sqlite3, shelve\n"
        "try:\n"
        f"    sqlite3.connect({str(tmp_path / 'x.db')!r})\n"
        "except sqlite3.OperationalError as error:\n"
        "    print('refused:', str(error).split(':')[0])\n"
        "with shelve.open('/shelf', 'c') as shelf:\n"
        "    shelf['k'] = 1\n"
        "print(sorted(name for name in __import__('os').listdir('/') if 'shelf' in name))\n"
    )
    done = launch("--posix-backend=java", "--fs=memory", "-c", program, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "refused: unable to open database file '" + str(tmp_path / "x.db") + "'",
        "['shelf.bak', 'shelf.dat', 'shelf.dir']",
    ]
    assert list(tmp_path.iterdir()) == []
