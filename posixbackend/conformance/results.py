"""What one run of one test module gave: each test id's outcome, and how the process ended."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

import attrs

from posixbackend.conformance.modes import Mode


class Outcome(enum.Enum):
    """A test's outcome, as unittest reports it, plus ``crashed`` for the test a dead or
    killed child process was running."""

    PASSED = "passed"
    EXPECTED_FAILURE = "expected failure"
    SKIPPED = "skipped"
    UNEXPECTED_SUCCESS = "unexpected success"
    FAILED = "failed"
    ERROR = "error"
    CRASHED = "crashed"

    @property
    def passing(self) -> bool:
        """Whether unittest counts the test as successful."""
        return self in (Outcome.PASSED, Outcome.EXPECTED_FAILURE)

    @property
    def broken(self) -> bool:
        """Whether the test failed, errored or crashed (a skip is neither passing nor broken)."""
        return not self.passing and self is not Outcome.SKIPPED

    @property
    def column(self) -> str:
        """The table column the outcome counts in: passed, failed, errors or skipped."""
        return _COLUMNS[self]

    def merge(self, other: Outcome) -> Outcome:
        """The outcome of a test that reported both (the worse one wins: a test whose subtest
        failed and whose clean-up errored is an error)."""
        return self if _SEVERITY.index(self) >= _SEVERITY.index(other) else other


_SEVERITY = (
    Outcome.PASSED, Outcome.EXPECTED_FAILURE, Outcome.SKIPPED, Outcome.UNEXPECTED_SUCCESS,
    Outcome.FAILED, Outcome.ERROR, Outcome.CRASHED,
)  # fmt: skip

_COLUMNS = {
    Outcome.PASSED: "passed", Outcome.EXPECTED_FAILURE: "passed", Outcome.SKIPPED: "skipped",
    Outcome.UNEXPECTED_SUCCESS: "failed", Outcome.FAILED: "failed", Outcome.ERROR: "errors",
    Outcome.CRASHED: "errors",
}  # fmt: skip


@attrs.frozen
class TestOutcome:
    """One test id's outcome; ``detail`` is the skip reason or the exception's last line."""

    __test__ = False  # not a pytest test class

    id: str
    outcome: Outcome
    detail: str = ""

    def merge(self, other: TestOutcome) -> TestOutcome:
        """Both reports of one test id folded into one (the worse outcome and its detail)."""
        return other if self.outcome.merge(other.outcome) is not self.outcome else self


@attrs.frozen
class Counts:
    """A table row's numbers: tests run and how they ended."""

    run: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0

    @classmethod
    def of(cls, outcomes: Iterable[TestOutcome]) -> Counts:
        """Count ``outcomes`` (every recorded test id counts as run, skips too, as unittest)."""
        columns = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
        run = 0
        for outcome in outcomes:
            run += 1
            columns[outcome.outcome.column] += 1
        return cls(run=run, **columns)

    def __add__(self, other: Counts) -> Counts:
        pairs = zip(self.values(), other.values(), strict=True)
        return Counts(*(mine + theirs for mine, theirs in pairs))

    def values(self) -> tuple[int, int, int, int, int]:
        """The numbers in column order."""
        return (self.run, self.passed, self.failed, self.errors, self.skipped)


class RunStatus(enum.Enum):
    """How the child process running a module ended."""

    COMPLETED = "completed"
    CRASHED = "crashed"
    TIMEOUT = "timeout"


@attrs.frozen
class ModuleRun:
    """One module run in one mode: every test id's outcome, how the process ended, its log."""

    module: str
    mode: Mode
    status: RunStatus
    outcomes: Mapping[str, TestOutcome]
    returncode: int | None = None
    duration: float = 0.0
    log: str = ""
    message: str = ""

    @property
    def counts(self) -> Counts:
        """The table row for this run."""
        return Counts.of(self.outcomes.values())

    def outcome_of(self, test_id: str) -> Outcome | None:
        """The outcome of ``test_id``, or None if this run did not record it."""
        found = self.outcomes.get(test_id)
        return None if found is None else found.outcome

    def passing_ids(self) -> frozenset[str]:
        """The ids of the tests that passed in this run."""
        return frozenset(key for key, value in self.outcomes.items() if value.outcome.passing)
