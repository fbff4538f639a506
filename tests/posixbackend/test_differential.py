"""Every backend scenario on real os and on the EmulatedBackend over each provider."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from posixbackend.emulated import EmulatedBackend
from tests.posixbackend.harness import assert_same, run_on_both
from tests.posixbackend.scenarios import SCENARIOS
from vfs import HostFileSystem, Identity, MemoryFileSystem

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the native side chroots, which needs root"
)

BACKENDS: dict[str, Callable[[str], Any]] = {
    "memory": lambda root: EmulatedBackend(
        MemoryFileSystem(identity=Identity.root()), accelerated=True
    ),
    "memory-pure": lambda root: EmulatedBackend(
        MemoryFileSystem(identity=Identity.root()), accelerated=False
    ),
    "host": lambda root: EmulatedBackend(HostFileSystem(root)),
}


@pytest.mark.parametrize("provider", sorted(BACKENDS))
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_backend_matches_native(name: str, provider: str) -> None:
    native, emulated = run_on_both(SCENARIOS[name], BACKENDS[provider])
    assert_same(native, emulated)
