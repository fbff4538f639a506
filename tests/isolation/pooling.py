"""What every pool test checks when it ends: no process of the pool's (its zygote, a guest,
anything in a guest's group) and no temporary file is left."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from posixbackend.isolation import IsolatedResult, Pool
from tests.isolation.helpers import group_members

SETTLE_SECONDS = 5.0
"""How long guests orphaned by a killed zygote may take to be reaped by init."""


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(name))
    return found


def alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


@attrs.define
class Traces:
    """The pools and results of one test, checked for leftovers when it ends."""

    tmp: Path
    children_before: set[int]
    pools: list[Pool] = attrs.Factory(list)
    zygotes: set[int] = attrs.Factory(set)
    helpers: set[int] = attrs.Factory(set)
    """A zygote's children that are no guest (spares, the janitor) seen by the test."""
    results: list[IsolatedResult] = attrs.Factory(list)

    def pool(self, *args: object, **kwargs: object) -> Pool:
        """A Pool made for this test (its zygotes are watched)."""
        pool = Pool(*args, **kwargs)  # type: ignore[arg-type]
        self.pools.append(pool)
        self.note_zygote(pool)
        return pool

    def note_zygote(self, pool: Pool) -> int:
        """The pool's current zygote's pid (remembered, to be checked gone at the end)."""
        zygote = pool._zygote
        assert zygote is not None
        self.zygotes.add(zygote.pid)
        return zygote.pid

    def note_helpers(self, pool: Pool, count: int) -> set[int]:
        """Wait until the pool's zygote has ``count`` children that run no guest (its spares
        and its janitor): their pids (remembered, to be checked gone at the end)."""
        zygote = self.note_zygote(pool)
        deadline = time.monotonic() + 10
        while True:
            with pool._lock:
                running = {child.pid for child in pool._running}
            found = children(zygote) - running
            if len(found) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert len(found) == count, f"the zygote's helpers: {found}"
        self.helpers |= found
        return found

    def seen(self, result: IsolatedResult) -> IsolatedResult:
        """Remember ``result``'s guest (its group must be empty at the end)."""
        self.results.append(result)
        return result

    def check(self) -> None:
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            left = self._left()
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert not left, f"left behind: {left}"
        assert list(self.tmp.iterdir()) == [], "temporary files left behind"

    def _left(self) -> list[str]:
        left = [f"child {pid}" for pid in children(os.getpid()) - self.children_before]
        left += [f"zygote {pid}" for pid in self.zygotes if alive(pid)]
        left += [f"spare or janitor {pid}" for pid in self.helpers if alive(pid)]
        for result in self.results:
            if result.pid:
                left += [f"guest group {result.pid}: {pid}" for pid in group_members(result.pid)]
        return left


@pytest.fixture
def traces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Traces]:
    """Pools for a test, shut down when it ends and checked to leave nothing behind (a
    temporary directory of their own: it must stay empty)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    found = Traces(tmp, children(os.getpid()))
    try:
        yield found
    finally:
        for pool in found.pools:
            pool.shutdown(wait=True, cancel_futures=True)
        found.check()
