"""What one path resolution costs through Mount(Overlay(Host)): provider calls and time.

Times and counts ``stat`` of a file six components below a mount point through the emulated
backend over Mount(Overlay(upper MemoryFileSystem, lower HostFileSystem)): cold (every
provider fresh, so no cache knows the path), warm (the same path again), and relative to an
open directory (``dir_fd``) two components down. Provider calls are the calls made into the
two layers (the host and the upper memory fs) from outside them, the unit in which the
issue's "one walk" is stated: each layer asked about each component once.

``--compare-with DIR`` runs the same measurements on another checkout (e.g. an export of
``main``) in a subprocess and prints after/before ratios. Run:
``python -m benchmarks.bench_walk [--quick] [--compare-with /tmp/main-checkout]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from benchmarks.bench_vfs import median_ns
from posixbackend.emulated import EmulatedBackend
from vfs import (
    FileSystem,
    HostFileSystem,
    Identity,
    MemoryFileSystem,
    MountFileSystem,
    OverlayFileSystem,
)

COMPONENTS = ("a", "b", "c", "d", "e")
PATH = "/m/" + "/".join(COMPONENTS) + "/f"
COLD_TREES = 200
"""Distinct copies of the tree for the cold measurement: each stat finds nothing cached."""


class CallCounter:
    """Counts the calls made into providers from outside them (not a provider's own calls
    to its other methods)."""

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self._depth: collections.Counter[str] = collections.Counter()

    def watch(self, fs: FileSystem, label: str) -> None:
        for name in dir(type(fs)):
            if name.startswith("_") or name in ("nodes", "close"):
                continue
            if callable(getattr(type(fs), name, None)):
                setattr(fs, name, self._counted(getattr(fs, name), label))

    def _counted(self, method: Callable[..., Any], label: str) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            if not self._depth[label]:
                self.calls[label] += 1
            self._depth[label] += 1
            try:
                return method(*args, **kwargs)
            finally:
                self._depth[label] -= 1

        return counted


def make_tree(root: str, trees: int) -> None:
    """``trees`` copies of a/b/c/d/e/f under ``root`` (t0, t1...), the first also at the top."""
    for top in [root] + [f"{root}/t{n}" for n in range(trees)]:
        deep = os.path.join(top, *COMPONENTS)
        os.makedirs(deep)
        with open(deep + "/f", "wb") as file:
            file.write(b"x")


def compose(root: str, counter: CallCounter | None = None) -> MountFileSystem:
    """Mount(Overlay(memory over Host(root))) at /m of a memory root."""
    host, upper = HostFileSystem(root), MemoryFileSystem(identity=Identity.root())
    if counter is not None:
        counter.watch(host, "host")
        counter.watch(upper, "upper")
    top = MemoryFileSystem(identity=Identity.root())
    top.mkdir("/m", 0o755)
    return MountFileSystem(top, {"/m": OverlayFileSystem(upper, host)})


def measure(quick: bool) -> dict[str, float]:
    """Counts and median times (ns per stat) on the code this interpreter imports."""
    number, repeat = (300, 3) if quick else (3000, 9)
    results: dict[str, float] = {}
    root = tempfile.mkdtemp(prefix="bench_walk_")
    try:
        make_tree(root, COLD_TREES)
        counter = CallCounter()
        backend = EmulatedBackend(compose(root, counter))
        counter.calls.clear()
        backend.stat(PATH)
        results["cold calls"] = sum(counter.calls.values())
        counter.calls.clear()
        backend.stat(PATH)
        results["warm calls"] = sum(counter.calls.values())
        fd = backend.open("/m/a/b", os.O_RDONLY | os.O_DIRECTORY)
        backend.stat("c/d/e/f", dir_fd=fd)
        counter.calls.clear()
        backend.stat("c/d/e/f", dir_fd=fd)
        results["dir_fd calls"] = sum(counter.calls.values())
        results["warm ns"] = median_ns(lambda: backend.stat(PATH), number, repeat)
        results["dir_fd ns"] = median_ns(
            lambda: backend.stat("c/d/e/f", dir_fd=fd), number, repeat
        )
        backend.close(fd)
        results["cold ns"] = cold_ns(root, 2 if quick else 7)
    finally:
        shutil.rmtree(root)
    return results


def cold_ns(root: str, repeat: int) -> float:
    """Median over fresh compositions of the time of a first stat of each tree copy."""
    samples = []
    paths = [f"/m/t{n}/" + "/".join(COMPONENTS) + "/f" for n in range(COLD_TREES)]
    for _ in range(repeat):
        backend = EmulatedBackend(compose(root))
        start = time.perf_counter_ns()
        for path in paths:
            backend.stat(path)
        samples.append((time.perf_counter_ns() - start) / len(paths))
        backend.file_system.close()
    samples.sort()
    return samples[len(samples) // 2]


def elsewhere(checkout: str, quick: bool) -> dict[str, float]:
    """The same measurements on the code of another checkout, in a subprocess."""
    env = dict(os.environ, PYTHONPATH=checkout)
    here = os.path.dirname(os.path.abspath(__file__))
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import bench_walk_probe as p; "
        "print(json.dumps(p.measure(sys.argv[2] == 'quick')))"
    )
    probe = tempfile.mkdtemp(prefix="bench_walk_probe_")
    try:  # this file's code, imported next to the other checkout's packages
        shutil.copy(os.path.join(here, "bench_walk.py"), probe + "/bench_walk_probe.py")
        out = subprocess.run(
            [sys.executable, "-c", code, probe, "quick" if quick else "full"],
            env=env,
            cwd=checkout,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        shutil.rmtree(probe)
    result: dict[str, float] = json.loads(out.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--compare-with", metavar="DIR", help="a checkout to measure as before")
    args = parser.parse_args()
    after = measure(args.quick)
    before = elsewhere(args.compare_with, args.quick) if args.compare_with else None
    print(f"stat of {PATH} through Mount(Overlay(memory over Host)), emulated backend")
    print("  (calls: into the two layers; ns: median per stat)")
    for key, value in after.items():
        line = f"  {key:14} {value:10.0f}"
        if before is not None and key in before:
            old = before[key]
            ratio = f"{value / old:5.2f}x" if old else "  n/a"
            line += f"   before {old:10.0f}   after/before {ratio}"
        print(line)


if __name__ == "__main__":
    main()
