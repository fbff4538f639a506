"""What every isolation test checks after a run: a clear end, and nothing left running."""

from __future__ import annotations

import os

from posixbackend.isolation import IsolatedResult


def group_members(pgid: int) -> list[int]:
    """The processes now in process group ``pgid`` (from /proc)."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[2]) == pgid:
            members.append(int(name))
    return members


def assert_nothing_left(result: IsolatedResult) -> None:
    """The child and anything it might have started are gone."""
    assert result.pid > 0
    assert group_members(result.pid) == []


def printed(result: IsolatedResult) -> list[str]:
    """The guest's stdout lines."""
    return result.stdout.decode().splitlines()
