"""What importing from the virtual file system costs (issue 18).

Printed as medians of interleaved rounds (nothing is asserted):

- 200 small modules imported from a directory: natively from the host's disk (a temporary
  directory), and inside ``backend('managed')`` from its memory file system (one default file
  system, entered anew each round), cold (no bytecode yet: compiled and ``__pycache__``
  written; the directory's ``__pycache__`` removed, untimed, before each round) and warm
  (bytecode there). The two sides run in pairs, the one going first alternating, each round
  timed in this thread's CPU time (another process's load does not count) after a garbage
  collection, with the finders' caches invalidated as a first import from the directory
  finds them; printed: each side's median per module, the median of the per-pair ratios with
  their quartiles and range, and the wall-time ratio. The target is <= 1.3x native.
  Native's cold rounds write bytecode into the directory's file system: on a disk's ext4
  their CPU time moved from about 120 to 290 us per module from one run to the next (the
  pairs of one run within a few percent), on a tmpfs (``--native-dir /dev/shm``) about 115 us.
  So the cold target is judged against the tmpfs, the steady native (and the one the memory
  file system stands for); the default directory's cold ratio says little from run to run.
  pyfakefs and PyFilesystem2 cannot import from their file systems at all (pyfakefs
  documents it as a limit), so they have no column.
- the standard library imported inside a block vs outside one (a set of pure-Python modules
  taken out of ``sys.modules`` and imported again, inside a new default block each round):
  the target is no slower. Paired as the small modules are (the side going first
  alternating, this thread's CPU time, the garbage collected just before each timed part, so
  the collections landing in a round are its own: in wall time over 11 unpaired rounds, the
  ones landing or not moved the ratio between 0.87x and 1.08x from run to run); printed: the
  median per-pair ratio with its quartiles and range, and the wall-time ratio.

Run: ``python -m benchmarks.bench_imports [--quick] [--native-dir DIR]`` (DIR: where native's
modules are, e.g. /dev/shm for a tmpfs; by default the temporary directory).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import shutil
import statistics
import sys
import tempfile
import time

import posixbackend
from benchmarks.harness import Spread
from posixbackend.defaultfs import default_file_system
from vfs import FileSystem

COUNT = 200
MODULE_ROUNDS = 4
"""The small modules' pairs, as a multiple of the rounds (see above)."""
STDLIB_ROUNDS = 4
"""The standard library's rounds, as a multiple of the small modules' (see above)."""
STDLIB = ("colorsys", "keyword", "shlex", "textwrap", "fnmatch", "glob", "difflib", "pprint",
          "string", "calendar", "netrc", "mailcap", "sched", "graphlib", "this")  # fmt: skip


def write_modules(directory: str, tag: str) -> list[str]:
    """COUNT small modules in ``directory``; their names."""
    os.makedirs(directory, exist_ok=True)
    names = [f"bench_{tag}_{number}" for number in range(COUNT)]
    for name in names:
        with open(os.path.join(directory, name + ".py"), "w") as file:
            file.write(f"VALUE = {name!r}\n\ndef double(x):\n    return 2 * x\n")
    return names


def import_all(directory: str, names: list[str]) -> tuple[int, int]:
    """Import ``names`` from ``directory``, the garbage collected just before: (this thread's
    CPU time, wall time) in ns. Leaves sys.path, its importer cache and sys.modules as they
    were, and starts with the finders' caches invalidated (one fresh listing of the directory
    per round on either side, as a first import from it makes)."""
    sys.path.insert(0, directory)
    importlib.invalidate_caches()
    gc.collect()  # each side starts with nothing to collect (the ones in the round count)
    try:
        cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
        for name in names:
            importlib.import_module(name)
        return time.thread_time_ns() - cpu, time.perf_counter_ns() - wall
    finally:
        sys.path.remove(directory)
        sys.path_importer_cache.pop(directory, None)
        for name in names:
            sys.modules.pop(name, None)


class Side:
    """One contender's directory of modules: on the host's disk, or in one managed file
    system entered anew for each round (the blocks' backends share that file system)."""

    def __init__(self, managed: bool, parent: str | None = None) -> None:
        self.managed = managed
        self.file_system: FileSystem | None = None
        self.cwd: str | None = None
        if managed:
            self.file_system, self.cwd = default_file_system()
        with self.block():  # (managed: /tmp, whatever tempfile took for the native side)
            where = "/tmp" if managed else parent
            self.directory = tempfile.mkdtemp(prefix="bench-imports-", dir=where)
            self.names = write_modules(self.directory, "m" if managed else "n")

    def block(self) -> contextlib.AbstractContextManager[object]:
        """The managed block around this side's work (none for native)."""
        if not self.managed:
            return contextlib.nullcontext()
        return posixbackend.backend("managed", file_system=self.file_system, cwd=self.cwd)

    def round(self, warm: bool) -> tuple[int, int]:
        """One timed import of every module: warm with the bytecode written by the round
        before (or the warm-up), cold with ``__pycache__`` removed first (untimed)."""
        with self.block():
            if not warm:
                shutil.rmtree(os.path.join(self.directory, "__pycache__"), ignore_errors=True)
            return import_all(self.directory, self.names)

    def remove(self) -> None:
        with self.block():
            shutil.rmtree(self.directory)


Pair = tuple[tuple[int, int], tuple[int, int]]
"""(native, managed) of one round, each (CPU ns, wall ns) of the whole import loop."""


def paired_rounds(sides: tuple[Side, Side], warm: bool, rounds: int) -> list[Pair]:
    """(native, managed) samples of ``rounds`` pairs, the side going first alternating,
    after a pair that is thrown away (it writes the bytecode a warm round reads)."""
    pairs = []
    for number in range(rounds + 1):
        order = sides if number % 2 else sides[::-1]
        samples = {side.managed: side.round(warm) for side in order}
        if number:
            pairs.append((samples[False], samples[True]))
    return pairs


def summary(kind: str, pairs: list[Pair]) -> str:
    """The line of one kind of round: the medians per module of each side in CPU time, the
    median of the per-pair CPU ratios with its quartiles and range, and the wall ratio."""
    cpu = Spread.of([managed[0] / native[0] for native, managed in pairs])
    wall = statistics.median(managed[1] / native[1] for native, managed in pairs)
    native_us = statistics.median(native[0] for native, _ in pairs) / COUNT / 1e3
    managed_us = statistics.median(managed[0] for _, managed in pairs) / COUNT / 1e3
    return (
        f"  {kind}: native {native_us:6.1f} us   managed memory {managed_us:6.1f} us   "
        f"ratio {cpu.median:.2f}x (quartiles {cpu.q1:.2f}-{cpu.q3:.2f}, range "
        f"{cpu.low:.2f}-{cpu.high:.2f}; wall {wall:.2f}x)   target <= 1.3x"
    )


def stdlib_round(inside: bool) -> tuple[int, int]:
    """One timed import of the STDLIB modules (taken out of ``sys.modules`` first), inside a
    new default managed block or outside any: (this thread's CPU time, wall time) in ns. The
    garbage is collected just before the timed part on either side (inside: after the block
    was entered), so the collections that land in it are the imports' own."""
    for name in STDLIB:
        sys.modules.pop(name, None)
    sink = open(os.devnull, "w")  # noqa: SIM115 - `this` prints the Zen
    saved, sys.stdout = sys.stdout, sink
    try:
        with posixbackend.backend("managed") if inside else contextlib.nullcontext():
            gc.collect()
            cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
            for name in STDLIB:
                importlib.import_module(name)
            return time.thread_time_ns() - cpu, time.perf_counter_ns() - wall
    finally:
        sys.stdout = saved
        sink.close()


def stdlib_pairs(rounds: int) -> list[Pair]:
    """(outside, inside) samples of ``rounds`` pairs, the side going first alternating,
    after a pair that is thrown away."""
    pairs = []
    for number in range(rounds + 1):
        order = (False, True) if number % 2 else (True, False)
        samples = {inside: stdlib_round(inside) for inside in order}
        if number:
            pairs.append((samples[False], samples[True]))
    return pairs


def stdlib_summary(pairs: list[Pair]) -> str:
    """The standard library's line: each side's median CPU time per round, the median of the
    per-pair CPU ratios with its quartiles and range, and the wall ratio."""
    cpu = Spread.of([inside[0] / outside[0] for outside, inside in pairs])
    wall = statistics.median(inside[1] / outside[1] for outside, inside in pairs)
    outside_ms = statistics.median(outside[0] for outside, _ in pairs) / 1e6
    inside_ms = statistics.median(inside[0] for _, inside in pairs) / 1e6
    return (
        f"standard library ({len(STDLIB)} modules), {len(pairs)} pairs, this thread's CPU time: "
        f"outside a block {outside_ms:.2f} ms, inside {inside_ms:.2f} ms, ratio {cpu.median:.2f}x "
        f"(quartiles {cpu.q1:.2f}-{cpu.q3:.2f}, range {cpu.low:.2f}-{cpu.high:.2f}; wall "
        f"{wall:.2f}x)   target <= 1.0x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument(
        "--native-dir",
        metavar="DIR",
        help="where the native side's modules are written (default: the temporary directory; "
        "its file system's cost of writing bytecode is part of native's cold rounds)",
    )
    arguments = parser.parse_args()
    rounds = 3 if arguments.quick else 11
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    sides = (Side(managed=False, parent=arguments.native_dir), Side(managed=True))
    try:
        modules = {
            kind: paired_rounds(sides, kind == "warm", rounds * MODULE_ROUNDS)
            for kind in ("cold", "warm")
        }
        stdlib = stdlib_pairs(rounds * STDLIB_ROUNDS)
    finally:
        sys.dont_write_bytecode = dont_write
        for side in sides:
            side.remove()
    print(
        f"{COUNT} small modules, per module, {rounds * MODULE_ROUNDS} pairs: this thread's CPU "
        "time (pyfakefs, PyFilesystem2: cannot import)"
    )
    for kind, pairs in modules.items():
        print(summary(kind, pairs))
    print(stdlib_summary(stdlib))

if __name__ == "__main__":
    main()
