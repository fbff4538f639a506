"""Group ``threads`` (issue 20, item 3): throughput under threads, latency under a long listing.

- 1, 2, 4, 8 threads each looping open('w+b') / write 1 KiB / seek(0) / read / close on a file
  of its own, all in one file system: operations (the five calls) per second, against native
  (target >= 0.9x); threads started inside the managed block inherit its backend;
- one thread stats a small file every 0.1 ms (1 s a round) while another lists a
  directory of 100k entries (10k with --quick) in a loop: the stat's p99 latency against
  native's under the same load (target <= 2x), and without the load for reference.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from benchmarks.arena import Arena, memory_fs
from benchmarks.harness import (
    PYFAKEFS,
    PYFILESYSTEM2,
    Batch,
    Outcome,
    Row,
    Settings,
    Target,
    paired,
    row_from,
    share,
)

GROUP = "threads"
THREADS = (1, 2, 4, 8)
DATA = b"t" * 1024
PACE = 100e-6
"""Seconds between two timed stats of the latency rows."""
PYFAKEFS_ENTRIES_UP_TO = 20_000
"""pyfakefs builds a directory of this many entries in seconds; beyond it, minutes."""


def io_cycle(path: str) -> None:
    with open(path, "w+b") as file:
        file.write(DATA)
        file.seek(0)
        file.read()


def fs2_cycle(mem: Any) -> Callable[[str], None]:
    def cycle(path: str) -> None:
        with mem.openbin(path, "w+") as file:
            file.write(DATA)
            file.seek(0)
            file.read()

    return cycle


def throughput(cycle: Callable[[str], None], top: str, threads: int, count: int) -> float:
    """Cycles per second of ``threads`` threads doing ``count`` cycles each, started together."""
    barrier = threading.Barrier(threads + 1)

    def worker(index: int) -> None:
        path = f"{top}/f{index}"
        barrier.wait()
        for _ in range(count):
            cycle(path)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    barrier.wait()
    started = time.perf_counter_ns()
    for thread in workers:
        thread.join()
    return threads * count / ((time.perf_counter_ns() - started) / 1e9)


def fs2_throughput(mem: Any, threads: int, count: int) -> Batch:
    return lambda: throughput(fs2_cycle(mem), "io", threads, count)


def fs2_latency(mem: Any, loaded: bool, seconds: float) -> Batch:
    listing = (lambda: mem.listdir("big")) if loaded else None
    return lambda: stat_latencies(lambda: mem.getinfo("small", ["details"]), listing, seconds)


def throughput_rows(settings: Settings) -> list[Row]:
    rows = []
    count = settings.number(1000)
    with Arena() as arena:
        top = f"{arena.root}/io"
        for side in arena.sides:
            with arena.inside(side):
                os.mkdir(top)
        mem = memory_fs()
        mem.makedir("io")
        for threads in THREADS:
            batches: dict[str, Batch] = {}
            for side in arena.sides:

                def batch(side: str = side, threads: int = threads) -> float:
                    with arena.inside(side):
                        return throughput(io_cycle, top, threads, share(side, count))

                batches[side] = batch
            batches[PYFILESYSTEM2] = fs2_throughput(mem, threads, count)
            rows.append(
                row_from(GROUP, "open/write/seek/read/close, total", paired(batches,
                         settings.rounds), "ops/s", target=Target(0.9, at_most=False),
                         axis="threads", size=threads)
            )  # fmt: skip
        mem.close()
    return rows


def stat_latencies(
    stat: Callable[[], object], listing: Callable[[], object] | None, seconds: float
) -> float:
    """p99 (ns) of the calls of ``stat`` timed one by one for ``seconds``, while another thread
    runs ``listing`` in a loop (when given). The calls are paced (a sleep of PACE between
    two): each lands at an independent moment of the listing, as a request would; back to back
    they would follow the lister's turns and a stall would count once, however long."""
    stop = threading.Event()
    listing_started = threading.Event()

    def lister() -> None:
        assert listing is not None
        while not stop.is_set():
            listing_started.set()
            listing()

    thread = None
    if listing is not None:
        thread = threading.Thread(target=lister)
        thread.start()
        listing_started.wait()
    samples = []
    deadline = time.perf_counter_ns() + int(seconds * 1e9)
    try:
        while True:
            started = time.perf_counter_ns()
            stat()
            ended = time.perf_counter_ns()
            samples.append(ended - started)
            if ended > deadline:
                break
            time.sleep(PACE)
    finally:
        stop.set()
        if thread is not None:
            thread.join()
    samples.sort()
    return float(samples[min(len(samples) - 1, int(len(samples) * 0.99))])


def latency_seconds(settings: Settings) -> float:
    """How long a round of timed stats lasts (1 s: some 5,000 paced calls)."""
    return max(0.05, settings.number_scale)


def latency_rows(settings: Settings) -> tuple[list[Row], int]:
    entries = settings.size(100_000, 10)
    seconds = latency_seconds(settings)
    with_pyfakefs = entries <= PYFAKEFS_ENTRIES_UP_TO
    rows = []
    with Arena(pyfakefs=with_pyfakefs) as arena:
        big, small = f"{arena.root}/big", f"{arena.root}/small"
        for side in arena.sides:
            with arena.inside(side):
                os.mkdir(big)
                for n in range(entries):
                    with open(f"{big}/f{n}", "wb"):
                        pass
                with open(small, "wb") as file:
                    file.write(DATA)
        mem = memory_fs()
        mem.makedir("big")
        for n in range(entries):
            mem.create(f"big/f{n}")
        mem.writebytes("small", DATA)
        missing = {} if with_pyfakefs else {PYFAKEFS: "n/a (size)"}
        for loaded in (True, False):
            batches: dict[str, Batch] = {}
            for side in arena.sides:

                def batch(side: str = side, loaded: bool = loaded) -> float:
                    with arena.inside(side):
                        listing = (lambda: os.listdir(big)) if loaded else None
                        return stat_latencies(lambda: os.stat(small), listing, seconds)

                batches[side] = batch
            batches[PYFILESYSTEM2] = fs2_latency(mem, loaded, seconds)
            name = (
                f"os.stat p99 while another thread lists {entries} entries"
                if loaded
                else "os.stat p99, no other thread"
            )
            target = Target(2.0) if loaded else None
            rows.append(
                row_from(GROUP, name, paired(batches, settings.rounds), target=target,
                         missing=missing)
            )  # fmt: skip
        mem.close()
    return rows, entries


def run(settings: Settings) -> Outcome:
    rows = throughput_rows(settings)
    latency, entries = latency_rows(settings)
    notes = [
        "throughput rows: one file system shared by all threads (each thread its own file)",
        f"latency rows: p99 of the stats timed during {latency_seconds(settings):g} s a round,"
        f" one every {PACE * 1e3:g} ms",
    ]
    if entries > PYFAKEFS_ENTRIES_UP_TO:
        notes.append(f"pyfakefs not built for {entries} entries (minutes of set-up)")
    return Outcome(GROUP, rows + latency, notes)
