"""``open()`` through the real names: native ``os`` on a tmpfs against the managed backend.

Each case runs ``open(path...)`` and one read or write through the builtin name, as user code
does: natively on ``/dev/shm`` (or the temporary directory when no tmpfs is mounted), and
inside ``with backend('managed', file_system=MemoryFileSystem())``. Rounds alternate between
the two sides; each round times a batch of calls, and the table shows the median time per
call, the ratio managed/native with its spread (the 25th and 75th percentiles of the per-round
ratios), and the Python frames each call enters (native -> managed).

Issue 20 asks for <= 1.0x. Run: ``python -m benchmarks.bench_rawfile [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

KIB = 1024
MIB = 1024 * KIB
SIZES = {"1 KiB": KIB, "1 MiB": MIB}


def _cases(directory: str) -> dict[str, tuple[Callable[[], object], int]]:
    """The calls, by name, with how many make one batch (fewer for the big files)."""
    cases: dict[str, tuple[Callable[[], object], int]] = {}
    for label, size in SIZES.items():
        text_path = os.path.join(directory, f"text-{size}")
        binary_path = os.path.join(directory, f"binary-{size}")
        batch = 200 if size <= KIB else 10

        def read_text(path: str = text_path) -> object:
            with open(path, encoding="utf-8") as file:
                return file.read()

        def read_binary(path: str = binary_path) -> object:
            with open(path, "rb") as file:
                return file.read()

        cases[f"open().read() text {label}"] = (read_text, batch)
        cases[f"open(,'rb').read() {label}"] = (read_binary, batch)
    payload = "x" * KIB
    write_path = os.path.join(directory, "written")

    def write_text() -> object:
        with open(write_path, "w", encoding="utf-8") as file:
            return file.write(payload)

    cases["open(,'w').write()+close 1 KiB"] = (write_text, 200)
    return cases


def _populate(directory: str) -> None:
    """The files the cases read (the same bytes on both sides)."""
    for size in SIZES.values():
        with open(os.path.join(directory, f"text-{size}"), "w", encoding="utf-8") as file:
            file.write("y" * size)
        with open(os.path.join(directory, f"binary-{size}"), "wb") as file:
            file.write(b"z" * size)


@contextmanager
def _native_directory() -> Iterator[str]:
    """A fresh directory on tmpfs where one is mounted."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=base) as directory:
        yield directory


def _frames(call: Callable[[], object]) -> int:
    """How many Python frames one call enters (the call's own excluded), after a first call
    has set up what a block builds once (its FileIO class, caches)."""
    call()
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return count - 1


def _time(call: Callable[[], object], batch: int) -> float:
    """Seconds per call over one batch."""
    start = time.perf_counter()
    for _ in range(batch):
        call()
    return (time.perf_counter() - start) / batch


def _settle_allocator() -> None:
    """Free one large block first, as a process that has worked a while has: glibc's malloc
    then serves 1 MiB blocks from its heap instead of fresh mmap'd pages. Without this, which
    of the two regimes a run lands in (a 1 MiB text read costs 150 us in one, 1000 us of page
    faults in the other, on either side) depends on what the set-up happened to free."""
    block = bytes(8 * MIB)
    del block


def measure(rounds: int) -> list[dict[str, Any]]:
    """Each case's native and managed time per call, ratio spread and frame counts."""
    from posixbackend import backend
    from vfs import MemoryFileSystem

    _settle_allocator()
    fs = MemoryFileSystem()
    with backend("managed", file_system=fs):
        os.makedirs("/bench", exist_ok=True)
        _populate("/bench")
        managed = _cases("/bench")
    with _native_directory() as directory:
        _populate(directory)
        return paired_rows(_cases(directory), managed, fs, rounds)


def paired_rows(
    native: dict[str, tuple[Callable[[], object], int]],
    managed: dict[str, tuple[Callable[[], object], int]],
    fs: Any,
    rounds: int,
) -> list[dict[str, Any]]:
    """For each case (name -> (call, batch)): native and managed (in a block over ``fs``)
    times per call in interleaved rounds, the ratio's median and quartiles, frame counts."""
    from posixbackend import backend

    results = []
    for name, (native_call, batch) in native.items():
        managed_call = managed[name][0]
        native_times, managed_times = [], []
        for _ in range(rounds):
            native_times.append(_time(native_call, batch))
            with backend("managed", file_system=fs):
                managed_times.append(_time(managed_call, batch))
        native_frames = _frames(native_call)
        with backend("managed", file_system=fs):
            managed_frames = _frames(managed_call)
        ratios = sorted(m / n for m, n in zip(managed_times, native_times, strict=True))
        quartiles = statistics.quantiles(ratios, n=4)
        results.append({
            "operation": name,
            "native_us": statistics.median(native_times) * 1e6,
            "managed_us": statistics.median(managed_times) * 1e6,
            "ratio": statistics.median(ratios),
            "ratio_q1": quartiles[0],
            "ratio_q3": quartiles[2],
            "frames": f"{native_frames} -> {managed_frames}",
        })  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    """Print the table (and the JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds (21)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    results = measure(args.rounds)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'operation':34} {'native us':>10} {'managed us':>10} {'ratio':>6}  spread  frames")
    for row in results:
        print(
            f"{row['operation']:34} {row['native_us']:10.2f} {row['managed_us']:10.2f} "
            f"{row['ratio']:5.2f}x  {row['ratio_q1']:.2f}-{row['ratio_q3']:.2f}  {row['frames']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
