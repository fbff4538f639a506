"""The import system's cheap file work: the finder's probe and the loaders' descriptor-less reads.

Inside a block every import first searches the ``sys.path`` entries ahead of the library (a
script's directory, the current one) through the backend; it asks with ``probe``, which
builds no error for a missing name. The loaders read a whole file through a provider handle
(``open_handle``), with no descriptor made. Under permissions the object they ask is a guard:
a guest without file access must get from ``probe`` and ``open_handle`` the denials of
``os.stat`` and ``os.open``, never an answer about the virtual file system.
"""

from __future__ import annotations

import errno
import functools
import importlib
import os
import sys
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

import posixbackend
from posixbackend import Access, Permissions
from posixbackend.emulated import EmulatedBackend
from posixbackend.imports import served
from posixbackend.switch.guard import EmulatedGuard
from vfs import Identity, MemoryFileSystem


class Watched(MemoryFileSystem):
    """A memory file system that notes the paths whose stat failed (an error was built)."""

    def __init__(self) -> None:
        super().__init__(identity=Identity.root())
        self.failed: list[str] = []

    def stat_at(self, at: object | None, path: str, follow_symlinks: bool = True) -> Any:
        try:
            return super().stat_at(at, path, follow_symlinks)
        except OSError:
            self.failed.append(path)
            raise


def _write(fs: MemoryFileSystem, path: str, data: bytes) -> None:
    handle = fs.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        handle.pwrite(data, 0)
    finally:
        handle.close()


@pytest.fixture
def app() -> Watched:
    """/app/pr_module.py and /app/bundle.zip (holding pr_zipped.py) in memory."""
    fs = Watched()
    fs.mkdir("/app", 0o755)
    _write(fs, "/app/pr_module.py", b"VALUE = 'virtual'\n")
    import io

    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("pr_zipped.py", "VALUE = 'zipped'\n")
    _write(fs, "/app/bundle.zip", data.getvalue())
    return fs


@pytest.fixture
def entries() -> Iterator[list[str]]:
    """sys.path entries added for one test (removed with what was imported from them)."""
    added: list[str] = []
    before = set(sys.modules)
    yield added
    for entry in added:
        sys.path.remove(entry)
        sys.path_importer_cache.pop(entry, None)
    for name in set(sys.modules) - before:
        if name.startswith("pr_"):
            del sys.modules[name]
    importlib.invalidate_caches()


def _error(call: Any) -> tuple[object, ...]:
    with pytest.raises(OSError) as raised:
        call()
    error = raised.value
    return type(error), error.errno, error.strerror, error.filename, str(error)


@pytest.mark.parametrize("path", ["/app/pr_module.py", "/app/missing", "/app", "app/pr_module.py"])
def test_a_guard_without_file_access_refuses_probe_as_stat(app: Watched, path: str) -> None:
    emulated = EmulatedBackend(app, identity=Identity.root(), standard_streams=False)
    guard = EmulatedGuard(emulated, Permissions(allow_io=Access.NONE))
    refused = _error(lambda: guard.probe(path))
    assert refused == _error(lambda: guard.stat(path))
    assert refused[0] is PermissionError
    assert "os.stat is not permitted: grant allow_io" in str(refused[4])
    assert emulated.probe(path) is not None or path == "/app/missing"  # the backend would tell


def test_a_guard_with_file_access_probes_as_the_backend(app: Watched) -> None:
    emulated = EmulatedBackend(app, identity=Identity.root(), standard_streams=False)
    guard = EmulatedGuard(emulated, Permissions(allow_io=Access.ALL))
    found = guard.probe("/app/pr_module.py")
    assert found is not None
    status = emulated.stat("/app/pr_module.py")
    assert (found.st_ino, found.st_size, found.st_mode) == (
        status.st_ino,
        status.st_size,
        status.st_mode,
    )
    assert guard.probe("/app/missing") is None
    emulated.chdir("/app")
    assert guard.probe("pr_module.py") == found  # relative to the backend's cwd


def test_imports_in_a_block_without_file_access(entries: list[str]) -> None:
    entries += ["/app", "/app/bundle.zip"]
    sys.path[:0] = entries
    importlib.invalidate_caches()
    with posixbackend.backend("managed", permissions=Permissions(allow_io=Access.NONE)):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("pr_module")
        sys.modules.pop("colorsys", None)
        import colorsys  # the library still loads, natively

        assert colorsys.rgb_to_hsv(1.0, 0.0, 0.0)[2] == 1.0


def test_entries_ahead_of_the_library_are_searched_without_building_errors(
    app: Watched, entries: list[str]
) -> None:
    entries += ["/app/missing/deeper", "/app/pr_module.py", "/nowhere/bundle.zip"]
    sys.path[:0] = entries
    importlib.invalidate_caches()
    with posixbackend.backend("managed", file_system=app):
        sys.modules.pop("colorsys", None)
        import colorsys

        assert colorsys.__file__ is not None and "/app" not in colorsys.__file__
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("pr_nothing")
    assert app.failed == []


@pytest.mark.parametrize("path", ["/app/pr_module.py", "/app/missing", "/app"])
def test_a_guard_without_file_access_refuses_open_handle_as_os_open(
    app: Watched, path: str
) -> None:
    emulated = EmulatedBackend(app, identity=Identity.root(), standard_streams=False)
    guard = EmulatedGuard(emulated, Permissions(allow_io=Access.NONE))
    refused = _error(lambda: guard.open_handle(path, os.O_RDONLY))
    assert refused == _error(lambda: guard.open(path, os.O_RDONLY))
    assert refused[0] is PermissionError
    assert "os.open is not permitted: grant allow_io" in str(refused[4])
    with pytest.raises(PermissionError):
        served.read_file(guard, path)


def test_a_loader_reads_a_whole_file_as_os_read_does(
    app: Watched, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(served, "CHUNK", 7)  # more than one read, the last one short
    emulated = EmulatedBackend(app, identity=Identity.root(), standard_streams=False)
    content = b"VALUE = 'virtual'\n"
    for path in ("/app/pr_module.py", b"/app/pr_module.py", "app/pr_module.py"):
        assert served.read_file(emulated, path) == content
    assert served.read_file(emulated, "/app/../app/./pr_module.py") == content
    for path in ("/app/missing", "app/missing", "/app/pr_module.py/x", "/app", "/app/"):
        by_handle = _error(functools.partial(served.read_file, emulated, path))
        by_descriptor = _error(functools.partial(served.read_file, emulated, path.encode()))
        assert by_handle[:3] == by_descriptor[:3]  # class, errno, strerror
        assert by_handle[3] == (None if by_handle[1] == errno.EISDIR else path)
    assert emulated.open("/app/pr_module.py", os.O_RDONLY) == 0  # no descriptor was left open
