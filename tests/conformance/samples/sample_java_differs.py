"""A module with a test that passes natively and fails on the java backend, which keeps file
times to the second (compat gap emulated.times.resolution)."""

import os
import unittest

NANOSECONDS = 1_500_000_000_123_456_789


class Differs(unittest.TestCase):
    def test_same_everywhere(self):
        self.assertEqual(os.listdir("."), [])

    def test_nanosecond_times(self):
        with open("file", "w", encoding="utf-8"):
            pass
        self.addCleanup(os.remove, "file")
        os.utime("file", ns=(NANOSECONDS, NANOSECONDS))
        self.assertEqual(os.stat("file").st_mtime_ns, NANOSECONDS)
