"""What the kernel confinement costs at start-up: the launcher's --sandbox and the isolated mode.

Two paired comparisons, each measured in interleaved rounds (one run of each contender per
round, in alternating order, so a busy machine slows both alike), printing the median wall
time and the ratio of the medians:

- ``posixbackend --sandbox -c pass`` (confined by the kernel: Landlock, seccomp, limits)
  against ``posixbackend-managed --fs=memory -c pass`` (the same backend and file system, no
  confinement); target (issue 16): at most 1.3x.
- ``run_isolated("pass")`` (a trivial program in a confined child: a mount namespace with a
  minimal root, Landlock, seccomp), measured in a process of its own that runs it a few times
  after a first call (the parent computes the child's view of the host once); with
  ``--baseline DIR`` the same against the library in the checkout DIR (e.g. one without the
  minimal root: the issue's target is no slower than before it).

Nothing is asserted. Run: ``python -m benchmarks.bench_sandbox [--quick] [--baseline DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent
SANDBOX_TARGET = 1.3
ISOLATED_CALLS = 8
"""Timed run_isolated calls per measuring process (after one that fills the caches)."""
MEASURE_ISOLATED = f"""\
import json, time
from posixbackend.isolation import run_isolated
run_isolated("pass")
times = []
for _ in range({ISOLATED_CALLS}):
    started = time.perf_counter()
    result = run_isolated("pass")
    times.append(time.perf_counter() - started)
    assert result.status == 0, result.summary()
print(json.dumps(times))
"""


def environment(library: str | None = None) -> dict[str, str]:
    """This environment without a backend choice; ``library`` first on the import path."""
    env = {key: value for key, value in os.environ.items() if key != "POSIXBACKEND_OPTIONS"}
    if library is not None:
        env["PYTHONPATH"] = library
    return env


def command(*argv: str) -> Callable[[], list[float]]:
    """A call that runs ``argv`` to its end and gives its wall time."""
    env = environment()

    def call() -> list[float]:
        started = time.perf_counter()
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
        return [time.perf_counter() - started]

    return call


def isolated(library: str | None) -> Callable[[], list[float]]:
    """A call that times run_isolated in a fresh process (importing the library from
    ``library``, else this checkout's)."""
    env = environment(library)

    def call() -> list[float]:
        done = subprocess.run(
            [sys.executable, "-c", MEASURE_ISOLATED], check=True, env=env,
            capture_output=True, text=True, cwd="/",
        )  # fmt: skip
        times: list[float] = json.loads(done.stdout)
        return times

    return call


def paired(contenders: dict[str, Callable[[], list[float]]], rounds: int) -> dict[str, float]:
    """Median seconds of each contender over ``rounds`` interleaved rounds (after a warm-up
    run of each, which fills the caches every later run finds)."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for call in contenders.values():
        call()
    for index in range(rounds):
        order = list(contenders.items())
        if index % 2:
            order.reverse()  # neither always runs first in a round
        for name, call in order:
            samples[name] += call()
    return {name: statistics.median(times) for name, times in samples.items()}


def show(title: str, results: dict[str, float]) -> float:
    """Print the medians and each one's ratio to the first; the ratio of the second."""
    names = list(results)
    base = results[names[0]]
    print(title)
    for name in names:
        print(f"  {name:48} {results[name] * 1000:8.1f} ms ({results[name] / base:5.2f}x)")
    return results[names[-1]] / base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--baseline", help="a checkout whose run_isolated to compare with")
    args = parser.parse_args()
    rounds = 5 if args.quick else 30
    launcher = paired(
        {
            "posixbackend-managed --fs=memory -c pass": command(
                str(BIN / "posixbackend-managed"), "--fs=memory", "-c", "pass"
            ),
            "posixbackend --sandbox -c pass": command(
                str(BIN / "posixbackend"), "--sandbox", "-c", "pass"
            ),
        },
        rounds,
    )
    ratio = show(f"launcher start-up, median of {rounds} rounds:", launcher)
    verdict = "met" if ratio <= SANDBOX_TARGET else "MISSED"
    print(f"  --sandbox: {ratio:.2f}x (target <= {SANDBOX_TARGET}x): {verdict}\n")
    contenders = {"run_isolated('pass'), this checkout": isolated(None)}
    if args.baseline:
        contenders = {f"run_isolated('pass'), {args.baseline}": isolated(args.baseline),
                      **contenders}  # fmt: skip
    batches = max(2, rounds // 3)
    results = show(
        f"isolated mode, median of {batches} rounds of {ISOLATED_CALLS} calls:",
        paired(contenders, batches),
    )
    if args.baseline:  # the target is no slower: judge it beside the rounds' own spread
        print(f"  against the baseline: {results:.3f}x (target: no slower)")


if __name__ == "__main__":
    main()
