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
import posix
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

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
from posixbackend import backend, install, uninstall
from vfs import Identity, MemoryFileSystem

GROUP = "blocks"
CALLS = ("os.stat", "os.getcwd")


def block_rows(settings: Settings, probes: list[dict[str, dict[str, float]]]) -> list[Row]:
    """Enter+exit of a lone block (measured in the probes' fresh processes: with pyfakefs
    loaded, as it is here for its column, the last block out parks the stand-ins at once and
    the next puts them back), and of a block while ``install()`` keeps them in place (the
    launcher's state)."""
    number = settings.number(2000)

    def pinned() -> float:
        install()
        try:
            return enter_leave_ns(number, 1)
        finally:
            uninstall()

    lone = paired({PYFAKEFS: lambda: pyfakefs_ns(max(1, number // 100))[1]}, settings.rounds)
    lone[MANAGED] = [probe["lone block"]["enter+exit"] for probe in probes]
    return [
        row_from(GROUP, "with backend('managed', file_system=fs): pass, lone block", lone,
                 target=Target(5000, on_ratio=False), missing={NATIVE: "n/a"}),
        row_from(GROUP, "the same, stand-ins kept in place by install()",
                 paired({MANAGED: pinned}, settings.rounds),
                 target=Target(5000, on_ratio=False), missing={NATIVE: "n/a", PYFAKEFS: "n/a"}),
    ]  # fmt: skip


PAIRS = 21
"""Pairs of batches per figure: a stat's ~1 us swings by tens of ns from batch to batch, so
five pairs of full batches gave the pristine name (the real function) -460..+20 ns; 21 pairs
of quarter batches give a median within a few ns of zero there."""


def cpu_timed(call: Callable[[], object], number: int) -> float:
    """CPU nanoseconds (this thread's, user + system) per call over one batch of ``number``
    calls: unlike wall time, not lengthened while other processes have the CPU (on a shared
    machine wall-clock pairs gave the real function itself -130..+200 ns)."""
    start = time.thread_time_ns()
    for _ in range(number):
        call()
    return (time.thread_time_ns() - start) / number


def added_ns(name: Callable[[], object], real: Callable[[], object], number: int) -> float:
    """Median over PAIRS alternating batches (of a quarter of ``number`` calls each) of what
    calling through the name adds to calling the real function (CPU ns per call), in the
    process's present state."""
    added = []
    batch = max(1, number // 4)
    for index in range(PAIRS):
        if index % 2:
            through, direct = cpu_timed(name, batch), cpu_timed(real, batch)
        else:
            direct, through = cpu_timed(real, batch), cpu_timed(name, batch)
        added.append(through - direct)
    return statistics.median(added)


def probe(number: int) -> dict[str, dict[str, float]]:
    """In this (fresh) process, for each of CALLS: ns per call before any block (pristine),
    and the ns the name adds to the real posix function after a block came and went and
    after ``install()``."""
    directory = tempfile.mkdtemp(prefix="bench-blocks-")
    path = os.path.join(directory, "f")
    with open(path, "wb"):
        pass
    # the names are looked up at each call: they are what the switch replaces
    names = {"os.stat": lambda: os.stat(path), "os.getcwd": lambda: os.getcwd()}  # noqa: PLW0108
    reals = {"os.stat": lambda: posix.stat(path), "os.getcwd": lambda: posix.getcwd()}  # noqa: PLW0108
    results: dict[str, dict[str, float]] = {}

    def added() -> dict[str, float]:
        return {call: added_ns(names[call], reals[call], number) for call in CALLS}

    try:
        results["pristine"] = {call: timed(names[call], number) for call in CALLS}
        results["pristine, added"] = added()
        with backend("managed", file_system=MemoryFileSystem(identity=Identity.root())):
            pass
        results["after a block"] = {call: timed(names[call], number) for call in CALLS}
        results["after a block, added"] = added()
        # Before pyfakefs is ever imported here (while it is loaded, blocks park at once);
        # the first block puts back the stand-ins the calls above parked: a one-time cost in
        # the first of three batches, which the median leaves out
        results["lone block"] = {"enter+exit": enter_leave_ns(max(100, number // 20), 3)}
        install()
        try:
            results["after install(), added"] = added()
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


def probes_in_children(settings: Settings) -> list[dict[str, dict[str, float]]]:
    """One probe per round, each in a fresh process."""
    number = settings.number(100_000)
    return [probe_in_child(number) for _ in range(settings.rounds)]


def stand_in_rows(rounds: list[dict[str, dict[str, float]]]) -> list[Row]:
    rows = []
    for call in CALLS:
        for state in ("pristine", "after a block", "after install()"):
            # the pristine name is the real function: its figure is the noise floor
            target = None if state == "pristine" else Target(50, on_ratio=False)
            rows.append(
                row_from(GROUP, f"{call} outside any block, ns the name adds {state}",
                         {MANAGED: [probe[f"{state}, added"][call] for probe in rounds]},
                         target=target,
                         missing={NATIVE: "0 (real posix)", PYFAKEFS: "n/a"})
            )  # fmt: skip
        rows.append(
            row_from(GROUP, f"{call} outside any block, after a block vs pristine process",
                     {NATIVE: [probe["pristine"][call] for probe in rounds],
                      MANAGED: [probe["after a block"][call] for probe in rounds]},
                     missing={PYFAKEFS: "n/a"})
        )  # fmt: skip
    return rows


def run(settings: Settings) -> Outcome:
    probes = probes_in_children(settings)
    rows = [*block_rows(settings, probes), *stand_in_rows(probes)]
    notes = [
        "stand-in rows: each round a fresh process; 'ns the name adds' pairs the name with the"
        " real posix function in alternating batches, in CPU time; 'vs pristine' (an audit"
        " hook's cost too) compares states taken one after the other, so it drifts with the"
        " machine",
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
