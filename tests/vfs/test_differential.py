"""Every scenario, on native Linux and on each provider: every result and error must match."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.vfs.conftest import IS_ROOT
from tests.vfs.ops import ProviderOps
from tests.vfs.recording import Recorder, differences
from tests.vfs.scenarios import GUEST_ROOT, SCENARIOS, run_native
from vfs import HostFileSystem, Identity, MemoryFileSystem
from vfs.remote import RemoteFileSystem, serve_pair

PROVIDERS: dict[str, Callable[[str], ProviderOps]] = {
    "memory": lambda root: ProviderOps(MemoryFileSystem(identity=Identity.root())),
    "host": lambda root: ProviderOps(HostFileSystem(root)),
    "host-walk": lambda root: ProviderOps(HostFileSystem(root, resolver="walk")),
    "host-unconfined": lambda root: ProviderOps(HostFileSystem(), prefix=root),
    "remote": lambda root: ProviderOps(
        RemoteFileSystem(serve_pair(MemoryFileSystem(identity=Identity.root())))
    ),
}
NEEDS_GUEST_ROOT = {"host-unconfined"}
"""Providers whose '/' is the host's: scenarios marked guest_root do not apply."""
PROVIDER_UMASK = 0o077
"""Providers run under a restrictive umask: modes must arrive exactly as given anyway."""


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_matches_native(name: str, provider: str, directories: Callable[[], str]) -> None:
    if name in GUEST_ROOT and (not IS_ROOT or provider in NEEDS_GUEST_ROOT):
        pytest.skip("needs a chrooted native side and a provider whose / is the scenario's")
    native = run_native(name, directories())
    ops = PROVIDERS[provider](directories())
    old_umask = os.umask(PROVIDER_UMASK)
    try:
        emulated = Recorder(ops.call, provider)
        SCENARIOS[name](emulated)
    finally:
        os.umask(old_umask)
        ops.close()
    assert native.log, "the scenario recorded nothing"
    problems = differences(native, emulated)
    assert not problems, "\n".join(problems)
