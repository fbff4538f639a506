"""The scaling curves of ``python -m benchmarks --plot DIR``: cost against the number of files,
the directory size, the number of threads, one line per contender, as PNG and SVG.

``python -m benchmarks.plots RESULTS.json DIR [--only NAME]`` draws them again from a saved
results file (``--only`` keeps the curves whose file name holds NAME), e.g. the figure the
README shows.

matplotlib is an optional extra (``pip install 'posixbackend[plot]'``); without it
:func:`require_matplotlib` raises :class:`MissingExtra` naming it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import CONTENDERS, Row

EXTRA = "plot"


class MissingExtra(RuntimeError):
    """An optional dependency of the benchmarks is not installed."""


def require_matplotlib() -> Any:
    """The ``matplotlib.pyplot`` module on the non-interactive Agg backend; an error naming
    the extra when matplotlib is missing."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError as error:
        raise MissingExtra(
            f"--plot needs matplotlib, which is not installed: pip install "
            f"'posixbackend[{EXTRA}]' (or pip install matplotlib)"
        ) from error
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "posixbackend"
    return importlib.import_module("matplotlib.pyplot")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def curves(rows: Sequence[Row]) -> dict[tuple[str, str, str], list[Row]]:
    """The rows that lie on a scaling curve, by (group, operation, axis), sorted by size."""
    found: dict[tuple[str, str, str], list[Row]] = {}
    for row in rows:
        if row.axis is not None and row.size is not None:
            found.setdefault((row.group, row.operation, row.axis), []).append(row)
    for series in found.values():
        series.sort(key=lambda row: row.size or 0)
    return found


def draw(rows: Sequence[Row], directory: str, only: str = "") -> list[str]:
    """One figure per curve with two points or more (whose file name holds ``only``); the
    paths written."""
    pyplot = require_matplotlib()
    os.makedirs(directory, exist_ok=True)
    written = []
    for (group, operation, axis), series in curves(rows).items():
        stem = os.path.join(directory, f"{group}-{slug(operation)}")
        if len(series) < 2 or only not in os.path.basename(stem):
            continue
        figure, axes = pyplot.subplots(figsize=(6.4, 4.2))
        for name in CONTENDERS:
            points = [(row.size, row.values[name]) for row in series if name in row.values]
            if not points:
                continue
            sizes = [size for size, _ in points]
            axes.plot(sizes, [s.median for _, s in points], marker="o", label=name)
            axes.fill_between(
                sizes, [s.low for _, s in points], [s.high for _, s in points], alpha=0.2
            )
        if axis != "threads":
            axes.set_xscale("log")
        if all(s.low > 0 for row in series for s in row.values.values()):
            axes.set_yscale("log")  # else a zero (native's resident growth) would vanish
        axes.set_xlabel(axis)
        axes.set_ylabel(series[0].unit)
        axes.set_title(f"{operation} ({group})")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
        figure.tight_layout()
        for suffix in (".png", ".svg"):
            # No date in the file and fixed SVG ids: a figure redrawn from the same results is
            # the same file (the README's figure changes only when its numbers do).
            figure.savefig(stem + suffix, metadata={"Date": None} if suffix == ".svg" else None)
            written.append(stem + suffix)
        pyplot.close(figure)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.plots",
        description="Draw the scaling curves of a saved python -m benchmarks results file.",
    )
    parser.add_argument("results", type=Path, metavar="RESULTS.json")
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument("--only", default="", metavar="NAME",
                        help="only the curves whose file name holds NAME")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        require_matplotlib()
    except MissingExtra as error:
        parser.error(str(error))
    from benchmarks.docblocks import load_benchmarks  # (docblocks imports nothing of this)

    groups, _ = load_benchmarks(args.results)
    rows = [row for outcome in groups.values() for row in outcome.rows]
    written = draw(rows, args.directory, args.only)
    if not written:
        parser.error(f"no curve in {args.results} matches {args.only!r}")
    for path in written:
        print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
