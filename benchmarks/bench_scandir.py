"""Directory listing through the real names: native ``os`` on a tmpfs against the managed backend.

The cases are issue 20's listing operations, run as user code runs them: ``os.scandir`` with
``is_file()`` on each of 20 entries, ``os.walk`` over 10,000 files, ``Path.glob('**/*.py')``
over 1,000 files and ``shutil.copytree`` of 200 files; natively on ``/dev/shm`` (or the
temporary directory when no tmpfs is mounted) and inside ``with backend('managed',
file_system=MemoryFileSystem())``. Rounds alternate between the two sides; the table shows the
median time per call, the ratio managed/native with its spread (25th-75th percentile of the
per-round ratios), and the Python frames one call enters (native -> managed).

Issue 20 asks for <= 1.0x. Run: ``python -m benchmarks.bench_scandir [--rounds N] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import sys
from collections.abc import Callable
from typing import Any

from benchmarks.bench_rawfile import _native_directory, paired_rows

WALK_FILES = 10_000
GLOB_FILES = 1_000
COPY_FILES = 200


def _populate(directory: str, walk_files: int) -> None:
    """The trees the cases read (the same shape on both sides)."""
    os.makedirs(os.path.join(directory, "flat"))
    for n in range(20):
        with open(os.path.join(directory, "flat", f"f{n:02}"), "wb") as file:
            file.write(b"x")
    for name, files, suffix in (("walk", walk_files, ""), ("glob", GLOB_FILES, ".py")):
        for n in range(files):
            sub = os.path.join(directory, name, f"d{n // 100}", f"e{n // 20 % 5}")
            if n % 20 == 0:
                os.makedirs(sub)
            with open(os.path.join(sub, f"f{n}{suffix}"), "wb"):
                pass
    os.makedirs(os.path.join(directory, "copy", "sub"))
    for n in range(COPY_FILES):
        where = "copy/sub" if n % 2 else "copy"
        with open(os.path.join(directory, where, f"f{n}"), "wb") as file:
            file.write(b"y" * 100)


def _cases(directory: str, walk_files: int) -> dict[str, tuple[Callable[[], object], int]]:
    """The calls, by name, with how many make one batch."""
    flat = os.path.join(directory, "flat")
    walk = os.path.join(directory, "walk")
    glob = pathlib.Path(directory, "glob")
    source = os.path.join(directory, "copy")
    target = os.path.join(directory, "copied")

    def scandir_is_file() -> object:
        with os.scandir(flat) as entries:
            return [entry.is_file() for entry in entries]

    def walk_tree() -> object:
        return sum(len(files) for _, _, files in os.walk(walk))

    def glob_tree() -> object:
        return len(list(glob.glob("**/*.py")))

    copies = iter(range(1 << 30))

    def copy_tree() -> object:
        return shutil.copytree(source, f"{target}{next(copies)}")  # a fresh target each time

    return {
        "os.scandir + is_file (20)": (scandir_is_file, 200),
        f"os.walk ({walk_files} files)": (walk_tree, 1),
        f"Path.glob('**/*.py') ({GLOB_FILES} files)": (glob_tree, 1),
        f"shutil.copytree ({COPY_FILES} files)": (copy_tree, 1),
    }


def measure(rounds: int, walk_files: int = WALK_FILES) -> list[dict[str, Any]]:
    """Each case's native and managed time per call, ratio spread and frame counts."""
    from posixbackend import backend
    from vfs import MemoryFileSystem

    fs = MemoryFileSystem()
    with backend("managed", file_system=fs):
        os.makedirs("/bench")
        _populate("/bench", walk_files)
        managed = _cases("/bench", walk_files)
    with _native_directory() as directory:
        _populate(directory, walk_files)
        return paired_rows(_cases(directory, walk_files), managed, fs, rounds)


def main(argv: list[str] | None = None) -> int:
    """Print the table (and the JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (15)")
    parser.add_argument("--quick", action="store_true", help="3 rounds, 1,000 files to walk")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    results = measure(rounds, 1_000 if args.quick else WALK_FILES)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'operation':44} {'native us':>10} {'managed us':>10} {'ratio':>6}  spread  frames")
    for row in results:
        print(
            f"{row['operation']:44} {row['native_us']:10.1f} {row['managed_us']:10.1f} "
            f"{row['ratio']:5.2f}x  {row['ratio_q1']:.2f}-{row['ratio_q3']:.2f}  {row['frames']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
