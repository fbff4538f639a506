"""A pool's minimal root built once: a mount namespace whose root is the minimal root, which each
of the zygote's spares copies instead of building its own.

The zygote (:mod:`posixbackend.isolation.zygote`) has a *builder* -- a child forked once, before
any spare -- enter a new user namespace and mount namespace and its minimal root, exactly as
an isolated child does (:func:`~posixbackend.isolation.minimalroot.enter_minimal_root`: every
mount private, read-only, nosuid and nodev, the old root detached), send descriptors on both
namespaces back and exit. The zygote holds the two descriptors; no process lives in the
template, and no guest ever holds a descriptor on it.

A spare then enters the template's user namespace (it owns it: same uid, from the parent
namespace) and its mount namespace, which makes the template's root its root, and at once
unshares a user, network and mount namespace of its own: the kernel copies the template's
mount tree -- about sixty mounts, in one system call -- into a mount namespace owned by the
spare's new user namespace. Because that namespace is less privileged than the template's,
the kernel locks the copy: its mounts cannot be unmounted or separated, nor their read-only,
nosuid and nodev flags cleared, even by a process with every capability there. Mounts are
private, so nothing made in one copy propagates to another or to the template. Guests share
the template's tmpfs (read-only everywhere: the few directories on the way to the bound host
files), never a writable mount; each still has its own network namespace (a shared one would
share the abstract socket names) and user namespace.

Building the root this way costs a spare about 1.7 ms less CPU than binding the ~55 host paths
itself (``python -m benchmarks.pool_steps``); ``run_isolated``'s child still builds its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import posix
import socket

import attrs

from posixbackend.isolation.hostview import HostView
from posixbackend.isolation.libc import setns, unshare
from posixbackend.isolation.minimalroot import enter_minimal_root, layout
from posixbackend.isolation.namespaces import (
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWUSER,
    map_identity,
)

BUILT = b"T"
"""The builder's record: the template's user and mount namespaces, in that order."""
ISOLATED = ("user_namespace", "network_namespace", "mount_namespace", "minimal_root")
"""The confinement steps :meth:`RootTemplate.enter` applies (named as :func:`~posixbackend.
isolation.confinement.isolate` names them)."""


@attrs.frozen
class RootTemplate:
    """Descriptors on the template's user namespace and on its mount namespace (whose root is
    the minimal root)."""

    user: int
    mount: int

    def close(self) -> None:
        for fd in (self.user, self.mount):
            with contextlib.suppress(OSError):
                posix.close(fd)

    def moved_to(self, low: int) -> RootTemplate:
        """Copies of both descriptors at ``low`` or above (close-on-exec); these stay open."""
        return RootTemplate(
            fcntl.fcntl(self.user, fcntl.F_DUPFD_CLOEXEC, low),
            fcntl.fcntl(self.mount, fcntl.F_DUPFD_CLOEXEC, low),
        )

    def enter(self) -> tuple[str, ...]:
        """Make this (single-threaded) process's root a copy of the template's, in new user,
        network and mount namespaces of its own, its uid and gid mapped to themselves: the
        steps applied (:data:`ISOLATED`). OSError if a step fails (the process may then be
        in the template's namespaces: it must not run a guest)."""
        uid, gid = posix.geteuid(), posix.getegid()
        # the template's root has no /proc: the identity map is written through this
        proc_self = posix.open("/proc/self", posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        try:
            setns(self.user, CLONE_NEWUSER)  # (its owner's uid: every capability in it)
            setns(self.mount, CLONE_NEWNS)  # root and cwd: the template's root
            # the copy is owned by the new, less privileged user namespace: the kernel locks it
            unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS)
            map_identity(uid, gid, proc_self)
        finally:
            posix.close(proc_self)
        posix.chdir("/")
        return ISOLATED


def build(view: HostView) -> RootTemplate | None:
    """The template of ``view``'s minimal root, built by a child forked now (this process must
    be single-threaded); None when it cannot be built (no user namespaces for this user, say):
    each spare then builds its own root."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        pid = os.fork()
    except BaseException:
        ours.close()
        theirs.close()
        raise
    if pid == 0:  # the builder: never returns into the caller's code
        try:
            ours.close()
            _build(view, theirs)
        finally:
            os._exit(0)
    theirs.close()
    try:
        message, fds, _, _ = socket.recv_fds(ours, 1, 2)
    finally:
        ours.close()
        os.waitpid(pid, 0)
    if message != BUILT or len(fds) != 2:
        for fd in fds:
            posix.close(fd)
        return None
    return RootTemplate(*fds)


def _build(view: HostView, channel: socket.socket) -> None:
    """The builder's life: enter the namespaces and the root, send them back (nothing is sent
    when a step fails: the caller's receive sees the end of the socket)."""
    uid, gid = posix.geteuid(), posix.getegid()
    own = posix.open("/proc/self/ns", posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        unshare(CLONE_NEWUSER | CLONE_NEWNS)
        map_identity(uid, gid)
        enter_minimal_root(view.root or layout(view.paths()))
        flags = posix.O_RDONLY | posix.O_CLOEXEC
        fds = [posix.open(name, flags, dir_fd=own) for name in ("user", "mnt")]
    except OSError:
        return
    finally:
        posix.close(own)
    socket.send_fds(channel, [BUILT], fds)
