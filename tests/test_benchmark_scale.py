"""The scale group's parts (issue 20, item 2): one point measured alone, the peers left out
past their limits, and batches of at least LEAST_CALLS calls; nothing is timed."""

from __future__ import annotations

import subprocess
import sys

from benchmarks import group_scale
from benchmarks.harness import PYFAKEFS, PYFILESYSTEM2, Settings


def test_one_point_alone_prints_its_rows_only() -> None:
    """``python -m benchmarks.group_scale --files N --entries M`` measures those sizes only
    (in a process of its own: the group installs the stand-ins and pyfakefs's patcher)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.group_scale", "--files", "10", "--entries", "3",
         "--rounds", "1"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if " @ " in line]
    assert [row.split(" @ ")[1].split()[:2] for row in rows] == [
        ["10", "files"],
        ["10", "files"],
        ["3", "entries"],
    ]


def test_the_peers_are_left_out_past_their_limits() -> None:
    assert group_scale.peers_missing(group_scale.PYFAKEFS_UP_TO) == {}
    assert set(group_scale.peers_missing(group_scale.PYFAKEFS_UP_TO + 1)) == {PYFAKEFS}
    assert set(group_scale.peers_missing(group_scale.OTHERS_UP_TO + 1)) == {PYFAKEFS, PYFILESYSTEM2}


def test_a_batch_makes_enough_passes_over_few_paths() -> None:
    normal = Settings()
    assert group_scale.passes(normal, 100) * 100 >= group_scale.LEAST_CALLS
    assert group_scale.passes(normal, 20_000) == 1
    assert group_scale.passes(Settings.quick(), 10) * 10 >= Settings.quick().number(
        group_scale.LEAST_CALLS
    )
    calls: list[str] = []
    measure = group_scale.over_paths(calls.append, ["a", "b"], 3)
    assert measure() > 0 and calls == ["a", "b"] * 3
