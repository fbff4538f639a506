"""Judging an escape on the host: what it would have changed, looked at from outside the guest.

:class:`Host` is made before a run (a marker path no guest may create, a secret file no guest
may read, the hostname, the addresses on lo) and asked afterwards which traces an escape left,
whatever the guest printed. It also puts back what a successful escape changed (the hostname,
an address on lo), so a failing test leaves the machine as it found it.

A trace can still appear after the run only by the hand of a process the run started that
outlives it. While a Host is being judged this process is a child subreaper (so such a
process, orphaned, becomes our child instead of init's and stays in sight): the judge waits
for a late trace only while a process started since :meth:`Host.prepare` is alive, and not
at all once none is.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import attrs

from tests.permissions.escapes import Escape
from tests.servers import connections

ESCAPED_ADDRESS = "127.77.77.77"
"""The address the netlink escape adds to lo."""

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
SETTLING = 0.02
"""Seconds the judge gives the kernel for a loopback connection the run made (the server's
side of the handshake is finished by the network stack just after the client's connect())."""

_libc = ctypes.CDLL(None, use_errno=True)


def _subreaper(flag: int) -> int:
    """Make this process a child subreaper or not (``flag``); what it was before."""
    before = ctypes.c_int()
    if _libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(before), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_GET_CHILD_SUBREAPER)")
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, flag, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    return before.value


def _children(*, living: bool) -> dict[int, list[int]]:
    """Each process's children: those that are not zombies (a zombie writes nothing), or the
    zombies."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                fields = Path(f"/proc/{name}/stat").read_bytes().rpartition(b")")[2].split()
            except OSError:  # ended meanwhile
                continue
            if (fields[0] not in (b"Z", b"X")) == living:
                children.setdefault(int(fields[1]), []).append(int(name))
    return children


def _reap_adopted(baseline: frozenset[int]) -> None:
    """Reap the zombies among this process's children that were not below it at the start:
    orphans it adopted as their subreaper (a program an escape started; a run's own children
    were waited for by what ran them)."""
    for pid in _children(living=False).get(os.getpid(), []):
        if pid not in baseline:
            with contextlib.suppress(ChildProcessError):  # reaped meanwhile by its owner
                os.waitpid(pid, os.WNOHANG)


def started_since(baseline: frozenset[int]) -> set[int]:
    """The living descendants of this process that are not in ``baseline`` (what lived at the
    start), with all below them; below a process of the baseline (e.g. a pool's zygote made
    by an earlier test) nothing counts: an orphan there comes up to us."""
    children = _children(living=True)
    found: set[int] = set()
    work = [(pid, False) for pid in children.get(os.getpid(), [])]
    while work:
        pid, below_new = work.pop()
        if pid in baseline and not below_new:
            continue
        found.add(pid)
        work.extend((child, True) for child in children.get(pid, []))
    return found


def living_descendants() -> frozenset[int]:
    """Every living process below this one."""
    return frozenset(started_since(frozenset()))


def lo_addresses() -> str:
    """The addresses on lo, as ``ip`` lists them."""
    listed = subprocess.run(
        ["ip", "-o", "addr", "show", "lo"], capture_output=True, text=True, check=True
    )
    return "\n".join(sorted(line.split()[3] for line in listed.stdout.splitlines()))


@attrs.define
class Host:
    """The host state an escape could change, captured before a run."""

    marker: Path
    secret: Path
    token: str
    listener: socket.socket
    hostname: str
    lo: str
    baseline: frozenset[int]
    """The processes below this one when the Host was prepared."""
    subreaper_before: int

    @classmethod
    def prepare(cls, directory: Path, listener: socket.socket) -> Host:
        """A marker path and a secret file (holding a fresh token) below ``directory``; from
        now until :meth:`traces`, this process is a child subreaper."""
        token = f"canary-secret-{uuid.uuid4().hex}"
        secret = directory / "secret.txt"
        secret.write_text(token)
        secret.chmod(0o600)
        before = _subreaper(1)
        return cls(
            directory / "escaped", secret, token, listener, socket.gethostname(),
            lo_addresses(), living_descendants(), before,
        )  # fmt: skip

    def source(self, escape: Escape) -> str:
        """The escape's guest code, aimed at this host."""
        return escape.source(str(self.marker), self.listener.getsockname()[1], str(self.secret))

    def traces(self, escape: Escape, output: str, *, patient: bool) -> list[str]:
        """What the run left on the host (empty: contained). While a process the run started
        lives, waits up to two seconds (``patient``: a program is the escape's way) or 0.3 for
        it to leave its file or connection."""
        try:
            deadline = time.monotonic() + (2.0 if patient else 0.3)
            while (
                not self.marker.exists()
                and started_since(self.baseline)
                and time.monotonic() < deadline
            ):
                time.sleep(0.02)
        finally:
            _subreaper(self.subreaper_before)
            _reap_adopted(self.baseline)
        found = []
        if self.marker.exists():
            found.append(f"{self.marker} written")
        waited = self.listener.gettimeout()
        self.listener.settimeout(SETTLING)
        try:
            if connections(self.listener):
                found.append("the listener was connected to")
        finally:
            self.listener.settimeout(waited)
        if self.token in output:
            found.append("the secret was read")
        if socket.gethostname() != self.hostname:
            found.append(f"the hostname became {socket.gethostname()!r}")
            socket.sethostname(self.hostname)
        if lo_addresses() != self.lo:
            found.append("lo's addresses changed")
            subprocess.run(["ip", "addr", "del", f"{ESCAPED_ADDRESS}/32", "dev", "lo"],
                           check=False)  # fmt: skip
        return found
