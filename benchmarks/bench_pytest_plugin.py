"""The pytest plugin's cost: 500 trivial tests with ``managed_fs``, with pyfakefs's ``fs``, and
with no fake file system, each run by pytest in a fresh process (median of a few runs).

Printed, for wall time and for CPU time (user + system, steadier on a busy machine): each
run's median; the per-test set-up + tear-down of each fixture (its run's time less the plain
run's, over the number of tests); pyfakefs's per-test cost over ours (issue 19's target:
>= 20x) and our whole run over the plain one (target: <= 1.2x). Then the stand-ins'
cost on a native ``os.stat`` once no block is active (target: <= 0.1 us, or nothing when they
are parked): measured before any block and after one, in one process.

Run: ``python -m benchmarks.bench_pytest_plugin [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import timeit

TESTS = 500
FIXTURES = {
    "none": "",
    "managed_fs": "managed_fs",
    "pyfakefs fs": "fs",
}


def write_tests(directory: str, fixture: str) -> str:
    """A test module of TESTS trivial tests taking ``fixture`` (none when empty)."""
    path = os.path.join(directory, f"test_{fixture or 'none'}.py")
    argument = f"{fixture}, " if fixture else ""
    with open(path, "w") as file:
        file.write(
            textwrap.dedent(
                f"""
                import pytest

                @pytest.mark.parametrize("number", range({TESTS}))
                def test_trivial({argument}number):
                    assert number >= 0
                """
            )
        )
    return path


def run_pytest(path: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one pytest process running ``path`` (the CPU
    time is the steadier figure on a machine that other work keeps busy)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=os.path.dirname(path),
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def native_stat_cost() -> tuple[float, float, bool]:
    """os.stat's time (us) before any block and after one, and whether os.stat is the real
    function again after it."""
    import posix

    import posixbackend
    from vfs import MemoryFileSystem

    def measure() -> float:
        return min(timeit.repeat(lambda: os.stat("/"), number=20_000, repeat=7)) / 20_000 * 1e6

    before = measure()
    with posixbackend.backend("managed", file_system=MemoryFileSystem()):
        pass
    after = measure()
    return before, after, os.stat is posix.stat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each")
    rounds = 1 if parser.parse_args().quick else 5
    times: dict[str, list[float]] = {name: [] for name in FIXTURES}
    cpu_times: dict[str, list[float]] = {name: [] for name in FIXTURES}
    with tempfile.TemporaryDirectory(prefix="bench-plugin-") as directory:
        paths = {name: write_tests(directory, fixture) for name, fixture in FIXTURES.items()}
        for _ in range(rounds):
            for name, path in paths.items():  # interleaved: a busy moment hits all of them
                wall, cpu = run_pytest(path)
                times[name].append(wall)
                cpu_times[name].append(cpu)
    print(f"{TESTS} trivial tests, pytest in a fresh process, median of {rounds}:")
    for label, measured in (("wall time", times), ("CPU time", cpu_times)):
        median = {name: statistics.median(values) for name, values in measured.items()}
        print(f"{label}:")
        for name, seconds in median.items():
            print(f"  {name:12} {seconds:7.3f} s")
        ours = (median["managed_fs"] - median["none"]) / TESTS * 1e6
        theirs = (median["pyfakefs fs"] - median["none"]) / TESTS * 1e6
        print(
            f"  per-test set-up + tear-down: managed_fs {ours:8.1f} us, "
            f"pyfakefs fs {theirs:8.1f} us"
        )
        faster = theirs / ours if ours > 0 else float("inf")
        print(f"  pyfakefs / managed_fs: {faster:.1f}x (target >= 20x)")
        whole = median["managed_fs"] / median["none"]
        print(f"  managed_fs run / plain run: {whole:.2f}x (target <= 1.2x)")
    before, after, real = native_stat_cost()
    print(
        f"native os.stat: {before:.3f} us before any block, {after:.3f} us after one "
        f"(difference {after - before:+.3f} us, target <= 0.1 us; "
        f"os.stat is {'the real function again' if real else 'still a stand-in'})"
    )


if __name__ == "__main__":
    main()
