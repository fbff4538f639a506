"""New user, network and mount namespaces for the isolated child.

The user namespace drops every capability the child had over the host (as root: raising
hard resource limits, overriding file permissions of other users, signalling and tracing
other users' processes...) while the child keeps its own uid and gid, mapped to themselves;
inside it the child may build a mount namespace of its own (see
:mod:`posixbackend.isolation.minimalroot`). The network namespace has only a loopback, down.
Where the kernel refuses unprivileged user namespaces, a root child still gets the network
and mount namespaces alone; otherwise the steps are reported as not applied.
"""

from __future__ import annotations

import posix

from posixbackend.isolation import libc
from posixbackend.isolation.libc import unshare

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
CLONE_SIGHAND = 0x00000800


def enter_namespaces() -> tuple[list[str], dict[str, str]]:
    """Enter new user, network and mount namespaces, or what of them the kernel allows: the
    names of the ones entered, and for the others why not."""
    uid, gid = posix.geteuid(), posix.getegid()
    try:
        unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS)
    except OSError as error:
        with_user = f"unshare(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWNS): {error.strerror}"
    else:
        map_identity(uid, gid)
        return ["user_namespace", "network_namespace", "mount_namespace"], {}
    try:
        unshare(CLONE_NEWNET | CLONE_NEWNS)
    except OSError as error:
        reason = f"{with_user}; unshare(CLONE_NEWNET|CLONE_NEWNS): {error.strerror}"
        return [], {
            "user_namespace": with_user, "network_namespace": reason, "mount_namespace": reason,
        }  # fmt: skip
    return ["network_namespace", "mount_namespace"], {"user_namespace": with_user}


def single_threaded() -> bool:
    """Whether this process has one thread, as the kernel sees it (threads Python does not
    know of included): unsharing the signal handlers is refused (EINVAL) exactly when
    another thread shares them, and changes nothing otherwise."""
    try:
        libc.unshare(CLONE_SIGHAND)
    except OSError:
        return False
    return True


def map_identity(uid: int, gid: int, proc_self: int | None = None) -> None:
    """Map the child's uid and gid to themselves in its new user namespace (setgroups off,
    as the kernel requires of a process mapping its own group). ``proc_self``: a descriptor
    on this process's /proc directory, opened before its root lost /proc (None: the path)."""
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{uid} {uid} 1\n"),
        ("gid_map", f"{gid} {gid} 1\n"),
    ):
        if proc_self is None:
            fd = posix.open(f"/proc/self/{name}", posix.O_WRONLY | posix.O_CLOEXEC)
        else:
            fd = posix.open(name, posix.O_WRONLY | posix.O_CLOEXEC, dir_fd=proc_self)
        try:
            posix.write(fd, text.encode())
        finally:
            posix.close(fd)
