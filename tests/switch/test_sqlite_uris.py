"""How the sqlite3.connect stand-in reads and writes ``file:`` URIs, against SQLite itself:
whether a URI names an in-memory database (each ``mode`` applied in turn, as SQLite applies
them: ``mode=memory&mode=rwc`` is a file) and which file a URI's escaped path names. A wrong
answer sends the database to SQLite's own VFS, on the host (see the escape corpus), or to
another file."""

from __future__ import annotations

import os
import sqlite3
import tempfile
import urllib.parse

from hypothesis import given, settings
from hypothesis import strategies as st

from posixbackend import backend
from posixbackend.sqlite import connect
from vfs import MemoryFileSystem

MODES = st.lists(st.sampled_from(["memory", "rwc", "rw", "ro"]), max_size=3)
OTHERS = st.lists(st.sampled_from(["cache=shared", "cache=private", "x=1", "+", "", "mode"]),
                  max_size=2)  # fmt: skip


def natively_made_no_file(uri: str, path: str) -> bool:
    """Whether SQLite opened ``uri`` (a table made in it) and left no file at ``path``."""
    try:
        database = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        return False
    try:
        database.execute("create table t(x)")
        database.commit()
    except sqlite3.Error:
        return False
    finally:
        database.close()
    return not os.path.exists(path)


@settings(max_examples=60, deadline=None)
@given(modes=MODES, others=OTHERS)
def test_a_uri_is_in_memory_exactly_when_sqlite_makes_no_file(
    modes: list[str], others: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as top:
        path = os.path.join(top, "db")
        query = "&".join([*(f"mode={mode}" for mode in modes), *others])
        uri = f"file:{path}?{query}"
        assert connect.in_memory(uri, True) == natively_made_no_file(uri, path), uri


NAMES = st.text(
    st.characters(codec="utf-8", exclude_characters="/\0"),
    min_size=1, max_size=12,
).filter(lambda name: name not in (".", ".."))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(name=NAMES)
def test_an_escaped_uri_path_names_the_file_sqlite_would_open(name: str) -> None:
    """The same name natively and in the virtual file system, whatever it holds ('%', '?',
    '#', '+', spaces, non-ASCII), given %-escaped in the URI."""
    quoted = urllib.parse.quote(name, safe="")
    with tempfile.TemporaryDirectory() as top:
        database = sqlite3.connect(f"file:{top}/{quoted}?mode=rwc", uri=True)
        database.close()
        native = os.listdir(top)
    fs = MemoryFileSystem()
    with backend("managed", file_system=fs):
        os.mkdir("/d")
        database = sqlite3.connect(f"file:/d/{quoted}?mode=rwc", uri=True)
        database.close()
        managed = os.listdir("/d")
    assert managed == native == [name]
