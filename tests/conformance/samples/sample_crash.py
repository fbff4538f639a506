"""A module whose second test ends the process, as a crashing backend would."""

import os
import unittest


class Crash(unittest.TestCase):
    def test_a_passes(self):
        self.assertTrue(os.path.isdir("."))

    def test_b_crashes(self):
        os._exit(3)

    def test_c_never_runs(self):
        self.fail("the process ended before this test")
