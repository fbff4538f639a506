"""Which permission each switched operation needs, and how its denial names it.

The stand-ins reach a serving backend by attribute name (``stat``, ``io_open``, ``fork_exec``...);
a guarded backend looks the name up here. A name that is not here needs no permission:
descriptor functions on descriptors already open, process information. (The environment is
never refused: without access the guest sees an environment of its own.)
"""

from __future__ import annotations

import errno
from typing import Final

import attrs


@attrs.frozen
class Operation:
    """What a denied call is called in its message, the permission it needs, its errno."""

    label: str
    permission: str
    code: int
    paths: int = 0
    """How many leading arguments are file names the error carries (0, 1 or 2)."""


FILE_ACCESS: Final = (
    "access", "chdir", "chflags", "chmod", "chown", "chroot", "getcwd", "getcwdb",
    "getxattr", "lchflags", "lchmod", "lchown", "listdir", "listxattr", "lstat", "mkdir",
    "mkfifo", "mknod", "open", "pathconf", "readlink", "remove", "removexattr", "rmdir",
    "scandir", "setxattr", "stat", "statvfs", "truncate", "unlink", "utime",
)  # fmt: skip
"""os functions of one path that reach the file system."""
FILE_PAIRS: Final = ("link", "rename", "replace", "symlink")
"""os functions of two paths."""
PROCESSES: Final = (
    "fork", "forkpty", "execv", "execve", "posix_spawn", "posix_spawnp", "system", "popen",
    "spawnv", "spawnve", "spawnvp", "spawnvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe",
)  # fmt: skip
"""os functions that start or replace a program."""


def _operations() -> dict[str, Operation]:
    table: dict[str, Operation] = {}
    for name in FILE_ACCESS:
        table[name] = Operation(f"os.{name}", "allow_io", errno.EACCES, paths=1)
    for name in ("getcwd", "getcwdb"):
        table[name] = Operation(f"os.{name}", "allow_io", errno.EACCES)
    for name in FILE_PAIRS:
        table[name] = Operation(f"os.{name}", "allow_io", errno.EACCES, paths=2)
    # the backend's existence check (the import finder's, the SQLite VFS's) is a stat
    table["probe"] = Operation("os.stat", "allow_io", errno.EACCES, paths=1)
    table["watch"] = Operation("os.stat", "allow_io", errno.EACCES, paths=1)
    # a file opened with no descriptor (the import loaders', the SQLite VFS's) is an os.open
    table["open_handle"] = Operation("os.open", "allow_io", errno.EACCES, paths=1)
    table["io_open"] = Operation("open", "allow_io", errno.EACCES, paths=1)
    table["open_code"] = Operation("io.open_code", "allow_io", errno.EACCES, paths=1)
    table["FileIO"] = Operation("io.FileIO", "allow_io", errno.EACCES, paths=1)
    for name in PROCESSES:
        table[name] = Operation(f"os.{name}", "allow_create_process", errno.EPERM)
    table["fork_exec"] = Operation(
        "_posixsubprocess.fork_exec", "allow_create_process", errno.EPERM
    )
    return table


OPERATIONS: Final = _operations()
"""Attribute name of a serving backend -> the operation it is, for each one that is guarded."""
