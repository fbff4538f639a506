"""C libraries that open files themselves (sqlite3, the dbm modules) on the java backend.

sqlite3 database files are the backend's (through the SQLite VFS; tests/switch/test_sqlite.py
tests it in depth), a connect that bypasses the stand-in is refused, in-memory databases work,
and dbm.open (so shelve) makes dbm.sqlite3 (3.13) or dbm.dumb databases, which reach the
backend. Natively nothing changes.
"""

from __future__ import annotations

import contextlib
import dbm
import dbm.dumb
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
def test_a_database_file_is_the_backends_and_the_host_untouched(name: Any, tmp_path: Path) -> None:
    database = os.path.join(os.fsencode(tmp_path) if isinstance(name, bytes) else tmp_path, name)
    with backend("managed", file_system=MemoryFileSystem()):
        os.makedirs(tmp_path)
        connection = sqlite3.connect(database)
        connection.execute("create table t (x)")
        connection.commit()
        connection.close()
        assert os.listdir(tmp_path) == ["x.db"]
    assert list(tmp_path.iterdir()) == [], "SQLite must not have made the file on the host"


def test_a_connect_that_bypasses_the_stand_in_is_refused(tmp_path: Path) -> None:
    """The real connect (kept from before install, here the stand-in's own) would reach the
    host's files: the audit hook refuses it before SQLite opens anything."""
    with backend("managed", file_system=MemoryFileSystem()):
        real_connect = sqlite3.connect._native  # type: ignore[attr-defined]
    before = hits()
    refused = pytest.raises(sqlite3.OperationalError, match=f"unable to open database file.*{GAP}")
    with backend("managed", file_system=MemoryFileSystem()), refused:
        real_connect(tmp_path / "x.db")
    assert hits() == before + 1
    assert list(tmp_path.iterdir()) == []


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


def test_dbm_and_shelve_make_databases_on_the_backend(tmp_path: Path) -> None:
    """dbm.open's default kind where it reaches the backend: dbm.sqlite3 from 3.13 (as
    natively), dbm.dumb before (natively the C dbm.gnu or dbm.ndbm would come first)."""
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
        kinds = dbm.whichdb("/data/shelf"), dbm.whichdb("/data/plain")
        names = sorted(os.listdir("/data"))
        with dbm.dumb.open("/data/dumb", "c") as db:
            db[b"key"] = b"dumb"
        with dbm.open("/data/dumb", "r") as db:
            assert db[b"key"] == b"dumb"
    if sys.version_info >= (3, 13):
        assert (kinds, names) == (("dbm.sqlite3",) * 2, ["plain", "shelf"])
    else:
        assert kinds == ("dbm.dumb",) * 2
        assert names == [
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


def test_an_sqlite_database_opens_from_313(tmp_path: Path) -> None:
    """An SQLite file of 3.13's dbm.sqlite3 kind on the backend: dbm.open opens it through
    the VFS (before 3.13 the kind is unknown, as natively)."""
    with sqlite3.connect(tmp_path / "made") as connection:
        connection.execute("create table Dict (key blob unique not null, value blob not null)")
        connection.execute("insert into Dict values (cast('k' as blob), cast('v' as blob))")
    connection.close()
    content = (tmp_path / "made").read_bytes()
    with backend("managed", file_system=MemoryFileSystem()):
        with open("/db", "wb") as file:
            file.write(content)
        result = outcome(dbm.open, "/db", "r")
        with contextlib.suppress(dbm.error[0]), dbm.open("/db", "r") as db:
            assert db[b"k"] == b"v"
    assert result == ("ok" if sys.version_info >= (3, 13) else (
        "error", "db type could not be determined"))  # fmt: skip


def test_a_database_of_a_c_library_is_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dbm.gnu file (whichdb's kind): dbm.open says its module is not available."""
    monkeypatch.setattr(dbm, "whichdb", lambda file: "dbm.gnu")
    before = hits()
    with backend("managed", file_system=MemoryFileSystem()):
        result = outcome(dbm.open, "/db", "r")
    assert result == ("error", "db type is dbm.gnu, but the module is not available")
    assert hits() == before + 1


def test_a_program_on_the_java_backend_keeps_its_database_there(tmp_path: Path) -> None:
    program = (
        "import os, sqlite3, shelve\n"
        f"os.makedirs({str(tmp_path)!r}, exist_ok=True)\n"
        f"with sqlite3.connect({str(tmp_path / 'x.db')!r}) as connection:\n"
        "    connection.execute('create table t (x)')\n"
        f"print(os.listdir({str(tmp_path)!r}))\n"
        "with shelve.open('/shelf', 'c') as shelf:\n"
        "    shelf['k'] = 1\n"
        "print(len([name for name in os.listdir('/') if 'shelf' in name]) > 0)\n"
    )
    done = launch("--posix-backend=java", "--fs=memory", "-c", program, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['x.db']", "True"]
    assert list(tmp_path.iterdir()) == []
