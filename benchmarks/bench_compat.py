"""How much recording a gap hit costs (a benchmark, not a test).

Run ``python benchmarks/bench_compat.py``. It prints the median nanoseconds per hit, over many
repetitions, for hits whose log line is de-duplicated away (the cost paid inside hot loops;
the target is at most 1 µs) and for first hits that are actually logged.
"""

from __future__ import annotations

import argparse
import io
import logging
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import compat

LOGGER_ROOT = "bench.compatibility"


def make_registry() -> tuple[compat.Registry, compat.Gap]:
    """Return a registry of its own (so the default one stays clean) and one gap in it."""
    registry = compat.Registry(logger_root=LOGGER_ROOT)
    gap = registry.declare(
        id="bench.open.gap",
        function="os.open",
        aspect="bench",
        level=compat.Level.FINE,
        explanation="a gap for benchmarking",
    )
    return registry, gap


def per_hit_ns(loop: Callable[[int], None], hits: int, repeats: int) -> float:
    """Return the median nanoseconds per hit of ``loop(hits)`` over ``repeats`` runs."""
    loop(hits)  # warm the caches
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        loop(hits)
        samples.append((time.perf_counter_ns() - start) / hits)
    return statistics.median(samples)


def empty_loop(hits: int) -> None:
    """The loop alone, to show what the measurements include."""
    for _ in range(hits):
        pass


def no_op() -> None:
    """Stands in for ``gap.hit`` to measure the library frames alone."""


def bare_hits(gap: compat.Gap) -> Callable[[int], None]:
    """Hits without details from one call site."""

    def loop(hits: int) -> None:
        hit = gap.hit
        for _ in range(hits):
            hit()

    return loop


def detailed_hits(gap: compat.Gap) -> Callable[[int], None]:
    """Hits with a path and an fd, as the emulated backend records them."""

    def loop(hits: int) -> None:
        hit = gap.hit
        for number in range(hits):
            hit(path="/data/file.txt", fd=number)

    return loop


def by_id_hits(registry: compat.Registry) -> Callable[[int], None]:
    """Hits through ``Registry.hit`` with the gap's id."""

    def loop(hits: int) -> None:
        for _ in range(hits):
            registry.hit("bench.open.gap")

    return loop


def nested_hits(
    registry: compat.Registry, hit: Callable[[], None], depth: int
) -> Callable[[int], None]:
    """Calls of ``hit`` made ``depth`` frames of a (simulated, registered) library down."""
    library = Path("/bench-library")
    registry.add_internal_path(library)
    namespace: dict[str, object] = {"hit": hit}
    source = "def level0():\n    hit()\n" + "".join(
        f"def level{n}():\n    level{n - 1}()\n" for n in range(1, depth)
    )
    exec(compile(source, str(library / "library.py"), "exec"), namespace)
    top = namespace[f"level{depth - 1}"]
    assert callable(top)

    def loop(hits: int) -> None:
        for _ in range(hits):
            top()

    return loop


def first_hit_ns(registry: compat.Registry, gap: compat.Gap, repeats: int) -> float:
    """Return the median cost of a hit that is logged (reset before each one)."""
    samples = []
    for _ in range(repeats):
        registry.reset()
        start = time.perf_counter_ns()
        gap.hit(path="/data/file.txt", fd=3)
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hits", type=int, default=20_000, help="hits per repetition")
    parser.add_argument("--repeats", type=int, default=51, help="repetitions per measurement")
    options = parser.parse_args()
    registry, gap = make_registry()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger(LOGGER_ROOT).addHandler(handler)
    logging.getLogger(LOGGER_ROOT).propagate = False

    def measure(label: str, loop: Callable[[int], None]) -> None:
        registry.reset()
        ns = per_hit_ns(loop, options.hits, options.repeats)
        print(f"  {label:<58} {ns:8.0f} ns/hit")

    print(
        f"Python {platform.python_version()} on {platform.machine()}; "
        f"median of {options.repeats} x {options.hits} hits"
    )
    measure("empty loop (overhead included below)", empty_loop)
    print("logging off (level WARNING), dedupe=site:")
    registry.configure(level="WARNING", dedupe="site")
    measure("gap.hit() without details", bare_hits(gap))
    measure("gap.hit(path=..., fd=...) (examples full)", detailed_hits(gap))
    measure("registry.hit('id')", by_id_hits(registry))
    measure("5 library frames calling a no-op (baseline)", nested_hits(registry, no_op, 5))
    measure("gap.hit() under 5 library frames", nested_hits(registry, gap.hit, 5))
    print("logging on (level FINE), already logged, dedupe=site:")
    registry.configure(level="FINE")
    measure("gap.hit() without details", bare_hits(gap))
    measure("gap.hit(path=..., fd=...) (examples full)", detailed_hits(gap))
    measure("gap.hit() under 5 library frames", nested_hits(registry, gap.hit, 5))
    print("logging on (level FINE), dedupe=gap:")
    registry.configure(dedupe="gap")
    measure("gap.hit() without details", bare_hits(gap))
    registry.configure(dedupe="site")
    ns = first_hit_ns(registry, gap, options.repeats * 20)
    print(f"first (logged) hit, formatted to a StringIO handler: {ns:8.0f} ns")
    logged_lines = stream.getvalue().count("\n")
    print(f"(log lines written during the run: {logged_lines})")


if __name__ == "__main__":
    main()
