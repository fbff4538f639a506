"""A unittest result that streams every test id's outcome as soon as the test has ended.

It is a :class:`unittest.TextTestResult` too, so the per-run log shows what ``python -m
unittest -v`` would (each test, then every traceback). Subtests fold into their test: a test
with a failing subtest failed (unittest then reports neither success nor failure for the test
itself). Errors of class and module set-up and tear-down, which unittest reports outside any
test under ids such as ``setUpClass (test.test_os.FileTests)``, are recorded under those ids.
"""

from __future__ import annotations

import traceback
import unittest
import unittest.runner
from types import TracebackType
from typing import TextIO

from posixbackend.conformance.results import Outcome, TestOutcome
from posixbackend.conformance.stream import ResultWriter

ExcInfo = tuple[type[BaseException], BaseException, TracebackType]
OptExcInfo = ExcInfo | tuple[None, None, None]

DETAIL_LIMIT = 500
"""Characters of an exception's description kept in the stream (the log has the traceback)."""


def describe(error: OptExcInfo) -> str:
    """``Type: message`` of an exception, on one line and at most :data:`DETAIL_LIMIT` long."""
    kind, value, _ = error
    if kind is None:
        return ""
    lines = "".join(traceback.format_exception_only(kind, value)).splitlines()
    text = " ".join(line.strip() for line in lines if line.strip())
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 3] + "..."


class RecordingResult(unittest.TextTestResult):
    """A TextTestResult that also writes each test's outcome to a :class:`ResultWriter`."""

    def __init__(self, stream: TextIO, writer: ResultWriter, verbosity: int = 2) -> None:
        super().__init__(unittest.runner._WritelnDecorator(stream), True, verbosity)
        self._writer = writer
        self._current: str | None = None
        self._outcome: TestOutcome | None = None

    def _note(self, test: unittest.TestCase, outcome: Outcome, detail: str) -> None:
        """Record ``outcome`` for ``test``: folded into the running test's, or, for a report
        outside any test (class or module fixtures), written at once."""
        test_id = test.id()
        record = TestOutcome(test_id, outcome, detail)
        if test_id != self._current:
            self._writer.finished(record)
        elif self._outcome is None:
            self._outcome = record
        else:
            self._outcome = self._outcome.merge(record)

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self._current = test.id()
        self._outcome = None
        self._writer.started(self._current)

    def stopTest(self, test: unittest.TestCase) -> None:
        super().stopTest(test)
        if self._current is None:
            return
        outcome = self._outcome
        if outcome is None:  # unittest reported nothing: record that, never guess a pass
            outcome = TestOutcome(self._current, Outcome.ERROR, "the test reported no outcome")
        self._current = self._outcome = None
        self._writer.finished(outcome)

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._note(test, Outcome.PASSED, "")

    def addFailure(self, test: unittest.TestCase, err: OptExcInfo) -> None:
        super().addFailure(test, err)
        self._note(test, Outcome.FAILED, describe(err))

    def addError(self, test: unittest.TestCase, err: OptExcInfo) -> None:
        super().addError(test, err)
        self._note(test, Outcome.ERROR, describe(err))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._note(test, Outcome.SKIPPED, reason)

    def addExpectedFailure(self, test: unittest.TestCase, err: OptExcInfo) -> None:
        super().addExpectedFailure(test, err)
        self._note(test, Outcome.EXPECTED_FAILURE, describe(err))

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._note(test, Outcome.UNEXPECTED_SUCCESS, "")

    def addSubTest(
        self, test: unittest.TestCase, subtest: unittest.TestCase, err: OptExcInfo | None
    ) -> None:
        super().addSubTest(test, subtest, err)
        if err is None or err[0] is None:
            return
        outcome = Outcome.FAILED if issubclass(err[0], test.failureException) else Outcome.ERROR
        where = subtest.id()[len(test.id()) :].strip()
        self._note(test, outcome, f"{where}: {describe(err)}")
