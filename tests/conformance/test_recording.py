"""The child's unittest result: every outcome unittest reports lands in the stream, once per
test id, subtests folded into their test and fixture errors under unittest's own ids."""

from __future__ import annotations

import io
import sys
import unittest

from posixbackend.conformance.recording import DETAIL_LIMIT, RecordingResult, describe
from posixbackend.conformance.results import Outcome
from posixbackend.conformance.stream import ResultWriter, read_stream


def make_cases():
    """TestCase classes built here so that pytest does not collect them."""

    class Cases(unittest.TestCase):
        def test_passes(self):
            pass

        def test_fails(self):
            self.assertEqual(1, 2)

        def test_errors(self):
            raise FileNotFoundError(2, "No such file or directory", "x")

        @unittest.skip("a reason")  # deliberate: the recorder must keep the skip's reason
        def test_skipped(self):
            pass

        @unittest.expectedFailure
        def test_expected_failure(self):
            self.fail("as expected")

        @unittest.expectedFailure
        def test_unexpected_success(self):
            pass

        def test_subtest_fails(self):
            for number in range(3):
                with self.subTest(number=number):
                    self.assertNotEqual(number, 1)

        def test_subtest_errors_and_fails(self):
            with self.subTest("failing"):
                self.assertEqual("one", "two")
            with self.subTest("erroring"):
                raise ValueError("two")

        def test_subtests_pass(self):
            for number in range(2):
                with self.subTest(number=number):
                    pass

        def test_cleanup_errors_after_a_failure(self):
            self.addCleanup(self._broken_cleanup)
            self.fail("first")

        @staticmethod
        def _broken_cleanup():
            raise OSError("cleanup")

    class Fixture(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
            raise RuntimeError("no set-up")

        def test_never(self):
            pass

    class Teardown(unittest.TestCase):
        @classmethod
        def tearDownClass(cls):
            raise RuntimeError("no tear-down")

        def test_fine(self):
            pass

    return Cases, Fixture, Teardown


def run_cases():
    loader = unittest.TestLoader()
    suite = unittest.TestSuite(loader.loadTestsFromTestCase(case) for case in make_cases())
    results = io.StringIO()
    log = io.StringIO()
    result = RecordingResult(log, ResultWriter(results))
    suite(result)
    result.printErrors()
    return read_stream(io.StringIO(results.getvalue())), log.getvalue()


def by_name(contents):
    return {test_id.rsplit(".", 1)[-1]: value for test_id, value in contents.outcomes.items()}


def test_every_outcome_is_recorded_once_per_test():
    contents, log = run_cases()
    outcomes = {name: value.outcome for name, value in by_name(contents).items()}
    assert outcomes == {
        "test_passes": Outcome.PASSED,
        "test_fails": Outcome.FAILED,
        "test_errors": Outcome.ERROR,
        "test_skipped": Outcome.SKIPPED,
        "test_expected_failure": Outcome.EXPECTED_FAILURE,
        "test_unexpected_success": Outcome.UNEXPECTED_SUCCESS,
        "test_subtest_fails": Outcome.FAILED,
        "test_subtest_errors_and_fails": Outcome.ERROR,
        "test_subtests_pass": Outcome.PASSED,
        "test_cleanup_errors_after_a_failure": Outcome.ERROR,
        "Fixture)": Outcome.ERROR,  # setUpClass (....Fixture)
        "test_fine": Outcome.PASSED,
        "Teardown)": Outcome.ERROR,  # tearDownClass (....Teardown)
    }
    assert contents.done is False
    assert contents.running is None
    assert "FAIL: test_fails" in log  # the log has what unittest prints
    assert "Traceback" in log


def test_details_name_the_exception_subtest_and_skip_reason():
    contents, _ = run_cases()
    details = {name: value.detail for name, value in by_name(contents).items()}
    assert details["test_fails"] == "AssertionError: 1 != 2"
    assert details["test_errors"] == "FileNotFoundError: [Errno 2] No such file or directory: 'x'"
    assert details["test_skipped"] == "a reason"
    assert details["test_subtest_fails"] == "(number=1): AssertionError: 1 == 1"
    assert details["test_subtest_errors_and_fails"] == "[erroring]: ValueError: two"
    assert details["test_cleanup_errors_after_a_failure"] == "OSError: cleanup"
    fixture_ids = [test_id for test_id in contents.outcomes if " (" in test_id]
    assert sorted(test_id.split(" ")[0] for test_id in fixture_ids) == [
        "setUpClass",
        "tearDownClass",
    ]
    assert all(test_id.endswith("Fixture)") or "Teardown" in test_id for test_id in fixture_ids)


def test_describe_keeps_one_short_line():
    try:
        raise AssertionError("first line\nsecond line " + "x" * 1000)
    except AssertionError:
        text = describe(sys.exc_info())
    assert "\n" not in text
    assert text.startswith("AssertionError: first line second line")
    assert len(text) == DETAIL_LIMIT
    assert describe((None, None, None)) == ""
