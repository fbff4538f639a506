"""Start-up time (issue 20, item 4): what ``import posixbackend`` and the launchers add to python's.

Runs, as new processes with warm bytecode caches, ``python -c pass`` (the reference),
``python -c 'import posixbackend'``, ``posixbackend-managed --fs=memory -c pass`` (which
starts lazily: see :mod:`posixbackend.launcher.lazystart`; and the same started eagerly, run
through ``env``) and ``posixbackend -c pass`` in paired, interleaved rounds (each round runs
every command once, in alternating order, so a busy machine slows all alike) and prints each
one's median wall time, its median ratio to the reference's time of the same round, the
spread of that ratio (quartiles), the ratio of the CPU time the process used (user + system:
steadier than wall time on a machine others share) and the issue's target. Nothing is
asserted. The bytecode caches are written by a first run of each command
(``PYTHONDONTWRITEBYTECODE`` removed).

``--breakdown`` measures instead what each layer adds, as ``python -c 'import X'`` for the
layers switching builds on (attrs, compat, vfs, the emulated backend, the switch), then the
stand-ins installed and a block entered: where the floor of the targets lies. Its first row,
``python -S -c pass``, is the interpreter without ``site``: the reference minus what this
environment's ``.pth`` files import at every start (an editable install's finder imports
``pathlib``, ``re`` and ``importlib.util``, which a regular install's start-up does not).

Run: ``python -m benchmarks.bench_startup [--quick] [--rounds N] [--breakdown] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

REFERENCE = "python -c pass"
BIN = os.path.dirname(sys.executable)


def _script(name: str) -> str:
    """A console script of this environment (next to the interpreter, else on PATH)."""
    beside = os.path.join(BIN, name)
    if os.path.exists(beside):
        return beside
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"bench_startup: no {name} script (is the project installed?)")
    return found


EAGER_MANAGED = ("env", "POSIXBACKEND_EAGER_START=1", "posixbackend-managed", "--fs=memory",
                 "-c", "pass")  # fmt: skip
"""The managed launcher built before its program (the script's path is put in at run)."""


def commands() -> dict[str, tuple[tuple[str, ...], float | None]]:
    """Name -> (argv, target ratio to the reference or None)."""
    return {
        REFERENCE: ((sys.executable, "-c", "pass"), None),
        "python -c 'import posixbackend'": ((sys.executable, "-c", "import posixbackend"), 1.8),
        "posixbackend-managed --fs=memory -c pass": (
            (_script("posixbackend-managed"), "--fs=memory", "-c", "pass"),
            1.5,
        ),
        "  the same, eager (POSIXBACKEND_EAGER_START=1)": (
            (*EAGER_MANAGED[:2], _script(EAGER_MANAGED[2]), *EAGER_MANAGED[3:]),
            None,
        ),
        "posixbackend -c pass": ((_script("posixbackend"), "-c", "pass"), None),
    }


def layers() -> dict[str, tuple[tuple[str, ...], float | None]]:
    """Name -> (argv, None): python importing each layer of the library in turn."""
    steps = {
        REFERENCE: "pass",
        "import attrs": "import attrs",
        "import compat": "import compat",
        "import vfs": "import vfs",
        "import posixbackend.emulated.backend": "import posixbackend.emulated.backend",
        "import posixbackend": "import posixbackend",
        "import posixbackend.switch": "import posixbackend.switch",
        "+ install()": "import posixbackend; posixbackend.install()",
        "+ a managed block on memory": (
            "import posixbackend, vfs\n"
            "with posixbackend.backend('managed', file_system=vfs.MemoryFileSystem()): pass"
        ),
    }
    found: dict[str, tuple[tuple[str, ...], float | None]] = {
        REFERENCE: ((sys.executable, "-c", "pass"), None),
        "python -S -c pass (no site, no .pth)": ((sys.executable, "-S", "-c", "pass"), None),
    }
    found.update({name: ((sys.executable, "-c", code), None) for name, code in steps.items()})
    found["posixbackend-managed --fs=memory -c pass"] = (
        (_script("posixbackend-managed"), "--fs=memory", "-c", "pass"),
        None,
    )
    return found


def environment() -> dict[str, str]:
    """This environment without a backend choice, writing bytecode caches."""
    excluded = ("POSIXBACKEND_OPTIONS", "PYTHONDONTWRITEBYTECODE")
    return {key: value for key, value in os.environ.items() if key not in excluded}


def run_once(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds ``argv`` takes to run to its end: wall time, and the CPU time it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu


def measure(
    rounds: int, contenders: dict[str, tuple[tuple[str, ...], float | None]]
) -> dict[str, dict[str, float | None]]:
    """Per command: median milliseconds, the median of what it adds to the reference's time
    of the same round, the median and quartiles of its ratio to it, and the target."""
    env = environment()
    for argv, _ in contenders.values():  # warm-up: writes the bytecode caches
        run_once(argv, env)
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    for index in range(rounds):
        order = list(contenders.items())
        if index % 2:
            order.reverse()
        for name, (argv, _) in order:
            wall, used = run_once(argv, env)
            samples[name].append(wall)
            cpu[name].append(used)
    results: dict[str, dict[str, float | None]] = {}
    reference = samples[REFERENCE]
    for name, (_, target) in contenders.items():
        ratios = [mine / base for mine, base in zip(samples[name], reference, strict=True)]
        cpu_ratios = [
            mine / base for mine, base in zip(cpu[name], cpu[REFERENCE], strict=True) if base
        ]
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        added = [mine - base for mine, base in zip(samples[name], reference, strict=True)]
        results[name] = {
            "median_ms": statistics.median(samples[name]) * 1000,
            "added_ms": statistics.median(added) * 1000,
            "ratio": statistics.median(ratios),
            "ratio_q1": quartiles[0],
            "ratio_q3": quartiles[2],
            "cpu_ratio": statistics.median(cpu_ratios) if cpu_ratios else None,
            "target": target,
        }
    return results


def report(results: dict[str, dict[str, float | None]], rounds: int) -> str:
    """The results as a table."""
    lines = [f"start-up, medians of {rounds} paired rounds (ratio: to {REFERENCE} of the round)"]
    width = max(len(name) for name in results)
    for name, row in results.items():
        target = row["target"]
        wanted = f"  (target <= {target}x)" if target is not None else ""
        cpu = row["cpu_ratio"]
        cpu_text = f"  cpu {cpu:5.2f}x" if cpu is not None else ""
        lines.append(
            f"  {name:<{width}}  {row['median_ms']:7.1f} ms  +{row['added_ms']:6.1f} ms"
            f"  {row['ratio']:5.2f}x  [{row['ratio_q1']:.2f}-{row['ratio_q3']:.2f}]"
            f"{cpu_text}{wanted}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds (a smoke test)")
    parser.add_argument("--rounds", type=int, default=20, help="paired rounds (default 20)")
    parser.add_argument("--breakdown", action="store_true", help="what each layer adds")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    options = parser.parse_args(argv)
    rounds = 3 if options.quick else options.rounds
    results = measure(rounds, layers() if options.breakdown else commands())
    print(report(results, rounds))
    if options.json:
        with open(options.json, "w", encoding="utf-8") as file:
            json.dump({"rounds": rounds, "results": results}, file, indent=2)


if __name__ == "__main__":
    main()
