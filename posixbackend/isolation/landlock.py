"""Landlock: the child may read the interpreter's files and write none, on the host.

One ruleset handles every file system right the kernel's Landlock ABI knows and allows only
reading (files, directories, and executing, which mapping an extension module needs) below
the given directories; everything else is refused with EACCES, whoever owns the file. From
ABI 4 the ruleset also handles TCP bind and connect with no port allowed, and from ABI 6 it
scopes signals and abstract unix sockets to the child itself. The syscalls are numbered
444-446 on every architecture.
"""

from __future__ import annotations

import ctypes
import posix
import stat as _stat
from collections.abc import Iterable

from posixbackend.isolation.libc import syscall

SYS_CREATE_RULESET = 444
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

EXECUTE = 1 << 0
READ_FILE = 1 << 2
READ_DIR = 1 << 3
FILE_RIGHTS = EXECUTE | (1 << 1) | READ_FILE | (1 << 14) | (1 << 15)
"""The rights that apply to a file itself (the rest are rights of directories)."""
FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
"""Every file system right each ABI knows (ABI 2 added REFER, 3 TRUNCATE, 5 IOCTL_DEV)."""
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version; OSError when Landlock is missing or disabled."""
    return syscall(SYS_CREATE_RULESET, None, 0, CREATE_RULESET_VERSION)


def restrict_to_reading(paths: Iterable[str]) -> list[str]:
    """Allow this thread (and what it starts) only to read below ``paths``; the names of the
    parts applied ('landlock', 'landlock_network', 'landlock_scopes'). Needs no_new_privs."""
    abi = abi_version()
    handled_fs = FS_RIGHTS_BY_ABI[max(version for version in FS_RIGHTS_BY_ABI if version <= abi)]
    attr = _RulesetAttr(handled_fs, 0, 0)
    size = 8
    applied = ["landlock"]
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
        applied.append("landlock_network")
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
        applied.append("landlock_scopes")
    ruleset = syscall(SYS_CREATE_RULESET, ctypes.byref(attr), size, 0)
    try:
        for path in sorted(set(paths)):
            _allow_reading(ruleset, path, handled_fs)
        syscall(SYS_RESTRICT_SELF, ruleset, 0)
    finally:
        posix.close(ruleset)
    return applied


def _allow_reading(ruleset: int, path: str, handled_fs: int) -> None:
    """Add the rule that lets ``path`` (and what is below it) be read; a missing path adds
    nothing."""
    try:
        fd = posix.open(path, posix.O_PATH | posix.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        rights = EXECUTE | READ_FILE | READ_DIR
        if not _stat.S_ISDIR(posix.fstat(fd).st_mode):
            rights &= FILE_RIGHTS
        rule = _PathBeneathAttr(rights & handled_fs, fd)
        syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), 0)
    finally:
        posix.close(fd)
