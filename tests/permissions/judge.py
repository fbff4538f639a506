"""Judging an escape on the host: what it would have changed, looked at from outside the guest.

:class:`Host` is made before a run (a marker path no guest may create, a secret file no guest
may read, the hostname, the addresses on lo) and asked afterwards which traces an escape left,
whatever the guest printed. It also puts back what a successful escape changed (the hostname,
an address on lo), so a failing test leaves the machine as it found it.
"""

from __future__ import annotations

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

    @classmethod
    def prepare(cls, directory: Path, listener: socket.socket) -> Host:
        """A marker path and a secret file (holding a fresh token) below ``directory``."""
        token = f"canary-secret-{uuid.uuid4().hex}"
        secret = directory / "secret.txt"
        secret.write_text(token)
        secret.chmod(0o600)
        return cls(
            directory / "escaped", secret, token, listener, socket.gethostname(), lo_addresses()
        )

    def source(self, escape: Escape) -> str:
        """The escape's guest code, aimed at this host."""
        return escape.source(str(self.marker), self.listener.getsockname()[1], str(self.secret))

    def traces(self, escape: Escape, output: str, *, patient: bool) -> list[str]:
        """What the run left on the host (empty: contained). ``patient`` waits up to two
        seconds for a program the guest may have started to leave its file."""
        found = []
        deadline = time.monotonic() + (2.0 if patient else 0.3)
        while not self.marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.marker.exists():
            found.append(f"{self.marker} written")
        if connections(self.listener):
            found.append("the listener was connected to")
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
