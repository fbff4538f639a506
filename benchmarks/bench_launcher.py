"""What accepting Python's options and owning the standard streams cost the launcher.

Two measurements, printed as medians (nothing is asserted):

- start-up: ``python -c pass``, ``python -m posixbackend -c pass`` and ``python -m
  posixbackend -u -c pass`` (a Python option that only a starting interpreter applies: the
  launcher starts the interpreter again), in interleaved rounds so that a busy machine slows
  all alike;
- output: lines a program prints to a pipe per second, under python and on the java backend
  (whose standard streams write through its descriptors), block-buffered (stdout) and
  line-buffered (stderr), timed inside the program.

Run: ``python -m benchmarks.bench_launcher [--quick]``.
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

LAUNCHER = (sys.executable, "-m", "posixbackend")
PRINTS = """\
import json, sys, time
lines = int(sys.argv[1])
rates = {}
for name, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
    started = time.perf_counter()
    for number in range(lines):
        print(number, file=stream)
    stream.flush()
    rates[name] = lines / (time.perf_counter() - started)
print(json.dumps(rates), file=sys.stdout, flush=True)
"""


def environment() -> dict[str, str]:
    """This environment without a backend choice, with python's default buffering."""
    excluded = ("POSIXBACKEND_OPTIONS", "PYTHONUNBUFFERED")
    return {key: value for key, value in os.environ.items() if key not in excluded}


def start_up(*argv: str) -> Callable[[], float]:
    """A call that runs ``argv`` to its end and gives its wall time."""
    env = environment()

    def call() -> float:
        started = time.perf_counter()
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
        return time.perf_counter() - started

    return call


def paired(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Median seconds of each contender over ``rounds`` interleaved rounds (after a warm-up
    run of each)."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for call in contenders.values():
        call()
    for index in range(rounds):
        order = list(contenders.items())
        if index % 2:
            order.reverse()
        for name, call in order:
            samples[name].append(call())
    return {name: statistics.median(times) for name, times in samples.items()}


def print_rates(command: tuple[str, ...], lines: int, rounds: int) -> dict[str, float]:
    """Median lines per second the program printed on stdout and stderr (both pipes)."""
    samples: dict[str, list[float]] = {"stdout": [], "stderr": []}
    for _ in range(rounds):
        done = subprocess.run(
            [*command, "-c", PRINTS, str(lines)], check=True, env=environment(),
            capture_output=True, text=True,
        )  # fmt: skip
        rates = json.loads(done.stdout.splitlines()[-1])
        for name, values in samples.items():
            values.append(rates[name])
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args()
    rounds = 1 if args.quick else 20
    results = paired(
        {
            "python -c pass": start_up(sys.executable, "-c", "pass"),
            "python -m posixbackend -c pass": start_up(*LAUNCHER, "-c", "pass"),
            "python -m posixbackend -u -c pass (started again)": start_up(
                *LAUNCHER, "-u", "-c", "pass"
            ),
        },
        rounds,
    )
    print(f"start-up, median of {rounds} rounds:")
    for name, seconds in results.items():
        print(f"  {name:52} {seconds * 1000:8.1f} ms")
    lines = 20_000 if args.quick else 200_000
    print(f"\nprinting {lines} lines to a pipe, median of {max(rounds // 4, 1)} runs:")
    for name, command in (
        ("python", (sys.executable,)),
        ("launcher, java backend", (*LAUNCHER, "--posix-backend=java")),
    ):
        rates = print_rates(command, lines, max(rounds // 4, 1))
        print(f"  {name:24} stdout (block-buffered) {rates['stdout'] / 1000:8.0f} k lines/s"
              f"   stderr (line-buffered) {rates['stderr'] / 1000:8.0f} k lines/s")  # fmt: skip


if __name__ == "__main__":
    main()
