"""The text table and the JSON file of ``python -m benchmarks``."""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from benchmarks.arena import tmpfs_directory
from benchmarks.harness import CONTENDERS, MANAGED, NATIVE, Outcome, Row, Spread


def scaled(value: float, unit: str) -> str:
    """A value with its unit, nanoseconds shown in the unit that keeps 3-4 digits."""
    if unit == "ns":
        for limit, name, factor in ((1e3, "ns", 1.0), (1e6, "µs", 1e3), (1e9, "ms", 1e6)):
            if abs(value) < limit:
                return f"{value / factor:.3g} {name}"
        return f"{value / 1e9:.3g} s"
    return f"{value:.3g} {unit}"


def ratio_cell(spread: Spread) -> str:
    return f"{spread.median:.2f}x [{spread.low:.2f}-{spread.high:.2f}]"


def value_cell(spread: Spread, unit: str) -> str:
    return f"{scaled(spread.median, unit)} [{scaled(spread.low, unit)}-{scaled(spread.high, unit)}]"


def contender_cell(row: Row, name: str) -> str:
    """The ratio to native with its min..max over rounds; the value itself where there is no
    native figure; the reason where the contender did not run."""
    if name in row.ratios:
        return ratio_cell(row.ratios[name])
    if name in row.values:
        return value_cell(row.values[name], row.unit)
    return row.missing.get(name, "")


def label(row: Row) -> str:
    return row.operation if row.size is None else f"{row.operation} @ {row.size} {row.axis}"


def table(outcome: Outcome) -> str:
    """The group's rows: native's value, then each contender's ratio to native (median
    [min-max] over the rounds), the target and whether the managed side meets it."""
    header = ["operation", NATIVE, *CONTENDERS[1:], "target", "met"]
    lines = []
    for row in outcome.rows:
        native = row.values.get(NATIVE)
        target = "" if row.target is None else row.target.text(row.unit)
        met = {None: "", True: "met", False: "NOT MET"}[row.met]
        lines.append(
            [
                label(row),
                value_cell(native, row.unit) if native else row.missing.get(NATIVE, "n/a"),
                *(contender_cell(row, name) for name in CONTENDERS[1:]),
                target,
                met,
            ]
        )
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    text = [f"== {outcome.group} ({'ratios to native: median [min-max] over rounds'}) =="]
    for cells in [header, *lines] if lines else []:
        text.append("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)))
    text.extend(f"note: {note}" for note in outcome.notes)
    verdicts = [row.met for row in outcome.rows if row.met is not None]
    if verdicts:
        text.append(f"targets met: {sum(verdicts)} of {len(verdicts)} (managed side)")
    return "\n".join(text)


def markdown(outcomes: Iterable[Outcome]) -> str:
    """Every group's rows as one Markdown table (the docs' generated blocks use
    :func:`benchmarks.docblocks.benchmark_table`, one group each)."""
    lines = [
        "| group | operation | managed / native | pyfakefs / native | PyFilesystem2 / native "
        "| target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        for row in outcome.rows:
            cells = [contender_cell(row, name) or "n/a" for name in CONTENDERS[1:]]
            target = "" if row.target is None else row.target.text(row.unit)
            met = {None: "", True: "met", False: "not met"}[row.met]
            lines.append(f"| {outcome.group} | {label(row)} | {' | '.join(cells)} | {target} "
                         f"| {met} |")  # fmt: skip
    return "\n".join(lines)


def metadata(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Where and how the numbers were taken."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "settings": dict(settings),
        "managed": MANAGED + " backend over vfs.MemoryFileSystem, through the real names",
        "native": f"real os on tmpfs under {tmpfs_directory()}",
    }


def write_json(path: str, outcomes: Sequence[Outcome], settings: Mapping[str, Any]) -> None:
    document = {
        "meta": metadata(settings),
        "groups": {outcome.group: outcome.to_json() for outcome in outcomes},
    }
    with open(path, "w") as file:
        json.dump(document, file, indent=1)
        file.write("\n")
