"""Fixtures for the switch's tests: a clean installation state around each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import posixbackend


@pytest.fixture
def uninstalled() -> Iterator[None]:
    """Start with no stand-ins in place, and take them out again afterwards."""
    posixbackend.uninstall()
    yield
    posixbackend.uninstall()
