"""The file system backend('managed') gets by default: memory, shaped like a small system, with
the interpreter's library readable at its real paths."""

from __future__ import annotations

import errno
import importlib.resources
import inspect
import json
import os
import posix
import stat
import sys
import traceback
from pathlib import Path

import pytest

from posixbackend import backend
from posixbackend.switch.defaultfs import library_directories


def test_tmp_home_and_the_cwd_exist_and_are_writable() -> None:
    here = posix.getcwd()
    home = posix.environ[b"HOME"].decode()
    with backend("managed"):
        assert os.getcwd() == here
        tmp = os.stat("/tmp")
        assert stat.S_ISDIR(tmp.st_mode) and stat.S_IMODE(tmp.st_mode) == 0o1777
        for directory in (home, here, "/tmp"):
            Path(directory, "pb-probe").write_text("x")
            assert Path(directory, "pb-probe").read_text() == "x"
        assert os.stat(here).st_uid == posix.geteuid()
    assert not posix.access(os.path.join(here, "pb-probe"), posix.F_OK), "the host changed"


def test_the_library_is_readable_so_source_lines_work() -> None:
    with backend("managed"):
        source = inspect.getsource(json.dumps)
        try:
            json.loads("{")
        except json.JSONDecodeError:
            formatted = traceback.format_exc()
        package_text = importlib.resources.files("json").joinpath("__init__.py").read_text()
    assert source.startswith("def dumps(")
    assert "raise JSONDecodeError" in formatted or "obj, end = " in formatted, formatted
    assert "JSONDecoder" in package_text


def test_the_library_is_read_only() -> None:
    library = os.path.dirname(json.__file__)
    with backend("managed"), pytest.raises(OSError) as caught:
        Path(library, "pb-probe.py").write_text("x")
    assert caught.value.errno == errno.EROFS
    assert not posix.access(os.path.join(library, "pb-probe.py"), posix.F_OK)


def test_library_directories_never_hide_the_writable_ones(tmp_path: Path) -> None:
    inner = tmp_path / "lib"
    inner.mkdir()
    sys.path.insert(0, str(tmp_path))
    sys.path.insert(0, "/tmp")
    try:
        shown = library_directories(str(tmp_path / "work"), ("/tmp",))
    finally:
        sys.path.remove(str(tmp_path))
        sys.path.remove("/tmp")
    assert "/tmp" not in shown and str(tmp_path) not in shown
    for path in shown:
        assert not any(path.startswith(other + "/") for other in shown), "nested mounts"
