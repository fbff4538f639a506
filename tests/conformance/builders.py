"""Synthetic runs for the runner's unit tests."""

from __future__ import annotations

from posixbackend.conformance.modes import Mode
from posixbackend.conformance.results import ModuleRun, Outcome, RunStatus, TestOutcome


def run(
    module: str,
    mode: Mode,
    outcomes: dict[str, Outcome],
    status: RunStatus = RunStatus.COMPLETED,
    message: str = "",
) -> ModuleRun:
    """A run of ``test.<module>`` whose tests (names relative to the module) ended so."""
    recorded = {}
    for name, outcome in outcomes.items():
        test_id = name if " (" in name else f"test.{module}.{name}"
        recorded[test_id] = TestOutcome(test_id, outcome, f"{outcome.value} detail")
    return ModuleRun(module, mode, status, recorded, 0, 1.0, f"/logs/{module}.log", message)


P, F, E, S = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.SKIPPED
