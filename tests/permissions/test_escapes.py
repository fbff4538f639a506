"""The escape corpus in-process: what the stand-ins and the audit hook stop, and what they
cannot (the isolated mode's tests run the same corpus and contain every one)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.permissions.escapes import ESCAPES, Escape

EMBEDDING = """
import sys
from posixbackend import Permissions, backend
from vfs import HostFileSystem
host = HostFileSystem()  # the embedding application's own provider
with backend('managed', permissions=Permissions.sandbox()):
    exec(compile(sys.argv[1], '<guest>', 'exec'), {'__name__': '__guest__'})
"""


def traces(escape: Escape, marker: Path, listener: socket.socket) -> bool:
    """Whether the escape left its trace on the host (waiting a little for a program)."""
    if escape.effect == "connect":
        try:
            listener.accept()[0].close()
        except TimeoutError:
            return False
        return True
    deadline = time.monotonic() + (2.0 if escape.in_process != "stopped" else 0.3)
    while time.monotonic() < deadline:
        if marker.exists():
            return True
        time.sleep(0.02)
    return marker.exists()


@pytest.mark.parametrize("escape", ESCAPES, ids=[escape.name for escape in ESCAPES])
def test_in_process(escape: Escape, tmp_path: Path, listener: socket.socket) -> None:
    marker = tmp_path / "escaped"
    source = escape.source(str(marker), listener.getsockname()[1])
    result = subprocess.run(
        [sys.executable, "-c", EMBEDDING, source],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    left_trace = traces(escape, marker, listener)
    if escape.in_process == "stopped":
        assert result.stdout.startswith("refused: "), result.stdout
        assert not left_trace
    else:  # documented as beyond the in-process mode: if this fails, it stopped it: update docs
        assert escape.in_process.startswith("escapes: ")
        assert "refused" not in result.stdout, result.stdout
        assert left_trace
