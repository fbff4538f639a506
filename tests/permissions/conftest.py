"""Fixtures shared by the permission tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from posixbackend.permissions import anchors
from tests.servers import listener

__all__ = ["listener"]


@pytest.fixture(autouse=True)
def no_anchor_left() -> Iterator[None]:
    """A test that left its thread held by a block would make everything after it run in that
    block (pytest's own output included): free the thread and fail the test instead."""
    yield
    left = anchors.anchor_of_caller()
    if left is not None:
        anchors.release_thread()
        pytest.fail(f"the test left its thread anchored: {left!r}")
