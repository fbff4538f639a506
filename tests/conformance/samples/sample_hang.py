"""A module whose second test never ends, as a deadlocked backend would."""

import threading
import unittest


class Hang(unittest.TestCase):
    def test_a_passes(self):
        self.assertEqual(1 + 1, 2)

    def test_b_hangs(self):
        threading.Event().wait()

    def test_c_passes(self):
        self.assertEqual(2 * 2, 4)
