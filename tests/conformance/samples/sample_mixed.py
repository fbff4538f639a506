"""Every outcome unittest knows, for the runner's recording and counting."""

import os
import unittest


def setUpModule():
    os.environ.setdefault("SAMPLE_MIXED", "1")


class Outcomes(unittest.TestCase):
    def test_passes(self):
        self.assertEqual(os.listdir("."), [])  # the fresh working directory is empty

    def test_fails(self):
        self.assertEqual(1, 2)

    def test_errors(self):
        raise OSError(5, "made up")

    @unittest.skip("not today")  # a deliberate skip: the runner must count and record it
    def test_skipped(self):
        raise AssertionError("skipped tests never run")

    @unittest.expectedFailure
    def test_expected_failure(self):
        self.assertEqual(1, 2)

    @unittest.expectedFailure
    def test_unexpected_success(self):
        self.assertEqual(1, 1)

    def test_subtests(self):
        for number in range(3):
            with self.subTest(number=number):
                self.assertLess(number, 2)


class BrokenFixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise RuntimeError("class set-up broke")

    def test_never_runs(self):
        raise AssertionError("its class never set up")
