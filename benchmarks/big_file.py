"""Group ``scale``'s big-file rows at chosen sizes alone, e.g. the 1 GiB point without the rest
of ``--full``: ``python -m benchmarks.big_file 1024 [64 ...] [--rounds N] [--cpu]``.

``--cpu`` adds the write + read back measured in the process's CPU time (user + system, so
page faults count), paired in the same arena as the wall-clock row: on a machine shared with
other work the wall-clock row is unreliable, CPU time much less so. Prints the table as
``python -m benchmarks scale`` does.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from benchmarks import group_scale
from benchmarks.harness import Outcome, Row, Settings
from benchmarks.report import table


def main(argv: Sequence[str] | None = None) -> int:
    """Run the big-file rows for each size asked for and print them."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.big_file", description=__doc__)
    parser.add_argument("mib", type=int, nargs="+", help="file sizes in MiB")
    parser.add_argument("--rounds", type=int, default=7, help="paired rounds per row")
    parser.add_argument("--cpu", action="store_true", help="add the CPU-time row")
    args = parser.parse_args(argv)
    settings = Settings(rounds=args.rounds)
    rows: list[Row] = []
    for mib in args.mib:
        rows += group_scale.big_file(settings, mib, cpu=args.cpu)
    notes = [
        f"pyfakefs and PyFilesystem2 up to {group_scale.BIG_OTHERS_UP_TO} MiB; "
        "native's tmpfs pages are not the process's (its RSS growth is ~0)"
    ]
    print(table(Outcome(group_scale.GROUP, rows, notes)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
