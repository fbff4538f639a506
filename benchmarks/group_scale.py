"""Group ``scale`` (issue 20, item 2): cost against size, where Linux's stays flat.

- ``os.stat`` and ``open().read()`` of distinct paths (each path once per pass, at most
  20,000 of them, in a shuffled order) in trees of 1e2..1e4 files (1e5, 1e6 with ``--full``),
  100 files a directory;
- ``os.scandir`` + ``is_file`` per entry in directories of 10..1e4 entries (1e5 with
  ``--full``);
- memory per 100-byte file (tracemalloc, the Python heap: native has no figure);
- a file written and read back in 1 MiB chunks, 16 and 64 MiB (1 GiB with ``--full``): time
  per MiB against native, and the peaks of traced memory and of the resident set's growth as
  multiples of the file's size (``python -m benchmarks.big_file MIB...`` runs these rows
  alone at any size, with a CPU-time row).

Targets: every timed row <= 1.0x native; <= 600 bytes a file; peak <= 1.1x the size.

One point alone (the --full ones take minutes each): ``python -m benchmarks.group_scale
--files 1000000 --entries 100000 [--rounds N]`` measures only the tree and directory sizes
given and prints their table.
"""

from __future__ import annotations

import argparse
import itertools
import os
import posix
import random
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from benchmarks.arena import Arena, memory_fs
from benchmarks.harness import (
    MANAGED,
    NATIVE,
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
    timed,
)

GROUP = "scale"
AT_NATIVE = Target(1.0)
SMALL = b"s" * 100
CHUNK = b"c" * (1 << 20)
PER_DIR = 100
SAMPLE = 20_000
LEAST_CALLS = 2000
"""Calls per batch at least, in passes over the sampled paths: a batch of 100 calls (1e2
files) carried the block's first-use cost (its backend built, ~100-250 us) and a cold first
call (~50 us natively) as 1-2 us a call, more than the per-path cost the row is about."""
OTHERS_UP_TO = 100_000
"""PyFilesystem2 is built up to this many files or entries; larger points compare managed
with native (and pyfakefs, to its own limit) only."""
PYFAKEFS_UP_TO = 10_000
"""pyfakefs is built up to this many files or entries: 1e5 files took it 129 s through the
real names (1e4: a few seconds), which with its rounds made --full run past an hour."""
BIG_OTHERS_UP_TO = 64
"""The same for the big file, in MiB."""


def file_counts(settings: Settings) -> list[int]:
    counts = [100, 1000, 10_000] + ([100_000, 1_000_000] if settings.full else [])
    return sorted({settings.size(count, 10) for count in counts})


def directory_sizes(settings: Settings) -> list[int]:
    sizes = [10, 100, 1000, 10_000] + ([100_000] if settings.full else [])
    return sorted({settings.size(size, 2) for size in sizes})


def peers_missing(size: int) -> dict[str, str]:
    """The peers not built at ``size`` files or entries, and why."""
    missing = {}
    if size > PYFAKEFS_UP_TO:
        missing[PYFAKEFS] = "n/a (size)"
    if size > OTHERS_UP_TO:
        missing[PYFILESYSTEM2] = "n/a (size)"
    return missing


def big_sizes(settings: Settings) -> list[int]:
    """File sizes in MiB."""
    sizes = [16, 64] + ([1024] if settings.full else [])
    return sorted({settings.size(size, 1) for size in sizes})


def tree_paths(top: str, count: int) -> list[str]:
    return [f"{top}/d{n // PER_DIR}/f{n}" for n in range(count)]


def build_tree(top: str, count: int) -> None:
    for n in range(0, count, PER_DIR):
        os.makedirs(f"{top}/d{n // PER_DIR}")
    for path in tree_paths(top, count):
        with open(path, "wb") as file:
            file.write(SMALL)


def build_fs2_tree(mem: Any, count: int) -> None:
    for n in range(0, count, PER_DIR):
        mem.makedirs(f"t/d{n // PER_DIR}")
    for path in tree_paths("t", count):
        mem.writebytes(path, SMALL)


def sample(count: int, settings: Settings) -> list[int]:
    """Which files a batch touches: distinct, shuffled the same way for every contender."""
    chosen = random.Random(count).sample(range(count), min(count, settings.size(SAMPLE, 10)))
    return chosen


def over_paths(
    action: Callable[[str], object], paths: list[str], passes: int = 1
) -> Callable[[], float]:
    """ns per path of ``passes`` passes of ``action`` over ``paths`` (each path once a pass)."""

    def batch() -> None:
        for _ in range(passes):
            for path in paths:
                action(path)

    return lambda: timed(batch, 1) / (passes * len(paths))


def stat(path: str) -> os.stat_result:
    """``os.stat`` looked up at each call (the name the backend or pyfakefs serves)."""
    return os.stat(path)


def read_all(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def fs2_read_all(mem: Any) -> Callable[[str], bytes]:
    def read(path: str) -> bytes:
        with mem.openbin(path) as file:
            data: bytes = file.read()
            return data

    return read


def in_side(arena: Arena, side: str, measure: Callable[[], float]) -> Batch:
    def batch() -> float:
        with arena.inside(side):
            return measure()

    return batch


def distinct_paths(settings: Settings, counts: list[int] | None = None) -> list[Row]:
    """stat and open+read of distinct paths, per tree size (``counts``: these sizes only)."""
    rows = []
    for count in file_counts(settings) if counts is None else counts:
        others = count <= OTHERS_UP_TO
        with Arena(pyfakefs=count <= PYFAKEFS_UP_TO) as arena:
            top = f"{arena.root}/t"
            for side in arena.sides:
                with arena.inside(side):
                    build_tree(top, count)
            chosen = sample(count, settings)
            paths = tree_paths(top, count)
            picked = [paths[n] for n in chosen]
            mem = None
            if others:
                mem = memory_fs()
                build_fs2_tree(mem, count)
            # made once, not once per chosen path (at 1e6 files that was 2e10 steps: the
            # hours --full ran before it measured anything)
            fs2_tree = tree_paths("t", count)
            fs2_paths = [fs2_tree[n] for n in chosen]
            missing = peers_missing(count)
            for name, action, fs2_action in (
                ("os.stat, distinct paths", stat,
                 None if mem is None else (lambda p, m=mem: m.getinfo(p, ["details"]))),
                ("open('rb').read(), distinct paths", read_all,
                 None if mem is None else fs2_read_all(mem)),
            ):  # fmt: skip
                batches = {
                    side: in_side(arena, side, over_paths(
                        action, picked[: share(side, len(picked))],
                        passes(settings, share(side, len(picked))),
                    ))
                    for side in arena.sides
                }  # fmt: skip
                if fs2_action is not None:
                    batches[PYFILESYSTEM2] = over_paths(
                        fs2_action, fs2_paths, passes(settings, len(fs2_paths))
                    )
                rows.append(
                    row_from(GROUP, name, paired(batches, settings.rounds), target=AT_NATIVE,
                             axis="files", size=count, missing=missing)
                )  # fmt: skip
            if mem is not None:
                mem.close()
    return rows


def passes(settings: Settings, paths: int) -> int:
    """Passes a batch makes over ``paths`` paths: enough for LEAST_CALLS calls."""
    return max(1, -(-settings.number(LEAST_CALLS) // paths))


def scandir_entries(path: str, repeat: int) -> Callable[[], float]:
    """ns per entry of ``repeat`` passes of scandir + is_file over ``path``."""

    def measure() -> float:
        def scan() -> int:
            seen = 0
            with os.scandir(path) as entries:
                for entry in entries:
                    seen += entry.is_file()
            return seen

        started = time.perf_counter_ns()
        for _ in range(repeat):
            entries = scan()
        return (time.perf_counter_ns() - started) / (repeat * entries)

    return measure


def fs2_scandir_entries(mem: Any, path: str, repeat: int) -> Callable[[], float]:
    def measure() -> float:
        started = time.perf_counter_ns()
        for _ in range(repeat):
            entries: int = sum(info.is_file for info in mem.scandir(path))
        return (time.perf_counter_ns() - started) / (repeat * entries)

    return measure


def directory_rows(settings: Settings, sizes: list[int] | None = None) -> list[Row]:
    """scandir + is_file per entry, per directory size (``sizes``: these sizes only)."""
    rows = []
    for size in directory_sizes(settings) if sizes is None else sizes:
        others = size <= OTHERS_UP_TO
        repeat = max(1, settings.number(20_000) // size)
        with Arena(pyfakefs=size <= PYFAKEFS_UP_TO) as arena:
            path = f"{arena.root}/big"
            for side in arena.sides:
                with arena.inside(side):
                    os.mkdir(path)
                    for n in range(size):
                        with open(f"{path}/f{n}", "wb"):
                            pass
            batches = {
                side: in_side(arena, side, scandir_entries(path, share(side, repeat)))
                for side in arena.sides
            }
            mem = memory_fs() if others else None
            if mem is not None:
                mem.makedir("big")
                for n in range(size):
                    mem.create(f"big/f{n}")
                batches[PYFILESYSTEM2] = fs2_scandir_entries(mem, "big", repeat)
            missing = peers_missing(size)
            rows.append(
                row_from(GROUP, "os.scandir + is_file, per entry", paired(batches, settings.rounds),
                         target=AT_NATIVE, axis="entries", size=size, missing=missing)
            )  # fmt: skip
            if mem is not None:
                mem.close()
    return rows


def traced_bytes(make: Callable[[int], object], count: int) -> float:
    """Bytes of Python heap per file that ``make(count)`` adds to a file system that already
    holds a few files (so that its own set-up and first-use caches are not counted)."""
    tracemalloc.start()
    try:
        make(10)
        before = tracemalloc.get_traced_memory()[0]
        make(count)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / count


def memory_row(settings: Settings) -> Row:
    """Heap bytes per 100-byte file, each contender in a fresh file system per round."""
    count = settings.size(20_000, 10)  # past the backend's 4096-entry caches: the long run

    def through_real_names(root: str) -> Callable[[int], object]:
        made = itertools.count()
        os.makedirs(root)

        def make(files: int) -> None:
            for _ in range(files):
                with open(f"{root}/f{next(made)}", "wb") as file:
                    file.write(SMALL)

        return make

    def managed() -> float:
        with Arena(pyfakefs=False) as arena, arena.inside(MANAGED):
            return traced_bytes(through_real_names(arena.root + "/m"), count)

    def pyfakefs() -> float:
        with Arena() as arena, arena.inside(PYFAKEFS):
            return traced_bytes(through_real_names(arena.root + "/m"), count)

    def pyfilesystem2() -> float:
        mem = memory_fs()
        made = itertools.count()

        def make(files: int) -> None:
            for _ in range(files):
                mem.writebytes(f"f{next(made)}", SMALL)

        try:
            return traced_bytes(make, count)
        finally:
            mem.close()

    samples = paired(
        {MANAGED: managed, PYFAKEFS: pyfakefs, PYFILESYSTEM2: pyfilesystem2},
        min(settings.rounds, 3),  # the heap figure barely moves between rounds
    )
    return row_from(
        GROUP, f"memory per 100-byte file ({count} files)", samples, "B/file",
        target=Target(600, on_ratio=False),
        missing={NATIVE: "n/a (kernel memory)"},
    )  # fmt: skip


def write_read(path: str, chunks: int) -> float:
    """ns per MiB to write ``chunks`` MiB in 1 MiB writes and read them back in 1 MiB reads."""
    started = time.perf_counter_ns()
    with open(path, "wb") as file:
        for _ in range(chunks):
            file.write(CHUNK)
    with open(path, "rb") as file:
        while file.read(len(CHUNK)):
            pass
    elapsed = time.perf_counter_ns() - started
    os.unlink(path)
    return elapsed / chunks


def cpu_time(run: Callable[[], object], chunks: int) -> float:
    """CPU ns (user + system: the page faults count) per MiB of ``run``: unlike wall-clock
    time, barely moved by other work on a shared machine."""
    started = time.process_time_ns()
    run()
    return (time.process_time_ns() - started) / chunks


def fs2_write_read(mem: Any, chunks: int) -> float:
    started = time.perf_counter_ns()
    with mem.openbin("big", "w") as file:
        for _ in range(chunks):
            file.write(CHUNK)
    with mem.openbin("big") as file:
        while file.read(len(CHUNK)):
            pass
    elapsed = time.perf_counter_ns() - started
    mem.remove("big")
    return elapsed / chunks


def peak_ratio(run: Callable[[], object], mib: int) -> float:
    """The peak of traced memory while ``run`` runs, as a multiple of ``mib`` MiB."""
    tracemalloc.start()
    try:
        run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / (mib << 20)


def proc_self(name: str, data: bytes | None = None) -> bytes:
    """Read (or write ``data`` to) /proc/self/NAME through the real ``posix`` module: the
    managed side's and pyfakefs's ``open`` would look for it in their own file systems."""
    fd = posix.open(f"/proc/self/{name}", posix.O_WRONLY if data else posix.O_RDONLY)
    try:
        if data:
            posix.write(fd, data)
            return b""
        return posix.read(fd, 1 << 16)
    finally:
        posix.close(fd)


def status_kib(field: str) -> int:
    """A ``kB`` figure of /proc/self/status (VmRSS, VmHWM)."""
    for line in proc_self("status").decode().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(f"no {field} in /proc/self/status")


def peak_rss_ratio(run: Callable[[], object], mib: int) -> float:
    """How far the process's resident set grew at its peak while ``run`` ran, as a multiple
    of ``mib`` MiB (the kernel's high-water mark, reset first through /proc/self/clear_refs)."""
    proc_self("clear_refs", b"5")  # VmHWM := VmRSS (Linux >= 4.0)
    before = status_kib("VmRSS")
    run()
    return (status_kib("VmHWM") - before) * 1024 / (mib << 20)


def big_file_rows(settings: Settings) -> list[Row]:
    return [row for mib in big_sizes(settings) for row in big_file(settings, mib)]


def big_file(settings: Settings, mib: int, cpu: bool = False) -> list[Row]:
    """Time per MiB and peak traced memory for a file of ``mib`` MiB (``cpu``: and CPU time
    per MiB, paired in the same arena; benchmarks/big_file.py asks for it)."""
    others = mib <= BIG_OTHERS_UP_TO
    missing = {} if others else {PYFAKEFS: "n/a (size)", PYFILESYSTEM2: "n/a (size)"}
    with Arena(pyfakefs=others) as arena:
        path = f"{arena.root}/big"
        mem = memory_fs() if others else None
        timings = {
            side: in_side(arena, side, lambda: write_read(path, mib)) for side in arena.sides
        }
        peaks = {
            side: in_side(arena, side, lambda: peak_ratio(lambda: write_read(path, mib), mib))
            for side in arena.sides
            if side != NATIVE
        }
        resident = {
            side: in_side(arena, side, lambda: peak_rss_ratio(lambda: write_read(path, mib), mib))
            for side in arena.sides
        }
        cpu_times = {
            side: in_side(arena, side, lambda: cpu_time(lambda: write_read(path, mib), mib))
            for side in arena.sides
        }
        if mem is not None:
            cpu_times[PYFILESYSTEM2] = lambda: cpu_time(lambda: fs2_write_read(mem, mib), mib)
            timings[PYFILESYSTEM2] = lambda: fs2_write_read(mem, mib)
            peaks[PYFILESYSTEM2] = lambda: peak_ratio(lambda: fs2_write_read(mem, mib), mib)
            resident[PYFILESYSTEM2] = lambda: peak_rss_ratio(lambda: fs2_write_read(mem, mib), mib)
        rows = [
            row_from(GROUP, "write + read back in 1 MiB chunks, per MiB",
                     paired(timings, settings.rounds), target=AT_NATIVE, axis="MiB", size=mib,
                     missing=missing),
            row_from(GROUP, "peak traced memory / file size", paired(peaks, 1), "x size",
                     target=Target(1.1, on_ratio=False), axis="MiB", size=mib,
                     missing={NATIVE: "n/a (kernel memory)", **missing}),
            row_from(GROUP, "peak RSS growth / file size", paired(resident, 1), "x size",
                     target=Target(1.1, on_ratio=False), axis="MiB", size=mib, missing=missing,
                     relative=False),
        ]  # fmt: skip
        if cpu:
            rows.insert(1, row_from(GROUP, "write + read back in 1 MiB chunks, CPU per MiB",
                                    paired(cpu_times, settings.rounds), target=AT_NATIVE,
                                    axis="MiB", size=mib, missing=missing))  # fmt: skip
        if mem is not None:
            mem.close()
    return rows


def run(settings: Settings) -> Outcome:
    rows = distinct_paths(settings) + directory_rows(settings)
    rows.append(memory_row(settings))
    rows += big_file_rows(settings)
    notes = [
        f"pyfakefs is set up to {PYFAKEFS_UP_TO} files/entries, PyFilesystem2 to "
        f"{OTHERS_UP_TO}, both to {BIG_OTHERS_UP_TO} MiB; beyond that managed meets native "
        "alone",
        f"distinct paths: each batch at least {LEAST_CALLS} calls, in passes over the sample",
        "memory rows: the Python heap (tracemalloc) or the resident set's high-water mark"
        " (native's tmpfs pages are not the process's), in passes of their own; "
        "under ~4096 files the managed side's path caches add ~1 KB a file on top",
    ]
    if not settings.full:
        notes.append("--full adds 1e5 and 1e6 files, a 1e5-entry directory and a 1 GiB file")
    return Outcome(GROUP, rows, notes)


def main(argv: list[str] | None = None) -> None:
    """Measure the distinct-path rows at the tree sizes given and the scandir row at the
    directory sizes given, alone, and print their table."""
    from benchmarks import report

    parser = argparse.ArgumentParser(prog="python -m benchmarks.group_scale")
    parser.add_argument("--files", type=int, nargs="*", default=[], help="tree sizes")
    parser.add_argument("--entries", type=int, nargs="*", default=[], help="directory sizes")
    parser.add_argument("--rounds", type=int, default=7, help="paired rounds per row")
    args = parser.parse_args(argv)
    settings = Settings(rounds=args.rounds, full=True)
    started = time.perf_counter()
    rows = distinct_paths(settings, args.files) + directory_rows(settings, args.entries)
    took = f"ran {time.perf_counter() - started:.0f} s"
    print(report.table(Outcome(GROUP, rows, [took])))


if __name__ == "__main__":
    main()
