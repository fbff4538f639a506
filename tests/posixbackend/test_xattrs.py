"""The xattr functions of the emulated backend against CPython's: argument errors in
CPython's order and wording, missing files and descriptors as Linux reports them, and the
EOPNOTSUPP of a file system without extended attributes (gap ``emulated.xattrs``) naming the
path as CPython's converter gives it (a DirEntry's or a pathlib path's str, not the object)."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable
from typing import Any

import pytest

from posixbackend.emulated import EmulatedBackend
from vfs import Identity, MemoryFileSystem

Call = Callable[[Any, str], object]
CALLS: dict[str, Call] = {
    "listxattr list": lambda o, r: o.listxattr([]),
    "listxattr float": lambda o, r: o.listxattr(1.5),
    "listxattr NUL": lambda o, r: o.listxattr(r + "/f\0"),
    "listxattr missing": lambda o, r: o.listxattr(r + "/missing"),
    "listxattr closed fd": lambda o, r: o.listxattr(9999),
    "listxattr fd nofollow": lambda o, r: o.listxattr(9999, follow_symlinks=False),
    "getxattr bad path and attribute": lambda o, r: o.getxattr([], 5),
    "getxattr bad attribute": lambda o, r: o.getxattr(r + "/missing", 5),
    "getxattr missing": lambda o, r: o.getxattr(pathlib.Path(r + "/missing"), "user.a"),
    "setxattr bad path": lambda o, r: o.setxattr([], 5, 5, "x"),
    "setxattr bad value": lambda o, r: o.setxattr(r + "/f", "user.a", 5),
    "setxattr bad flags": lambda o, r: o.setxattr(r + "/f", "user.a", b"", "x"),
    "removexattr missing": lambda o, r: o.removexattr(r + "/missing/x", b"user.a"),
}


def facts(call: Callable[[], object], root: str) -> tuple[Any, ...]:
    """What a call raised: class, errno, message and file name, the root replaced."""
    try:
        call()
    except (OSError, TypeError, ValueError) as error:
        filename = getattr(error, "filename", None)
        if isinstance(filename, str):
            filename = filename.replace(root, "<root>")
        return (
            type(error),
            getattr(error, "errno", None),
            str(error).replace(root, "<root>"),
            filename,
        )
    return ("returned",)


@pytest.fixture
def backend() -> EmulatedBackend:
    emulated = EmulatedBackend(MemoryFileSystem(identity=Identity.root()), standard_streams=False)
    emulated.mkdir("/r")
    emulated.close(emulated.open("/r/f", os.O_CREAT | os.O_WRONLY))
    return emulated


@pytest.mark.parametrize("name", sorted(CALLS))
def test_errors_match_cpython(name: str, backend: EmulatedBackend, tmp_path: pathlib.Path) -> None:
    (tmp_path / "f").write_text("")
    root = str(tmp_path)
    expected = facts(lambda: CALLS[name](os, root), root)
    assert facts(lambda: CALLS[name](backend, "/r"), "/r") == expected


@pytest.mark.parametrize(
    "path", [lambda r: r + "/f", lambda r: (r + "/f").encode(), lambda r: pathlib.Path(r + "/f")]
)
def test_unsupported_names_the_converted_path(
    backend: EmulatedBackend, path: Callable[[str], Any]
) -> None:
    for call in (
        backend.listxattr,
        lambda p: backend.getxattr(p, "user.a"),
        lambda p: backend.setxattr(p, "user.a", b"v"),
        lambda p: backend.removexattr(p, "user.a"),
    ):
        with pytest.raises(OSError) as caught:
            call(path("/r"))
        assert caught.value.errno == 95  # EOPNOTSUPP
        assert caught.value.filename == os.fspath(path("/r"))


def test_unsupported_names_a_scan_entry_by_its_path(backend: EmulatedBackend) -> None:
    (entry,) = list(backend.scandir("/r"))
    with pytest.raises(OSError) as caught:
        backend.listxattr(entry)
    assert caught.value.filename == "/r/f"
    assert type(caught.value.filename) is str
