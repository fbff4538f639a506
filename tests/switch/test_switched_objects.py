"""Objects other than functions that the switch serves: os.DirEntry, os.environ's operators
and errors, and the switched ``_io`` module, each checked natively and on the managed backend."""

from __future__ import annotations

import _io as _real_io
import os
import pickle
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

import posixbackend
from vfs import Identity, MemoryFileSystem


@pytest.fixture
def managed() -> Iterator[posixbackend.BackendBlock]:
    block = posixbackend.backend(
        "managed", file_system=MemoryFileSystem(identity=Identity.root())
    )
    yield block
    posixbackend.uninstall()


@pytest.mark.parametrize("emulated", [False, True], ids=["native", "managed"])
def test_scandir_entries_are_os_direntry_instances(
    managed: posixbackend.BackendBlock, tmp_path: Path, emulated: bool
) -> None:
    posixbackend.install()
    directory = "/" if emulated else str(tmp_path)
    with managed if emulated else posixbackend.backend("native"):
        open(os.path.join(directory, "file.txt"), "w").close()
        entries = list(os.scandir(directory))
        assert entries and all(isinstance(entry, os.DirEntry) for entry in entries)
        assert issubclass(type(entries[0]), os.DirEntry)
        with pytest.raises(TypeError):
            pickle.dumps(entries[0])
    assert not isinstance("file.txt", os.DirEntry)
    with pytest.raises(TypeError, match=r"cannot create 'posix\.DirEntry' instances"):
        os.DirEntry()
    assert typing.get_origin(os.DirEntry[str]) is os.DirEntry


def test_environ_operators_and_missing_keys_as_os_environ(
    managed: posixbackend.BackendBlock,
) -> None:
    def behaviour() -> list[object]:
        os.environ["_PB_KEY"] = "old"
        merged = os.environ | {"_PB_KEY": "new", "_PB_OTHER": "1"}
        reverse = {"_PB_KEY": "new"} | os.environ
        results: list[object] = [
            type(merged), merged["_PB_KEY"], merged["_PB_OTHER"], reverse["_PB_KEY"],
            os.environ.__or__({}.items()),  # type: ignore[operator]
            os.environ.__ror__([]),  # type: ignore[operator]
        ]  # fmt: skip
        environ = os.environ
        environ |= {"_PB_OTHER": "2"}
        results += [environ is os.environ, os.environ["_PB_OTHER"]]
        missing = (lambda: os.environ["_PB_MISSING"], lambda: os.environ.__delitem__("_PB_MISSING"))
        for action in missing:
            try:
                action()
            except KeyError as error:
                results.append((error.args, error.__suppress_context__))
        del os.environ["_PB_KEY"], os.environ["_PB_OTHER"]
        return results

    posixbackend.install()
    native = behaviour()
    with managed:
        emulated = behaviour()
    assert emulated == native
    assert native[1:4] == ["new", "1", "old"] and native[-2] == (("_PB_MISSING",), True)


def test_imports_stay_native_inside_a_managed_block(
    managed: posixbackend.BackendBlock, tmp_path: Path
) -> None:
    """The interpreter reads every module's source through ``_io.open`` as sys.modules has
    it: that one must stay real, or imports would look in the emulated file system."""
    (tmp_path / "_pb_only_on_disk.py").write_text("VALUE = 42\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with managed:
            import _pb_only_on_disk  # type: ignore[import-not-found]

            assert _pb_only_on_disk.VALUE == 42
            assert not os.path.exists(str(tmp_path / "_pb_only_on_disk.py"))
            import _io  # the switched copy, whose open the interpreter calls for the code

            assert _io is not _real_io and _io.open is not _real_io.open
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("_pb_only_on_disk", None)


def _io_directly(directory: str) -> list[object]:
    """What code that imports ``_io`` itself (as test_fileio does) gets."""
    import _io

    path = os.path.join(directory, "direct.bin")
    results: list[object] = []
    with _io.open(path, "wb") as stream:
        results.append(stream.write(b"one\ntwo\n"))
    with _io.FileIO(path, "r") as raw:
        results += [raw.read(), raw.mode, isinstance(raw, _io.FileIO), raw.name == path]
    with _io.open_code(path) as code:
        results.append(code.read())
    with _io.open(path, "rb", buffering=0) as unbuffered:
        results.append(type(unbuffered).__name__)
    for call in (
        lambda: _io.open(os.path.join(directory, "missing"), "rb"),
        lambda: _io.FileIO(directory, "r"),
        lambda: _io.open(path, "rz"),
    ):
        try:
            call()
        except (OSError, ValueError) as error:
            results.append((type(error).__name__, getattr(error, "errno", None), str(error)))
    return results


def test_io_module_used_directly_follows_the_backend(
    managed: posixbackend.BackendBlock, tmp_path: Path
) -> None:
    """``_io.open``, ``_io.FileIO`` and ``_io.open_code`` switch, as io's do (test_fileio's C
    tests); the results match the native ones with the directory's name swapped."""
    posixbackend.install()
    native = _io_directly(str(tmp_path))
    with managed:
        os.mkdir("/data")
        emulated = _io_directly("/data")
        assert os.path.exists("/data/direct.bin")
    assert not os.path.exists("/data/direct.bin")
    assert emulated == _swapped(native, str(tmp_path), "/data")
    assert native[:3] == [8, b"one\ntwo\n", "rb"]
    posixbackend.uninstall()
    assert sys.modules["_io"] is _real_io


def _swapped(values: list[object], old: str, new: str) -> list[object]:
    """``values`` with the directory ``old`` named ``new`` in error tuples."""
    return [
        tuple(part.replace(old, new) if isinstance(part, str) else part for part in value)
        if isinstance(value, tuple)
        else value
        for value in values
    ]
