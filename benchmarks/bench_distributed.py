"""The distributed runner's overhead per job against the local pool, on the same trivial guests.

Both sides run ``pass`` guests two at a time: a local :class:`Pool` of 2, and
:func:`~posixbackend.isolation.distributed.run_many` on a local Dask cluster of one worker
process with two threads (so one warm pool of 2 on the worker). Each round times a run of
one job and a run of N jobs on each side, the order alternated between rounds; a side's cost
per job is its marginal one, (T(N) - T(1)) / (N - 1), and its cost per run is T(1) (for the
cluster: the worker's pool started for the run, the plugin registered and removed). Also
printed: how long the cluster took to start. Nothing is asserted.
Run: ``python -m benchmarks.bench_distributed [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from benchmarks.harness import Row, Spread

GROUP = "distributed"
TRIVIAL = "pass"
WORKERS = 2


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer jobs and rounds (a smoke run)")
    args = parser.parse_args()
    jobs, rounds = (8, 2) if args.quick else (40, 5)

    from distributed import Client, LocalCluster

    from posixbackend.isolation.distributed import run_many
    from posixbackend.isolation.pool import Pool

    samples: dict[str, list[float]] = {
        "local run": [], "dask run": [], "local job": [], "dask job": [],
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as scratch:
        started = time.perf_counter()
        with (
            LocalCluster(
                n_workers=1, threads_per_worker=WORKERS, processes=True, dashboard_address=":0",
                local_directory=scratch,
            ) as cluster,
            Client(cluster) as client,
        ):  # fmt: skip
            cluster_start = time.perf_counter() - started

            def dask(count: int) -> float:
                return timed(lambda: list(run_many([TRIVIAL] * count, client=client)))

            with Pool(workers=WORKERS) as pool:

                def local(count: int) -> float:
                    return timed(lambda: list(pool.imap_unordered([TRIVIAL] * count)))

                local(WORKERS)  # warm: the zygote's first forks
                dask(WORKERS)
                for round_ in range(rounds):
                    sides = [("local", local), ("dask", dask)]
                    for name, side in sides if round_ % 2 == 0 else sides[::-1]:
                        one, many = side(1), side(jobs)
                        samples[f"{name} run"].append(one * 1e3)
                        samples[f"{name} job"].append((many - one) / (jobs - 1) * 1e3)
    overhead = [d - lo for d, lo in zip(samples["dask job"], samples["local job"], strict=True)]
    print(f"distributed runner vs local pool: {WORKERS} guests at once, guest {TRIVIAL!r}, "
          f"{jobs} jobs per run, {rounds} rounds (median [min-max]), "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"  local cluster start (1 worker process): {cluster_start:.2f} s")
    for label, key in (("per run of 1 job", "run"), ("per job (marginal)", "job")):
        local_ms, dask_ms = samples[f"local {key}"], samples[f"dask {key}"]
        print(f"  {label:<20} local pool {_cell(local_ms)}   dask {_cell(dask_ms)}   "
              f"ratio {statistics.median(dask_ms) / statistics.median(local_ms):.2f}x")  # fmt: skip
    print(f"  distributed overhead per job: {_cell(overhead)}")
    return [
        Row(GROUP, f"{label} ({WORKERS} at once)", "ms",
            values={"local pool": Spread.of(samples[f"local {key}"]),
                    "dask": Spread.of(samples[f"dask {key}"])},
            ratios={})
        for label, key in (("per run of 1 job", "run"), ("per job, marginal", "job"))
    ] + [Row(GROUP, "distributed overhead per job", "ms", values={"dask": Spread.of(overhead)},
             ratios={})]  # fmt: skip


def _cell(samples: list[float]) -> str:
    return f"{statistics.median(samples):.1f} ms [{min(samples):.1f}-{max(samples):.1f}]"


if __name__ == "__main__":
    main()
