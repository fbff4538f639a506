"""The escape corpus in-process: what the stand-ins, anchors and audit hook stop, and what they
cannot (the launcher's --sandbox and the isolated mode run the same corpus and contain all).

The embedder here is a small application: it holds a host provider in its frame, an open file
and a live connection (real descriptors), enters ``Permissions.sandbox()`` and runs the guest;
after the block it checks its descriptor is as it was and that it can still open files, and
goes on with its own work (json.dumps, which a guest may have replaced). Every trace is judged
on the host (:mod:`tests.permissions.judge`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.permissions.escapes import ESCAPES, Escape
from tests.permissions.judge import Host

EMBEDDING = """
import fcntl, os, socket, sys
from posixbackend import Permissions, backend
from vfs import HostFileSystem

source, canary_path, link_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
host = HostFileSystem()  # the embedding application's own provider
canary = os.open(canary_path, os.O_RDWR)  # the embedder's open file: a real descriptor
link = socket.create_connection(("127.0.0.1", link_port))  # and its live connection
get_flags, real_open, real_close = fcntl.fcntl, os.open, os.close
flags = get_flags(canary, fcntl.F_GETFL)
with backend("managed", permissions=Permissions.sandbox()):
    exec(compile(source, "<guest>", "exec"), {"__name__": "__guest__"})
try:
    real_close(real_open("/dev/null", os.O_RDONLY))
    opens = True
except OSError:
    opens = False
print("EMBEDDER", get_flags(canary, fcntl.F_GETFL) == flags, opens)
import json
json.dumps({})  # the embedder's own work goes on
"""
CANARY = b"the embedder's own data"


def embedder_traces(escape: Escape, result: subprocess.CompletedProcess[str], canary: Path,
                    link: socket.socket) -> list[str]:  # fmt: skip
    """What the guest did to the embedder itself: its descriptors, its survival."""
    found = []
    if canary.read_bytes() != CANARY:
        found.append("the embedder's open file was changed")
    try:
        if link.recv(4096):
            found.append("data was injected into the embedder's connection")
    except TimeoutError:
        pass
    last = result.stdout.splitlines()[-1:] or [""]
    if last[0] == "EMBEDDER False True":
        found.append("the embedder's descriptor flags were changed")
    elif last[0] != "EMBEDDER True True":
        found.append(f"the embedder did not go on as before: {last[0]!r} (status "
                     f"{result.returncode})")  # fmt: skip
    return found


@pytest.mark.parametrize("escape", ESCAPES, ids=[escape.name for escape in ESCAPES])
def test_in_process(escape: Escape, tmp_path: Path, listener: socket.socket) -> None:
    host = Host.prepare(tmp_path, listener)
    canary = tmp_path / "canary"
    canary.write_bytes(CANARY)
    with socket.create_server(("127.0.0.1", 0)) as links:
        command = [sys.executable, "-c", EMBEDDING, host.source(escape), str(canary),
                   str(links.getsockname()[1])]  # fmt: skip
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd="/") as process:  # fmt: skip
            link, _ = links.accept()
            stdout, stderr = process.communicate(timeout=60)
        link.settimeout(0.2)
        with link:
            result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
            traces = host.traces(
                escape, stdout + stderr, patient=not escape.stopped_in_process
            ) + embedder_traces(escape, result, canary, link)
    if escape.stopped_in_process:
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("refused: "), result.stdout + result.stderr
        assert traces == [], traces
    else:  # documented as beyond the in-process mode: if this fails, it stopped it: update docs
        assert escape.in_process.startswith("escapes: ")
        assert "refused" not in result.stdout, result.stdout
        assert traces != []
