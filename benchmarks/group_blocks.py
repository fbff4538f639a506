"""Group ``blocks`` (issue 20, item 4): what the switch itself costs.

- entering and leaving ``with backend('managed', file_system=fs): pass`` (target <= 5 µs),
  beside pyfakefs's Patcher set up and torn down (its later, cached runs);
- what the stand-ins add to a native ``os.stat`` / ``os.getcwd`` outside any block (target
  <= 0.05 µs): each round is a fresh process (``python -m benchmarks.group_blocks --probe N``)
  that times the calls before any block, after one block has come and gone, and after
  ``install()`` -- the first state cannot come back in a process once a block ran.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from benchmarks.bench_switch import enter_leave_ns, pyfakefs_ns
from benchmarks.harness import (
    MANAGED,
    NATIVE,
    PYFAKEFS,
    Outcome,
    Row,
    Settings,
    Target,
    paired,
    row_from,
    timed,
)
from posixbackend import install, uninstall

GROUP = "blocks"
STATES = ("pristine", "after a block", "after install()")
CALLS = ("os.stat", "os.getcwd")


def block_rows(settings: Settings) -> list[Row]:
    """Enter+exit of a lone block (the last block out parks the stand-ins, the next puts them
    back), and of a block while ``install()`` keeps them in place (the launcher's state)."""
    number = settings.number(2000)

    def pinned() -> float:
        install()
        try:
            return enter_leave_ns(number, 1)
        finally:
            uninstall()

    lone = paired(
        {
            MANAGED: lambda: enter_leave_ns(number, 1),
            PYFAKEFS: lambda: pyfakefs_ns(max(1, number // 100))[1],
        },
        settings.rounds,
    )
    return [
        row_from(GROUP, "with backend('managed', file_system=fs): pass, lone block", lone,
                 target=Target(5000, on_ratio=False), missing={NATIVE: "n/a"}),
        row_from(GROUP, "the same, stand-ins kept in place by install()",
                 paired({MANAGED: pinned}, settings.rounds),
                 target=Target(5000, on_ratio=False), missing={NATIVE: "n/a", PYFAKEFS: "n/a"}),
    ]  # fmt: skip


def probe(number: int) -> dict[str, dict[str, float]]:
    """In this (fresh) process: ns per call of each of CALLS in each of STATES."""
    directory = tempfile.mkdtemp(prefix="bench-blocks-")
    path = os.path.join(directory, "f")
    with open(path, "wb"):
        pass
    calls = {"os.stat": lambda: os.stat(path), "os.getcwd": lambda: os.getcwd()}  # noqa: PLW0108 (looked up at each call)
    results: dict[str, dict[str, float]] = {}
    try:
        results["pristine"] = {name: timed(call, number) for name, call in calls.items()}
        from posixbackend import backend  # (the pristine state is timed first)
        from vfs import Identity, MemoryFileSystem

        with backend("managed", file_system=MemoryFileSystem(identity=Identity.root())):
            pass
        results["after a block"] = {name: timed(call, number) for name, call in calls.items()}
        install()
        try:
            results["after install()"] = {name: timed(call, number) for name, call in calls.items()}
        finally:
            uninstall()
    finally:
        os.unlink(path)
        os.rmdir(directory)
    return results


def probe_in_child(number: int) -> dict[str, dict[str, float]]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.group_blocks", "--probe", str(number)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, dict[str, float]] = json.loads(done.stdout)
    return result


def stand_in_rows(settings: Settings) -> list[Row]:
    number = settings.number(200_000)
    rounds = [probe_in_child(number) for _ in range(settings.rounds)]
    rows = []
    for call in CALLS:
        for state in STATES[1:]:
            added = [probe[state][call] - probe["pristine"][call] for probe in rounds]
            rows.append(
                row_from(GROUP, f"{call} outside any block, ns added {state}",
                         {MANAGED: added}, target=Target(50, on_ratio=False),
                         missing={NATIVE: "0 (baseline)", PYFAKEFS: "n/a"})
            )  # fmt: skip
        rows.append(
            row_from(GROUP, f"{call} outside any block, after a block vs pristine",
                     {NATIVE: [probe["pristine"][call] for probe in rounds],
                      MANAGED: [probe["after a block"][call] for probe in rounds]},
                     missing={PYFAKEFS: "n/a"})
        )  # fmt: skip
    return rows


def run(settings: Settings) -> Outcome:
    rows = [*block_rows(settings), *stand_in_rows(settings)]
    notes = [
        "stand-in rows: each round a fresh process; the states run one after the other in it",
        "pyfakefs column of the block row: Patcher() set up and torn down (cached runs)",
    ]
    return Outcome(GROUP, rows, notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", type=int, metavar="N", required=True,
                        help="time N calls in each state; print JSON")  # fmt: skip
    print(json.dumps(probe(parser.parse_args().probe)))


if __name__ == "__main__":
    main()
