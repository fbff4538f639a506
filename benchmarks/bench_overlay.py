"""OverlayFileSystem against the MemoryFileSystem it layers: what a stat through it costs.

Times ``stat`` of a file five directories deep on a MemoryFileSystem directly, and through
``OverlayFileSystem(upper=MemoryFileSystem, lower=MemoryFileSystem)`` for a file that lives in
the lower layer, one copied up to the upper layer, and one created in the overlay; also a
listdir of a merged 20-entry directory. Prints the median time per call and its ratio to the
same call on the MemoryFileSystem.

Target (issue 5): a stat through the overlay costs at most 1.5x the stat on the underlying
MemoryFileSystem. Run: ``python -m benchmarks.bench_overlay [--quick]``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from benchmarks.bench_vfs import median_ns
from vfs import Identity, MemoryFileSystem
from vfs.overlay import OverlayFileSystem

DEEP = "/a/b/c/d/e"
TARGET = 1.5


def populated() -> MemoryFileSystem:
    """A lower layer: a file five directories deep, two more beside it, a 20-entry directory."""
    fs = MemoryFileSystem(identity=Identity.root())
    path = ""
    for part in DEEP.strip("/").split("/"):
        path += "/" + part
        fs.mkdir(path)
    for name in ("lower", "copied"):
        with fs.open(f"{DEEP}/{name}", os.O_CREAT | os.O_WRONLY, 0o644) as h:
            h.pwrite(b"x" * 100, 0)
    fs.mkdir("/list")
    for n in range(20):
        fs.open(f"/list/f{n}", os.O_CREAT | os.O_WRONLY, 0o644).close()
    return fs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args()
    number, repeat = (500, 5) if args.quick else (5000, 25)
    memory = populated()
    overlay = OverlayFileSystem(MemoryFileSystem(identity=Identity.root()), populated())
    overlay.chmod(f"{DEEP}/copied", 0o600)  # copied up
    overlay.open(f"{DEEP}/new", os.O_CREAT | os.O_WRONLY, 0o644).close()
    overlay.open("/list/new", os.O_CREAT | os.O_WRONLY, 0o644).close()  # a merged directory
    memory.open(f"{DEEP}/new", os.O_CREAT | os.O_WRONLY, 0o644).close()
    rows: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (
            "stat lower file",
            lambda: memory.stat(f"{DEEP}/lower"),
            lambda: overlay.stat(f"{DEEP}/lower"),
        ),
        (
            "stat copied-up file",
            lambda: memory.stat(f"{DEEP}/copied"),
            lambda: overlay.stat(f"{DEEP}/copied"),
        ),
        ("stat new file", lambda: memory.stat(f"{DEEP}/new"), lambda: overlay.stat(f"{DEEP}/new")),
        ("listdir merged 21", lambda: memory.listdir("/list"), lambda: overlay.listdir("/list")),
    ]
    print(f"median ns per call ({repeat} batches of {number}); ratio to MemoryFileSystem")
    print(f"{'':22}{'memory':>12}{'overlay':>12}{'ratio':>9}")
    ratios = {}
    for label, direct, layered in rows:
        base = median_ns(direct, number, repeat)
        through = median_ns(layered, number, repeat)
        ratios[label] = through / base
        print(f"{label:22}{base:>12.0f}{through:>12.0f}{through / base:>8.2f}x")
    print("\ntargets:")
    for label in ("stat lower file", "stat copied-up file", "stat new file"):
        verdict = "met" if ratios[label] <= TARGET else "MISSED"
        print(f"  overlay {label:20} {ratios[label]:5.2f}x (target <= {TARGET}x): {verdict}")


if __name__ == "__main__":
    main()
