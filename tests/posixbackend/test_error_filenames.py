"""The file names path-taking calls put in their errors, empty paths included: as CPython's
on this version (mkfifo and mknod never name one; utime from 3.13 on)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from posixbackend.emulated import EmulatedBackend
from vfs import Identity, MemoryFileSystem

CALLS: dict[str, Callable[[Any, str], Any]] = {
    "mkfifo": lambda o, path: o.mkfifo(path),
    "mknod": lambda o, path: o.mknod(path),
    "utime": lambda o, path: o.utime(path),
    "stat": lambda o, path: o.stat(path),
    "open": lambda o, path: o.open(path, os.O_RDONLY),
    "mkdir": lambda o, path: o.mkdir(path),
    "readlink": lambda o, path: o.readlink(path),
    "truncate": lambda o, path: o.truncate(path, 0),
    "chmod": lambda o, path: o.chmod(path, 0o644),
    "listdir": lambda o, path: o.listdir(path),
    "statvfs": lambda o, path: o.statvfs(path),
}


def _failure(call: Callable[[], Any]) -> tuple[Any, ...]:
    with pytest.raises(OSError) as caught:
        call()
    error = caught.value
    return type(error), error.errno, error.filename, error.filename2


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("missing", ["", "x/y"])
def test_errors_name_the_file_as_cpython_does(name: str, missing: str, tmp_path: Path) -> None:
    backend = EmulatedBackend(MemoryFileSystem(identity=Identity.root()), standard_streams=False)
    call = CALLS[name]
    native_path = str(tmp_path / missing) if missing else ""
    kind, number, filename, filename2 = _failure(lambda: call(os, native_path))
    expected_name = missing if filename == native_path and filename is not None else filename
    assert _failure(lambda: call(backend, missing)) == (kind, number, expected_name, filename2)
