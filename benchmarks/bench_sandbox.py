"""What the kernel confinement costs at start-up: the launcher's --sandbox and the isolated mode.

Two paired comparisons, each measured in interleaved rounds (one run of each contender per
round, so a busy machine slows both alike), printing the median wall time and the ratio of the
medians:

- ``posixbackend --sandbox -c pass`` (confined by the kernel: a supervisor process, Landlock,
  seccomp) against ``posixbackend-managed --fs=memory -c pass`` (the same backend and file
  system, no confinement); target (issue 16): at most 1.3x.
- ``run_isolated("pass")`` of this process (a trivial program in a confined child: a mount
  namespace with a minimal root, Landlock, seccomp) against a plain ``python -I -S -c pass``
  start, to show what the isolation adds over the interpreter's own start; the issue's target
  is no slower than before the minimal root (compare with the same benchmark on a checkout
  without it: ``PYTHONPATH=<that checkout> python -m benchmarks.bench_sandbox``).

Nothing is asserted. Run: ``python -m benchmarks.bench_sandbox [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from posixbackend.isolation import run_isolated

BIN = Path(sys.executable).parent
SANDBOX_TARGET = 1.3


def command(*argv: str) -> Callable[[], None]:
    """A call that runs ``argv`` to its end (its output discarded, its failure raised)."""
    env = {key: value for key, value in os.environ.items() if key != "POSIXBACKEND_OPTIONS"}

    def call() -> None:
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)

    return call


def isolated() -> None:
    result = run_isolated("pass")
    if result.status != 0:
        raise RuntimeError(result.summary())


def paired(contenders: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
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
            started = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(times) for name, times in samples.items()}


def show(title: str, results: dict[str, float]) -> float:
    """Print the medians and each one's ratio to the first; the ratio of the second."""
    names = list(results)
    base = results[names[0]]
    print(title)
    for name in names:
        print(f"  {name:48} {results[name] * 1000:8.1f} ms ({results[name] / base:5.2f}x)")
    return results[names[1]] / base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
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
    isolation = paired(
        {
            "python -I -S -c pass": command(sys.executable, "-I", "-S", "-c", "pass"),
            "run_isolated('pass')": isolated,
        },
        rounds,
    )
    show(f"isolated mode, median of {rounds} rounds:", isolation)
    wall = isolation["run_isolated('pass')"]
    print(f"  run_isolated('pass'): {wall:.3f} s wall")


if __name__ == "__main__":
    main()
