"""Paths the resolver's cache of whole paths no longer holds (a tree of more paths than it
keeps, issue 20's distinct-path rows): the C open finds the directory from the cache of
directories or by plain lookups, and an absolute scandir finds its directory as a stat does,
both with the answers of the pure-Python backend through renames, links, permission changes
and dropped caches."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.posixbackend.test_accelerator import CONTENT, USER, make_backend, outcome
from tests.posixbackend.test_stat_accelerated import NEEDS_C
from tests.posixbackend.test_stat_accelerated import operation as stat_operation
from tests.posixbackend.test_stat_accelerated import run as run_stat_program

OPEN_PATHS = [
    "/d/f", "/d/g", "/d/h", "/d/p", "/d/link", "/d", "/d/missing", "/d/f/", "/d/./f",
    "/d//f", "/d/../d/f", "/e/f", "/e/sub/f", "/l/f", "/moved/f", "/missing/f", "/d/f\x00",
    "/d/\xe9", "/d/" + "x" * 256, "/d/.", "/d/..",
]  # fmt: skip
SCAN_PATHS = [
    "/", "/d", "/d/", "/d/.", "/e", "/e/sub", "/l", "/l/", "/moved", "/d/f", "/d/link",
    "/missing", "/e/missing/x", "/d/" + "x" * 256, "/d/\xe9", "/d\x00",
]  # fmt: skip
operation = st.one_of(
    stat_operation,
    st.tuples(st.just("read"), st.sampled_from(OPEN_PATHS), st.sampled_from([0, os.O_TRUNC])),
    st.tuples(st.just("scan"), st.sampled_from(SCAN_PATHS)),
    st.tuples(st.just("evict")),  # the whole paths dropped, as past the cache's size
    st.tuples(st.just("forget")),  # every cached resolution dropped
)


def read_through(backend: Any, path: str, truncate: int) -> tuple[str, bytes]:
    """Open ``path`` read-only (or write-only and truncating), read what it holds, close."""
    fd = backend.open(path, (os.O_WRONLY | truncate) if truncate else os.O_RDONLY)
    try:
        return ("ok", b"" if truncate else backend.read(fd, 1000))
    finally:
        backend.close(fd)


def listed(backend: Any, path: str) -> list[tuple[str, bool, bool]]:
    with backend.scandir(path) as entries:
        return sorted((entry.name, entry.is_file(), entry.is_dir()) for entry in entries)


def run(backend: Any, program: list[tuple[Any, ...]]) -> list[Any]:
    names: Any = backend.file_system._names
    log: list[Any] = []
    for name, *args in program:
        if name == "read":
            result = outcome(read_through, backend, *args)
            log.append((name, args, result[1] if result[0] == "ok" else result))
        elif name == "scan":
            log.append((name, args, outcome(listed, backend, args[0])))
        elif name == "evict":
            names.paths.clear()
        elif name == "forget":
            names.forget()
        else:
            log.extend(run_stat_program(backend, [(name, *args)]))
    return log


@NEEDS_C
@given(st.sampled_from([None, USER]), st.lists(operation, min_size=3, max_size=40))
def test_uncached_opens_and_scans_answer_as_the_python_code(
    who: Any, program: list[tuple[Any, ...]]
) -> None:
    fast, pure = make_backend(True, who), make_backend(False, who)
    assert run(fast, program) == run(pure, program)


def python_calls(monkeypatch: Any, target: Any, name: str) -> list[tuple[Any, ...]]:
    """The calls of ``target.name`` from now on."""
    calls: list[tuple[Any, ...]] = []
    original = getattr(target, name)

    def counted(*args: Any) -> Any:
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(target, name, counted)
    return calls


@NEEDS_C
def test_an_open_out_of_the_cache_of_paths_is_served_in_c(monkeypatch: Any) -> None:
    """With the whole path dropped from the cache (as in a tree of more paths than it keeps),
    the C open finds the directory in the cache of directories -- one reached through a link
    too -- or by plain lookups, with no Python open; a link at the end is the Python code's."""
    backend = make_backend(True)
    fs: Any = backend.file_system
    backend.symlink("/d", "/l")
    for path in ("/d/f", "/l/f"):
        backend.close(backend.open(path, os.O_RDONLY))  # resolved once: the heads know "/l"
    opens = python_calls(monkeypatch, fs, "open_at")
    for path, drop in (("/d/f", fs._names.paths.clear), ("/l/f", fs._names.paths.clear),
                       ("/d/f", fs._names.forget)):  # fmt: skip
        drop()
        assert read_through(backend, path, 0) == ("ok", CONTENT)
    assert opens == []
    fs._names.forget()
    assert read_through(backend, "/l/f", 0) == ("ok", CONTENT)  # plain lookups stop at a link
    assert read_through(backend, "/d/link", 0) == ("ok", CONTENT)
    assert [call[1] for call in opens] == ["/l/f", "/d/link"]


@NEEDS_C
def test_a_refused_uncached_open_is_the_python_codes(monkeypatch: Any) -> None:
    """A directory the identity may not search (or a file it may not read), found by plain
    lookups, is left to the Python open, which raises EACCES naming the path."""
    fast, pure = make_backend(True, USER), make_backend(False, USER)
    for backend in (fast, pure):
        backend.file_system.identity = make_backend(False).file_system.identity  # type: ignore[attr-defined]
        backend.chmod("/d", 0o600)
        backend.file_system.identity = USER  # type: ignore[attr-defined]
        backend.file_system._names.forget()  # type: ignore[attr-defined]
    opens = python_calls(monkeypatch, fast.file_system, "open_at")
    assert outcome(read_through, fast, "/d/f", 0) == outcome(read_through, pure, "/d/f", 0)
    assert outcome(read_through, fast, "/d/h", 0)[2] == 13  # EACCES
    assert len(opens) == 2


@NEEDS_C
def test_an_absolute_scandir_finds_its_directory_without_a_walk(monkeypatch: Any) -> None:
    """os.scandir of an absolute path lists the directory the resolver's caches or plain
    lookups find (no listing_at walk); a link to a directory, a trailing slash and a missing
    directory go the general way, with the same entries and errors."""
    fast, pure = make_backend(True), make_backend(False)
    for backend in (fast, pure):
        backend.symlink("/d", "/l")
    walks = python_calls(monkeypatch, fast.file_system, "listing_at")
    assert listed(fast, "/d") == listed(pure, "/d")
    fast.file_system._names.forget()  # type: ignore[attr-defined]
    assert listed(fast, "/d") == listed(pure, "/d")
    assert walks == []
    for path in ("/l", "/d/", "/missing", "/d/f"):
        assert outcome(listed, fast, path) == outcome(listed, pure, path)
    assert [call[1] for call in walks] == ["/l", "/d/", "/missing", "/d/f"]


@NEEDS_C
@pytest.mark.parametrize(
    "program",
    [
        # a cached directory renamed away, a link put in its place, then written through
        [("mkdir", "/e"), ("create", "/e/f"), ("read", "/e/f", 0), ("evict",),
         ("rename", ("/e", "/moved")), ("evict",), ("read", "/e/f", 0), ("read", "/moved/f", 0),
         ("symlink", ("/moved", "/e")), ("evict",), ("read", "/e/f", 0), ("scan", "/e"),
         ("scan", "/moved")],
        # the file unlinked, a link to another in its place
        [("read", "/d/f", 0), ("evict",), ("unlink", "/d/f"), ("read", "/d/f", 0),
         ("symlink", ("g", "/d/f")), ("evict",), ("read", "/d/f", 0), ("scan", "/d")],
        # search and read permissions of the directory and of its parent taken and given back
        [("read", "/d/f", 0), ("scan", "/d"), ("chmod", "/d", 0o600), ("evict",),
         ("read", "/d/f", 0), ("scan", "/d"), ("chmod", "/d", 0o711), ("evict",),
         ("read", "/d/f", 0), ("scan", "/d"), ("chmod", "/", 0o700), ("evict",),
         ("read", "/d/f", 0), ("scan", "/d"), ("chmod", "/", 0o755), ("read", "/d/f", 0)],
        # the file's own mode, and a directory removed and made again
        [("read", "/d/f", 0), ("chmod", "/d/f", 0o000), ("evict",), ("read", "/d/f", 0),
         ("read", "/d/f", os.O_TRUNC), ("mkdir", "/e"), ("mkdir", "/e/sub"), ("scan", "/e/sub"),
         ("read", "/e/sub/f", 0), ("rmdir", "/e/sub"), ("evict",), ("scan", "/e/sub"),
         ("mkdir", "/e/sub"), ("create", "/e/sub/f"), ("evict",), ("read", "/e/sub/f", 0),
         ("scan", "/e/sub")],
    ],
)  # fmt: skip
def test_changes_to_a_cached_path_and_its_parents(program: list[tuple[Any, ...]]) -> None:
    """Renames, unlinks, links and permission changes of a path opened or listed before (and
    of its parents), with the cache of whole paths dropped between, as the Python code sees
    them."""
    fast, pure = make_backend(True, USER), make_backend(False, USER)
    assert run(fast, program) == run(pure, program)
