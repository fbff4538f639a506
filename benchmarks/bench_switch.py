"""The switch's costs, beside pyfakefs's, in one run.

- entering and leaving ``with backend('managed', file_system=fs)`` (target: at most 20 µs),
  against pyfakefs's Patcher set up and torn down (cached after the first, and the first);
- what the installed stand-ins add to a native ``os.stat`` (target: at most 0.3 µs);
- ``os.stat`` through the switch on a MemoryFileSystem against native ``os.stat`` of the same
  path on the host (target: at most 1.0x).

Run: ``python -m benchmarks.bench_switch [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import posix
import shutil
import tempfile
import time

from benchmarks.bench_vfs import median_ns
from posixbackend import backend, install, uninstall
from vfs import Identity, MemoryFileSystem

DEEP = "/a/b/c/d/e"


def enter_leave_ns(number: int, repeat: int) -> float:
    fs = MemoryFileSystem(identity=Identity.root())

    def block() -> None:
        with backend("managed", file_system=fs):
            pass

    return median_ns(block, number, repeat)


def pyfakefs_ns(repeat: int) -> tuple[float, float]:
    """(first Patcher setUp+tearDown, median of the later ones) in ns."""
    from pyfakefs.fake_filesystem_unittest import Patcher

    def once() -> float:
        start = time.perf_counter_ns()
        with Patcher():
            pass
        return float(time.perf_counter_ns() - start)

    cold = once()
    warm = sorted(once() for _ in range(repeat))
    return cold, warm[len(warm) // 2]


def stat_costs(number: int, repeat: int) -> tuple[float, float, float]:
    """(real posix.stat, os.stat through the installed stand-in natively, managed os.stat)."""
    root = tempfile.mkdtemp(prefix="bench-switch-")
    try:
        os.makedirs(root + DEEP)
        path = root + DEEP + "/f"
        with open(path, "wb"):
            pass
        real = median_ns(lambda: posix.stat(path), number, repeat)
        install()
        stand_in = median_ns(lambda: os.stat(path), number, repeat)
        fs = MemoryFileSystem(identity=Identity.root())
        with backend("managed", file_system=fs):
            os.makedirs(DEEP)
            with open(DEEP + "/f", "wb"):
                pass
            managed = median_ns(lambda: os.stat(DEEP + "/f"), number, repeat)
        return real, stand_in, managed
    finally:
        uninstall()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args()
    number, repeat = (200, 5) if args.quick else (5000, 25)
    real, stand_in, managed = stat_costs(number, repeat)
    enter = enter_leave_ns(number // 10 or 1, repeat)
    cold, warm = pyfakefs_ns(3 if args.quick else 15)
    extra = stand_in - real
    print(f"enter+leave backend('managed', file_system=fs): {enter / 1000:8.2f} µs")
    print(f"pyfakefs Patcher setUp+tearDown, first:         {cold / 1000:8.1f} µs")
    print(f"pyfakefs Patcher setUp+tearDown, later:         {warm / 1000:8.1f} µs")
    print(f"native os.stat, real posix.stat:                {real:8.0f} ns")
    print(f"native os.stat through the installed stand-in:  {stand_in:8.0f} ns (+{extra:.0f} ns)")
    ratio = managed / real
    print(f"managed os.stat on MemoryFileSystem:            {managed:8.0f} ns ({ratio:.2f}x)")
    print("\ntargets:")
    for label, ok in (
        (f"enter+leave {enter / 1000:.2f} µs <= 20 µs", enter <= 20_000),
        (f"stand-in adds {extra / 1000:.3f} µs <= 0.3 µs", extra <= 300),
        (f"managed stat {managed / real:.2f}x <= 1.0x native", managed <= real),
    ):
        print(f"  {label}: {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
