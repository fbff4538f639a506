"""The judge itself: a trace left after the run by a process the run started and orphaned is
still found (the judge waits while such a process lives), and judging leaves this process's
subreaper flag as it was."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.permissions.escapes import ESCAPES
from tests.permissions.judge import Host, _children, _subreaper, started_since

ESCAPE = ESCAPES[0]


ORPHANS: set[int] = set()


def orphan(command: str) -> None:
    """Run ``command`` in a shell's background job and let the shell end at once: the job
    outlives its parent, as a program an escaping guest starts and leaves behind would."""
    before = started_since(frozenset())
    subprocess.run(["/bin/sh", "-c", f"({command}) >/dev/null 2>&1 &"], check=True)
    ORPHANS.update(started_since(frozenset()) - before)


@pytest.fixture(autouse=True)
def reap_orphans() -> Iterator[None]:
    """The orphans came to this process (the judge made it their subreaper): reap them."""
    yield
    for pid in ORPHANS:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:  # not ours: a process below the orphan, reaped by it
            pass
    ORPHANS.clear()


@pytest.mark.parametrize("patient", [True, False])
def test_an_orphan_writing_the_marker_late_is_found(
    tmp_path: Path, listener: socket.socket, patient: bool
) -> None:
    host = Host.prepare(tmp_path, listener)
    orphan(f"sleep 0.15; touch {host.marker}")
    assert not host.marker.exists()  # the run "ended" before the trace was left
    assert host.traces(ESCAPE, "", patient=patient) == [f"{host.marker} written"]


def test_an_orphan_connecting_late_is_found(tmp_path: Path, listener: socket.socket) -> None:
    host = Host.prepare(tmp_path, listener)
    port = listener.getsockname()[1]
    connect = (
        f"import socket, time; time.sleep(0.15); socket.create_connection(('127.0.0.1', {port}))"
    )
    orphan(f"{sys.executable} -c \"{connect}\"")
    assert host.traces(ESCAPE, "", patient=True) == ["the listener was connected to"]


def test_an_adopted_orphan_that_ended_is_reaped(tmp_path: Path, listener: socket.socket) -> None:
    zombies_before = set(_children(living=False).get(os.getpid(), []))
    host = Host.prepare(tmp_path, listener)
    orphan(f"touch {host.marker}")  # (likely ended already: a zombie, ours once its shell left)
    assert host.traces(ESCAPE, "", patient=False) == [f"{host.marker} written"]
    assert set(_children(living=False).get(os.getpid(), [])) <= zombies_before


def test_an_orphan_is_in_sight_and_the_flag_comes_back(
    tmp_path: Path, listener: socket.socket
) -> None:
    before = _subreaper(0)
    try:
        host = Host.prepare(tmp_path, listener)
        orphan("sleep 0.2")
        assert started_since(host.baseline), "the orphan went to init, out of the judge's sight"
        assert host.traces(ESCAPE, "", patient=False) == []
        assert not started_since(host.baseline)
        assert _subreaper(0) == 0
    finally:
        _subreaper(before)
