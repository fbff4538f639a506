"""sqlite3 on the emulated backend, differentially: the same program natively on a temporary
directory, on a managed memory file system and on a managed host file system.

Each test runs in the three places and compares what the program observes with one expected
answer (native's); the places where the VFS differs on purpose (WAL) are tested as declared
gaps. Provider failures (EIO, ENOSPC) are the emulated backend's alone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import compat
import posixbackend
from posixbackend import Permissions, backend
from posixbackend.emulated import accelerator
from posixbackend.sqlite import connect as routing
from posixbackend.sqlite import library
from vfs import FileSystem, HostFileSystem, Identity, MemoryFileSystem
from vfs.delegate import DelegatingFileSystem, DelegatingHandle
from vfs.memory.nodes import LISTING_CHUNK, RegularFile
from vfs.provider import Handle


@pytest.fixture(autouse=True)
def uninstalled() -> Iterator[None]:
    """The switch's stand-ins are taken out again after each test."""
    yield
    posixbackend.uninstall()


@attrs.frozen
class Place:
    """Where a test's database lives: a directory, and the block that makes it reachable."""

    kind: str
    directory: str
    file_system: FileSystem | None

    def block(self) -> contextlib.AbstractContextManager[Any]:
        if self.file_system is None:
            return contextlib.nullcontext()
        return backend("managed", file_system=self.file_system)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)


@pytest.fixture(params=["native", "memory", "host"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    if request.param == "native":
        return Place("native", str(tmp_path), None)
    if request.param == "host":
        return Place("host", "/", HostFileSystem(root=tmp_path))
    memory = MemoryFileSystem()
    memory.mkdir("/data", 0o755)
    return Place("memory", "/data", memory)


def closing(connection: sqlite3.Connection) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(connection)


def test_create_insert_commit_rollback_reopen(place: Place) -> None:
    database = place.path("app.db")
    with place.block():
        with closing(sqlite3.connect(database)) as connection:
            connection.execute("create table t (id integer primary key, name text)")
            connection.executemany("insert into t (name) values (?)", [("a",), ("b",)])
            connection.commit()
            connection.execute("insert into t (name) values ('lost')")
            connection.rollback()
            first = connection.execute("select name from t order by id").fetchall()
        with closing(sqlite3.connect(database)) as connection:
            again = connection.execute("select name from t order by id").fetchall()
            check = connection.execute("pragma integrity_check").fetchall()
        size = os.stat(database).st_size
        names = sorted(os.listdir(place.directory))
    assert (first, again, check) == ([("a",), ("b",)], [("a",), ("b",)], [("ok",)])
    assert size == 8192  # two pages of 4096: the schema and the table
    assert names == ["app.db"]


def test_relative_paths_and_uris_with_their_parameters(place: Place) -> None:
    with place.block():
        home = os.getcwd()  # natively the process's: it is given back
        os.chdir(place.directory)
        try:
            with closing(sqlite3.connect("relative.db")) as connection:
                connection.execute("create table t (x)")
                connection.execute("insert into t values (1)")
                connection.commit()
            uri = "file:" + place.path("relative.db") + "?mode=ro&cache=private"
            with closing(sqlite3.connect(uri, uri=True)) as connection:
                read = connection.execute("select x from t").fetchall()
                with pytest.raises(sqlite3.OperationalError) as refused:
                    connection.execute("insert into t values (2)")
            with closing(sqlite3.connect("file:relative.db?immutable=1", uri=True)) as connection:
                immutable = connection.execute("select x from t").fetchall()
            with pytest.raises(sqlite3.OperationalError) as missing:
                sqlite3.connect("file:missing.db?mode=ro", uri=True)
            with closing(sqlite3.connect("file://localhost" + place.path("made.db"), uri=True)):
                pass
            names = sorted(os.listdir("."))
        finally:
            os.chdir(home)
    assert read == immutable == [(1,)]
    assert str(refused.value) == "attempt to write a readonly database"
    assert str(missing.value) == "unable to open database file"
    assert names == ["made.db", "relative.db"]


def test_undecodable_names_as_paths_bytes_and_uris(place: Place) -> None:
    """A name that is no UTF-8 (surrogate escapes in str, raw bytes, %-escaped in a URI) is
    the file of that byte name, as natively."""
    raw = os.fsencode(place.path("undecodable-")) + b"\xe7"
    names: list[tuple[str | bytes, bool]] = [
        (os.fsdecode(raw) + "1", False),
        (raw + b"2", False),
        ("file:" + urllib.parse.quote(raw + b"3"), True),
    ]
    with place.block():
        for name, uri in names:
            with closing(sqlite3.connect(name, uri=uri)) as connection:
                connection.execute("create table t (x)")
        listed = sorted(os.listdir(os.fsencode(place.directory)))
    assert listed == [b"undecodable-\xe71", b"undecodable-\xe72", b"undecodable-\xe73"]


def test_the_journal_is_a_file_of_the_file_system(place: Place) -> None:
    database = place.path("journal.db")
    seen: list[Any] = []
    with place.block(), closing(sqlite3.connect(database)) as connection:
        connection.execute("create table t (x)")
        connection.commit()
        for mode in ("delete", "truncate", "persist"):
            assert connection.execute(f"pragma journal_mode={mode}").fetchone() == (mode,)
            connection.execute("insert into t values (1)")
            seen.append(sorted(os.listdir(place.directory)))
            connection.commit()
            journal = place.path("journal.db-journal")
            seen.append([os.path.exists(journal) and os.stat(journal).st_size > 0])
    assert seen == [
        ["journal.db", "journal.db-journal"], [False],
        ["journal.db", "journal.db-journal"], [False],
        ["journal.db", "journal.db-journal"], [True],
    ]  # fmt: skip


def test_a_journal_gets_its_databases_permission_bits(place: Place) -> None:
    database = place.path("bits.db")
    with place.block():
        with closing(sqlite3.connect(database)) as connection:
            connection.execute("create table t (x)")
            connection.commit()
        os.chmod(database, 0o664)
        previous = os.umask(0o077)
        try:
            with closing(sqlite3.connect(database)) as connection:
                connection.execute("pragma journal_mode=persist")
                connection.execute("insert into t values (1)")
                connection.commit()
                bits = oct(os.stat(database + "-journal").st_mode & 0o777)
        finally:
            os.umask(previous)
    assert bits == "0o664"


def test_an_empty_journal_left_behind_gets_its_databases_permission_bits(place: Place) -> None:
    """A journal SQLite finds there, empty (so not hot), is given the database's permission
    bits when SQLite opens it, as a journal it creates is."""
    database = place.path("left.db")
    with place.block():
        with closing(sqlite3.connect(database)) as connection:
            connection.execute("create table t (x)")
            connection.commit()
        os.chmod(database, 0o664)
        with open(database + "-journal", "wb"):
            pass
        os.chmod(database + "-journal", 0o600)
        with closing(sqlite3.connect(database)) as connection:
            connection.execute("pragma journal_mode=persist")
            connection.execute("insert into t values (1)")
            connection.commit()
        bits = oct(os.stat(database + "-journal").st_mode & 0o777)
    assert bits == "0o664"


def test_locks_between_connections_as_natively(place: Place) -> None:
    database = place.path("locks.db")
    with place.block():
        writer = sqlite3.connect(database, timeout=0.05, isolation_level=None)
        reader = sqlite3.connect(database, timeout=0, isolation_level=None)
        with closing(writer), closing(reader):
            writer.execute("create table t (x)")
            writer.execute("begin immediate")
            writer.execute("insert into t values (1)")
            during = reader.execute("select count(*) from t").fetchone()
            with pytest.raises(sqlite3.OperationalError) as busy:
                reader.execute("begin immediate")
            reader.execute("begin")
            reader.execute("select count(*) from t").fetchone()  # SHARED held
            with pytest.raises(sqlite3.OperationalError) as commit_busy:
                writer.execute("commit")  # EXCLUSIVE waits for the reader
            reader.execute("commit")
            writer.execute("commit")
            after = reader.execute("select count(*) from t").fetchone()
    assert (during, after) == ((0,), (1,))
    assert str(busy.value) == str(commit_busy.value) == "database is locked"


def test_two_connections_and_four_threads_commit_every_row(place: Place) -> None:
    database = place.path("threads.db")
    errors: list[BaseException] = []

    def work(number: int) -> None:
        try:
            with closing(sqlite3.connect(database, timeout=30)) as connection:
                for row in range(25):
                    with connection:
                        connection.execute("insert into t values (?, ?)", (number, row))
        except BaseException as error:  # noqa: BLE001 - reported by the test thread
            errors.append(error)

    with place.block():
        with closing(sqlite3.connect(database)) as connection:
            connection.execute("create table t (thread, row)")
            connection.commit()
        threads = [threading.Thread(target=work, args=(number,)) for number in range(4)]
        for thread in threads:
            thread.start()
        work(4)
        for thread in threads:
            thread.join()
        with closing(sqlite3.connect(database)) as connection:
            count = connection.execute("select count(*), count(distinct thread) from t").fetchone()
            check = connection.execute("pragma integrity_check").fetchone()
    assert errors == []
    assert (count, check) == ((125, 5), ("ok",))


def test_temporary_files_are_never_seen(place: Place) -> None:
    with place.block(), closing(sqlite3.connect(place.path("temp.db"))) as connection:
        connection.execute("pragma temp_store=file")
        connection.execute("pragma cache_size=10")
        connection.execute("create temp table scratch (x)")
        connection.executemany(
            "insert into scratch values (?)", ((str(i) * 50,) for i in range(3000))
        )
        ordered = connection.execute("select x from scratch order by x desc limit 1").fetchone()
        names = sorted(os.listdir(place.directory))
    assert ordered == ("999" * 50,)
    assert names == ["temp.db"]


def test_sqlites_worker_threads_reach_the_vfs(place: Place) -> None:
    """With ``PRAGMA threads``, SQLite sorts in its own threads, which open temporary files
    through the VFS (taking the GIL in the callbacks)."""
    with place.block(), closing(sqlite3.connect(place.path("sort.db"))) as connection:
        connection.execute("pragma threads=4")
        connection.execute("pragma cache_size=-64")
        connection.execute("create table t (x)")
        connection.executemany(
            "insert into t values (?)", ((i * 7919 % 20011,) for i in range(20011))
        )
        ordered = [row[0] for row in connection.execute("select x from t order by x")]
    assert ordered == list(range(20011))


def test_wal_is_refused_as_without_shared_memory(place: Place) -> None:
    before = wal_hits()
    with place.block(), closing(sqlite3.connect(place.path("wal.db"))) as connection:
        mode = connection.execute("pragma journal_mode=WAL").fetchone()
        connection.execute("create table t (x)")
        connection.commit()
        names = sorted(os.listdir(place.directory))
    if place.kind == "native":
        assert (mode, names, wal_hits()) == (
            ("wal",),
            ["wal.db", "wal.db-shm", "wal.db-wal"],
            before,
        )
    else:
        assert (mode, names, wal_hits()) == (("delete",), ["wal.db"], before + 1)


def wal_hits() -> int:
    entry = compat.report().get("sqlite.wal")
    return entry.count if entry is not None else 0


def test_a_connection_works_after_its_block_and_in_other_threads(place: Place) -> None:
    with place.block():
        connection = sqlite3.connect(place.path("after.db"), check_same_thread=False)
    with closing(connection):
        connection.execute("create table t (x)")
        connection.execute("insert into t values (1)")
        connection.commit()
        rows: list[Any] = []
        thread = threading.Thread(
            target=lambda: rows.extend(connection.execute("select x from t").fetchall())
        )
        thread.start()
        thread.join()
    assert rows == [(1,)]
    with place.block():
        assert sorted(os.listdir(place.directory)) == ["after.db"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # 3.12's and 3.13's, as natively
def test_the_callers_arguments_are_kept(place: Place) -> None:
    class Named(sqlite3.Connection):
        pass

    with place.block():
        connection = sqlite3.connect(
            place.path("args.db"), 1.5, sqlite3.PARSE_DECLTYPES, None, False, Named, 7
        )
        with closing(connection):
            kept = (isinstance(connection, Named), connection.isolation_level)
            connection.execute("create table t (d date)")
            connection.execute("insert into t values ('2026-12-05')")
            value = connection.execute("select d from t").fetchone()[0]
    assert kept == (True, None)
    assert repr(value) == "datetime.date(2026, 12, 5)"


class FailingHandle(DelegatingHandle):
    """A handle whose reads and writes fail with ``error`` while its provider is broken."""

    __slots__ = ("provider",)

    def __init__(self, inner: Handle, provider: Failing) -> None:
        super().__init__(inner)
        self.provider = provider

    def pread(self, n: int, offset: int) -> bytes:
        self.provider.check()
        return super().pread(n, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        self.provider.check()
        return super().pwrite(data, offset)


class Failing(DelegatingFileSystem):
    """A memory file system whose files fail with EIO once ``broken`` is set."""

    def __init__(self) -> None:
        super().__init__(MemoryFileSystem())
        self.broken = False

    def check(self) -> None:
        if self.broken:
            raise OSError(errno.EIO, "the device went away")

    def open(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        return FailingHandle(super().open(path, flags, mode), self)


def test_a_provider_error_is_a_disk_io_error_with_its_cause() -> None:
    provider = Failing()
    with backend("managed", file_system=provider):
        connection = sqlite3.connect("/io.db")
    with closing(connection):
        connection.execute("create table t (x)")
        connection.commit()
        provider.broken = True
        with pytest.raises(sqlite3.OperationalError) as failed:
            connection.execute("insert into t values (1)")
            connection.commit()
        provider.broken = False
        count = connection.execute("select count(*) from t").fetchone()
    assert str(failed.value) == "disk I/O error"
    assert failed.value.sqlite_errorname.startswith("SQLITE_IOERR")
    cause = failed.value.__cause__
    assert isinstance(cause, OSError) and cause.errno == errno.EIO
    assert count == (0,)


class Interrupting(Failing):
    """Reads and writes raise KeyboardInterrupt (a Ctrl-C landing in the provider) while
    ``broken`` is set."""

    def check(self) -> None:
        if self.broken:
            raise KeyboardInterrupt


def test_an_interruption_in_a_write_or_read_reaches_the_caller() -> None:
    """The trampolines call a file's pread and pwrite directly; what those raise is kept as
    the cause all the same, and an interruption is raised in place of SQLite's error."""
    provider = Interrupting()
    with backend("managed", file_system=provider):
        connection = sqlite3.connect("/interrupted.db")
    with closing(connection):
        connection.execute("create table t (x)")
        connection.commit()
        provider.broken = True
        with pytest.raises(KeyboardInterrupt):
            connection.execute("insert into t values (1)")
            connection.commit()
        provider.broken = False
        connection.rollback()
        count = connection.execute("select count(*) from t").fetchone()
    assert count == (0,)


def test_a_full_file_system_is_database_or_disk_is_full() -> None:
    limited = MemoryFileSystem(max_bytes=64 * 1024)
    with backend("managed", file_system=limited), closing(sqlite3.connect("/full.db")) as db:
        db.execute("create table t (x)")
        with pytest.raises(sqlite3.OperationalError) as full, db:
            db.execute("insert into t values (?)", (b"x" * 200_000,))
        after = db.execute("select count(*) from t").fetchone()
        check = db.execute("pragma integrity_check").fetchone()
    assert str(full.value) == "database or disk is full"
    assert isinstance(full.value.__cause__, OSError)
    assert full.value.__cause__.errno == errno.ENOSPC
    assert (after, check) == ((0,), ("ok",))


def test_an_unwritable_database_opens_read_only_as_natively() -> None:
    """A database the user may only read opens read-only (writes are refused as natively);
    one in a directory the user may not write cannot be made (SQLITE_CANTOPEN)."""
    memory = MemoryFileSystem(identity=Identity(1000, 1000))
    with backend("managed", file_system=memory):
        with closing(sqlite3.connect("/ro.db")) as connection:
            connection.execute("create table t (x)")
            connection.commit()
        os.chmod("/ro.db", 0o444)
        with closing(sqlite3.connect("/ro.db")) as connection:
            rows = connection.execute("select count(*) from t").fetchone()
            with pytest.raises(sqlite3.OperationalError) as refused:
                connection.execute("insert into t values (1)")
        os.mkdir("/locked", 0o500)
        with pytest.raises(sqlite3.OperationalError) as cannot:
            sqlite3.connect("/locked/new.db")
    assert rows == (0,)
    assert str(refused.value) == "attempt to write a readonly database"
    assert str(cannot.value) == "unable to open database file"
    assert isinstance(cannot.value.__cause__, PermissionError)


def test_file_io_refused_by_the_permissions_refuses_the_connect() -> None:
    with backend("managed", permissions=Permissions()):
        with pytest.raises(PermissionError, match="allow_io"):
            sqlite3.connect("/denied.db")
        with closing(sqlite3.connect(":memory:")) as connection:
            assert connection.execute("select 1").fetchone() == (1,)


def test_a_block_without_native_access_opens_database_files() -> None:
    """The VFS's memory work is the library's own (the C trampolines): a block that grants
    file I/O but not native access (ctypes) still opens database files; with the ctypes
    adaptors it is refused up front, naming the permission."""
    with backend("managed", permissions=Permissions(allow_io="all")):
        if routing.uses_c():
            with closing(sqlite3.connect("/tmp/granted.db")) as connection:
                connection.execute("create table t (x)")
                connection.execute("insert into t values (1)")
                connection.commit()
                assert connection.execute("select x from t").fetchall() == [(1,)]
        else:
            with pytest.raises(PermissionError, match="grant allow_native_access"):
                sqlite3.connect("/tmp/granted.db")


def test_an_unreachable_sqlite_library_is_refused_with_its_gap(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(routing, "registered", lambda: library.Unreachable("linked in"))
    refused = pytest.raises(sqlite3.OperationalError, match=r"linked in.*sqlite\.static_library")
    with backend("managed", file_system=MemoryFileSystem()), refused:
        sqlite3.connect(tmp_path / "x.db")
    assert list(tmp_path.iterdir()) == []


def test_the_library_is_the_one_sqlite3_links() -> None:
    found = library.find()
    assert isinstance(found, library.Library)
    with open("/proc/self/maps") as maps:
        assert found.path in maps.read() or os.path.realpath(found.path) in maps.read()


@pytest.mark.skipif(sys.version_info < (3, 13), reason="dbm.sqlite3 is new in 3.13")
def test_dbm_makes_and_opens_sqlite3_databases(place: Place) -> None:
    import dbm
    import shelve

    with place.block():
        with dbm.open(place.path("plain"), "c") as db:
            db[b"key"] = b"value"
        with dbm.open(place.path("plain"), "r") as db:
            value = db[b"key"]
        with shelve.open(place.path("shelf"), "c") as shelf:
            shelf["list"] = [1, 2]
        with shelve.open(place.path("shelf"), "r") as shelf:
            stored = dict(shelf)
        kinds = dbm.whichdb(place.path("plain")), dbm.whichdb(place.path("shelf"))
        names = sorted(os.listdir(place.directory))
    assert (value, stored, kinds) == (b"value", {"list": [1, 2]}, ("dbm.sqlite3",) * 2)
    wal = [name for name in names if name.endswith(("-wal", "-shm"))]  # native WAL's files
    assert [name for name in names if name not in wal] == ["plain", "shelf"]
    assert (place.kind == "native") == bool(wal)


def outcome(call: Callable[..., Any], *args: Any) -> Any:
    try:
        call(*args)
    except Exception as error:  # noqa: BLE001 - the outcome is what is compared
        return type(error).__name__, str(error)
    return "ok"


def test_an_interrupted_callback_raises_its_interruption() -> None:
    """A KeyboardInterrupt in a provider (SQLite cannot take it) is raised in place of the
    sqlite3 error the failure became."""
    from posixbackend.sqlite import causes, codes

    causes.chain_causes()
    causes.record(KeyboardInterrupt(), codes.IOERR_READ)
    with pytest.raises(KeyboardInterrupt):
        sqlite3.OperationalError("disk I/O error")
    causes.record(OSError(errno.EIO, "gone"), codes.IOERR_READ)
    unrelated = sqlite3.OperationalError("no such table: t")
    chained = sqlite3.OperationalError("disk I/O error")
    assert unrelated.__cause__ is None
    assert isinstance(chained.__cause__, OSError) and chained.__suppress_context__


def test_a_connection_open_at_exit_ends_the_process_cleanly(tmp_path: Path) -> None:
    program = (
        "import sqlite3, threading\n"
        "from posixbackend import backend\n"
        "from vfs import MemoryFileSystem\n"
        "with backend('managed', file_system=MemoryFileSystem()):\n"
        "    kept = sqlite3.connect('/kept.db', check_same_thread=False)\n"
        "kept.execute('create table t (x)')\n"
        "kept.execute('insert into t values (1)')\n"
        "print(kept.execute('select x from t').fetchall())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "[(1,)]\n", "")


def test_the_c_trampolines_serve_where_they_are_built() -> None:
    try:
        from posixbackend import _sqlitevfs  # noqa: F401
    except ImportError:
        pytest.skip("posixbackend._sqlitevfs is not built")  # pragma: no cover
    if os.environ.get(routing.ENVIRONMENT_SWITCH, "") not in ("", "0"):
        pytest.skip("the C trampolines are switched off")
    assert routing.uses_c()


def test_the_ctypes_adaptors_serve_alone(tmp_path: Path) -> None:
    """With POSIXBACKEND_PURE_PYTHON=1 the VFS's ctypes adaptors serve: the same behaviour
    (commit, journal, locks, a full file system and its cause, use after the block)."""
    program = (
        "import errno, os, sqlite3\n"
        "from posixbackend import backend\n"
        "from posixbackend.sqlite import connect\n"
        "from vfs import MemoryFileSystem\n"
        "with backend('managed', file_system=MemoryFileSystem(max_bytes=64 * 1024)):\n"
        "    a = sqlite3.connect('/c.db', isolation_level=None)\n"
        "    b = sqlite3.connect('/c.db', timeout=0, isolation_level=None)\n"
        "    a.execute('create table t (x)')\n"
        "    a.execute('begin immediate')\n"
        "    a.execute('insert into t values (1)')\n"
        "    print(sorted(os.listdir('/')))\n"
        "    try:\n"
        "        b.execute('begin immediate')\n"
        "    except sqlite3.OperationalError as error:\n"
        "        print(error)\n"
        "    a.execute('commit')\n"
        "try:\n"
        "    b.execute('insert into t values (?)', (b'x' * 200_000,))\n"
        "except sqlite3.OperationalError as error:\n"
        "    print(error, error.__cause__.errno == errno.ENOSPC)\n"
        "print(b.execute('select count(*) from t').fetchone(), connect.uses_c())\n"
    )
    environment = {**os.environ, "POSIXBACKEND_PURE_PYTHON": "1"}
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True, text=True, timeout=60, check=False, env=environment,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "['c.db', 'c.db-journal']",
        "database is locked",
        "database or disk is full True",
        "(1,) False",
    ]


def test_a_file_to_delete_on_close_is_gone_at_once() -> None:
    """SQLITE_OPEN_DELETEONCLOSE with a name: removed right after it opens, as the unix VFS
    does (the VFS's methods take no memory addresses: a made-up file address serves)."""
    from posixbackend.sqlite import codes

    vfs = routing.registered()
    assert not isinstance(vfs, library.Unreachable)
    flags = codes.OPEN_READWRITE | codes.OPEN_CREATE | codes.OPEN_DELETEONCLOSE
    with backend("managed", file_system=MemoryFileSystem()):
        opened = vfs.c_open(1, b"/scratch", flags, None, False, ())
        visible = os.path.exists("/scratch")
        written = vfs.c_write(1, b"kept while open", 0), vfs.c_read(1, 100, 0)
        closed = vfs.c_close(1)
    assert (opened, visible, closed) == (flags, False, codes.OK)
    assert written == (codes.OK, b"kept while open")


def test_a_pending_writer_keeps_new_readers_out(place: Place) -> None:
    """A commit that waits for a reader holds PENDING: a new reader is refused until the
    writer is through, as the unix VFS's locks have it."""
    database = place.path("pending.db")
    seen: list[object] = []
    with place.block():
        writer, reader, newcomer = (
            sqlite3.connect(database, timeout=0, isolation_level=None) for _ in range(3)
        )
        with closing(writer), closing(reader), closing(newcomer):
            writer.execute("create table t (x)")
            reader.execute("begin")
            reader.execute("select count(*) from t").fetchone()  # SHARED held
            writer.execute("begin immediate")
            writer.execute("insert into t values (1)")
            with pytest.raises(sqlite3.OperationalError) as commit_refused:
                writer.execute("commit")  # PENDING taken; EXCLUSIVE waits for the reader
            with pytest.raises(sqlite3.OperationalError) as read_refused:
                newcomer.execute("select count(*) from t").fetchone()
            seen += [str(commit_refused.value), str(read_refused.value)]
            reader.execute("commit")
            writer.execute("commit")
            seen.append(newcomer.execute("select count(*) from t").fetchone())
    assert seen == ["database is locked", "database is locked", (1,)]


class Unsyncable(Failing):
    """A memory file system whose handles' ``sync`` or ``size`` (named by ``broken_call``)
    raise ``error`` (the C trampolines call both on the handle directly)."""

    def __init__(self, broken_call: str, error: BaseException) -> None:
        super().__init__()
        self.broken_call = broken_call
        self.error = error

    def check_call(self, name: str) -> None:
        if self.broken and name == self.broken_call:
            raise self.error

    def open(self, path: str, flags: int, mode: int = 0o666) -> Handle:
        return UnsyncableHandle(DelegatingFileSystem.open(self, path, flags, mode), self)


class UnsyncableHandle(DelegatingHandle):
    __slots__ = ("provider",)

    def __init__(self, inner: Handle, provider: Unsyncable) -> None:
        super().__init__(inner)
        self.provider = provider

    def sync(self) -> None:
        self.provider.check_call("sync")
        super().sync()

    def size(self) -> int:
        self.provider.check_call("size")
        return super().size()


@pytest.mark.parametrize("broken_call", ["sync", "size"])
@pytest.mark.parametrize("interrupted", [False, True], ids=["EIO", "KeyboardInterrupt"])
def test_a_failing_sync_or_size_fails_the_commit_and_leaves_no_lock(
    broken_call: str, interrupted: bool
) -> None:
    error = KeyboardInterrupt() if interrupted else OSError(errno.EIO, "the device went away")
    provider = Unsyncable(broken_call, error)
    with backend("managed", file_system=provider):
        connection = sqlite3.connect("/sync.db", timeout=0, isolation_level=None)
        other = sqlite3.connect("/sync.db", timeout=0, isolation_level=None)
    with closing(connection), closing(other):
        connection.execute("create table t (x)")
        provider.broken = True
        with pytest.raises((sqlite3.OperationalError, KeyboardInterrupt)) as failed:
            connection.execute("begin immediate")
            connection.execute("insert into t values (1)")
            connection.execute("commit")
        provider.broken = False
        other.execute("begin immediate")  # no lock of the failed transaction is left
        other.execute("insert into t values (2)")
        other.execute("commit")
        rows = connection.execute("select x from t").fetchall()
    if interrupted:
        assert failed.type is KeyboardInterrupt
    else:
        assert str(failed.value) == "disk I/O error"
        assert isinstance(failed.value.__cause__, OSError)
        assert failed.value.__cause__.errno == errno.EIO
    assert rows == [(2,)]


def test_the_trampolines_keep_sqlites_locks_in_c_records() -> None:
    """Where the C trampolines serve, a database's lock record is their LockRecord, which
    they change in C; a journal (never locked by SQLite) takes no record of the table."""
    if not routing.uses_c():
        pytest.skip("the C trampolines do not serve")
    from posixbackend import _sqlitevfs
    from posixbackend.sqlite import codes
    from posixbackend.sqlite.locking import LOCKS

    records = LOCKS._records  # the table's contents are what is checked
    before = len(records)
    with backend("managed", file_system=MemoryFileSystem()):
        connection = sqlite3.connect("/records.db", isolation_level=None)
        status = os.stat("/records.db")
    with closing(connection):
        connection.execute("create table t (x)")
        record = records[(status.st_dev, status.st_ino)]
        connection.execute("begin immediate")
        connection.execute("insert into t values (1)")  # the journal is open now
        during = (record.level, record.shared, len(records) - before)
        connection.execute("commit")
        after = (record.level, record.shared)
    assert type(record) is _sqlitevfs.LockRecord
    assert during == (codes.LOCK_RESERVED, 1, 1)
    assert after == (codes.LOCK_NONE, 0)


def test_a_hot_journal_left_by_a_crash_is_rolled_back(place: Place) -> None:
    """The files of a transaction caught mid-way (pages spilled into the database, the
    journal holding their old content), copied as a crash would leave them, open as the
    last committed state: SQLite rolls the copy's hot journal back (on the memory file
    system the journal header leaves its record count to the journal's size, as SQLite does
    for devices that append safely)."""
    original, copy = place.path("crash.db"), place.path("copy.db")
    with place.block():
        with closing(sqlite3.connect(original)) as connection:
            connection.execute("pragma cache_size=1")
            connection.execute("create table t (x)")
            connection.executemany(
                "insert into t values (?)", ((str(i) * 100,) for i in range(200))
            )
            connection.commit()
            connection.execute("update t set x = 'changed'")  # spills pages: a hot journal
            for suffix in ("", "-journal"):
                with open(original + suffix, "rb") as source, open(copy + suffix, "wb") as target:
                    target.write(source.read())
            connection.rollback()
        with closing(sqlite3.connect(copy)) as recovered:
            rows = recovered.execute("select count(*), min(x), max(x) from t").fetchone()
            check = recovered.execute("pragma integrity_check").fetchone()
        left = os.path.exists(copy + "-journal")
    assert rows == (200, "0" * 100, "99" * 100)
    assert (check, left) == (("ok",), False)


def test_the_trampolines_find_the_memory_writers_c_write() -> None:
    """posixbackend._speedups offers the MemoryWriter's write of a C buffer in a capsule of
    the name posixbackend/_memory_writer_api.h gives (the trampolines import it by name;
    under another name every page would be copied into a bytes object first)."""
    try:
        from posixbackend import _speedups, _sqlitevfs  # noqa: F401
    except ImportError:
        pytest.skip("the accelerator or the trampolines are not built")  # pragma: no cover
    import ctypes

    is_valid = ctypes.pythonapi.PyCapsule_IsValid
    is_valid.argtypes, is_valid.restype = (ctypes.py_object, ctypes.c_char_p), ctypes.c_int
    name = b"posixbackend._speedups.memory_writer_api_2"  # numbered with its layout
    assert is_valid(_speedups.memory_writer_api_2, name)


def test_a_database_on_the_memory_file_system_notes_its_journal_header_gap(place: Place) -> None:
    """Only a database on a memory file system (whose journal header SQLite then writes as
    for safe-append storage) hits gap sqlite.memory_journal_header."""

    def hits() -> int:
        entry = compat.report().get("sqlite.memory_journal_header")
        return 0 if entry is None else entry.count

    before = hits()
    with place.block(), closing(sqlite3.connect(place.path("gap.db"))) as connection:
        connection.execute("create table t (x)")
        connection.commit()
    assert hits() - before == (1 if place.kind == "memory" else 0)


def _grown(path: str) -> bytes:
    """The bytes of a database whose commits grow it page after page (SQLite gives the VFS
    a size hint before each such commit), read back through the file system."""
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("create table t (id integer primary key, name text)")
        for start, count in ((0, 3000), (3000, 3000), (6000, 5)):  # large commits, a small one
            with connection:
                connection.executemany(
                    "insert into t values (?, ?)",
                    ((row, f"row {row}" * 3) for row in range(start, start + count)),
                )
    with open(path, "rb") as database:
        return database.read()


def test_a_growing_commit_writes_what_native_sqlite_writes(place: Place, tmp_path: Path) -> None:
    """The database file after commits that grow it (on the memory file system through the
    room its size hint makes) holds the bytes native SQLite writes, page for page."""
    expected = _grown(str(tmp_path / "native-reference.db"))
    with place.block():
        written = _grown(place.path("grown.db"))
        size = os.stat(place.path("grown.db")).st_size
    assert len(expected) > 40 * 4096
    assert (size, written) == (len(expected), expected)


@pytest.mark.parametrize("kind", ["memory", "host"])
def test_journal_checks_on_a_memory_file_system_are_answered_in_c(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the trampolines and the accelerator serve, SQLite's existence checks of a
    memory file system's journal and WAL (before each transaction) never reach
    Vfs.c_access, and still see a journal another handle made; on any other provider they
    do reach it."""
    if not routing.uses_c() or not accelerator.wanted(None):
        pytest.skip("the C trampolines or the accelerator do not serve")
    vfs = routing.registered()
    assert not isinstance(vfs, library.Unreachable)
    asked: list[int] = []
    original = vfs.c_access

    def counted(address: int, name: bytes | None, flags: int, token: bytes | None) -> int:
        asked.append(flags)
        return original(address, name, flags, token)

    monkeypatch.setattr(vfs, "c_access", counted)
    file_system = MemoryFileSystem() if kind == "memory" else HostFileSystem(root=tmp_path)
    with backend("managed", file_system=file_system):
        with closing(sqlite3.connect("/checked.db")) as connection:
            connection.execute("create table t (x)")
            connection.execute("insert into t values (1)")
            connection.commit()
            with open("/checked.db-journal", "wb") as journal:  # not SQLite's: garbage
                journal.write(b"not a journal")
            count = connection.execute("select count(*) from t").fetchone()
        left = os.path.exists("/checked.db-journal")
    # the garbage journal was seen (hot), found invalid, and removed, as natively
    assert (count, left) == ((1,), False)
    assert (asked == []) == (kind == "memory")


@pytest.mark.parametrize("kind", ["memory", "host"])
def test_a_journals_life_on_a_memory_file_system_is_in_c(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the trampolines and the accelerator serve, a memory database's new rollback
    journal is created, opened, closed and unlinked without Vfs.c_open_direct, c_close and
    c_delete (each transaction makes and removes one); on any other provider they serve it."""
    if not routing.uses_c() or not accelerator.wanted(None):
        pytest.skip("the C trampolines or the accelerator do not serve")
    vfs = routing.registered()
    assert not isinstance(vfs, library.Unreachable)
    journals: list[str] = []
    opening, deleting = vfs.c_open_direct, vfs.c_delete

    def counted_open(*args: Any) -> Any:
        if args[1] is not None and args[1].endswith(b"-journal"):
            journals.append("open")
        return opening(*args)

    def counted_delete(address: int, name: bytes, token: bytes | None) -> int:
        journals.append("delete")
        return deleting(address, name, token)

    monkeypatch.setattr(vfs, "c_open_direct", counted_open)
    monkeypatch.setattr(vfs, "c_delete", counted_delete)
    file_system = MemoryFileSystem() if kind == "memory" else HostFileSystem(root=tmp_path)
    with backend("managed", file_system=file_system):
        with closing(sqlite3.connect("/life.db")) as connection:
            connection.execute("create table t (x)")
            with connection:
                connection.execute("insert into t values (1)")
                listed = sorted(os.listdir("/"))
            rows = connection.execute("select count(*) from t").fetchone()
        after = sorted(os.listdir("/"))
    assert (listed, after, rows) == (["life.db", "life.db-journal"], ["life.db"], (1,))
    assert journals == ([] if kind == "memory" else ["open", "delete"] * 2)


def _journal_life(directory: str, identity: Identity | None) -> list[Any]:
    """What a program sees of a database's journals on a fresh memory file system (as
    ``identity``, None: root) in ``directory``: the journal's status during a transaction, the
    directory's and the file system's counts around it, and a journal that cannot be made."""
    memory = MemoryFileSystem() if identity is None else MemoryFileSystem(identity=identity)
    seen: list[Any] = []
    with backend("managed", file_system=memory):
        if directory != "/":
            os.mkdir(directory, 0o1777 if directory == "/tmp" else 0o755)
        database = posixpath.join(directory, "seen.db")
        with closing(sqlite3.connect(database)) as connection:
            connection.execute("create table t (x)")
            connection.commit()
            os.chmod(database, 0o640)
            # the directory's times from the file system itself (ns: the backend shows seconds)
            before, used = memory.stat(directory), os.statvfs(directory)
            connection.execute("insert into t values (1)")
            journal = os.stat(database + "-journal")
            others = (before.st_ino, os.stat(database).st_ino)
            seen.append((
                oct(journal.st_mode), journal.st_uid, journal.st_gid, journal.st_nlink,
                journal.st_size > 0, journal.st_ino not in others, sorted(os.listdir(directory)),
            ))  # fmt: skip
            during = memory.stat(directory)
            connection.commit()
            after, freed = memory.stat(directory), os.statvfs(directory)
            seen.append((
                sorted(os.listdir(directory)), during.st_mtime_ns > before.st_mtime_ns,
                after.st_mtime_ns > during.st_mtime_ns, after.st_nlink == before.st_nlink,
                (used.f_ffree, used.f_bfree) == (freed.f_ffree, freed.f_bfree),
            ))  # fmt: skip
            # reads (SQLite's check of its cache at each transaction) move atime by relatime
            touched = []
            for _ in range(2):
                read = memory.stat(database).st_atime_ns
                connection.execute("select count(*) from t").fetchone()
                touched.append(memory.stat(database).st_atime_ns > read)
            seen.append(touched)
            os.chmod(directory, 0o555)  # the journal cannot be made now (but by root)
            try:
                connection.execute("insert into t values (2)")
                connection.commit()
                seen.append("written")
            except sqlite3.OperationalError as error:
                seen.append((str(error), type(error.__cause__).__name__))
            os.chmod(directory, 0o1777 if directory == "/tmp" else 0o755)
            seen.append(connection.execute("select count(*) from t").fetchone())
        seen.append(sorted(os.listdir(directory)))
    return seen


@pytest.mark.parametrize("directory", ["/", "/data", "/tmp"])
@pytest.mark.parametrize("user", [None, 1000])
def test_a_journal_made_in_c_is_what_the_python_path_makes(
    directory: str, user: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A journal created and unlinked in C (the trampolines with the accelerator) leaves the
    memory file system as the Python path (the accelerator off) does: its status, the
    directory's times and links, the inodes and blocks counted, a refusal and its cause; in
    the root directory, a plain one and a sticky one, as root and as a user."""
    if not routing.uses_c() or not accelerator.wanted(None):
        pytest.skip("the C trampolines or the accelerator do not serve")
    identity = None if user is None else Identity(user, user)
    in_c = _journal_life(directory, identity)
    monkeypatch.setenv(accelerator.ENVIRONMENT_SWITCH, "1")
    in_python = _journal_life(directory, identity)
    assert in_c == in_python
    assert in_c[1][0] == ["seen.db"]  # gone after the commit


def _listings_around_a_commit() -> list[Any]:
    """What os.listdir shows of a large directory (its listing kept by the file system until
    its entries change) around a write transaction of a database in it: the count first, then
    the names besides the fillers while the journal is there and after the commit."""
    fillers = {f"f{index}" for index in range(LISTING_CHUNK)}
    with backend("managed", file_system=MemoryFileSystem()):
        os.mkdir("/big")
        for name in fillers:
            os.close(os.open(f"/big/{name}", os.O_WRONLY | os.O_CREAT, 0o644))
        with closing(sqlite3.connect("/big/seen.db")) as connection:
            connection.execute("create table t (x)")
            connection.commit()
            seen: list[Any] = [len(os.listdir("/big"))]  # listed: the listing is kept now
            connection.execute("insert into t values (1)")
            seen.append(sorted(set(os.listdir("/big")) - fillers))
            connection.commit()
            seen.append(sorted(set(os.listdir("/big")) - fillers))
    return seen


def test_a_journal_made_in_c_drops_a_large_directorys_kept_listing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The journal's entry, made and removed in C, drops the listing a large directory keeps
    (as the Python path's _enter and _detach do): a listing taken before it shows the journal
    while it is there and not after, the same with the accelerator off."""
    if not routing.uses_c() or not accelerator.wanted(None):
        pytest.skip("the C trampolines or the accelerator do not serve")
    in_c = _listings_around_a_commit()
    monkeypatch.setenv(accelerator.ENVIRONMENT_SWITCH, "1")
    assert in_c == _listings_around_a_commit()
    assert in_c == [LISTING_CHUNK + 1, ["seen.db", "seen.db-journal"], ["seen.db"]]


def test_a_long_named_databases_journal_comes_and_goes(place: Place) -> None:
    """A journal whose name is long (past what the file system's quick paths take: the
    general path makes it) is there during a transaction and gone after it, as natively."""
    name = "d" * 200 + ".db"
    database = place.path(name)
    seen: list[Any] = []
    with place.block(), closing(sqlite3.connect(database)) as connection:
        connection.execute("create table t (x)")
        for _ in range(2):
            connection.execute("insert into t values (1)")
            seen.append(sorted(os.listdir(place.directory)))
            connection.commit()
            seen.append(sorted(os.listdir(place.directory)))
    assert seen == [[name, name + "-journal"], [name]] * 2


def _held_while(memory: MemoryFileSystem, path: str, work: Callable[[], None]) -> list[bool]:
    """Run ``work`` while another thread holds ``memory``'s lock for a moment: whether the
    content of ``path`` stayed as it was while the lock was held (no write may land then)."""
    handle = memory.open(path, os.O_RDONLY)
    node = handle.node
    assert isinstance(node, RegularFile) and node.data is not None  # a dense file
    data = node.data
    taken = threading.Event()
    unchanged: list[bool] = []

    def hold() -> None:
        with memory._lock:
            taken.set()
            before = bytes(data)
            time.sleep(0.3)  # the work reaches its writes meanwhile, and must wait
            unchanged.append(bytes(node.data or b"") == before)

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait()
    try:
        work()
    finally:
        thread.join()
        handle.close()
    return unchanged


def test_page_writes_wait_for_the_file_systems_lock() -> None:
    """A commit's page writes to a memory file (in C through the writer capsule, which looks
    whether the file system's lock is free instead of taking it) never land while another
    thread holds that lock: the commit waits for it, then writes every row."""
    memory = MemoryFileSystem()
    with backend("managed", file_system=memory):
        connection = sqlite3.connect("/held.db")
    with closing(connection):
        connection.execute("create table t (x)")
        connection.commit()
        connection.execute("insert into t values (-1)")  # the journal is open from here

        def commit() -> None:
            connection.executemany("insert into t values (?)", [(row,) for row in range(3000)])
            connection.commit()

        unchanged = _held_while(memory, "/held.db", commit)
        rows = connection.execute("select count(*), sum(x) from t").fetchone()
    assert (unchanged, rows) == ([True], (3001, sum(range(3000)) - 1))


def test_a_rollback_reads_its_journal_while_the_lock_is_busy() -> None:
    """A rollback that must play its journal back (pages spilled to the database: a tiny
    cache) while another thread holds the file system's lock reads the journal (made in C)
    through its handle's pread once that lock is free, and leaves the rows as they were."""
    memory = MemoryFileSystem()
    with backend("managed", file_system=memory):
        connection = sqlite3.connect("/spilled.db")
    with closing(connection):
        connection.execute("create table t (x)")
        connection.executemany("insert into t values (?)", [(row,) for row in range(100)])
        connection.commit()
        connection.execute("pragma cache_size = 2")
        connection.executemany("insert into t values (?)", [("x" * 500,) for _ in range(300)])
        unchanged = _held_while(memory, "/spilled.db", connection.rollback)
        listed = sorted(memory.listdir("/"))  # rolled back: the journal is gone at once
        rows = connection.execute("select count(*), sum(x) from t").fetchone()
        check = connection.execute("pragma integrity_check").fetchone()
    assert (unchanged, listed, rows, check) == (
        [True], ["spilled.db"], (100, sum(range(100))), ("ok",)
    )
