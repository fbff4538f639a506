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
unshares a user and mount namespace of its own: the kernel copies the template's mount tree --
about sixty mounts, in one system call -- into a mount namespace owned by the spare's new user
namespace. Because that namespace is less privileged than the template's, the kernel locks
the copy: its mounts cannot be unmounted or separated, nor their read-only, nosuid and nodev
flags cleared, even by a process with every capability there. Mounts are private, so nothing
made in one copy propagates to another or to the template. Guests share the template's tmpfs
(read-only everywhere: the few directories on the way to the bound host files), never a
writable mount; each has a user namespace of its own.

The network namespace. When the children's seccomp filter refuses every socket
(:func:`guests_have_no_sockets`: socket() for every family, and bind, connect and addressed
sends for a socketpair's ends, which is every isolated child's policy today), the builder
also makes one empty network namespace (a loopback, down), owned by the template's user
namespace, and every spare joins it (setns, while it holds the template's user namespace's
capabilities) instead of making one: a new network namespace costs a spare ~0.3 ms and the
kernel more in a worker thread to tear it down after the guest (``python -m
benchmarks.bench_pool --against``). Shared is safe there because no guest can name anything
in it: what a network namespace holds is its interfaces, its sockets, the abstract socket
names and its /proc/net and sysctls, and a guest can make no socket but an unbound
socketpair, bind no name, reach no abstract name, and has no /proc in its root; its own user
namespace is a child of the template's, so it has no capability over the shared one (its
loopback stays down). Were a policy to let the children make sockets, each would get a
namespace of its own again (a shared one would share the abstract socket names and the
loopback's ports).

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
from posixbackend.isolation.seccomp import Sockets, isolated_policy

BUILT = b"T"
"""The builder's record: the template's user and mount namespaces, in that order, then its
network namespace when the children share one."""
ISOLATED = ("user_namespace", "network_namespace", "mount_namespace", "minimal_root")
"""The confinement steps :meth:`RootTemplate.enter` applies (named as :func:`~posixbackend.
isolation.confinement.isolate` names them)."""


@attrs.frozen
class RootTemplate:
    """Descriptors on the template's user namespace, on its mount namespace (whose root is
    the minimal root) and on the network namespace the children share (None: each makes its
    own)."""

    user: int
    mount: int
    network: int | None = None

    @property
    def fds(self) -> tuple[int, ...]:
        """Every descriptor held."""
        return (self.user, self.mount) if self.network is None else (
            self.user, self.mount, self.network,
        )  # fmt: skip

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                posix.close(fd)

    def moved_to(self, low: int) -> RootTemplate:
        """Copies of the descriptors at ``low`` or above (close-on-exec); these stay open."""
        return RootTemplate(*(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low) for fd in self.fds))

    def enter(self) -> tuple[str, ...]:
        """Make this (single-threaded) process's root a copy of the template's, in new user
        and mount namespaces of its own, its uid and gid mapped to themselves, and in the
        shared network namespace (a new one if there is none): the steps applied
        (:data:`ISOLATED`). OSError if a step fails (the process may then be in the
        template's namespaces: it must not run a guest)."""
        uid, gid = posix.geteuid(), posix.getegid()
        # the template's root has no /proc: the identity map is written through this
        proc_self = posix.open("/proc/self", posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        try:
            setns(self.user, CLONE_NEWUSER)  # (its owner's uid: every capability in it)
            setns(self.mount, CLONE_NEWNS)  # root and cwd: the template's root
            own_network = CLONE_NEWNET
            if self.network is not None:
                # joined now: it takes capabilities in its owner, the template's user namespace
                setns(self.network, CLONE_NEWNET)
                own_network = 0
            # the copy is owned by the new, less privileged user namespace: the kernel locks it
            unshare(CLONE_NEWUSER | own_network | CLONE_NEWNS)
            map_identity(uid, gid, proc_self)
        finally:
            posix.close(proc_self)
        posix.chdir("/")
        return ISOLATED


def guests_have_no_sockets() -> bool:
    """Whether the isolated children's seccomp filter refuses them every socket they could
    name or reach anything with (then they may share one empty network namespace)."""
    return isolated_policy(0).sockets is Sockets.NONE


def build(view: HostView, shared_network: bool = False) -> RootTemplate | None:
    """The template of ``view``'s minimal root, built by a child forked now (this process must
    be single-threaded); None when it cannot be built (no user namespaces for this user, say):
    each spare then builds its own root. ``shared_network``: with an empty network namespace
    for every child (only for children that can make no socket: see
    :func:`guests_have_no_sockets`)."""
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
            _build(view, theirs, shared_network)
        finally:
            os._exit(0)
    theirs.close()
    try:
        message, fds, _, _ = socket.recv_fds(ours, 1, 3)
    finally:
        ours.close()
        os.waitpid(pid, 0)
    if message != BUILT or len(fds) != 2 + shared_network:
        for fd in fds:
            posix.close(fd)
        return None
    return RootTemplate(*fds)


def _build(view: HostView, channel: socket.socket, shared_network: bool) -> None:
    """The builder's life: enter the namespaces and the root, send them back (nothing is sent
    when a step fails: the caller's receive sees the end of the socket)."""
    uid, gid = posix.geteuid(), posix.getegid()
    own = posix.open("/proc/self/ns", posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        # the network namespace made here is owned by the template's user namespace
        unshare(CLONE_NEWUSER | CLONE_NEWNS | (CLONE_NEWNET if shared_network else 0))
        map_identity(uid, gid)
        enter_minimal_root(view.root or layout(view.paths()))
        flags = posix.O_RDONLY | posix.O_CLOEXEC
        names = ("user", "mnt", "net") if shared_network else ("user", "mnt")
        fds = [posix.open(name, flags, dir_fd=own) for name in names]
    except OSError:
        return
    finally:
        posix.close(own)
    socket.send_fds(channel, [BUILT], fds)
