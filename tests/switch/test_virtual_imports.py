"""Imports, resources, bytecode and compiling from the virtual file system (issue 18, items 4-5).

Each scenario writes modules below its root and imports them from there, natively in a host
temporary directory and inside a managed block (memory, the default file system, a confined
host directory); the results must agree. What must also hold only on the managed side (the
module still works after its block, nothing reached the host) is asserted after the run.
"""

from __future__ import annotations

import compileall
import contextlib
import importlib
import importlib.machinery
import importlib.resources
import importlib.util
import inspect
import os
import posix
import py_compile
import shutil
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import posixbackend
from posixbackend.permissions import Permissions
from tests.switch.stdlib_harness import compare, error_facts, placeholder, run_managed, run_native
from vfs import HostFileSystem, MemoryFileSystem


@contextlib.contextmanager
def importing_from(*entries: str) -> Iterator[None]:
    """``entries`` first on sys.path; afterwards they and every module imported from below
    them are gone again (both runs import the same names)."""
    before = set(sys.modules)
    sys.path[:0] = entries
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for entry in entries:
            sys.path.remove(entry)
        for cached in [key for key in sys.path_importer_cache if key.startswith(entries)]:
            del sys.path_importer_cache[cached]  # a zipimporter would reread its archive
        new = set(sys.modules) - before
        # theirs, not the library's own lazy imports (decided before any is gone: a namespace
        # package's path asks for its parent module)
        for name in [name for name in new if _imported_from(sys.modules[name], entries)]:
            del sys.modules[name]
        importlib.invalidate_caches()


def _imported_from(module: object, entries: tuple[str, ...]) -> bool:
    """Whether ``module`` was loaded from below one of ``entries`` (a file or an archive)."""
    spec = getattr(module, "__spec__", None)
    locations = [getattr(spec, "origin", None), getattr(module, "__file__", None)]
    locations += list(getattr(spec, "submodule_search_locations", None) or ())
    return any(
        isinstance(location, str) and location.startswith(entries) for location in locations
    )


def outcome(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``("ok", result)``, or the error: as the harness's, with import errors' name too."""
    try:
        return ("ok", function(*args, **kwargs))
    except ImportError as caught:
        return (type(caught).__name__, str(caught), caught.name)
    except TypeError as caught:
        return (type(caught).__name__, str(caught))
    except (OSError, ValueError) as caught:
        return error_facts(caught)


def write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as file:
        file.write(text)


def run_on_host_provider(scenario: Callable[[str], Any]) -> Any:
    """The scenario on the managed backend over a confined host directory."""
    host = tempfile.mkdtemp(prefix="imports-host-")
    try:
        with posixbackend.backend("managed", file_system=HostFileSystem(root=host), cwd="/"):
            os.mkdir("/work")
            result = scenario("/work")
        return placeholder(result, "/work")
    finally:
        shutil.rmtree(host)


def compare_everywhere(scenario: Callable[[str], Any]) -> Any:
    """Native, managed memory, managed default file system and managed host agree."""
    native = compare(scenario)
    assert run_managed(scenario, default_file_system=True) == native
    assert run_on_host_provider(scenario) == native
    return native


@pytest.fixture
def bytecode_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


def test_modules_packages_and_namespace_packages(bytecode_written: None) -> None:
    def scenario(root: str) -> Any:
        write(f"{root}/mods/vi_plain.py", "VALUE = 'plain'\n")
        write(f"{root}/mods/vi_pkg/__init__.py", "VALUE = 'package'\n")
        write(f"{root}/mods/vi_pkg/sub.py", "from . import VALUE as P\nVALUE = P + '.sub'\n")
        write(f"{root}/mods/vi_ns/part/leaf.py", "VALUE = 'leaf'\n")
        write(f"{root}/other/vi_ns/more.py", "VALUE = 'more'\n")
        with importing_from(f"{root}/mods", f"{root}/other"):
            import vi_ns.more  # type: ignore[import-not-found]
            import vi_ns.part.leaf  # type: ignore[import-not-found]
            import vi_pkg.sub  # type: ignore[import-not-found]
            import vi_plain  # type: ignore[import-not-found]

            return {
                "values": [vi_plain.VALUE, vi_pkg.VALUE, vi_pkg.sub.VALUE,
                           vi_ns.part.leaf.VALUE, vi_ns.more.VALUE],
                "files": [vi_plain.__file__, vi_pkg.__file__, vi_ns.part.leaf.__file__],
                "package_path": list(vi_pkg.__path__),
                "namespace_path": sorted(vi_ns.__path__),
                "namespace_path_type": type(vi_ns.__path__).__name__,
                "namespace_file": vi_ns.__file__,
                "cached": [vi_plain.__cached__, os.path.exists(vi_plain.__cached__)],
                "pycache": sorted(os.listdir(f"{root}/mods/vi_pkg/__pycache__")),
                "spec_origin": vi_pkg.sub.__spec__.origin,
            }  # fmt: skip

    compare_everywhere(scenario)


def test_bytecode_is_used_then_rewritten_when_the_source_changes(bytecode_written: None) -> None:
    def scenario(root: str) -> Any:
        write(f"{root}/vi_again.py", "VALUE = 1\n")
        with importing_from(root):
            import vi_again  # type: ignore[import-not-found]

            first = (vi_again.VALUE, os.stat(vi_again.__cached__).st_size > 16)
        write(f"{root}/vi_again.py", "VALUE = 'two, longer'\n")
        with importing_from(root):
            import vi_again

            return [first, vi_again.VALUE, os.path.exists(vi_again.__cached__)]

    compare_everywhere(scenario)


def test_bytecode_is_read_afresh_at_each_import_through_links_and_replacements(
    bytecode_written: None,
) -> None:
    """The file systems remember where a bytecode path led (the Mount opens it again without a
    walk): each import still reads what is at that path now -- a bytecode file another source
    wrote there (same size and time, so it is valid), ``__pycache__`` turned into a link, the
    file itself turned into a link -- and a module removed or added is seen as natively."""

    def compiled(root: str, text: str, cfile: str) -> None:
        """Bytecode of ``text`` at ``cfile``, valid for vi_pyc.py (same size and mtime)."""
        write(f"{root}/other/vi_pyc.py", text)
        os.utime(f"{root}/other/vi_pyc.py", ns=(then, then))
        py_compile.compile(f"{root}/other/vi_pyc.py", cfile=cfile, doraise=True)

    then = 1_700_000_000 * 10**9

    def scenario(root: str) -> Any:
        write(f"{root}/vi_pyc.py", "VALUE = 'one'\n")
        os.utime(f"{root}/vi_pyc.py", ns=(then, then))
        cached = importlib.util.cache_from_source(f"{root}/vi_pyc.py")
        seen = []
        with importing_from(root):
            for step in range(5):
                if step == 1:  # another source's bytecode, valid for this one
                    compiled(root, "VALUE = 'uno'\n", cached)
                elif step == 2:  # __pycache__ moved, a link in its place
                    os.rename(f"{root}/__pycache__", f"{root}/moved")
                    os.symlink(f"{root}/moved", f"{root}/__pycache__")
                    compiled(root, "VALUE = 'ein'\n", cached)
                elif step == 3:  # the file itself a link to bytecode elsewhere
                    compiled(root, "VALUE = 'uan'\n", f"{root}/elsewhere.pyc")
                    os.unlink(cached)
                    os.symlink(f"{root}/elsewhere.pyc", cached)
                elif step == 4:  # the link gone: compiled from the source again
                    os.unlink(cached)
                seen.append(importlib.import_module("vi_pyc").VALUE)
                del sys.modules["vi_pyc"]
            seen.append(os.path.isfile(cached))
            os.unlink(f"{root}/vi_pyc.py")
            importlib.invalidate_caches()
            seen.append(outcome(importlib.import_module, "vi_pyc"))
            write(f"{root}/vi_pyc.py", "VALUE = 'back, longer'\n")
            importlib.invalidate_caches()
            seen.append(importlib.import_module("vi_pyc").VALUE)
        return seen

    assert compare_everywhere(scenario) == [
        "one", "uno", "ein", "uan", "one", True,
        ("ModuleNotFoundError", "No module named 'vi_pyc'", "vi_pyc"), "back, longer",
    ]  # fmt: skip


def test_no_bytecode_written_when_python_is_told_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def scenario(root: str) -> Any:
        write(f"{root}/vi_nobc.py", "VALUE = 3\n")
        with importing_from(root):
            import vi_nobc  # type: ignore[import-not-found]

            return [vi_nobc.VALUE, sorted(os.listdir(root))]

    compare_everywhere(scenario)


def test_bytecode_files_modes_and_missing_directories(bytecode_written: None) -> None:
    """As importlib writes them: the source's mode with the owner's write bit, less the umask;
    ``__pycache__`` made when missing, and no bytecode (nor anything aside) where it cannot
    be made; each module's file written once whatever the others found."""

    def scenario(root: str) -> Any:
        write(f"{root}/a/vi_mode_a.py", "VALUE = 'a'\n")
        write(f"{root}/a/vi_mode_b.py", "VALUE = 'b'\n")
        write(f"{root}/b/vi_mode_c.py", "VALUE = 'c'\n")
        write(f"{root}/b/__pycache__", "a file where the directory would go\n")
        os.chmod(f"{root}/a/vi_mode_a.py", 0o440)
        os.chmod(f"{root}/a/vi_mode_b.py", 0o604)
        previous = os.umask(0o027)
        try:
            with importing_from(f"{root}/a", f"{root}/b"):
                values = [importlib.import_module(f"vi_mode_{name}").VALUE for name in "abc"]
        finally:
            os.umask(previous)
        cached = sorted(os.listdir(f"{root}/a/__pycache__"))
        modes = [oct(os.stat(f"{root}/a/__pycache__/{name}").st_mode) for name in cached]
        made = oct(os.stat(f"{root}/a/__pycache__").st_mode)
        return [values, cached, modes, made, sorted(os.listdir(f"{root}/b"))]

    compare_everywhere(scenario)


def _import_filling_the_file_system(memory: MemoryFileSystem) -> Any:
    """A module imported where its bytecode does not fit: (its value, what its directory and
    ``__pycache__`` hold afterwards)."""
    with posixbackend.backend("managed", file_system=memory, cwd="/"):
        with importing_from("/mods"):
            value = importlib.import_module("vi_full").VALUE
        return [value, sorted(os.listdir("/mods")), sorted(os.listdir("/mods/__pycache__"))]


def test_a_bytecode_write_that_fails_leaves_nothing(bytecode_written: None) -> None:
    """ENOSPC part way through the bytecode file: the import works and nothing is left aside
    (importlib forgets a bytecode file it cannot write)."""
    memory = MemoryFileSystem(max_bytes=1 << 16)
    memory.mkdir("/mods", 0o755)
    memory.mkdir("/mods/__pycache__", 0o755)
    source = "VALUE = 'fits'\n" + "".join(f"NAME_{n} = {n}\n" for n in range(1500))
    with memory.open("/mods/vi_full.py", posix.O_WRONLY | posix.O_CREAT, 0o644) as handle:
        handle.pwrite(source.encode(), 0)
    filler = memory.open("/filler", posix.O_WRONLY | posix.O_CREAT, 0o644)
    free = (1 << 16) - len(source) - 4096  # room for a part of the bytecode only
    filler.pwrite(b"x" * free, 0)
    filler.close()
    assert _import_filling_the_file_system(memory) == ["fits", ["__pycache__", "vi_full.py"], []]


def test_an_interrupted_bytecode_write_leaves_nothing(
    bytecode_written: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interruption while the bytecode file is written (between two bytecodes of the
    writer) reaches the importer, and neither the file nor its aside copy stays."""
    from vfs.memory.handle import MemoryHandle

    memory = MemoryFileSystem()
    memory.mkdir("/mods", 0o755)
    with memory.open("/mods/vi_full.py", posix.O_WRONLY | posix.O_CREAT, 0o644) as handle:
        handle.pwrite(b"VALUE = 'interrupted'\n", 0)

    def interrupted(self: Any, data: Any, offset: int) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(MemoryHandle, "pwrite", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _import_filling_the_file_system(memory)
    monkeypatch.undo()
    assert sys.modules.get("vi_full") is None
    assert sorted(memory.listdir("/mods")) == ["__pycache__", "vi_full.py"]
    assert memory.listdir("/mods/__pycache__") == []


def test_sourceless_bytecode_modules() -> None:
    def scenario(root: str) -> Any:
        write(f"{root}/src/vi_compiled.py", "VALUE = 'from pyc'\n")
        py_compile.compile(f"{root}/src/vi_compiled.py", cfile=f"{root}/lib/vi_compiled.pyc")
        with importing_from(f"{root}/lib"):
            import vi_compiled  # type: ignore[import-not-found]

            return [vi_compiled.VALUE, vi_compiled.__file__,
                    type(vi_compiled.__loader__).__mro__[-3].__name__]  # fmt: skip

    compare_everywhere(scenario)


def test_errors_are_native_ones(bytecode_written: None) -> None:
    def scenario(root: str) -> Any:
        write(f"{root}/vi_broken.py", "def broken(:\n    pass\n")
        write(f"{root}/vi_raises.py", "raise LookupError('at import')\n")
        with importing_from(root):
            missing = outcome(importlib.import_module, "vi_not_there")
            try:
                importlib.import_module("vi_broken")
            except SyntaxError as caught:
                syntax = [caught.filename, caught.lineno, caught.msg]
            try:
                importlib.import_module("vi_raises")
            except LookupError as caught:
                raised = [str(caught), "vi_raises" in sys.modules]
            return [missing, syntax, raised]

    compare_everywhere(scenario)


def test_names_sharing_only_a_stem_with_a_module_are_not_one() -> None:
    def scenario(root: str) -> Any:
        write(f"{root}/mods/vi_decoy.txt", "not a module\n")
        write(f"{root}/mods/vi_two.dots.py", "VALUE = 'unreachable'\n")
        write(f"{root}/mods/vi_dotted.d/__init__.py", "VALUE = 'unreachable'\n")
        write(f"{root}/mods/vi_real.py", "VALUE = 'real'\n")
        write(f"{root}/mods/vi_portion/leaf.py", "VALUE = 'leaf'\n")
        with importing_from(f"{root}/mods"):
            missing = [
                outcome(importlib.import_module, name)
                for name in ("vi_decoy", "vi_two", "vi_dotted", "vi_absent")
            ]
            return [missing, importlib.import_module("vi_real").VALUE,
                    importlib.import_module("vi_portion.leaf").VALUE]  # fmt: skip

    compare_everywhere(scenario)


def test_a_block_entered_again_under_a_guard_refusing_files_finds_nothing_virtual() -> None:
    """What the finder kept of a backend's directories serves none of its files once a guard
    refuses file access: the same block, entered again inside a block without it, imports
    from the host only."""
    here = posix.getcwd()
    block = posixbackend.backend("managed")
    try:
        with importing_from(here):
            with block:
                write(f"{here}/vi_guarded.py", "VALUE = 'virtual'\n")
                write(f"{here}/vi_guarded_ns/leaf.py", "VALUE = 'leaf'\n")
                assert importlib.import_module("vi_guarded").VALUE == "virtual"
                assert importlib.import_module("vi_guarded_ns.leaf").VALUE == "leaf"
            for name in ("vi_guarded", "vi_guarded_ns.leaf", "vi_guarded_ns"):
                del sys.modules[name]
            refusing = posixbackend.backend("native", permissions=Permissions(allow_io="none"))
            with refusing, block:
                for name in ("vi_guarded", "vi_guarded_ns", "vi_guarded_ns.leaf"):
                    assert outcome(importlib.import_module, name)[0] == "ModuleNotFoundError"
            with block:
                assert importlib.import_module("vi_guarded").VALUE == "virtual"
    finally:
        for name in ("vi_guarded", "vi_guarded_ns.leaf", "vi_guarded_ns"):
            sys.modules.pop(name, None)


def test_a_listing_is_kept_while_the_directory_mtime_stays_until_caches_are_invalidated() -> None:
    """As the path finder's: a module added behind a directory time put back is not seen until
    ``importlib.invalidate_caches``."""

    def scenario(root: str) -> Any:
        os.mkdir(f"{root}/kept")
        then = 1_700_000_000 * 10**9
        os.utime(f"{root}/kept", ns=(then, then))
        with importing_from(f"{root}/kept"):
            before = outcome(importlib.import_module, "vi_kept")
            write(f"{root}/kept/vi_kept.py", "VALUE = 'kept'\n")
            os.utime(f"{root}/kept", ns=(then, then))
            stale = outcome(importlib.import_module, "vi_kept")
            importlib.invalidate_caches()
            return [before, stale, importlib.import_module("vi_kept").VALUE]

    compare_everywhere(scenario)


def test_each_block_imports_from_its_own_file_system() -> None:
    """A module written into the current directory (first on sys.path, as ``python -m``
    puts it) is found in that block, right after an import that failed, and in no other: a
    fresh block imports from its own file system whatever the finder kept of another's."""
    here = posix.getcwd()
    first = posixbackend.backend("managed")
    try:
        with importing_from(here):
            with first:
                assert outcome(importlib.import_module, "vi_own")[0] == "ModuleNotFoundError"
                write(f"{here}/vi_own.py", "VALUE = 'first'\n")
                assert importlib.import_module("vi_own").VALUE == "first"
            del sys.modules["vi_own"]
            with posixbackend.backend("managed"):
                assert outcome(importlib.import_module, "vi_own")[0] == "ModuleNotFoundError"
                write(f"{here}/vi_own.py", "VALUE = 'second'\n")
                assert importlib.import_module("vi_own").VALUE == "second"
            del sys.modules["vi_own"]
            with first:
                assert importlib.import_module("vi_own").VALUE == "first"
            del sys.modules["vi_own"]
            assert outcome(importlib.import_module, "vi_own")[0] == "ModuleNotFoundError"
    finally:
        sys.modules.pop("vi_own", None)
    assert not posix.access(f"{here}/vi_own.py", posix.F_OK), "the host changed"


def test_a_module_written_after_a_failed_import_is_found_after_invalidate_caches() -> None:
    def scenario(root: str) -> Any:
        os.mkdir(f"{root}/late")
        with importing_from(f"{root}/late"):
            before = outcome(importlib.import_module, "vi_late")
            write(f"{root}/late/vi_late.py", "VALUE = 'late'\n")
            importlib.invalidate_caches()
            return [before, importlib.import_module("vi_late").VALUE]

    compare_everywhere(scenario)


def test_changes_by_other_paths_and_threads_are_seen_after_invalidate_caches(
    bytecode_written: None,
) -> None:
    """Whatever the finder and the file systems remember (listings, where directories are)
    follows renames of the directory on sys.path, writes through another descriptor and
    writes from another thread, as the path finder's caches do."""

    def scenario(root: str) -> Any:
        write(f"{root}/a/vi_changing.py", "VALUE = 'a'\n")
        write(f"{root}/b/vi_changing.py", "VALUE = 'b, longer'\n")
        os.rename(f"{root}/a", f"{root}/cur")
        seen = []
        with importing_from(f"{root}/cur"):
            seen.append(importlib.import_module("vi_changing").VALUE)
            del sys.modules["vi_changing"]
            os.rename(f"{root}/cur", f"{root}/old")
            os.rename(f"{root}/b", f"{root}/cur")
            importlib.invalidate_caches()
            seen.append(importlib.import_module("vi_changing").VALUE)
            del sys.modules["vi_changing"]
            fd = os.open(f"{root}/cur/vi_changing.py", os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, b"VALUE = 'c, longer still'\n")
            finally:
                os.close(fd)
            importlib.invalidate_caches()
            seen.append(importlib.import_module("vi_changing").VALUE)
            writer = threading.Thread(
                target=write, args=(f"{root}/cur/vi_threaded.py", "VALUE = 'thread'\n")
            )
            writer.start()
            writer.join()
            importlib.invalidate_caches()
            seen.append(importlib.import_module("vi_threaded").VALUE)
            del sys.modules["vi_threaded"]
            os.rename(f"{root}/cur", f"{root}/gone")
            importlib.invalidate_caches()
            seen.append(outcome(importlib.import_module, "vi_threaded"))
        return seen

    compare_everywhere(scenario)


def test_resources_and_sources(bytecode_written: None) -> None:
    def scenario(root: str) -> Any:
        write(f"{root}/vi_res/__init__.py", "def where():\n    return 'here'\n")
        write(f"{root}/vi_res/data/notes.txt", "some notes\n")
        write(f"{root}/vi_res/table.csv", "a,b\n")
        with importing_from(root):
            import vi_res  # type: ignore[import-not-found]

            files = importlib.resources.files("vi_res")
            return {
                "text": files.joinpath("data/notes.txt").read_text(),
                "bytes": (files / "table.csv").read_bytes(),
                "names": sorted(item.name for item in files.iterdir()),
                "is_dir": [(files / "data").is_dir(), (files / "table.csv").is_file()],
                "source": inspect.getsource(vi_res.where),
                "get_source": vi_res.__loader__.get_source("vi_res"),
                "get_data": vi_res.__loader__.get_data(f"{root}/vi_res/table.csv"),
            }

    compare_everywhere(scenario)


def test_zip_archives_on_the_path() -> None:
    def scenario(root: str) -> Any:
        with zipfile.ZipFile(f"{root}/bundle.zip", "w") as archive:
            archive.writestr("vi_zmod.py", "VALUE = 'zip module'\n")
            archive.writestr("vi_zpkg/__init__.py", "VALUE = 'zip package'\n")
            archive.writestr("vi_zpkg/inner.py", "VALUE = 'zip inner'\n")
            archive.writestr("vi_zpkg/res.txt", "zip resource")
            archive.writestr("lib/deeper/vi_zdeep.py", "VALUE = 'zip directory'\n")
        # a directory inside the archive; a missing path below a directory is no archive
        with importing_from(
            f"{root}/bundle.zip", f"{root}/bundle.zip/lib/deeper", f"{root}/missing/bundle.zip"
        ):
            import vi_zdeep  # type: ignore[import-not-found]
            import vi_zmod  # type: ignore[import-not-found]
            import vi_zpkg.inner  # type: ignore[import-not-found]

            return {
                "values": [vi_zmod.VALUE, vi_zpkg.VALUE, vi_zpkg.inner.VALUE, vi_zdeep.VALUE],
                "files": [
                    vi_zmod.__file__,
                    vi_zpkg.__file__,
                    vi_zpkg.inner.__file__,
                    vi_zdeep.__file__,
                ],
                "path": list(vi_zpkg.__path__),
                "resource": importlib.resources.files("vi_zpkg").joinpath("res.txt").read_text(),
                "source": vi_zmod.__loader__.get_source("vi_zmod"),
                "missing": outcome(importlib.import_module, "vi_zpkg.nothing"),
            }

    compare_everywhere(scenario)


def _pyc(
    source: str,
    *,
    stamp: tuple[int, int] = (0, 0),
    hash_based: bool = False,
    magic: bytes | None = None,
) -> bytes:
    """Bytecode of ``source`` as the import system writes it, stamped with a source's (mtime,
    size), or hash-based and unchecked, or with another magic number."""
    external: Any = sys.modules["importlib._bootstrap_external"]
    code = compile(source, "<zip>", "exec")
    if hash_based:
        checked = importlib.util.source_hash(source.encode())
        data = bytes(external._code_to_hash_pyc(code, checked, False))
    else:
        data = bytes(external._code_to_timestamp_pyc(code, *stamp))
    return data if magic is None else magic + data[4:]


def test_zipimport_semantics_and_direct_use() -> None:
    """Bytecode before source, a bad magic number falling back to the source, an unchecked
    hash-based pyc used as it is, get_data keys, and ``zipimport.zipimporter`` itself (its
    archive, prefix, errors), as zipimport gives them."""

    def scenario(root: str) -> Any:
        import zipimport

        when = (2020, 1, 1, 0, 0, 0)
        stamp = (int(time.mktime((*when, -1, -1, -1))), len("STATE = 'source'\n"))
        with zipfile.ZipFile(f"{root}/z.zip", "w") as archive:
            archive.writestr(zipfile.ZipInfo("vi_both.py", when), "STATE = 'source'\n")
            archive.writestr("vi_both.pyc", _pyc("STATE = 'bytecode'\n", stamp=stamp))
            archive.writestr(zipfile.ZipInfo("vi_stale.py", when), "STATE = 'source'\n")
            archive.writestr("vi_stale.pyc", _pyc("STATE = 'bytecode'\n"))
            archive.writestr("vi_magic.py", "STATE = 'source'\n")
            archive.writestr("vi_magic.pyc", _pyc("STATE = 'bytecode'\n", magic=b"\xa3\r\r\n"))
            archive.writestr("vi_hash.py", "STATE = 'new'\n")
            archive.writestr("vi_hash.pyc", _pyc("STATE = 'old'\n", hash_based=True))
            archive.writestr("vi_zp/__init__.py", "DATA = __loader__.get_data('vi_zp/d.txt')\n")
            archive.writestr("vi_zp/d.txt", "data")
        with importing_from(f"{root}/z.zip"):
            import vi_both  # type: ignore[import-not-found]
            import vi_hash  # type: ignore[import-not-found]
            import vi_magic  # type: ignore[import-not-found]
            import vi_stale  # type: ignore[import-not-found]
            import vi_zp  # type: ignore[import-not-found]

            imported = [
                (module.STATE, module.__file__)
                for module in (vi_both, vi_stale, vi_magic, vi_hash)
            ]
            importer = zipimport.zipimporter(f"{root}/z.zip/vi_zp/")
            return {
                "imported": imported,
                "relative_data": vi_zp.DATA,
                "loader": type(vi_zp.__loader__).__name__,
                "is_zipimporter": isinstance(vi_zp.__loader__, zipimport.zipimporter),
                "archive": (importer.archive, importer.prefix),
                "in_prefix": outcome(importer.is_package, "vi_zp"),
                "is_package": zipimport.zipimporter(f"{root}/z.zip").is_package("vi_zp"),
                "missing_data": outcome(importer.get_data, "nothing"),
                "not_zip": outcome(zipimport.zipimporter, f"{root}/absent"),
                "empty": outcome(zipimport.zipimporter, ""),
                "bytes": outcome(zipimport.zipimporter, f"{root}/z.zip".encode()),
            }

    native = compare_everywhere(scenario)
    states = [state for state, _ in native["imported"]]
    assert states == ["bytecode", "source", "source", "old"]


def test_a_virtual_archive_never_serves_a_host_importer(tmp_path: Path) -> None:
    """A guest's archive made at the path of a host archive (and opened through
    ``zipimport.zipimporter`` in its block) is never what a host importer reads."""
    import zipimport

    path = str(tmp_path / "shared.zip")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("vi_spoof.py", "WHO = 'host'\n")
    with posixbackend.backend("managed"):
        os.makedirs(str(tmp_path), exist_ok=True)
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("vi_spoof.py", "WHO = 'guest'\n")
        guest = zipimport.zipimporter(path)
        guest_code = guest.get_code("vi_spoof")
    host = zipimport.zipimporter(path)
    assert type(host) is not type(guest)
    for code, who in ((guest_code, "guest"), (host.get_code("vi_spoof"), "host")):
        namespace: dict[str, Any] = {}
        exec(code, namespace)
        assert namespace["WHO"] == who


def test_py_compile_and_compileall(bytecode_written: None) -> None:
    def scenario(root: str) -> Any:
        write(f"{root}/tree/one.py", "ONE = 1\n")
        write(f"{root}/tree/pkg/__init__.py", "")
        write(f"{root}/tree/pkg/two.py", "TWO = 2\n")
        write(f"{root}/tree/bad.py", "def (:\n")
        compiled = py_compile.compile(f"{root}/tree/one.py", doraise=True)
        try:
            py_compile.compile(f"{root}/tree/bad.py", doraise=True)
        except py_compile.PyCompileError as caught:
            bad = [caught.file, caught.exc_type_name]
        missing = outcome(py_compile.compile, f"{root}/tree/none.py", doraise=True)
        everything = compileall.compile_dir(f"{root}/tree", quiet=2)
        return {
            "compiled": compiled,
            "bad": bad,
            "missing": missing,
            "compile_dir": everything,
            "pycache": sorted(os.listdir(f"{root}/tree/pkg/__pycache__")),
            "mode": oct(os.stat(str(compiled)).st_mode),
        }

    compare_everywhere(scenario)


def test_spec_from_file_location_loads(bytecode_written: None) -> None:
    def scenario(root: str) -> Any:
        write(f"{root}/vi_direct.py", "VALUE = 'direct'\n")
        os.chdir(root)
        spec = importlib.util.spec_from_file_location("vi_direct", "vi_direct.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        unknown = importlib.util.spec_from_file_location("vi_x", f"{root}/data.txt")
        return [module.VALUE, spec.origin, module.__cached__, unknown]

    compare(scenario, chdir=True)


def test_modules_keep_working_after_their_block(bytecode_written: None) -> None:
    """Tracebacks, inspect.getsource and resources read through the backend the module was
    found on, also once its block has ended (the host has no such files)."""
    with posixbackend.backend("managed"):
        write("/tmp/after/vi_after/__init__.py", "def fail():\n    raise KeyError('after')\n")
        write("/tmp/after/vi_after/data.txt", "still here")
        with zipfile.ZipFile("/tmp/after/zipped.zip", "w") as archive:
            archive.writestr("vi_zafter.py", "def fail():\n    raise KeyError('zipped')\n")
        sys.path[:0] = ["/tmp/after", "/tmp/after/zipped.zip"]
        try:
            import vi_after  # type: ignore[import-not-found]
            import vi_zafter  # type: ignore[import-not-found]
        finally:
            del sys.path[:2]
    try:
        assert not os.path.exists("/tmp/after")
        lines = []
        for module in (vi_after, vi_zafter):
            try:
                module.fail()
            except KeyError:
                lines.append(traceback.format_exc().splitlines()[-2].strip())
        assert lines == ["raise KeyError('after')", "raise KeyError('zipped')"]
        assert inspect.getsource(vi_after.fail).startswith("def fail():")
        data = importlib.resources.files("vi_after").joinpath("data.txt").read_text()
        assert data == "still here"
    finally:
        for name in ("vi_after", "vi_zafter"):
            sys.modules.pop(name, None)


def test_the_standard_library_still_imports_in_a_bare_file_system() -> None:
    """A block whose file system has no library still imports the interpreter's modules (they
    load natively, from the real disk)."""
    sys.modules.pop("this", None)
    from vfs import MemoryFileSystem

    with contextlib.redirect_stdout(open(os.devnull, "w")) as sink:  # noqa: SIM117
        with posixbackend.backend("managed", file_system=MemoryFileSystem(), cwd="/"):
            import this  # noqa: F401
    sink.close()
    assert sys.modules["this"].__file__ == os.path.join(os.path.dirname(os.__file__), "this.py")


EXTENSION = "xxlimited"
PRIVATE_OPENS: list[str] = []
"""Host files opened in the extension loader's private directory, by anyone."""


def _record_private_opens(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and "posixbackend-extensions" in str(args[0]):
        PRIVATE_OPENS.append(str(args[0]))


sys.addaudithook(_record_private_opens)


def _extension_file() -> str:
    found = importlib.util.find_spec(EXTENSION)
    if found is None or found.origin is None:
        pytest.skip(f"this Python has no {EXTENSION} extension module to copy")
    return found.origin


def test_extension_modules_load_from_a_private_copy() -> None:
    with open(_extension_file(), "rb") as file:
        data = file.read()
    name = os.path.basename(_extension_file())

    def scenario(root: str) -> Any:
        with open(f"{root}/{name}", "wb") as file:
            file.write(data)
        saved = sys.modules.pop(EXTENSION, None)
        try:
            with importing_from(root):
                module = importlib.import_module(EXTENSION)
                spec = module.__spec__
                return [module.__file__, module.foo(2, 3), spec and spec.origin]
        finally:
            if saved is not None:
                sys.modules[EXTENSION] = saved

    PRIVATE_OPENS.clear()
    compare(scenario)
    assert len(PRIVATE_OPENS) == 1  # the managed run's copy (the recorder sees it)


def test_extension_modules_refused_without_native_access() -> None:
    with open(_extension_file(), "rb") as file:
        data = file.read()
    name = os.path.basename(_extension_file())
    saved = sys.modules.pop(EXTENSION, None)
    try:
        with posixbackend.backend("managed", permissions=Permissions.sandbox()):
            with open(f"/tmp/{name}", "wb") as file:
                file.write(data)
            sys.path.insert(0, "/tmp")
            try:
                PRIVATE_OPENS.clear()
                with pytest.raises(PermissionError, match="allow_native_access"):
                    importlib.import_module(EXTENSION)
                assert PRIVATE_OPENS == [], "the guest's file was copied to the host"
            finally:
                sys.path.remove("/tmp")
        assert EXTENSION not in sys.modules
    finally:
        if saved is not None:
            sys.modules[EXTENSION] = saved


def test_native_imports_are_not_searched_through_the_backend_outside_blocks() -> None:
    posixbackend.install()
    finders = [finder for finder in sys.meta_path if type(finder).__name__ == "VirtualFinder"]
    assert len(finders) == 1
    assert finders[0].find_spec("json", None) is None
    posixbackend.uninstall()
    assert not [f for f in sys.meta_path if type(f).__name__ == "VirtualFinder"]
    posixbackend.install()


def test_run_native_leaves_nothing_behind() -> None:
    """The harness's own check: the native run's modules are gone afterwards."""

    def scenario(root: str) -> None:
        write(f"{root}/vi_gone.py", "")
        with importing_from(root):
            importlib.import_module("vi_gone")

    run_native(scenario)
    assert "vi_gone" not in sys.modules
