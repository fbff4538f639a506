"""What importing from the virtual file system costs (issue 18).

Printed as medians of interleaved rounds (nothing is asserted):

- 200 small modules imported from a directory: natively from the host's disk (a temporary
  directory), and inside ``backend('managed')`` from its memory file system, cold (no
  bytecode yet: compiled and ``__pycache__`` written) and warm (bytecode there); the target is
  <= 1.3x native. pyfakefs and PyFilesystem2 cannot import from their file systems at all
  (pyfakefs documents it as a limit), so they have no column.
- the standard library imported inside a block vs outside one (a set of pure-Python modules
  taken out of ``sys.modules`` and imported again): the target is no slower. A round takes
  about 2.5 ms, and the garbage collections that land in it (none, one or two, as the
  allocations before leave the counter) about 0.2 ms each, so it runs STDLIB_ROUNDS times as
  many rounds: over 11, the ratio of ten runs in a row spread from 0.87x to 1.08x; over 44,
  within about 1%.

Run: ``python -m benchmarks.bench_imports [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import posixbackend

COUNT = 200
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


def import_all(directory: str, names: list[str]) -> float:
    """Import ``names`` from ``directory``; the wall time; leaves sys.modules as it was."""
    sys.path.insert(0, directory)
    importlib.invalidate_caches()
    try:
        started = time.perf_counter()
        for name in names:
            importlib.import_module(name)
        return time.perf_counter() - started
    finally:
        sys.path.remove(directory)
        sys.path_importer_cache.pop(directory, None)
        for name in names:
            sys.modules.pop(name, None)


def native_round(warm: bool) -> float:
    directory = tempfile.mkdtemp(prefix="bench-imports-")
    try:
        names = write_modules(directory, "n")
        if warm:
            import_all(directory, names)
        return import_all(directory, names)
    finally:
        shutil.rmtree(directory)


def managed_round(warm: bool) -> float:
    with posixbackend.backend("managed"):
        directory = tempfile.mkdtemp(prefix="bench-imports-")
        names = write_modules(directory, "m")
        if warm:
            import_all(directory, names)
        return import_all(directory, names)


def stdlib_round(inside: bool) -> float:
    for name in STDLIB:
        sys.modules.pop(name, None)
    sink = open(os.devnull, "w")  # noqa: SIM115 - `this` prints the Zen
    saved, sys.stdout = sys.stdout, sink
    try:
        if inside:
            with posixbackend.backend("managed"):
                started = time.perf_counter()
                for name in STDLIB:
                    importlib.import_module(name)
                return time.perf_counter() - started
        started = time.perf_counter()
        for name in STDLIB:
            importlib.import_module(name)
        return time.perf_counter() - started
    finally:
        sys.stdout = saved
        sink.close()


def paired(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Median wall time of each contender over interleaved rounds."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            times[name].append(call())
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    arguments = parser.parse_args()
    rounds = 3 if arguments.quick else 11
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        modules = paired({
            "native cold": lambda: native_round(False),
            "managed cold": lambda: managed_round(False),
            "native warm": lambda: native_round(True),
            "managed warm": lambda: managed_round(True),
        }, rounds)  # fmt: skip
        stdlib = paired(
            {"outside": lambda: stdlib_round(False), "inside": lambda: stdlib_round(True)},
            rounds * STDLIB_ROUNDS,
        )
    finally:
        sys.dont_write_bytecode = dont_write
    print(f"{COUNT} small modules, per module (pyfakefs, PyFilesystem2: cannot import)")
    for kind in ("cold", "warm"):
        native, managed = modules[f"native {kind}"], modules[f"managed {kind}"]
        print(
            f"  {kind}: native {native / COUNT * 1e6:7.1f} us   managed memory "
            f"{managed / COUNT * 1e6:7.1f} us   ratio {managed / native:.2f}x (target <= 1.3x)"
        )
    print(
        f"standard library ({len(STDLIB)} modules): outside a block "
        f"{stdlib['outside'] * 1e3:.2f} ms, inside {stdlib['inside'] * 1e3:.2f} ms, "
        f"ratio {stdlib['inside'] / stdlib['outside']:.2f}x (target <= 1.0x)"
    )


if __name__ == "__main__":
    main()
