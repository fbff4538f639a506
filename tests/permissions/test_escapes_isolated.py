"""The escape corpus in the isolated mode: every escape, including those the in-process mode
cannot stop, leaves no trace on the host -- no file, no program, no connection, no secret read,
no change to the hostname or the network -- also when the guest's in-process permissions grant
native access (ctypes, gc), so that only the operating system's confinement stands in the way."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from posixbackend import Permissions
from posixbackend.isolation import run_isolated
from tests.permissions.escapes import ESCAPES, Escape
from tests.permissions.judge import Host

IN_PROCESS = {
    "sandbox": None,
    "native access granted": Permissions(
        allow_io="all", allow_native_access=True, allow_create_thread=True
    ),
}


@pytest.mark.parametrize("permissions", IN_PROCESS.values(), ids=IN_PROCESS.keys())
@pytest.mark.parametrize("escape", ESCAPES, ids=[escape.name for escape in ESCAPES])
def test_isolated(
    escape: Escape, permissions: Permissions | None, tmp_path: Path, listener: socket.socket
) -> None:
    host = Host.prepare(tmp_path, listener)
    result = run_isolated(host.source(escape), permissions)
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert host.traces(escape, output, patient=escape.effect == "process") == [], result
    assert result.limit_exceeded is None, result.summary()
    if not escape.stopped_in_process and escape.effect == "process":
        # the in-process layers let it through: the kernel's filter refused the fork
        assert result.stdout == b"refused: PermissionError [Errno 1] Operation not permitted\n"


def test_the_package_gives_the_isolated_mode() -> None:
    import posixbackend
    from posixbackend import isolation

    assert posixbackend.run_isolated is isolation.run_isolated
    assert posixbackend.Limits is isolation.Limits
    assert posixbackend.IsolatedResult is isolation.IsolatedResult
    with pytest.raises(AttributeError, match="no attribute 'isolate'"):
        posixbackend.isolate  # noqa: B018 - the lookup is the test
