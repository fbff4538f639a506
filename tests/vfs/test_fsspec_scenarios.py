"""Every provider scenario, on native Linux and on fsspec stores wrapped as providers.

The wrapped stores differ from Linux where fsspec cannot follow it; each such scenario is
listed in EXPECTED with the gaps that explain it, and the test checks both that it does
differ and that those gaps were hit while it ran (so an entry cannot outlive its reason).
Every other scenario must match native Linux exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem as FsspecMemory

import compat
from tests.vfs.conftest import IS_ROOT
from tests.vfs.ops import ProviderOps
from tests.vfs.recording import Recorder, differences
from tests.vfs.scenarios import GUEST_ROOT, SCENARIOS, run_native
from vfs.adapters.fsspec import FsspecProvider

ADAPTERS: dict[str, Callable[[str], FsspecProvider]] = {
    "fsspec-memory": lambda root: FsspecProvider(
        FsspecMemory(global_store=False, skip_instance_cache=True), "/"
    ),
    "fsspec-local": lambda root: FsspecProvider(LocalFileSystem(), root),
}

SYMLINKS = "vfs.fsspec.symlinks"
HARD_LINKS = "vfs.fsspec.hard_links"
METADATA = "vfs.fsspec.metadata"
TMPFILE = "vfs.fsspec.tmpfile"
LINKS = {SYMLINKS}
BOTH_LINKS = {SYMLINKS, HARD_LINKS}
DIFFERS: dict[str, set[str]] = {
    # Every scenario below makes symbolic links (EPERM here) and then looks at them.
    "absolute_symlinks": LINKS,
    "access_as_root": LINKS,
    "chmod_chown": LINKS,
    "creating_through_dangling_links": LINKS,
    "listing": LINKS,
    "rmdir_cases": LINKS,
    "symlink_loops_and_limits": LINKS,
    "symlink_resolution": LINKS,
    "unlink_cases": LINKS,
    "utime_and_truncate": LINKS,
    "open_flag_combinations": LINKS,
    "renaming_over_a_link_resolved_before": LINKS,
    "tmpfile": {TMPFILE},
    # These make hard links (EPERM here) and stop or differ when the link is missing.
    "hard_links": BOTH_LINKS,
    "rename_cases": BOTH_LINKS,
    "times_follow_linux": {HARD_LINKS, METADATA},
}
EXPECTED: dict[str, dict[str, set[str]]] = {name: DIFFERS for name in ADAPTERS}


def gap_counts() -> dict[str, int]:
    return {entry.gap.id: entry.count for entry in compat.report().gaps}


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_against_native(name: str, adapter: str, directories: Callable[[], str]) -> None:
    if name in GUEST_ROOT and not IS_ROOT:
        pytest.skip("needs a chrooted native side")
    native = run_native(name, directories())
    provider = ADAPTERS[adapter](directories())
    before = gap_counts()
    try:
        emulated = Recorder(ProviderOps(provider).call, adapter)
        try:
            SCENARIOS[name](emulated)
        except (OSError, KeyError) as error:  # a step it relies on failed (KeyError: the
            # ops table was asked for a handle whose open failed)
            aborted = [f"the scenario stopped: {error!r}"]
        else:
            aborted = []
    finally:
        provider.close()
    after = gap_counts()
    hit = {gap for gap, count in after.items() if count > before.get(gap, 0)}
    problems = aborted + differences(native, emulated)
    expected = EXPECTED[adapter].get(name)
    if expected is None:
        assert not problems, "\n".join(problems)
    else:
        assert problems, f"{name} now matches native Linux: drop its EXPECTED entry"
        assert expected <= hit, f"expected gaps {sorted(expected - hit)} were not hit"
