"""A ``unittest.TestCase`` mixin: ``self.setUpManagedFs()`` in ``setUp`` (pyfakefs's
``setUpPyfakefs``), the block ending with the test through ``addCleanup``."""

from __future__ import annotations

from typing import Any

from posixbackend.testing.helper import ManagedFs


class ManagedFsTestCase:
    """Mix into a ``unittest.TestCase``; after :meth:`setUpManagedFs`, ``self.fs`` is the
    test's :class:`ManagedFs` and the test runs inside its block."""

    fs: ManagedFs

    def setUpManagedFs(self, **options: Any) -> ManagedFs:
        """Start a fresh managed block for this test (``options``: ManagedFs's keyword
        arguments); it ends after the test and its other cleanups."""
        helper = ManagedFs(**options).start()
        self.addCleanup(helper.stop)  # type: ignore[attr-defined]
        self.fs = helper
        return helper
