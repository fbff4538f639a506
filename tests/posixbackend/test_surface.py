"""The emulated backend's surface: os's names, signatures, constants and support sets."""

from __future__ import annotations

import inspect
import os

import pytest

from posixbackend.emulated import EmulatedBackend
from posixbackend.emulated.backend import (
    SUPPORTS_DIR_FD,
    SUPPORTS_FD,
    SUPPORTS_FOLLOW_SYMLINKS,
)

BACKEND = EmulatedBackend()
FUNCTIONS = sorted(
    name
    for name in dir(EmulatedBackend)
    if not name.startswith("_")
    and callable(getattr(os, name, None))
    and inspect.isfunction(getattr(EmulatedBackend, name))
)


def os_signature(name: str) -> inspect.Signature | None:
    try:
        return inspect.signature(getattr(os, name))
    except ValueError:  # a builtin whose signature cannot be expressed (os.utime)
        return None


def test_the_backend_implements_the_functions_the_issue_names() -> None:
    wanted = [
        "open",
        "close",
        "closerange",
        "read",
        "readv",
        "write",
        "writev",
        "pread",
        "pwrite",
        "lseek",
        "fstat",
        "fsync",
        "fdatasync",
        "ftruncate",
        "dup",
        "dup2",
        "pipe",
        "pipe2",
        "isatty",
        "get_inheritable",
        "set_inheritable",
        "get_blocking",
        "set_blocking",
        "fchmod",
        "fchown",
        "fchdir",
        "fstatvfs",
        "sendfile",
        "copy_file_range",
        "posix_fallocate",
        "device_encoding",
        "stat",
        "lstat",
        "access",
        "chdir",
        "getcwd",
        "getcwdb",
        "chmod",
        "chown",
        "lchown",
        "mkdir",
        "rmdir",
        "remove",
        "unlink",
        "rename",
        "replace",
        "link",
        "symlink",
        "readlink",
        "listdir",
        "scandir",
        "utime",
        "truncate",
        "statvfs",
        "mkfifo",
        "mknod",
        "umask",
        "getpid",
        "getppid",
        "getuid",
        "getgid",
        "geteuid",
        "getegid",
        "getgroups",
        "getlogin",
        "uname",
        "cpu_count",
        "urandom",
        "times",
        "putenv",
        "unsetenv",
        "kill",
        "waitpid",
        "fork",
        "forkpty",
        "execv",
        "execve",
        "system",
        "posix_spawn",
        "posix_spawnp",
    ]
    missing = [name for name in wanted if not callable(getattr(BACKEND, name, None))]
    assert not missing


@pytest.mark.parametrize("name", FUNCTIONS)
def test_signature_matches_os(name: str) -> None:
    expected = os_signature(name)
    if expected is None:
        pytest.skip(f"os.{name} has no expressible signature")
    actual = inspect.signature(getattr(BACKEND, name))
    assert shape(actual) == shape(expected)


def shape(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    """What callers can see of a signature: names, kinds and defaults (not annotations)."""
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_utime_takes_what_os_utime_takes() -> None:
    parameters = inspect.signature(BACKEND.utime).parameters
    assert list(parameters) == ["path", "times", "ns", "dir_fd", "follow_symlinks"]
    assert [p.kind for p in parameters.values()][2:] == [inspect.Parameter.KEYWORD_ONLY] * 3


def test_support_sets_tell_the_truth() -> None:
    assert {f.__name__ for f in BACKEND.supports_fd} == set(SUPPORTS_FD)
    assert {f.__name__ for f in BACKEND.supports_dir_fd} == set(SUPPORTS_DIR_FD)
    assert {f.__name__ for f in BACKEND.supports_follow_symlinks} == set(SUPPORTS_FOLLOW_SYMLINKS)
    assert (
        BACKEND.stat in BACKEND.supports_dir_fd
        and BACKEND.chmod not in BACKEND.supports_follow_symlinks
    )
    assert BACKEND.supports_effective_ids == set()
    for name in SUPPORTS_FD:  # each really takes an fd
        assert "path" in inspect.signature(getattr(BACKEND, name)).parameters
    for name in SUPPORTS_DIR_FD:
        parameters = inspect.signature(getattr(BACKEND, name)).parameters
        assert "dir_fd" in parameters or "src_dir_fd" in parameters


def test_constants_are_os_constants() -> None:
    for name in ("O_RDONLY", "O_CREAT", "O_TMPFILE", "SEEK_DATA", "F_OK", "P_WAIT", "WNOHANG"):
        assert getattr(BACKEND, name) == getattr(os, name)
    assert BACKEND.error is OSError and BACKEND.stat_result is os.stat_result
