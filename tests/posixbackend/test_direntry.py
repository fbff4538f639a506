"""The emulated DirEntry and ScandirIterator against the real ``os.scandir``, answer for answer.

Each test scans a real temporary directory twice: with ``os.scandir``, and through
``vfs.HostFileSystem().scandir`` plus :class:`ScandirIterator` with ``os.stat`` as the stat
function. Then it compares every answer, every exception (class, errno, message, file names),
which results are the same object, and what later calls still see after the files change.
When stat is called (not visible from the real entry) is checked against the call sequence
Modules/posixmodule.c makes. Every test runs on both implementations: the Python classes (the
definition) and their C versions in ``posixbackend._direntry``, when built.
"""

from __future__ import annotations

import collections.abc
import contextlib
import copy
import errno
import functools
import gc
import inspect
import os
import pickle
import re
import stat as stat_module
import sys
import types
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend.emulated import direntry
from posixbackend.emulated.direntry import UNKNOWN_TYPE, DirEntry, ScandirIterator
from vfs import DirEntryInfo, HostFileSystem

try:
    from posixbackend import _direntry
except ImportError:  # not built: the Python classes alone
    _direntry = None  # type: ignore[assignment]

IMPLEMENTATIONS = [
    pytest.param(direntry, id="python"),
    pytest.param(
        _direntry,
        id="c",
        marks=pytest.mark.skipif(_direntry is None, reason="posixbackend._direntry not built"),
    ),
]


@pytest.fixture(autouse=True, params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """This module's DirEntry and ScandirIterator are those of one implementation per run."""
    module = request.param
    monkeypatch.setitem(globals(), "DirEntry", module.DirEntry)
    monkeypatch.setitem(globals(), "ScandirIterator", module.ScandirIterator)
    return module


NON_UTF8 = os.fsdecode(b"caf\xe9")  # 'caf\udce9'


class AnyEntry(Protocol):
    """What os.DirEntry and the emulated DirEntry have in common."""

    @property
    def name(self) -> str | bytes: ...
    @property
    def path(self) -> str | bytes: ...
    def inode(self) -> int: ...
    def is_dir(self, *, follow_symlinks: bool = True) -> bool: ...
    def is_file(self, *, follow_symlinks: bool = True) -> bool: ...
    def is_symlink(self) -> bool: ...
    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result: ...
    def __fspath__(self) -> str | bytes: ...


CALLS: dict[str, Callable[[AnyEntry], object]] = {
    "is_dir": lambda entry: entry.is_dir(),
    "is_dir(False)": lambda entry: entry.is_dir(follow_symlinks=False),
    "is_file": lambda entry: entry.is_file(),
    "is_file(False)": lambda entry: entry.is_file(follow_symlinks=False),
    "is_symlink": lambda entry: entry.is_symlink(),
    "stat": lambda entry: entry.stat(),
    "stat(False)": lambda entry: entry.stat(follow_symlinks=False),
    "inode": lambda entry: entry.inode(),
}
if hasattr(os.DirEntry, "is_junction"):  # 3.12+
    CALLS["is_junction"] = lambda entry: getattr(entry, "is_junction")()  # noqa: B009


class CountingStat:
    """``os.stat`` as a StatFunction (relative to ``dir_fd`` if given), recording each call."""

    def __init__(self, dir_fd: int | None = None) -> None:
        self.dir_fd = dir_fd
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, path: str, follow_symlinks: bool) -> os.stat_result:
        self.calls.append((path, follow_symlinks))
        return os.stat(path, dir_fd=self.dir_fd, follow_symlinks=follow_symlinks)


def stat_fields(result: os.stat_result, *, atime: bool = True) -> dict[str, object]:
    """Every field of a stat result (``==`` on stat_result ignores the ns times)."""
    return {
        name: getattr(result, name)
        for name in dir(result)
        if name.startswith("st_") and (atime or not name.startswith("st_atime"))
    }


def outcome(call: Callable[[], object], *, atime: bool = True) -> tuple[object, ...]:
    """What a call did, in comparable form: its value, or its OSError's details."""
    try:
        value = call()
    except OSError as error:
        return ("raises", type(error), error.errno, error.strerror, error.filename, error.filename2)
    if isinstance(value, os.stat_result):
        return ("returns stat", stat_fields(value, atime=atime))
    return ("returns", type(value), value)


class Recorder:
    """Runs calls on one entry, keeping each stat result to compare which ones are the same."""

    def __init__(self, *, atime: bool = True) -> None:
        self.stats: list[object] = []
        self.atime = atime

    def run(self, entry: AnyEntry, call: str) -> tuple[object, ...]:
        """The call's outcome, plus which earlier stat results its result is identical to."""
        kept: list[object] = []

        def keep() -> object:
            kept.append(CALLS[call](entry))
            return kept[0]

        result = outcome(keep, atime=self.atime)
        if kept and isinstance(kept[0], os.stat_result):
            same = tuple(kept[0] is earlier for earlier in self.stats)
            self.stats.append(kept[0])
            return (*result, same)
        return result


# -- the directories scanned ---------------------------------------------------------------


def build_tree(root: Path) -> None:
    """One entry of every kind a scan can meet, targets inside the tree itself."""
    root.mkdir()
    (root / "file").write_bytes(b"data")
    (root / "dir").mkdir()
    (root / "dir" / "inner").write_bytes(b"")
    os.symlink("file", root / "link_to_file")
    os.symlink("dir", root / "link_to_dir")
    os.symlink("link_to_dir", root / "link_to_link")
    os.symlink("missing", root / "dangling")
    os.symlink("loop", root / "loop")
    os.symlink("file/inside", root / "through_file")
    os.mkfifo(root / "fifo")
    (root / NON_UTF8).write_bytes(b"")
    (root / 'quote\'d "name"').write_bytes(b"")


FORMS = (
    "absolute",
    "trailing slash",
    "double slash",
    "bytes",
    "bytes trailing slash",
    "dot",
    "dot slash",
    "relative",
    "fd",
)


@contextlib.contextmanager
def scandir_argument(form: str, directory: Path) -> Iterator[str | bytes | int]:
    """The argument ``os.scandir`` gets in ``form``, with the cwd or fd it needs meanwhile."""
    if form == "fd":
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            yield fd
        finally:
            os.close(fd)
    elif form in ("dot", "dot slash"):
        with contextlib.chdir(directory):
            yield "." if form == "dot" else "./"
    elif form == "relative":
        with contextlib.chdir(directory.parent):
            yield directory.name
    else:
        text = {"absolute": "", "trailing slash": "/", "double slash": "//"}
        if form in text:
            yield str(directory) + text[form]
        else:
            yield os.fsencode(directory) + (b"/" if form == "bytes trailing slash" else b"")


@dataclass
class Scanned:
    """One directory scanned both ways, entries keyed by their str name."""

    real: dict[str, AnyEntry]
    emulated: dict[str, DirEntry]
    stat: CountingStat


def emulated_infos(directory: Path, *, unknown: bool = False) -> list[DirEntryInfo]:
    """What the unconfined host provider reports, optionally with every type unknown."""
    infos = HostFileSystem().scandir(str(directory))
    if unknown:
        return [attrs.evolve(info, type=UNKNOWN_TYPE) for info in infos]
    return infos


def scan(argument: str | bytes | int, directory: Path, *, unknown: bool = False) -> Scanned:
    """Scan ``directory`` (given to scandir as ``argument``) natively and emulated."""
    counting = CountingStat(argument if isinstance(argument, int) else None)
    with os.scandir(argument) as real_iterator:
        real: dict[str, AnyEntry] = {os.fsdecode(entry.name): entry for entry in real_iterator}
    infos = emulated_infos(directory, unknown=unknown)
    with ScandirIterator(argument, infos, counting) as iterator:
        emulated = {os.fsdecode(entry.name): entry for entry in iterator}
    return Scanned(real, emulated, counting)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    build_tree(root)
    return root


def compare(
    real: AnyEntry, emulated: AnyEntry, calls: Iterable[str], *, atime: bool = True
) -> None:
    """Make the same calls on both entries in order; every outcome must match.

    ``atime=False`` leaves access times out, for entries that may lstat a link at another
    moment than the real one (following a link for the first time can update its atime).
    """
    real_recorder, emulated_recorder = Recorder(atime=atime), Recorder(atime=atime)
    for call in calls:
        expected = real_recorder.run(real, call)
        assert emulated_recorder.run(emulated, call) == expected, (real, call)


# -- every answer, in every form of scan ---------------------------------------------------


@pytest.mark.parametrize("order", ["forwards", "backwards"])
@pytest.mark.parametrize("form", FORMS)
def test_every_answer_matches_os_scandir(tree: Path, form: str, order: str) -> None:
    with scandir_argument(form, tree) as argument:
        scanned = scan(argument, tree)
        assert scanned.emulated.keys() == scanned.real.keys()
        calls = list(CALLS) if order == "forwards" else list(reversed(CALLS))
        for key, real in scanned.real.items():
            emulated = scanned.emulated[key]
            assert type(emulated.name) is type(real.name)
            assert emulated.name == real.name
            assert type(emulated.path) is type(real.path)
            assert emulated.path == real.path
            assert fspath(emulated) == fspath(real)
            assert repr(emulated) == repr(real)
            compare(real, emulated, calls + calls)


@pytest.mark.parametrize("form", ["absolute", "bytes", "fd", "relative"])
def test_types_unknown_to_the_provider_give_the_same_answers(tree: Path, form: str) -> None:
    with scandir_argument(form, tree) as argument:
        scanned = scan(argument, tree, unknown=True)
        for key, real in scanned.real.items():
            calls = list(CALLS) + list(reversed(CALLS))
            compare(real, scanned.emulated[key], calls, atime=False)


@pytest.mark.parametrize("form", ["absolute", "bytes", "fd", "dot"])
def test_entries_removed_after_the_scan(tree: Path, form: str) -> None:
    with scandir_argument(form, tree) as argument:
        scanned = scan(argument, tree)
        for child in tree.iterdir():
            if child.is_dir() and not child.is_symlink():
                (child / "inner").unlink()
                child.rmdir()
            else:
                child.unlink()
        for key, real in scanned.real.items():
            compare(real, scanned.emulated[key], CALLS)
        # d_type still answers for a regular file, but stat names the path that has gone.
        assert scanned.emulated["file"].is_file() is True
        with pytest.raises(FileNotFoundError) as caught:
            scanned.emulated["file"].stat()
        assert caught.value.filename == scanned.real["file"].path


def test_non_utf8_names_round_trip(tree: Path) -> None:
    for argument in (str(tree), os.fsencode(tree)):
        scanned = scan(argument, tree)
        real, emulated = scanned.real[NON_UTF8], scanned.emulated[NON_UTF8]
        assert emulated.name == real.name
        assert emulated.name in (NON_UTF8, b"caf\xe9")
        assert emulated.path == real.path
        assert emulated.stat() == real.stat()


def test_a_bytes_scan_gives_the_stat_function_the_decoded_path(tree: Path) -> None:
    scanned = scan(os.fsencode(tree), tree)
    scanned.emulated[NON_UTF8].stat()
    assert scanned.stat.calls == [(f"{tree}/{NON_UTF8}", False)]


# -- when stat is called: CPython's code path ----------------------------------------------

# (entry, type unknown to the provider?, calls, the follow_symlinks of each stat it makes)
STAT_CALLS = [
    # A known type answers is_* without a system call.
    ("file", False, ["is_dir", "is_file", "is_symlink", "is_dir(False)", "is_file(False)"], []),
    ("fifo", False, ["is_dir", "is_file", "is_symlink", "inode"], []),
    ("link_to_file", False, ["is_symlink", "is_file(False)", "is_dir(False)"], []),
    # stat() of anything but a link is its lstat, cached once for both.
    ("file", False, ["stat"], [False]),
    ("file", False, ["stat", "stat(False)", "stat", "is_file"], [False]),
    ("dir", False, ["stat(False)", "stat", "is_dir"], [False]),
    # A followed link stats its target once; the lstat is cached apart.
    ("link_to_file", False, ["is_file", "is_dir", "stat"], [True]),
    ("link_to_file", False, ["stat(False)", "stat", "stat(False)", "stat"], [False, True]),
    ("link_to_link", False, ["stat", "stat(False)", "is_dir"], [True, False]),
    # Failures are never cached.
    ("dangling", False, ["is_file", "is_file", "is_dir"], [True, True, True]),
    ("dangling", False, ["stat(False)", "stat(False)", "is_file"], [False, True]),
    ("loop", False, ["stat", "stat"], [True, True]),
    ("gone", False, ["is_file", "stat", "stat(False)"], [False, False]),
    # An unknown type takes an lstat to learn whether the entry is a link...
    (
        "file",
        True,
        ["is_symlink", "is_symlink", "is_dir", "is_file", "stat", "stat(False)"],
        [False],
    ),
    ("dir", True, ["is_dir"], [False]),
    ("link_to_dir", True, ["is_symlink"], [False]),
    ("link_to_dir", True, ["is_dir"], [False, True]),
    ("link_to_dir", True, ["is_dir(False)", "is_dir", "is_file"], [False, True]),
    ("dangling", True, ["is_dir", "is_dir"], [False, True, True]),
    # ... and when that lstat fails, is_symlink() says False, so stat() lstats once more.
    ("gone", True, ["is_symlink"], [False]),
    ("gone", True, ["is_dir"], [False, False]),
    ("gone", True, ["stat"], [False, False]),
    ("gone", True, ["stat(False)", "stat(False)"], [False, False]),
]


@pytest.mark.parametrize(("key", "unknown", "calls", "follows"), STAT_CALLS)
def test_stat_is_called_exactly_when_cpython_calls_it(
    tree: Path, key: str, unknown: bool, calls: list[str], follows: list[bool]
) -> None:
    (tree / "gone").write_bytes(b"")
    scanned = scan(str(tree), tree, unknown=unknown)
    (tree / "gone").unlink()
    emulated = scanned.emulated[key]
    if unknown:
        for call in calls:
            outcome(functools.partial(CALLS[call], emulated))
    else:
        compare(scanned.real[key], emulated, calls)
    assert scanned.stat.calls == [(f"{tree}/{key}", follow) for follow in follows]


def test_an_unknown_entry_that_has_gone(tree: Path) -> None:
    info = DirEntryInfo("gone", UNKNOWN_TYPE, 1)
    entry = DirEntry(str(tree), info, CountingStat())
    assert (entry.is_symlink(), entry.is_dir(), entry.is_file()) == (False, False, False)
    with pytest.raises(FileNotFoundError) as caught:
        entry.stat()
    assert (caught.value.filename, caught.value.errno) == (f"{tree}/gone", errno.ENOENT)


# -- what stays cached when the files change -----------------------------------------------


def replace_with_file(path: Path) -> None:
    remove(path)
    path.write_bytes(b"new")


def remove(path: Path) -> None:
    """Remove whatever ``path`` names (not following a link), if anything."""
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            remove(child)
        path.rmdir()
    elif os.path.lexists(path):
        path.unlink()


CHANGES: list[tuple[str, list[str], Callable[[Path], None], list[str]]] = [
    ("link_to_dir", ["is_dir"], lambda tree: replace_with_file(tree / "dir"), ["is_dir", "stat"]),
    ("link_to_dir", [], lambda tree: replace_with_file(tree / "dir"), ["is_dir", "is_file"]),
    ("file", ["stat"], lambda tree: os.chmod(tree / "file", 0o600), ["stat", "stat(False)"]),
    ("file", ["is_dir"], lambda tree: remove(tree / "file"), ["is_file", "stat"]),
    ("dir", [], lambda tree: replace_with_file(tree / "dir"), ["is_dir", "is_file", "stat"]),
    ("dangling", ["is_file"], lambda tree: replace_with_file(tree / "missing"), ["is_file"]),
    ("link_to_file", ["stat(False)"], lambda tree: remove(tree / "file"), ["stat", "is_file"]),
    ("link_to_file", ["stat"], lambda tree: remove(tree / "file"), ["is_file", "stat(False)"]),
    ("loop", ["is_dir"], lambda tree: remove(tree / "loop"), ["is_dir", "stat(False)"]),
]


@pytest.mark.parametrize(("key", "before", "change", "after"), CHANGES)
def test_cached_answers_survive_changes_as_in_cpython(
    tree: Path,
    key: str,
    before: list[str],
    change: Callable[[Path], None],
    after: list[str],
) -> None:
    scanned = scan(str(tree), tree)
    real, emulated = scanned.real[key], scanned.emulated[key]
    real_recorder, emulated_recorder = Recorder(), Recorder()
    for call in before:
        assert emulated_recorder.run(emulated, call) == real_recorder.run(real, call)
    change(tree)
    for call in after:
        assert emulated_recorder.run(emulated, call) == real_recorder.run(real, call)


def test_a_cached_link_answer_outlives_its_target(tree: Path) -> None:
    entry = scan(str(tree), tree).emulated["link_to_dir"]
    assert entry.is_dir()
    replace_with_file(tree / "dir")
    assert entry.is_dir()  # as os.DirEntry: the target's stat was cached


def test_scan_of_a_directory_fd_stats_relative_to_that_fd(tree: Path) -> None:
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        scanned = scan(fd, tree)
        os.rename(tree, tree.with_name("moved"))  # the fd follows the directory; no path does
        for key, real in scanned.real.items():
            compare(real, scanned.emulated[key], CALLS)
        assert scanned.emulated["file"].stat().st_size == 4
        assert scanned.stat.calls[0] == ("file", False)
    finally:
        os.close(fd)


def test_scan_of_a_closed_fd(tree: Path) -> None:
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    scanned = scan(fd, tree)
    os.close(fd)
    for key, real in scanned.real.items():
        compare(real, scanned.emulated[key], CALLS)
    with pytest.raises(OSError, match="Bad file descriptor") as caught:
        scanned.emulated["link_to_dir"].is_dir()  # EBADF is no FileNotFoundError: it propagates
    assert (caught.value.errno, caught.value.filename) == (errno.EBADF, "link_to_dir")


def test_a_relative_path_resolves_against_the_cwd_of_the_moment(tree: Path) -> None:
    with contextlib.chdir(tree):
        scanned = scan(".", tree)
    elsewhere = tree.parent / "elsewhere"
    elsewhere.mkdir()
    with contextlib.chdir(elsewhere):
        for key, real in scanned.real.items():
            compare(real, scanned.emulated[key], CALLS)
        assert scanned.emulated["file"].is_file() is True
        with pytest.raises(FileNotFoundError):
            scanned.emulated["file"].stat()


# -- random trees, random calls, random changes --------------------------------------------

KINDS = (
    "file",
    "dir",
    "link_to_file",
    "link_to_dir",
    "dangling",
    "loop",
    "through_file",
    "fifo",
)
MUTATIONS = (
    "delete",
    "make_file",
    "make_dir",
    "make_link",
    "chmod",
    "remove_target",
    "target_file",
    "target_dir",
)


class RandomTree:
    """Entries ``d/e<i>`` of the given kinds; link targets ``t/t<i>`` outside the scanned dir."""

    def __init__(self, root: Path, kinds: list[str]) -> None:
        self.scanned = root / "d"
        self.targets = root / "t"
        self.scanned.mkdir()
        self.targets.mkdir()
        self.size = len(kinds)
        self.modes = 0
        for index, kind in enumerate(kinds):
            self.make(index, kind)

    def entry(self, index: int) -> Path:
        return self.scanned / f"e{index}"

    def target(self, index: int) -> Path:
        return self.targets / f"t{index}"

    def link(self, index: int, suffix: str = "") -> None:
        os.symlink(f"../t/t{index}{suffix}", self.entry(index))

    def make(self, index: int, kind: str) -> None:
        entry, target = self.entry(index), self.target(index)
        if kind == "file":
            entry.write_bytes(b"x" * index)
        elif kind == "dir":
            entry.mkdir()
        elif kind == "fifo":
            os.mkfifo(entry)
        elif kind == "loop":
            os.symlink(entry.name, entry)
        elif kind == "dangling":
            self.link(index)
        else:
            target.mkdir() if kind == "link_to_dir" else target.write_bytes(b"target")
            self.link(index, "/x" if kind == "through_file" else "")

    def mutate(self, index: int, mutation: str) -> None:
        entry, target = self.entry(index), self.target(index)
        if mutation == "chmod":
            self.modes += 1
            if os.path.exists(entry):
                os.chmod(entry, 0o600 if self.modes % 2 else 0o755)
        elif mutation.startswith("target_") or mutation == "remove_target":
            remove(target)
            if mutation == "target_file":
                target.write_bytes(b"retarget")
            elif mutation == "target_dir":
                target.mkdir()
        else:
            remove(entry)
            if mutation == "make_file":
                entry.write_bytes(b"made")
            elif mutation == "make_dir":
                entry.mkdir()
            elif mutation == "make_link":
                self.link(index)


STEPS = st.lists(
    st.tuples(
        st.integers(0, 4),
        st.one_of(st.sampled_from(tuple(CALLS)), st.sampled_from(MUTATIONS)),
    ),
    max_size=25,
)


@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=5),
    form=st.sampled_from(["absolute", "trailing slash", "bytes trailing slash", "fd", "relative"]),
    steps=STEPS,
)
def test_random_calls_and_changes_match_os_scandir(
    tmp_path_factory: pytest.TempPathFactory,
    kinds: list[str],
    form: str,
    steps: list[tuple[int, str]],
) -> None:
    tree = RandomTree(tmp_path_factory.mktemp("random"), kinds)
    with scandir_argument(form, tree.scanned) as argument:
        scanned = scan(argument, tree.scanned)
        real = [scanned.real[f"e{index}"] for index in range(tree.size)]
        emulated = [scanned.emulated[f"e{index}"] for index in range(tree.size)]
        real_recorders = [Recorder() for _ in real]
        emulated_recorders = [Recorder() for _ in real]
        final_sweep = [(index, call) for index in range(tree.size) for call in CALLS]
        for number, step in [*steps, *final_sweep]:
            index = number % tree.size
            if step in MUTATIONS:
                tree.mutate(index, step)
                continue
            expected = real_recorders[index].run(real[index], step)
            assert emulated_recorders[index].run(emulated[index], step) == expected, (index, step)


def test_the_differential_comparison_can_fail(tree: Path) -> None:
    """The harness notices a wrong answer: an entry whose stat function stats the wrong file."""
    scanned = scan(str(tree), tree)
    info = next(info for info in emulated_infos(tree) if info.name == "file")
    wrong = DirEntry(str(tree), info, lambda path, follow: os.stat(tree / "dir"))
    with pytest.raises(AssertionError):
        compare(scanned.real["file"], wrong, ["stat"])
    # A missing cache would show too: a fresh entry sees a change the real one has cached.
    real = scanned.real["file"]
    real.stat()
    os.chmod(tree / "file", 0o600)
    fresh = DirEntry(str(tree), info, CountingStat())
    assert outcome(fresh.stat) != outcome(real.stat)


# -- paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("directory", ["/", "//", b"/", b"//"])
def test_path_is_joined_as_cpython_joins_it_at_the_root(directory: Any) -> None:
    with os.scandir(directory) as iterator:
        real = next(iterator)
    infos = HostFileSystem().scandir("/")
    info = next(info for info in infos if info.name == os.fsdecode(real.name))
    emulated = DirEntry(directory, info, CountingStat())
    assert (emulated.name, emulated.path) == (real.name, real.path)


def test_an_empty_directory_string_adds_no_separator() -> None:
    """CPython's join_path_filename rule (scandir('') itself fails before joining)."""
    info = DirEntryInfo("name", stat_module.S_IFREG, 1)
    assert DirEntry("", info, CountingStat()).path == "name"
    assert DirEntry(b"", info, CountingStat()).path == b"name"


def test_a_fd_scan_gives_the_bare_name_as_path() -> None:
    info = DirEntryInfo("name", stat_module.S_IFREG, 1)
    entry = DirEntry(3, info, CountingStat())
    assert (entry.name, entry.path, fspath(entry)) == ("name", "name", "name")


# -- errors from the stat function ---------------------------------------------------------


def failing(error: BaseException) -> Callable[[str, bool], os.stat_result]:
    def stat(path: str, follow_symlinks: bool) -> os.stat_result:
        raise error

    return stat


LINK = DirEntryInfo("link", stat_module.S_IFLNK, 7)


def test_an_oserror_is_renamed_to_the_entry_path() -> None:
    provider_error = FileNotFoundError(errno.ENOENT, "provider words", "/abs/elsewhere", "/x")
    entry = DirEntry(b"rel", LINK, failing(provider_error))
    with pytest.raises(FileNotFoundError) as caught:
        entry.stat()
    error = caught.value
    assert (error.errno, error.strerror) == (errno.ENOENT, os.strerror(errno.ENOENT))
    assert (error.filename, error.filename2) == (b"rel/link", None)
    assert entry.is_dir() is False  # ENOENT: "not a directory", not an error


@pytest.mark.parametrize(
    ("code", "kind"),
    [(errno.EACCES, PermissionError), (errno.ELOOP, OSError), (errno.ENOTDIR, NotADirectoryError)],
)
def test_other_errors_propagate_from_is_dir_and_is_file(code: int, kind: type[OSError]) -> None:
    entry = DirEntry("/d", LINK, failing(OSError(code, "x")))
    for call in (entry.is_dir, entry.is_file, entry.stat):
        with pytest.raises(kind) as caught:
            call()
        assert (caught.value.errno, caught.value.filename) == (code, "/d/link")
    unknown = DirEntry("/d", attrs.evolve(LINK, type=UNKNOWN_TYPE), failing(OSError(code, "x")))
    with pytest.raises(kind):
        unknown.is_symlink()


@pytest.mark.parametrize(
    "error", [OSError("no errno"), ValueError("embedded null byte"), NotImplementedError()]
)
def test_errors_without_errno_pass_through_unchanged(error: Exception) -> None:
    entry = DirEntry("/d", LINK, failing(error))
    with pytest.raises(type(error)) as caught:
        entry.is_dir()
    assert caught.value is error


def test_a_failed_stat_is_not_cached() -> None:
    results: list[BaseException | os.stat_result] = [FileNotFoundError(2, "x"), os.stat("/")]

    def stat(path: str, follow_symlinks: bool) -> os.stat_result:
        result = results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result

    entry = DirEntry("/d", LINK, stat)
    assert entry.is_dir() is False
    assert entry.is_dir() is True
    assert entry.stat() is entry.stat()


# -- the object itself ---------------------------------------------------------------------


@pytest.fixture
def pair(tree: Path) -> tuple[AnyEntry, DirEntry]:
    scanned = scan(str(tree), tree)
    return scanned.real["link_to_dir"], scanned.emulated["link_to_dir"]


def fspath(entry: Any) -> str | bytes:
    """os.fspath for either kind of entry (its stub wants a PathLike of one string type)."""
    path: str | bytes = os.fspath(entry)
    return path


def both(pair: tuple[AnyEntry, DirEntry]) -> list[Any]:
    return list(pair)


def test_repr_and_fspath(tree: Path) -> None:
    for argument in (str(tree), os.fsencode(tree)):
        scanned = scan(argument, tree)
        for key, real in scanned.real.items():
            emulated = scanned.emulated[key]
            assert repr(emulated) == repr(real)
            assert repr(emulated).startswith("<DirEntry ")
            assert fspath(emulated) == fspath(real) == real.path


def test_path_like_and_generic(pair: tuple[AnyEntry, DirEntry]) -> None:
    for entry in both(pair):
        alias = type(entry)[str]
        assert isinstance(entry, os.PathLike)
        assert type(alias) is types.GenericAlias
        assert (alias.__origin__, alias.__args__) == (type(entry), (str,))


def test_is_junction_exists_where_cpython_has_it(pair: tuple[AnyEntry, DirEntry]) -> None:
    real, emulated = pair
    assert hasattr(emulated, "is_junction") == hasattr(real, "is_junction")
    assert hasattr(emulated, "is_junction") == (sys.version_info >= (3, 12))


@pytest.mark.parametrize("value", [0, 1, "", "yes", None, [], [0]])
def test_follow_symlinks_is_taken_for_its_truth(
    pair: tuple[AnyEntry, DirEntry], value: object
) -> None:
    real, emulated = pair
    for name in ("is_dir", "is_file"):
        expected = getattr(real, name)(follow_symlinks=value)
        assert getattr(emulated, name)(follow_symlinks=value) is expected
    assert stat_fields(emulated.stat(follow_symlinks=value)) == stat_fields(  # type: ignore[arg-type]
        real.stat(follow_symlinks=value)  # type: ignore[arg-type]
    )


def test_refusals_match(pair: tuple[AnyEntry, DirEntry]) -> None:
    for entry in both(pair):
        with pytest.raises(AttributeError):
            entry.name = "other"
        with pytest.raises(AttributeError):
            entry.path = "other"
        with pytest.raises(AttributeError):
            entry.anything = 1
        for dump in (pickle.dumps, copy.copy, copy.deepcopy):
            with pytest.raises(TypeError, match="cannot pickle"):
                dump(entry)
        with pytest.raises(TypeError, match="cannot create weak reference"):
            weakref.ref(entry)
        with pytest.raises(TypeError, match="not an acceptable base type"):
            types.new_class("Sub", (type(entry),))
        with pytest.raises(TypeError):
            entry.is_dir(True)
        with pytest.raises(TypeError):
            entry.stat(follow=True)
        assert entry.__eq__(entry) is True  # identity, as for any object


# -- the iterator --------------------------------------------------------------------------


def real_iterator(directory: Path) -> Any:
    return os.scandir(directory)


def emulated_iterator(directory: Path, on_close: Callable[[], None] | None = None) -> Any:
    infos = HostFileSystem().scandir(str(directory))
    return ScandirIterator(str(directory), infos, CountingStat(), on_close=on_close)


ITERATORS = [real_iterator, emulated_iterator]


@pytest.mark.parametrize("make", ITERATORS)
def test_iterator_protocol(tree: Path, make: Callable[[Path], Any]) -> None:
    iterator = make(tree)
    assert iter(iterator) is iterator
    assert iterator.__enter__() is iterator
    assert len(list(iterator)) == len(os.listdir(tree))
    with pytest.raises(StopIteration):
        next(iterator)
    assert iterator.__exit__(None, None, None) is None
    with pytest.raises(TypeError, match="cannot pickle"):
        pickle.dumps(iterator)
    with pytest.raises(TypeError, match="cannot create weak reference"):
        weakref.ref(iterator)
    assert isinstance(iterator, collections.abc.Iterator)


@pytest.mark.parametrize("make", ITERATORS)
def test_next_after_close_stops(tree: Path, make: Callable[[Path], Any]) -> None:
    iterator = make(tree)
    next(iterator)
    iterator.close()
    iterator.close()
    with pytest.raises(StopIteration):
        next(iterator)


def test_both_iterators_list_the_same_entries(tree: Path) -> None:
    for form in FORMS:
        with scandir_argument(form, tree) as argument:
            scanned = scan(argument, tree)
            assert sorted(scanned.real) == sorted(scanned.emulated) == sorted(os.listdir(tree))


@pytest.mark.parametrize("make", ITERATORS)
def test_unclosed_iterator_warns_where_it_is_dropped(
    tree: Path, make: Callable[[Path], Any]
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        iterator = make(tree)
        next(iterator)
        line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        del iterator
    assert len(caught) == 1
    warning = caught[0]
    assert warning.category is ResourceWarning
    assert str(warning.message) == f"unclosed scandir iterator {warning.source!r}"
    assert re.fullmatch(
        r"unclosed scandir iterator <[\w.]+\.ScandirIterator object at 0x[0-9a-f]+>",
        str(warning.message),
    )
    assert (warning.filename, warning.lineno) == (__file__, line)
    assert type(warning.source).__name__ == "ScandirIterator"
    with pytest.raises(StopIteration):  # the source is the iterator, closed by then
        next(warning.source)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", ITERATORS)
def test_unclosed_iterator_in_a_cycle_warns_when_collected(
    tmp_path: Path, make: Callable[[Path], Any]
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cycle: list[object] = [make(tmp_path)]  # empty and never read: still open
        cycle.append(cycle)
        del cycle
        gc.collect()
    assert [warning.category for warning in caught] == [ResourceWarning]


def exhaust(iterator: Any) -> None:
    list(iterator)


def close(iterator: Any) -> None:
    next(iterator)
    iterator.close()


def leave_with(iterator: Any) -> None:
    with iterator:
        next(iterator)


def leave_with_error(iterator: Any) -> None:
    with pytest.raises(KeyError), iterator:
        raise KeyError("propagates")


ENDINGS = [exhaust, close, leave_with, leave_with_error]


@pytest.mark.parametrize("make", ITERATORS)
@pytest.mark.parametrize("end", ENDINGS)
def test_a_closed_iterator_does_not_warn(
    tree: Path, make: Callable[[Path], Any], end: Callable[[Any], None]
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        iterator = make(tree)
        end(iterator)
        del iterator
        gc.collect()
    assert caught == []


@pytest.mark.parametrize("end", [*ENDINGS, lambda iterator: None])
def test_on_close_runs_once(tree: Path, end: Callable[[Any], None]) -> None:
    closes: list[None] = []
    iterator = emulated_iterator(tree, on_close=lambda: closes.append(None))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        end(iterator)
        iterator.close()
        del iterator
        gc.collect()
    assert closes == [None]


def test_a_failing_read_closes_the_iterator() -> None:
    closes: list[None] = []

    def listing() -> Iterator[DirEntryInfo]:
        yield DirEntryInfo("first", stat_module.S_IFREG, 1)
        raise OSError(errno.EIO, "Input/output error", "/d")

    iterator = ScandirIterator(
        "/d", listing(), CountingStat(), on_close=lambda: closes.append(None)
    )
    assert next(iterator).path == "/d/first"
    with pytest.raises(OSError, match="Input/output error"):
        next(iterator)
    assert closes == [None]
    with pytest.raises(StopIteration):
        next(iterator)


def test_entries_are_made_lazily() -> None:
    made: list[str] = []

    def listing() -> Iterator[DirEntryInfo]:
        for name in ("a", "b"):
            made.append(name)
            yield DirEntryInfo(name, stat_module.S_IFREG, 1)

    with ScandirIterator(b"/d", listing(), CountingStat()) as iterator:
        assert next(iterator).path == b"/d/a"
        assert made == ["a"]


def test_a_half_built_iterator_is_harmless() -> None:
    with pytest.raises(TypeError):
        ScandirIterator("/d", 42, CountingStat())  # type: ignore[arg-type]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ScandirIterator.__new__(ScandirIterator).__del__()
        gc.collect()
    assert caught == []
