"""DenyIOFileSystem: every call refused with the errno, file names and message Linux would give
a caller refused by permissions, after the argument checks Linux makes before any lookup."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any

import pytest

import compat
from tests.vfs.native_mounts import run_recorded
from tests.vfs.ops import ProviderOps
from tests.vfs.scenarios import SCENARIOS
from vfs.denyio import IO_DENIED, DenyIOFileSystem

fs = DenyIOFileSystem()
PRIVILEGED = {"chmod", "chown"}
"""Calls whose refusal is EPERM (owner-only); utime too when it sets explicit times."""
CALLS: list[tuple[str, tuple[Any, ...], tuple[object, object]]] = [
    ("stat", ("/f",), ("/f", None)),
    ("stat", ("/f", False), ("/f", None)),
    ("open", ("/f", os.O_RDONLY), ("/f", None)),
    ("open", ("/new", os.O_CREAT | os.O_WRONLY, 0o644), ("/new", None)),
    ("listdir", ("/",), ("/", None)),
    ("scandir", ("/d",), ("/d", None)),
    ("mkdir", ("/d", 0o755), ("/d", None)),
    ("rmdir", ("/d",), ("/d", None)),
    ("unlink", ("/f",), ("/f", None)),
    ("rename", ("/a", "/b"), ("/a", "/b")),
    ("symlink", ("target", "/l"), ("target", "/l")),
    ("readlink", ("/l",), ("/l", None)),
    ("link", ("/a", "/b"), ("/a", "/b")),
    ("chmod", ("/f", 0o600), ("/f", None)),
    ("chown", ("/f", 1, 1), ("/f", None)),
    ("utime", ("/f", None), ("/f", None)),
    ("utime", ("/f", (1, 2)), ("/f", None)),
    ("truncate", ("/f", 0), ("/f", None)),
    ("access", ("/f", os.R_OK), ("/f", None)),
    ("statvfs", ("/",), ("/", None)),
]


def expected_errno(name: str, args: tuple[Any, ...]) -> int:
    if name in PRIVILEGED or (name == "utime" and args[1] is not None):
        return errno.EPERM
    return errno.EACCES


@pytest.mark.parametrize(("name", "args", "names"), CALLS)
def test_every_call_is_refused(
    name: str, args: tuple[Any, ...], names: tuple[object, object]
) -> None:
    with pytest.raises(PermissionError) as caught:
        getattr(fs, name)(*args)
    error = caught.value
    assert error.errno == expected_errno(name, args)
    assert (error.filename, error.filename2) == names
    assert "file I/O is not granted" in str(error)


def test_message_reads_like_linux_with_the_reason() -> None:
    with pytest.raises(PermissionError) as caught:
        fs.stat("/etc/passwd")
    assert str(caught.value) == (
        "[Errno 13] Permission denied: file I/O is not granted: '/etc/passwd'"
    )
    custom = DenyIOFileSystem("grant file access with allow_io=True")
    with pytest.raises(PermissionError, match="allow_io=True"):
        custom.open("/x", os.O_RDONLY)


ARGUMENT_ERRORS: list[tuple[Callable[[], object], type[BaseException], int | None]] = [
    (lambda: fs.stat(b"/f"), TypeError, None),  # type: ignore[arg-type]
    (lambda: fs.stat("/f\x00"), ValueError, None),
    (lambda: fs.stat("/" + "a/" * 2048), OSError, errno.ENAMETOOLONG),
    (lambda: fs.stat(""), FileNotFoundError, errno.ENOENT),
    (lambda: fs.open("/f", os.O_CREAT | os.O_DIRECTORY), OSError, errno.EINVAL),
    (lambda: fs.truncate("/f", -1), OSError, errno.EINVAL),
    (lambda: fs.access("/f", 8), OSError, errno.EINVAL),
    (lambda: fs.symlink("", "/l"), FileNotFoundError, errno.ENOENT),
    (lambda: fs.symlink("x" * 4096, "/l"), OSError, errno.ENAMETOOLONG),
]


@pytest.mark.parametrize(("call", "kind", "code"), ARGUMENT_ERRORS)
def test_argument_errors_come_before_the_refusal(
    call: Callable[[], object], kind: type[BaseException], code: int | None
) -> None:
    with pytest.raises(kind) as caught:
        call()
    assert not isinstance(caught.value, PermissionError)
    if code is not None:
        assert isinstance(caught.value, OSError) and caught.value.errno == code


def test_refusals_are_counted_as_gap_hits() -> None:
    def hits() -> int:
        entry = compat.report().get(IO_DENIED.id)
        return 0 if entry is None else entry.count

    before = hits()
    with pytest.raises(PermissionError):
        fs.listdir("/")
    assert hits() == before + 1


LINUX_ARGUMENT_ERRNOS = {errno.EINVAL, errno.ENAMETOOLONG, errno.ENOENT}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_sees_only_refusals(name: str) -> None:
    """Gap vfs.denyio: where Linux would run the scenario, every step is refused instead."""
    recorder = run_recorded(ProviderOps(DenyIOFileSystem()).call, "denyio", SCENARIOS[name])
    assert recorder.log
    for op, args, result in recorder.log:
        if op == "note":
            label = args[0]
            assert label != "scenario stopped" or result[0] in ("PermissionError", "KeyError")
            continue
        assert isinstance(result, tuple) and result[0] in ("error", "exception"), (op, args)
        if result[0] == "exception":
            continue  # an argument Python itself refuses, or a step on a handle never opened
        _, kind, code, filename, filename2 = result
        if kind == "PermissionError":
            assert filename == args[0]  # symlink names its target first, as CPython
            if op in ("rename", "link", "symlink"):
                assert filename2 == args[1]
        else:
            assert code in LINUX_ARGUMENT_ERRNOS | {errno.EBADF}, (op, args, result)
