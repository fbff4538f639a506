"""Landlock: what a confined process may read and write on the host, and whom it may reach.

One ruleset handles every file system right the kernel's Landlock ABI knows and allows, below
the given paths, reading (files, directories, and executing, which mapping an extension
module or running a program needs) or everything; the rest is refused with EACCES, whoever
owns the file (root included). From ABI 4 the ruleset can also handle TCP bind and connect
(allowing the given ports only), and from ABI 6 scope signals and abstract unix sockets to
the process and what it starts (its Landlock domain). The syscalls are numbered 444-446 on
every architecture. Landlock confines the calling thread and the threads and processes it
starts afterwards: the caller makes sure no other thread exists.
"""

from __future__ import annotations

import ctypes
import posix
import stat as _stat
from collections.abc import Iterable

import attrs

from posixbackend.isolation.libc import syscall

SYS_CREATE_RULESET = 444
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
TRUNCATE = 1 << 14
IOCTL_DEV = 1 << 15
READ_RIGHTS = EXECUTE | READ_FILE | READ_DIR
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
"""The rights that apply to a file itself (the rest are rights of directories)."""
FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
"""Every file system right each ABI knows (ABI 2 added REFER, 3 TRUNCATE, 5 IOCTL_DEV)."""
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1


@attrs.frozen
class Rules:
    """What one Landlock domain allows."""

    readable: tuple[str, ...] = ()
    """Paths read (and executed) below: directories and files."""
    writable: tuple[str, ...] = ()
    """Paths with every right below them."""
    files: bool = True
    """Whether file access is restricted at all (False: every path, as without Landlock)."""
    network: bool = True
    """Whether TCP bind and connect are restricted (to :attr:`ports`)."""
    ports: tuple[int, ...] = ()
    abstract_unix_sockets: bool = True
    """Whether connecting to abstract unix sockets outside the domain is refused."""
    signals: bool = True
    """Whether signalling processes outside the domain is refused."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def abi_version() -> int:
    """The kernel's Landlock ABI version; OSError when Landlock is missing or disabled."""
    return syscall(SYS_CREATE_RULESET, None, 0, CREATE_RULESET_VERSION)


@attrs.frozen
class Ruleset:
    """A ruleset made and not enforced yet: its descriptor, the parts it applies ('landlock'
    for files, 'landlock_network', 'landlock_scopes') and, for the parts asked for that
    this kernel's ABI lacks, why not. A process that holds the descriptor can still add
    rules to it: it is closed before anything untrusted runs."""

    fd: int
    applied: tuple[str, ...]
    missing: dict[str, str]

    def enforce(self) -> tuple[list[str], dict[str, str]]:
        """Confine this thread (and what it starts) to the ruleset (the descriptor stays
        open); what :func:`restrict` returns. Needs no_new_privs."""
        syscall(SYS_RESTRICT_SELF, self.fd, 0)
        return list(self.applied), dict(self.missing)

    def close(self) -> None:
        posix.close(self.fd)


def restrict(rules: Rules) -> tuple[list[str], dict[str, str]]:
    """Confine this thread (and what it starts) to ``rules``: the names of the parts applied
    ('landlock' for files, 'landlock_network', 'landlock_scopes') and, for the parts asked
    for that this kernel's ABI lacks, why not. Needs no_new_privs; OSError when Landlock
    itself is missing."""
    made = ruleset(rules)
    if isinstance(made, dict):
        return [], made
    try:
        return made.enforce()
    finally:
        made.close()


def ruleset(rules: Rules) -> Ruleset | dict[str, str]:
    """The ruleset of ``rules``, made and not enforced (a pool's zygote makes its guests'
    once); when no part of it is applied, why not for each. OSError when Landlock itself
    is missing."""
    abi = abi_version()
    handled_fs = FS_RIGHTS_BY_ABI[max(version for version in FS_RIGHTS_BY_ABI if version <= abi)]
    attr = _RulesetAttr(handled_fs if rules.files else 0, 0, 0)
    size = 8
    applied = ["landlock"] if rules.files else []
    missing: dict[str, str] = {}
    if rules.network:
        if abi >= 4:
            attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
            size = 16
            applied.append("landlock_network")
        else:
            missing["landlock_network"] = f"Landlock ABI {abi} has no network rules (4 has)"
    scopes = (SCOPE_ABSTRACT_UNIX_SOCKET if rules.abstract_unix_sockets else 0) | (
        SCOPE_SIGNAL if rules.signals else 0
    )
    if scopes:
        if abi >= 6:
            attr.scoped = scopes
            size = 24
            applied.append("landlock_scopes")
        else:
            missing["landlock_scopes"] = f"Landlock ABI {abi} has no scopes (6 has)"
    if not applied:
        return missing
    fd = syscall(SYS_CREATE_RULESET, ctypes.byref(attr), size, 0)
    try:
        if rules.files:
            for path in sorted(set(rules.readable) - set(rules.writable)):
                _allow_path(fd, path, READ_RIGHTS & handled_fs)
            for path in sorted(set(rules.writable)):
                _allow_path(fd, path, handled_fs)
        if attr.handled_access_net:
            for port in sorted(set(rules.ports)):
                rule = _NetPortAttr(NET_BIND_TCP | NET_CONNECT_TCP, port)
                syscall(SYS_ADD_RULE, fd, RULE_NET_PORT, ctypes.byref(rule), 0)
    except BaseException:
        posix.close(fd)
        raise
    return Ruleset(fd, tuple(applied), missing)


def restrict_to_reading(paths: Iterable[str]) -> list[str]:
    """Allow this thread (and what it starts) only to read below ``paths``, with no TCP and
    signals and abstract sockets scoped to it; the names of the parts applied."""
    applied, _ = restrict(Rules(readable=tuple(paths)))
    return applied


def _allow_path(ruleset: int, path: str, rights: int) -> None:
    """Add the rule that gives ``rights`` below ``path`` (those of a file, for a file); a
    missing path adds nothing."""
    try:
        fd = posix.open(path, posix.O_PATH | posix.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        if not _stat.S_ISDIR(posix.fstat(fd).st_mode):
            rights &= FILE_RIGHTS
        rule = _PathBeneathAttr(rights, fd)
        syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), 0)
    finally:
        posix.close(fd)
