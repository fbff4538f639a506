"""os.scandir, os.walk, glob and shutil.copytree on the memory file system, accelerated (the C
DirEntry and iterator of ``posixbackend._direntry``) and pure Python, against native ``os`` on
a real temporary directory: same entries, answers, errors and results, for random trees of
files, directories, symlinks and dangling links. Also: which classes serve, that the C types
leak neither references nor memory, and that the stat closures they call are library entry
points for the permission layer.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import stat
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posixbackend import PosixModuleBackend, current_emulated
from posixbackend.emulated import EmulatedBackend, direntry
from posixbackend.permissions import trusted
from posixbackend.switch.block import BackendBlock
from vfs import DirEntryInfo, MemoryFileSystem

_direntry: Any
try:
    from posixbackend import _direntry
except ImportError:  # not built: only the pure Python runs
    _direntry = None

needs_c = pytest.mark.skipif(_direntry is None, reason="posixbackend._direntry not built")
MODES = [pytest.param(False, id="python"), pytest.param(True, id="c", marks=needs_c)]

# -- the trees ---------------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c.py", "d.py", "e", "f.txt"])
Tree = dict[str, Any]
"""name -> None (a file), a Tree (a directory) or ("link", target)."""


def trees(depth: int) -> st.SearchStrategy[Tree]:
    leaf = st.one_of(
        st.none(),
        # no ".." or ".": a link up the tree makes glob's "**" (which follows links) fan out
        st.tuples(st.just("link"), st.sampled_from(["a", "b", "c.py", "c.py/x", "missing"])),
    )
    node = leaf if depth == 0 else st.one_of(leaf, st.deferred(lambda: trees(depth - 1)))
    return st.dictionaries(NAMES, node, max_size=4)


def build(root: str, tree: Tree) -> None:
    """Make ``tree`` below the existing directory ``root`` through whatever os serves now."""
    for name, node in tree.items():
        path = os.path.join(root, name)
        if node is None:
            with open(path, "wb") as file:
                file.write(name.encode())
        elif isinstance(node, tuple):
            os.symlink(node[1], path)
        else:
            os.mkdir(path)
            build(path, node)


def outcome(call: Callable[[], object], root: str) -> object:
    """A call's value, or its error's class, errno and file name relative to ``root``."""
    try:
        value = call()
    except OSError as error:
        filename = error.filename
        if isinstance(filename, str):
            filename = filename.replace(root, "<root>")
        return ("raises", type(error), error.errno, filename)
    if isinstance(value, os.stat_result):
        return ("stat", stat.S_IFMT(value.st_mode), value.st_size if value.st_mode else None)
    return value


def describe_scan(root: str, directory: str) -> list[object]:
    """Every answer of every entry of a scan of ``directory`` (a path below ``root``)."""
    answers: list[object] = []
    with os.scandir(directory) as entries:
        for entry in sorted(entries, key=lambda entry: entry.name):
            assert isinstance(entry, os.DirEntry)
            answers.append((
                entry.name,
                entry.path.replace(root, "<root>"),
                repr(entry),
                outcome(entry.is_dir, root),
                outcome(functools.partial(entry.is_dir, follow_symlinks=False), root),
                outcome(entry.is_file, root),
                outcome(functools.partial(entry.is_file, follow_symlinks=False), root),
                outcome(entry.is_symlink, root),
                outcome(entry.stat, root),
                outcome(functools.partial(entry.stat, follow_symlinks=False), root),
            ))  # fmt: skip
    return answers


def describe(root: str) -> dict[str, object]:
    """What scandir, walk, glob and copytree make of the tree at ``root``."""
    found: dict[str, object] = {}
    walked = []
    for top, dirs, files in os.walk(root):
        dirs.sort()
        walked.append((top.replace(root, "<root>"), sorted(dirs), sorted(files)))
        found[f"scandir {top.replace(root, '<root>')}"] = describe_scan(root, top)
    found["walk"] = walked
    found["walk, following links"] = sorted(
        (top.replace(root, "<root>"), sorted(dirs), sorted(files))
        for top, dirs, files in os.walk(root, followlinks=True)
    )
    found["glob"] = sorted(path.replace(root, "<root>") for path in
                           glob.glob("**/*.py", root_dir=root, recursive=True))  # fmt: skip
    found["Path.glob"] = sorted(str(path.relative_to(root)) for path in Path(root).glob("**/*"))
    for links in (True, False):
        target = f"{root}-copy-{links}"
        try:
            shutil.copytree(root, target, symlinks=links)
        except shutil.Error as error:  # a dangling link, followed
            found[f"copytree {links}"] = ("shutil.Error", len(error.args[0]))
        except OSError as error:
            found[f"copytree {links}"] = outcome(lambda e=error: _raise(e), root)  # type: ignore[misc]
        else:
            found[f"copytree {links}"] = [
                (top.replace(target, "<copy>"), sorted(dirs), sorted(files))
                for top, dirs, files in sorted(os.walk(target))
            ]
    return found


def _raise(error: BaseException) -> None:
    raise error


@contextmanager
def managed(
    accelerated: bool, monkeypatch: pytest.MonkeyPatch, fs: MemoryFileSystem | None = None
) -> Iterator[None]:
    """A managed block on ``fs`` (a fresh memory file system by default), with or without the
    accelerator (chosen by argument: the environment switch would also steer what the
    process's first block sets up, e.g. the SQLite routing)."""
    fs = MemoryFileSystem() if fs is None else fs
    emulated = EmulatedBackend(fs, accelerated=accelerated)
    with BackendBlock(PosixModuleBackend.JAVA, emulated, fs):
        assert current_emulated() is emulated
        yield


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=trees(2))
def test_random_trees_match_native(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, tree: Tree
) -> None:
    native_root = str(tmp_path_factory.mktemp("native") / "root")
    os.mkdir(native_root)
    build(native_root, tree)
    expected = describe(native_root)
    for accelerated in (False, True) if _direntry is not None else (False,):
        with managed(accelerated, monkeypatch):
            os.makedirs("/work/root")
            build("/work/root", tree)
            assert describe("/work/root") == expected, accelerated


@pytest.mark.parametrize("accelerated", MODES)
def test_errors_match_native(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, accelerated: bool
) -> None:
    root = str(tmp_path)
    build(root, {"file": None, "dir": {}})

    def errors(root: str) -> list[object]:
        return [
            outcome(lambda: os.scandir(f"{root}/missing"), root),
            outcome(lambda: os.scandir(f"{root}/file"), root),
            outcome(lambda: list(os.walk(f"{root}/missing")), root),
            outcome(lambda: shutil.copytree(f"{root}/missing", f"{root}/x"), root),
            outcome(lambda: shutil.copytree(f"{root}/dir", f"{root}/file"), root),
        ]

    expected = errors(root)
    with managed(accelerated, monkeypatch):
        os.makedirs("/work/root")
        build("/work/root", {"file": None, "dir": {}})
        assert errors("/work/root") == expected


# -- which classes serve -----------------------------------------------------------------------


@pytest.mark.parametrize("accelerated", MODES)
def test_the_classes_that_serve(monkeypatch: pytest.MonkeyPatch, accelerated: bool) -> None:
    module = _direntry if accelerated else direntry
    with managed(accelerated, monkeypatch):
        os.mkdir("/d")
        with open("/d/f", "wb"):
            pass
        fd = os.open("/d", os.O_RDONLY | os.O_DIRECTORY)
        for argument in ("/d", b"/d", fd):
            with os.scandir(argument) as iterator:
                assert type(iterator) is module.ScandirIterator
                (entry,) = iterator
            assert type(entry) is module.DirEntry
            assert current_emulated().DirEntry is module.DirEntry  # type: ignore[union-attr]
            assert isinstance(entry, os.DirEntry)
            assert issubclass(type(entry), os.DirEntry)
            assert entry.is_file() and entry.stat().st_size == 0
        with os.scandir(fd) as iterator:
            (entry,) = iterator
        os.close(fd)
        with pytest.raises(OSError) as closed:  # an fd scan's entries stat through the fd
            entry.stat(follow_symlinks=False)
        assert (closed.value.errno, closed.value.filename) == (9, "f")


@needs_c
def test_an_unclosed_c_iterator_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    with managed(True, monkeypatch):
        os.mkdir("/d")
        os.mkdir("/d/e")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            iterator = os.scandir("/d")
            next(iterator)
            del iterator
    assert [warning.category for warning in caught] == [ResourceWarning]
    assert caught[0].filename == __file__


# -- no leaks ----------------------------------------------------------------------------------


@needs_c
def test_the_c_types_leak_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """References and memory stay flat over many scans, their entries' answers and errors."""
    with managed(True, monkeypatch):
        os.mkdir("/d")
        for name in ("f", "g"):
            with open(f"/d/{name}", "wb"):
                pass
        os.mkdir("/d/sub")
        os.symlink("missing", "/d/dangling")
        os.symlink("f", "/d/link")
        name = next(iter(os.listdir("/d")))

        def scan_everything() -> None:
            for argument in ("/d", b"/d/", "/d/"):
                with os.scandir(argument) as iterator:
                    for entry in iterator:
                        entry.is_dir()
                        entry.is_file(follow_symlinks=False)
                        entry.inode()
                        os.fspath(entry)
                        try:
                            entry.stat()
                        except FileNotFoundError:
                            pass
                        entry.stat(follow_symlinks=False)
            iterator = os.scandir("/d")
            next(iterator)
            iterator.close()

        for _ in range(50):  # warm up caches
            scan_everything()
        references = sys.getrefcount(name)
        blocks = sys.getallocatedblocks()
        for _ in range(2000):
            scan_everything()
        assert sys.getrefcount(name) == references
        assert sys.getallocatedblocks() - blocks < 200


@needs_c
def test_entries_caching_a_stat_are_collected_in_a_cycle() -> None:
    """An entry refers to its scan's stat function; stored where that function reaches, it
    makes a cycle the collector must be able to free."""
    import gc
    import weakref

    class Holder:
        entry: object = None

    holder = Holder()
    freed = weakref.ref(holder)

    def stat_function(path: str, follow: bool, holder: Holder = holder) -> os.stat_result:
        return os.stat("/")

    info = DirEntryInfo("name", stat.S_IFREG, 1)
    entry = _direntry.DirEntry("/", info, stat_function)
    entry.stat()
    holder.entry = entry
    del holder, entry, stat_function
    gc.collect()
    assert freed() is None


# -- the permission layer ----------------------------------------------------------------------


class _WatchedFileSystem(MemoryFileSystem):
    """A memory file system that records who the permission layer blames for its stats."""

    blamed: list[str | None]

    def stat_at(self, at: object | None, path: str, follow_symlinks: bool = True) -> Any:
        self.blamed.append(trusted.caller(sys._getframe(1)))
        return super().stat_at(at, path, follow_symlinks)


@pytest.mark.parametrize("accelerated", MODES)
def test_an_entry_stat_enters_the_library(
    monkeypatch: pytest.MonkeyPatch, accelerated: bool
) -> None:
    """The C DirEntry has no frame of its own: the stat closure it calls is the entry point,
    so what the provider does for an entry's stat is the library's, as through the Python
    DirEntry's methods."""
    fs = _WatchedFileSystem()
    fs.blamed = []
    with managed(accelerated, monkeypatch, fs):
        os.mkdir("/d")
        os.symlink("/d", "/d/link")
        with os.scandir("/d") as iterator:
            (entry,) = iterator
        entry.stat()
    assert fs.blamed[-1] == trusted.LIBRARY


# -- copytree's sendfile: one file under two names ---------------------------------------------


def _sendfile_into_a_link(root: str) -> tuple[int, bytes]:
    """sendfile from a file into a hard link of itself (a same-file copy, which overlaps)."""
    with open(f"{root}/f", "wb") as file:
        file.write(b"abcdef")
    os.link(f"{root}/f", f"{root}/g")
    source = os.open(f"{root}/f", os.O_RDONLY)
    target = os.open(f"{root}/g", os.O_WRONLY)
    try:
        os.lseek(target, 2, os.SEEK_SET)
        moved = os.sendfile(target, source, None, 4)
    finally:
        os.close(source)
        os.close(target)
    with open(f"{root}/f", "rb") as file:
        return moved, file.read()


def test_sendfile_knows_a_hard_link_is_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _sendfile_into_a_link(str(tmp_path))
    with managed(True, monkeypatch):
        os.mkdir("/d")
        assert _sendfile_into_a_link("/d") == expected
