"""Big files in the memory file system: the memory a file holds and the time to write it.

Three cases, each in a fresh interpreter (so its peak resident size is its own), through the
emulated backend's ``os`` functions over a MemoryFileSystem, beside native ``os`` on a tmpfs
where one is mounted (``/dev/shm``):

- ``ftruncate 1 GiB``: an empty file made 1 GiB long; memory held afterwards (tracemalloc).
- ``write 1 GiB``: 1 GiB written in 1 MiB chunks; time, tracemalloc peak, and the peak
  resident size the process gained, each as a multiple of the file's size.
- ``ftruncate + write 1 GiB``: the same writes into a file first truncated to 1 GiB.

Issue 20 asks for at most 1.1x the file size in memory. Run:
``python -m benchmarks.bench_memfile [--size MIB]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

MIB = 1 << 20
CASES = ("ftruncate", "write", "ftruncate+write")


def _open(side: str, directory: str) -> tuple[object, int]:
    """The ``os``-like object of ``side`` and a new file opened read-write in it."""
    if side == "native":
        return os, os.open(os.path.join(directory, "big"), os.O_RDWR | os.O_CREAT, 0o600)
    from posixbackend.emulated import EmulatedBackend
    from vfs import MemoryFileSystem

    backend = EmulatedBackend(MemoryFileSystem(), standard_streams=False)
    return backend, backend.open("/big", os.O_RDWR | os.O_CREAT, 0o600)


def measure(case: str, side: str, size: int, directory: str) -> dict[str, float]:
    """Run one case here and now; what it cost."""
    chunk = b"x" * MIB
    osm, fd = _open(side, directory)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    start = time.perf_counter()
    if case.startswith("ftruncate"):
        osm.ftruncate(fd, size)  # type: ignore[attr-defined]
    if case.endswith("write"):
        for _ in range(size // MIB):
            osm.write(fd, chunk)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - start
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base_rss
    assert osm.fstat(fd).st_size == size  # type: ignore[attr-defined]
    return {"seconds": elapsed, "held": current, "peak": peak, "rss": max(rss, 0)}


def _child(case: str, side: str, size: int, directory: str) -> dict[str, float]:
    """:func:`measure` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_memfile", "--child", case, side,
         str(size), directory],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="file size in MiB (1024)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        case, side, size, directory = args.child
        print(json.dumps(measure(case, side, int(size), directory)))
        return 0
    size = args.size * MIB
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    print(f"file size {args.size} MiB; memory as a multiple of it; native on tmpfs: {shm}")
    print(f"{'case':18} {'side':8} {'seconds':>8} {'held':>7} {'peak':>7} {'peak RSS':>9}")
    for case in CASES:
        sides = ["native", "memory"] if shm else ["memory"]
        for side in sides:
            directory = shm or "/"
            result = _child(case, side, size, directory)
            if side == "native":
                os.unlink(os.path.join(directory, "big"))
            print(
                f"{case:18} {side:8} {result['seconds']:8.3f} {result['held'] / size:6.3f}x "
                f"{result['peak'] / size:6.3f}x {result['rss'] / size:8.3f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
