"""Fixtures: isolated registries and captured log records, so no test leaks global state."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

import compat
from tests.compat.helpers import Capture

_NUMBERS = itertools.count()


@pytest.fixture
def registry() -> compat.Registry:
    """A registry of its own, logging under a logger root no other test uses."""
    return compat.Registry(logger_root=f"tests.compat.registry{next(_NUMBERS)}")


@pytest.fixture
def captured(registry: compat.Registry) -> Iterator[Capture]:
    """Records logged by ``registry``, whose level is set to ALL (everything is logged)."""
    handler = Capture()
    root = registry.root_logger
    root.addHandler(handler)
    root.propagate = False
    registry.configure(level=compat.Level.ALL)
    yield handler
    root.removeHandler(handler)


@pytest.fixture
def default_registry() -> Iterator[compat.Registry]:
    """The default registry, with its counts, dedupe mode and logger level restored after."""
    default = compat.default_registry()
    root = default.root_logger
    level, dedupe = root.level, default.dedupe
    default.reset()
    yield default
    default.reset()
    root.setLevel(level)
    default.configure(dedupe=dedupe)
