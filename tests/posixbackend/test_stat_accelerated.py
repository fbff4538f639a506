"""The accelerator's os.stat (FastPaths.stat) answers as the Python stat does: the cached
status of a path found in the resolver's cache or by plain lookups from the root, anything
else (links, dots, refusals, errors, unusual arguments) left to the Python code."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend.emulated import EmulatedBackend, accelerator
from tests.posixbackend.test_accelerator import USER, make_backend, outcome

NEEDS_C = pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)

STAT_PATHS = [
    "/d/f", "/d/g", "/d/h", "/d/p", "/d/link", "/d", "/", "/d/missing", "/d/f/", "/d/./f",
    "/d//f", "/d/../d/f", "/d/link/", "/d/f/x", "/e/f", "/e", "/e/sub/f", "/l/f", "d/f", "",
    "/d/f\x00", "/d/\xe9", "/d/" + "x" * 256, "/d/" + "a/" * 2100, b"/d/f", 3, 1.5, None,
    "/d/missing/f", "/missing/e/f", "/e/missing/f", "/d/missing/../f", "/d/missing/./f",
    "/d/./missing/f", "/d/missing/" + "x" * 256, "/d/" + "x" * 256 + "/f", "/d/../x/f",
    "/d/f/missing/g", "/l/missing/f",
]  # fmt: skip
operation = st.one_of(
    st.tuples(st.just("stat"), st.sampled_from(STAT_PATHS)),
    st.tuples(st.just("stat"), st.sampled_from(STAT_PATHS)),
    st.tuples(st.just("lstat"), st.sampled_from(STAT_PATHS)),
    st.tuples(st.just("mkdir"), st.sampled_from(["/e", "/e/sub", "/d/\xe9"])),
    st.tuples(
        st.just("chmod"), st.sampled_from(["/d", "/e", "/e/sub", "/d/f", "/"]),
        st.sampled_from([0o755, 0o700, 0o711, 0o644, 0o000, 0o001]),
    ),
    st.tuples(st.just("create"), st.sampled_from(["/d/f", "/e/f", "/e/sub/f", "/d/new"])),
    st.tuples(st.just("write"), st.sampled_from(["/d/f", "/e/f"])),
    st.tuples(st.just("unlink"), st.sampled_from(["/d/f", "/e/f", "/d/link", "/l"])),
    st.tuples(st.just("rmdir"), st.sampled_from(["/e/sub", "/e"])),
    st.tuples(st.just("rename"), st.sampled_from([("/e", "/moved"), ("/moved", "/e"),
                                                  ("/d/f", "/e/f"), ("/e/f", "/d/f")])),
    st.tuples(st.just("symlink"), st.sampled_from([("/e", "/l"), ("d", "/l"), ("f", "/d/link")])),
)  # fmt: skip


def status_of(result: os.stat_result) -> tuple[int, ...]:
    """What two runs share (times differ run to run)."""
    return (result.st_mode, result.st_ino, result.st_size, result.st_nlink, result.st_uid)


def run(backend: EmulatedBackend, program: list[tuple[Any, ...]]) -> list[Any]:
    fs: Any = backend.file_system
    log: list[Any] = []
    for name, *args in program:
        if name in ("stat", "lstat"):
            result = outcome(getattr(backend, name), args[0])
            if result[0] == "ok":
                result = ("ok", status_of(result[1]))
        elif name == "create":
            result = outcome(backend.open, args[0], os.O_CREAT | os.O_WRONLY, 0o644)
            if result[0] == "ok":
                backend.close(result[1])
        elif name == "write":
            result = outcome(backend.open, args[0], os.O_WRONLY | os.O_APPEND)
            if result[0] == "ok":
                backend.write(result[1], b"more")
                backend.close(result[1])
        elif name in ("rename", "symlink"):
            result = outcome(getattr(backend, name), *args[0])
        else:
            who = fs.identity
            fs.identity = backend_root  # the tree changes as root, the stats as ``who``
            try:
                result = outcome(getattr(backend, name), *args)
            finally:
                fs.identity = who
        log.append((name, args, result))
    return log


backend_root = make_backend(False).file_system.identity  # type: ignore[attr-defined]


@NEEDS_C
@given(st.sampled_from([None, USER]), st.lists(operation, min_size=3, max_size=40))
def test_the_c_stat_answers_as_the_python_one(who: Any, program: list[tuple[Any, ...]]) -> None:
    fast, pure = make_backend(True, who), make_backend(False, who)
    assert fast.accelerated and not pure.accelerated
    assert run(fast, program) == run(pure, program)


@NEEDS_C
def test_a_path_never_resolved_is_served_in_c(monkeypatch: Any) -> None:
    """Once a file's status is cached, a stat of a path the resolver never cached (its caches
    dropped) is answered without the Python stat, at the backend's time resolution."""
    backend = make_backend(True)
    fs: Any = backend.file_system
    first = backend.stat("/d/f")
    fs._names.forget()
    python_stats = []
    original = fs.stat

    def counted(*args: Any) -> Any:
        python_stats.append(args)
        return original(*args)

    monkeypatch.setattr(fs, "stat", counted)
    again = backend.stat("/d/f")
    assert python_stats == []
    assert again == first and again.st_mtime_ns % 10**9 == 0
    assert backend.stat("/d/link") == first  # a link: the Python code follows it
    assert python_stats == [("/d/link", True)]


def described(error: OSError) -> tuple[object, ...]:
    """What an OSError says: its class, errno, message and file names."""
    return (type(error), error.errno, error.strerror, error.filename, error.filename2)


@NEEDS_C
@pytest.mark.parametrize(
    ("path", "served"),
    [
        ("/d/missing/f", True), ("/d/missing", True), ("/missing/e/f", True),
        ("/d/missing/" + "x" * 256, True), ("/d/f/missing", False), ("/d/link/missing", False),
        ("/d/./missing", False), ("/d/../missing/f", False), ("/d/" + "x" * 256 + "/f", False),
        ("/d/" + "x" * 256, False),
    ],
)  # fmt: skip
def test_a_missing_plain_name_is_enoent_in_c(monkeypatch: Any, path: str, served: bool) -> None:
    """A plain name missing from a searchable directory on the way (what os.makedirs asks of
    each parent) is FileNotFoundError from the C stat, as os.stat raises it; dots, links, a
    file on the way and too long a name are the Python code's (it says ENOTDIR, follows the
    link or says ENAMETOOLONG)."""
    backend = make_backend(True)
    python_stats = python_stats_of(monkeypatch, backend)
    with pytest.raises(OSError) as raised:
        backend.stat(path)
    assert (python_stats == []) == served
    pure = make_backend(False)
    for _ in range(2):  # the second time, the path may be in the resolver's cache
        with pytest.raises(OSError) as expected:
            pure.stat(path)
        assert described(raised.value) == described(expected.value)
        with pytest.raises(OSError) as raised:
            backend.stat(path)


@NEEDS_C
@pytest.mark.parametrize(
    "program",
    [
        [("stat", "/d/f"), ("chmod", "/d", 0o700), ("stat", "/d/f"), ("stat", "/d/g")],
        [("chmod", "/d", 0o000), ("stat", "/d/f"), ("chmod", "/d", 0o001), ("stat", "/d/f")],
        [("mkdir", "/e"), ("create", "/e/f"), ("stat", "/e/f"), ("chmod", "/", 0o700),
         ("stat", "/e/f"), ("chmod", "/", 0o755), ("chmod", "/e", 0o600), ("stat", "/e/f")],
        [("stat", "/d/f"), ("unlink", "/d/f"), ("stat", "/d/f"), ("symlink", ("g", "/d/f")),
         ("stat", "/d/f"), ("lstat", "/d/f")],
        [("mkdir", "/e"), ("create", "/e/f"), ("stat", "/e/f"), ("rename", ("/e", "/moved")),
         ("stat", "/e/f"), ("symlink", ("/moved", "/e")), ("stat", "/e/f"), ("write", "/e/f"),
         ("stat", "/e/f")],
    ],
)  # fmt: skip
def test_refusals_and_changes_as_the_python_code_sees_them(program: list[tuple[Any, ...]]) -> None:
    """Search permission on each directory of the way, links swapped in, renames, writes."""
    fast, pure = make_backend(True, USER), make_backend(False, USER)
    assert run(fast, program) == run(pure, program)


@NEEDS_C
def test_lstat_of_a_file_or_directory_is_served_in_c(monkeypatch: Any) -> None:
    """os.lstat of a plain path to a file or directory is the C stat's (the same answer as
    stat's), a missing name's ENOENT too; a link at the end is the Python code's."""
    fast, pure = make_backend(True), make_backend(False)
    fs: Any = fast.file_system
    python_stats = []
    original = fs.stat

    def counted(*args: Any) -> Any:
        python_stats.append(args)
        return original(*args)

    monkeypatch.setattr(fs, "stat", counted)
    for path in ("/d/f", "/d"):
        assert status_of(fast.lstat(path)) == status_of(pure.lstat(path))
    assert outcome(fast.lstat, "/d/missing/f") == outcome(pure.lstat, "/d/missing/f")
    assert python_stats == []
    assert status_of(fast.lstat("/d/link")) == status_of(pure.lstat("/d/link"))
    assert python_stats == [("/d/link", False)]


@NEEDS_C
def test_a_path_whose_directory_resolved_before_is_served_from_the_heads(
    monkeypatch: Any,
) -> None:
    """With the cache of whole paths dropped (as past its size) and the directories' kept, a
    stat is the C code's from the directory found there -- also one reached through a link,
    which plain lookups leave to the Python code: the file's status, or ENOENT for a name not
    in it; a directory the identity may no longer search is refused as before."""
    backend = make_backend(True)
    backend.symlink("d", "/l")
    fs: Any = backend.file_system
    fs.identity = USER
    fs.stat("/l/f")  # the provider's own stat caches the resolution (the C stat does not)
    first = backend.stat("/d/f")
    names = fs._names
    assert "/l" in names.heads
    names.paths.clear()
    python_stats = []
    original = fs.stat

    def counted(*args: Any) -> Any:
        python_stats.append(args)
        return original(*args)

    monkeypatch.setattr(fs, "stat", counted)
    assert backend.stat("/l/f") == first
    assert outcome(backend.stat, "/l/nothing")[1:3] == (FileNotFoundError, 2)
    assert python_stats == []
    pure = make_backend(False)
    pure.symlink("d", "/l")
    for side in (backend, pure):
        side.file_system.identity = backend_root  # type: ignore[attr-defined]
        side.chmod("/d", 0o700)  # (the caches are dropped: the walk decides)
        side.file_system.identity = USER  # type: ignore[attr-defined]
    assert outcome(backend.stat, "/l/f") == outcome(pure.stat, "/l/f")
    assert outcome(backend.stat, "/l/f")[1] is PermissionError


TIMES_PATHS = ["/d/f", "/d", "/d/g"]
times_operation = st.one_of(
    st.tuples(st.just("stat"), st.sampled_from(TIMES_PATHS)),
    st.tuples(st.just("lstat"), st.sampled_from(TIMES_PATHS)),
    st.tuples(
        st.just("utime"), st.sampled_from(TIMES_PATHS),
        st.tuples(st.integers(0, 4 * 10**9), st.integers(0, 4 * 10**9)),
    ),
    st.tuples(st.just("write"), st.sampled_from(["/d/f", "/d/g"])),
    st.tuples(st.just("create"), st.just("/d/new")),
)  # fmt: skip


@NEEDS_C
@given(
    program=st.lists(times_operation, max_size=14),
    resolutions=st.lists(st.sampled_from([1, 1000, 10**6, 10**9]), min_size=1, max_size=3),
)
def test_the_c_stat_gives_the_python_stats_times_at_each_backends_resolution(
    program: list[tuple[Any, ...]], resolutions: list[int]
) -> None:
    # The C stat keeps its truncated copy on the inode, beside the record it was made of:
    # backends of other resolutions over the same files, and every change to a file, must
    # still see what the Python stat gives (every field, times to the nanosecond).
    fs = make_backend(accelerated=False).file_system
    def backends(accelerated: bool) -> list[EmulatedBackend]:
        return [
            EmulatedBackend(fs, accelerated=accelerated, standard_streams=False,
                            time_resolution_ns=resolution)
            for resolution in resolutions
        ]  # fmt: skip

    in_c, in_python = backends(True), backends(False)
    writer = in_python[0]
    for name, path, *args in program:
        if name == "utime":
            writer.utime(path, ns=args[0])
        elif name == "write":
            fd = writer.open(path, os.O_WRONLY | os.O_APPEND)
            writer.write(fd, b"more")
            writer.close(fd)
        elif name == "create":
            writer.close(writer.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        else:
            for c_side, python_side in zip(in_c, in_python, strict=True):
                assert tuple(getattr(c_side, name)(path)) == tuple(
                    getattr(python_side, name)(path)
                )
                c_result = getattr(c_side, name)(path)
                python_result = getattr(python_side, name)(path)
                for field in ("st_atime_ns", "st_mtime_ns", "st_ctime_ns"):
                    assert getattr(c_result, field) == getattr(python_result, field)


@NEEDS_C
@pytest.mark.parametrize("resolution", [1, 10**9])
def test_the_c_stat_notes_truncated_times_as_the_python_stat(resolution: int) -> None:
    """The C stat makes its copy at the backend's resolution itself (no BackendCore._view
    call), and notes gap emulated.times.resolution as often as the Python stat: once for each
    new record whose times the copy changed, never at a resolution of 1 ns."""
    from tests.posixbackend.sides import hits

    fs = make_backend(accelerated=False).file_system
    sides = [
        EmulatedBackend(fs, accelerated=accelerated, standard_streams=False,
                        time_resolution_ns=resolution)
        for accelerated in (True, False)
    ]  # fmt: skip
    counts = []
    for side in sides:
        before = hits("emulated.times.resolution")
        for _ in range(3):
            side.utime("/d/f", ns=(1_500_000_001, 2_500_000_003))  # a new record each time
            result = side.stat("/d/f")
            assert result.st_mtime_ns == (2_500_000_003 if resolution == 1 else 2 * 10**9)
            assert side.stat("/d/f") == result  # the kept copy: not noted again
        counts.append(hits("emulated.times.resolution") - before)
    assert counts == ([0, 0] if resolution == 1 else [3, 3])


KEYWORDS = [
    {}, {"dir_fd": None}, {"follow_symlinks": True}, {"follow_symlinks": False},
    {"follow_symlinks": 1}, {"dir_fd": None, "follow_symlinks": True}, {"dir_fd": 3},
    {"follow": True},
]  # fmt: skip


@NEEDS_C
@given(
    st.sampled_from(["stat", "lstat"]),
    st.sampled_from(["/d/f", "/d", "/d/link", "/d/missing", "/missing/f", "d/f"]),
    st.sampled_from(KEYWORDS),
)
def test_keywords_that_change_nothing_are_served_as_the_python_stat_serves_them(
    name: str, path: str, keywords: dict[str, Any]
) -> None:
    fast, pure = make_backend(True), make_backend(False)
    assert outcome_of(getattr(fast, name), path, keywords) == outcome_of(
        getattr(pure, name), path, keywords
    )


def python_stats_of(monkeypatch: Any, backend: Any) -> list[tuple[Any, ...]]:
    """The calls of the backend's provider's Python stat from now on (the C path makes none)."""
    fs: Any = backend.file_system
    calls: list[tuple[Any, ...]] = []
    original = fs.stat

    def counted(*args: Any) -> Any:
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(fs, "stat", counted)
    return calls


def outcome_of(call: Any, path: str, keywords: dict[str, Any]) -> Any:
    result = outcome(lambda: call(path, **keywords))
    return ("ok", status_of(result[1])) if result[0] == "ok" else result


@NEEDS_C
def test_shutils_keywords_stay_in_c(monkeypatch: Any) -> None:
    """shutil.copystat's os.stat(src, follow_symlinks=True) (and dir_fd=None) take the C
    path: no Python stat."""
    backend = make_backend(True)
    python_stats = python_stats_of(monkeypatch, backend)
    plain = backend.stat("/d/f")
    assert backend.stat("/d/f", follow_symlinks=True) == plain
    assert backend.stat("/d/f", dir_fd=None, follow_symlinks=True) == plain
    assert backend.lstat("/d/f", dir_fd=None) == plain
    assert python_stats == []
    backend.stat("/d/link", follow_symlinks=False)  # a link, not followed: the Python code's
    assert python_stats == [("/d/link", False)]
