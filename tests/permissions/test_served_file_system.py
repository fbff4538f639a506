"""The socket a child Python is served its parent's file system on, attacked from the child.

A sandboxed program that may start processes starts child Pythons that find their connection
(through the library's own state) and send the server forged requests: a path climbing
above ``/`` to a host secret or marker, unknown operations, a length of 4 GiB, wrong types, a
relative path, a malformed or too deeply nested value, a pickle that would run a command.
Judged on the host: nothing is written or read there, each forged frame ends only its own
connection (logged), and the parent goes on serving its next child.
"""

from __future__ import annotations

import socket
from pathlib import Path

from tests.launcher.running import launch
from tests.permissions.escapes import ESCAPES, FORGED_CASES
from tests.permissions.judge import Host

ESCAPE = next(escape for escape in ESCAPES if escape.name.startswith("forged frames"))


def test_forged_frames_reach_nothing_on_the_host(tmp_path: Path, listener: socket.socket) -> None:
    host = Host.prepare(tmp_path, listener)
    done = launch("--sandbox", "--allow-create-process", "-c", host.source(ESCAPE), cwd=tmp_path)
    assert host.traces(ESCAPE, done.stdout + done.stderr, patient=True) == [], done
    assert done.returncode == 0, done
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines.pop("survived:") == "the parent"
    within = lines.pop("within")
    assert within.startswith("0 read FileNotFoundError 2 | create ("), within  # in memory
    assert within.endswith("| nul ValueError | handle OSError 9"), within
    assert lines == {case: "0 closed | after OSError 5" for case in FORGED_CASES[1:]}
    ended = [line for line in done.stderr.splitlines() if "connection ended" in line]
    assert len(ended) == len(FORGED_CASES) - 1, done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["secret.txt"]
