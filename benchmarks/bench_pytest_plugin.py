"""The pytest plugin's cost: 500 trivial tests with ``managed_fs``, with pyfakefs's ``fs``, and
with no fake file system, each run by pytest in a fresh process (median of a few runs).

Printed, for wall time and for CPU time (user + system, steadier on a busy machine), or with
``--callgrind`` for instructions (valgrind's count: the same on a busy machine, one run each):
each run's figure; the per-test set-up + tear-down of each fixture (its run's figure less the
plain run's, over the number of tests, so a fixture's one-time cost is in it); pyfakefs's
per-test cost over ours (issue 19's target: >= 20x) and our whole run over the plain one
(target: <= 1.2x). Reference rows give pytest's own per-test charge for a fixture that does
nothing (a generator taking ``request``, a plain return, one with ``request.addfinalizer``):
no fixture can cost less, so pyfakefs's cost over that floor bounds the ratio any fixture can
reach. Then the stand-ins' cost on a native ``os.stat`` once no block is active (target:
<= 0.1 us, or nothing when they are parked): measured before any block and after one, in one
process.

The runs write bytecode caches (PYTHONDONTWRITEBYTECODE is left out of their environment)
and an unmeasured first round fills them: a user's runs find the library, pyfakefs and
pytest's rewritten plugins compiled, so compiling them is no fixture's cost (``--quick``, a
smoke run of the benchmark, leaves that round out: its figures are not for reading).

Run: ``python -m benchmarks.bench_pytest_plugin [--quick] [--callgrind] [--tests N]``
(``--tests``: fewer tests per run, for a smoke run of the benchmark itself).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import timeit

TESTS = 500
"""Tests per run (``--tests`` changes it)."""
FIXTURES = {
    "none": "",
    "managed_fs": "managed_fs",
    "pyfakefs fs": "fs",
    "empty yield": "empty_yield",
    "empty return": "empty_return",
    "addfinalizer": "empty_finalizer",
}
"""Each run's fixture (the last three: pytest's floor, fixtures that do nothing)."""
FLOOR = ("empty yield", "empty return", "addfinalizer")


def write_tests(directory: str, fixture: str, tests: int = TESTS) -> str:
    """A test module of ``tests`` trivial tests taking ``fixture`` (none when empty)."""
    path = os.path.join(directory, f"test_{fixture or 'none'}.py")
    argument = f"{fixture}, " if fixture else ""
    with open(path, "w") as file:
        file.write(  # every module defines the floor's fixtures: the same collection cost
            textwrap.dedent(
                f"""
                import pytest

                @pytest.fixture
                def empty_yield(request):
                    yield None

                @pytest.fixture
                def empty_return(request):
                    return None

                @pytest.fixture
                def empty_finalizer(request):
                    request.addfinalizer(_nothing)

                def _nothing():
                    pass

                @pytest.mark.parametrize("number", range({tests}))
                def test_trivial({argument}number):
                    assert number >= 0
                """
            )
        )
    return path


def pytest_command(path: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path]


def environment() -> dict[str, str]:
    """This process's environment, with bytecode caches written (see the module docstring)
    and a fixed hash seed (the same work in every run)."""
    variables = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    variables["PYTHONHASHSEED"] = "0"
    return variables


def run_pytest(path: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one pytest process running ``path`` (the CPU
    time is the steadier figure on a machine that other work keeps busy)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        pytest_command(path),
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=os.path.dirname(path),
        env=environment(),
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def count_instructions(path: str) -> float:
    """The instructions one pytest process running ``path`` executes, as valgrind's callgrind
    counts them (the machine's load changes nothing)."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *pytest_command(path)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(path),
        env=environment(),
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in callgrind's output: {done.stderr[-500:]}")
    return float(found.group(1))


def report(
    label: str,
    median: dict[str, float],
    run_unit: tuple[str, float],
    test_unit: tuple[str, float],
    tests: int = TESTS,
) -> None:
    """One measure's rows: each run, the per-test costs, pytest's floor and the targets
    (a unit is its name and what a figure is multiplied by to be in it)."""
    print(f"{label}:")
    for name, value in median.items():
        print(f"  {name:14} {value * run_unit[1]:10.3f} {run_unit[0]}")
    per_test = {name: (value - median["none"]) / tests for name, value in median.items()}
    ours, theirs = per_test["managed_fs"], per_test["pyfakefs fs"]
    unit, scale = test_unit
    print(
        f"  per-test set-up + tear-down: managed_fs {ours * scale:8.3f} {unit}, "
        f"pyfakefs fs {theirs * scale:8.3f} {unit}"
    )
    for name in FLOOR:
        floor = per_test[name]
        # pyfakefs's cost over the floor: the most that any fixture of that kind can reach
        reachable = f"{theirs / floor:.1f}x" if floor > 0 else "n/a (within the noise)"
        print(
            f"  floor, {name + ':':14} {floor * scale:8.3f} {unit} per test "
            f"(pyfakefs over it: {reachable})"
        )
    faster = theirs / ours if ours > 0 else float("inf")
    print(f"  pyfakefs / managed_fs: {faster:.1f}x (target >= 20x)")
    whole = median["managed_fs"] / median["none"]
    print(f"  managed_fs run / plain run: {whole:.2f}x (target <= 1.2x)")


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
    parser.add_argument(
        "--quick", action="store_true", help="one run of each, no unmeasured first round"
    )
    parser.add_argument(
        "--callgrind", action="store_true", help="count instructions with valgrind (one run each)"
    )
    parser.add_argument("--tests", type=int, default=TESTS, help="tests per run")
    arguments = parser.parse_args()
    rounds = 1 if arguments.quick or arguments.callgrind else 5
    times: dict[str, list[float]] = {name: [] for name in FIXTURES}
    cpu_times: dict[str, list[float]] = {name: [] for name in FIXTURES}
    instructions: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-plugin-") as directory:
        paths = {
            name: write_tests(directory, fixture, arguments.tests)
            for name, fixture in FIXTURES.items()
        }
        for path in paths.values() if not arguments.quick else ():
            run_pytest(path)  # unmeasured: fills the bytecode caches
        for _ in range(rounds):
            for name, path in paths.items():  # interleaved: a busy moment hits all of them
                if arguments.callgrind:
                    instructions[name] = count_instructions(path)
                    continue
                wall, cpu = run_pytest(path)
                times[name].append(wall)
                cpu_times[name].append(cpu)
    if arguments.callgrind:
        print(f"{arguments.tests} trivial tests, pytest in a fresh process under callgrind:")
        report("instructions", instructions, ("G instructions", 1e-9), ("M instructions", 1e-6),
               arguments.tests)  # fmt: skip
    else:
        print(f"{arguments.tests} trivial tests, pytest in a fresh process, median of {rounds}:")
        for label, measured in (("wall time", times), ("CPU time", cpu_times)):
            median = {name: statistics.median(values) for name, values in measured.items()}
            report(label, median, ("s", 1.0), ("us", 1e6), arguments.tests)
    before, after, real = native_stat_cost()
    print(
        f"native os.stat: {before:.3f} us before any block, {after:.3f} us after one "
        f"(difference {after - before:+.3f} us, target <= 0.1 us; "
        f"os.stat is {'the real function again' if real else 'still a stand-in'})"
    )


if __name__ == "__main__":
    main()
