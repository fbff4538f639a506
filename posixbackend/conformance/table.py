"""The runner's printed report: a table of counts per module and mode, the java-vs-native
shares against issue 7's targets, and the notes on runs that did not complete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from posixbackend.conformance.comparison import ModeComparison
from posixbackend.conformance.modes import Mode
from posixbackend.conformance.results import Counts, ModuleRun, RunStatus

COLUMNS = ("run", "passed", "failed", "errors", "skipped")
WIDTH = 8
"""The width of a number column."""


def counts_table(runs: Sequence[ModuleRun], modes: Sequence[Mode]) -> str:
    """One row per module (in the order first run), a column group per mode, and a total."""
    modules = list(dict.fromkeys(run.module for run in runs))
    by_key = {(run.module, run.mode): run for run in runs}
    name_width = max([len("module"), len("total"), *(len(module) for module in modules)])
    group_width = WIDTH * len(COLUMNS)
    heads = "".join(f" | {mode.label:^{group_width}}" for mode in modes)
    names = "".join(" | " + "".join(f"{name:>{WIDTH}}" for name in COLUMNS) for _ in modes)
    lines = [f"{'':<{name_width}}{heads}", f"{'module':<{name_width}}{names}"]
    lines.append("-" * len(lines[-1]))
    totals = {mode: Counts() for mode in modes}
    for module in modules:
        cells = []
        for mode in modes:
            run = by_key.get((module, mode))
            if run is None:
                cells.append(f"{'-':>{group_width}}")
                continue
            totals[mode] = totals[mode] + run.counts
            cells.append(_numbers(run.counts) + ("*" if _noted(run) else ""))
        lines.append(f"{module:<{name_width}}" + "".join(f" | {cell}" for cell in cells).rstrip())
    lines.append("-" * len(lines[1]))
    total_cells = "".join(f" | {_numbers(totals[mode])}" for mode in modes)
    lines.append(f"{'total':<{name_width}}{total_cells}")
    return "\n".join(lines) + "\n"


def _numbers(counts: Counts) -> str:
    return "".join(f"{value:>{WIDTH}}" for value in counts.values())


def _noted(run: ModuleRun) -> bool:
    """Whether the run gets a * and a note: it did not complete, or something happened."""
    return run.status is not RunStatus.COMPLETED or bool(run.message)


def run_notes(runs: Sequence[ModuleRun]) -> str:
    """A line for each run marked * in the table: timed out, crashed, or restarted."""
    lines = [
        f"* {run.module} {run.mode.label}: {run.status.value}: {run.message} (log: {run.log})"
        for run in runs
        if _noted(run)
    ]
    return "".join(line + "\n" for line in lines)


def share_line(comparison: ModeComparison) -> str:
    """``java --fs=host: N tests pass natively, M of them pass on java: P% (target T%: met)``."""
    mode = comparison.mode
    percent = comparison.percent
    shown = "n/a" if percent is None else f"{percent:.1f}%"
    verdict = "met" if comparison.target_met else "NOT met"
    return (
        f"{mode.label}: {comparison.native_passing} tests pass natively, "
        f"{comparison.java_passing} of them pass on java: {shown} "
        f"(target {mode.target_percent:g}%: {verdict})"
    )


def report(
    runs: Sequence[ModuleRun], modes: Sequence[Mode], comparisons: Mapping[Mode, ModeComparison]
) -> str:
    """The whole printed report: table, notes, one share line per java mode."""
    text = counts_table(runs, modes) + run_notes(runs) + "\n"
    return text + "".join(share_line(comparisons[mode]) + "\n" for mode in comparisons)
