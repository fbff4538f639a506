"""The java runs measured against the native ones: which tests fail on java, and the share of
natively passing tests that pass on java (issue 7's targets)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from posixbackend.conformance.modes import Mode
from posixbackend.conformance.results import ModuleRun, Outcome


@attrs.frozen
class JavaFailure:
    """A test that fails on java: it passed natively (or, for a set-up or tear-down id, did not
    exist natively) and on java it failed, errored, crashed, was skipped or did not run."""

    id: str
    module: str
    native: Outcome | None
    java: Outcome | None
    detail: str

    @property
    def description(self) -> str:
        """The java outcome and its detail, on one line."""
        outcome = "did not run" if self.java is None else self.java.value
        return f"{outcome}: {self.detail}" if self.detail else outcome


@attrs.frozen
class ModeComparison:
    """One java mode against native, over the modules run."""

    mode: Mode
    native_passing: int
    java_passing: int
    failures: Mapping[str, JavaFailure]

    @property
    def percent(self) -> float | None:
        """Natively passing tests that pass on java, in percent (None if none passed)."""
        if self.native_passing == 0:
            return None
        return 100.0 * self.java_passing / self.native_passing

    @property
    def target_met(self) -> bool:
        """Whether the share reaches the mode's target (an empty run meets nothing)."""
        percent = self.percent
        return percent is not None and percent >= self.mode.target_percent


def compare_module(native: ModuleRun, java: ModuleRun) -> tuple[int, int, dict[str, JavaFailure]]:
    """Natively passing tests, how many of them pass on java, and the java failures."""
    failures: dict[str, JavaFailure] = {}
    native_passing = native.passing_ids()
    java_passing = 0
    for test_id in sorted(native_passing):
        found = java.outcomes.get(test_id)
        if found is not None and found.outcome.passing:
            java_passing += 1
            continue
        detail = java.message if found is None else found.detail
        java_outcome = None if found is None else found.outcome
        failures[test_id] = JavaFailure(
            test_id, native.module, native.outcome_of(test_id), java_outcome, detail
        )
    for test_id, found in sorted(java.outcomes.items()):
        if found.outcome.broken and test_id not in native.outcomes:
            failures[test_id] = JavaFailure(test_id, java.module, None, found.outcome, found.detail)
    return len(native_passing), java_passing, failures


def compare(runs: Sequence[ModuleRun], mode: Mode) -> ModeComparison:
    """Every module's java run in ``mode`` against its native run."""
    natives = {run.module: run for run in runs if run.mode is Mode.NATIVE}
    native_total = java_total = 0
    failures: dict[str, JavaFailure] = {}
    for run in runs:
        if run.mode is not mode or run.module not in natives:
            continue
        native_passing, java_passing, found = compare_module(natives[run.module], run)
        native_total += native_passing
        java_total += java_passing
        failures.update(found)
    return ModeComparison(mode, native_total, java_total, failures)


def compare_all(runs: Sequence[ModuleRun], modes: Sequence[Mode]) -> dict[Mode, ModeComparison]:
    """:func:`compare` for each java mode run."""
    return {mode: compare(runs, mode) for mode in modes}
