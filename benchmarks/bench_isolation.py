"""The isolated mode's costs: ``run_isolated`` of a trivial program (wall time, median; target:
no slower than before the result channel became a socket, about 0.165 s), and the parent's
peak memory for a result of one big file and of many small files, each measured in a fresh
interpreter (target: at most 1.2x the files' size).

Run: ``python -m benchmarks.bench_isolation [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
import time

from posixbackend.isolation import run_isolated

MEASURE = textwrap.dedent(
    """\
    import json, resource, sys, time
    from posixbackend.isolation import Limits, run_isolated
    limits = Limits(memory_bytes=2 << 30, file_size_bytes=None, wall_seconds=300,
                    cpu_seconds=120)
    run_isolated("pass")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = run_isolated(sys.argv[1], limits=limits)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert result.ok, result
    size = sum({id(data): len(data) for data in result.files.values()}.values())
    print(json.dumps({"growth": (after - before) * 1024, "size": size, "seconds": seconds}))
    """
)

RESULTS = {
    "one 500 MiB file": (
        "with open('/tmp/big', 'wb') as out:\n"
        "    for _ in range(500): out.write(b'x' * (1 << 20))\n"
    ),
    "20000 files of 4 KiB": (
        "import os\nos.mkdir('/tmp/d')\n"
        "for n in range(20000): open(f'/tmp/d/f{n}', 'wb').write(b'y' * 4096)\n"
    ),
}


def trivial_seconds(repeat: int) -> float:
    """The median wall time of ``run_isolated("pass")`` over ``repeat`` runs (one warm-up)."""
    run_isolated("pass")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run_isolated("pass")
        times.append(time.perf_counter() - started)
        assert result.ok, result.summary()
    return statistics.median(times)


def parent_memory(code: str) -> dict[str, float]:
    """How much the parent's peak RSS grew for the result of ``code``, and the files' size."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, code], capture_output=True, check=True, timeout=600
    )
    measured: dict[str, float] = json.loads(done.stdout)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, no memory")
    arguments = parser.parse_args()
    repeat = 5 if arguments.quick else 20
    print(f"run_isolated('pass'): {trivial_seconds(repeat) * 1000:.1f} ms (median of {repeat})")
    if arguments.quick:
        return
    for name, code in RESULTS.items():
        measured = parent_memory(code)
        ratio = measured["growth"] / measured["size"]
        print(f"parent peak memory for {name}: {measured['growth'] / 2**20:.0f} MiB, "
              f"{ratio:.2f}x the files, in {measured['seconds']:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
