"""The pyfakefs adapter: every provider scenario against native Linux, plus its own cases.

pyfakefs models POSIX itself, so most scenarios must match Linux exactly; those where pyfakefs
(or the adapter over it) is known to differ are listed in DIFFERS with the gaps that explain
them, and must both differ and hit those gaps.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import compat
from tests.vfs.conftest import IS_ROOT
from tests.vfs.ops import ProviderOps
from tests.vfs.recording import Recorder, differences
from tests.vfs.scenarios import GUEST_ROOT, SCENARIOS, run_native
from vfs.adapters.pyfakefs import PyfakefsFileSystem

TMPFILE = "vfs.pyfakefs.tmpfile"
TIMES = "vfs.pyfakefs.times"
RESOLUTION = "vfs.pyfakefs.resolution"
UNDETECTED = {RESOLUTION}
"""Gaps inside pyfakefs's own path walk: the adapter cannot tell when they happen, so they are
declared and documented but never hit; a scenario marked with one need not hit it."""
DIFFERS: dict[str, set[str]] = {
    "name_and_path_limits": {RESOLUTION},  # no ENAMETOOLONG for long components
    "symlink_loops_and_limits": {RESOLUTION},  # no ELOOP after 40 links
    "symlink_resolution": {RESOLUTION},  # readlink('/a/b/f/') is EINVAL, not ENOTDIR
    "rename_cases": {RESOLUTION},  # rename('/la/', ...) of a link to a dir is ENOENT
    "renaming_over_a_link_resolved_before": {RESOLUTION},  # rename('/c/a') through c -> . ENOENT
    "times_follow_linux": {TIMES},
    "tmpfile": {TMPFILE},
}


def gap_counts() -> dict[str, int]:
    return {entry.gap.id: entry.count for entry in compat.report().gaps}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_against_native(name: str, directories: Callable[[], str]) -> None:
    if name in GUEST_ROOT and not IS_ROOT:
        pytest.skip("needs a chrooted native side")
    native = run_native(name, directories())
    provider = PyfakefsFileSystem()
    before = gap_counts()
    emulated = Recorder(ProviderOps(provider).call, "pyfakefs")
    try:
        SCENARIOS[name](emulated)
    except (OSError, KeyError) as error:  # KeyError: the ops table lacks a failed open's handle
        aborted = [f"the scenario stopped: {error!r}"]
    else:
        aborted = []
    hit = {gap for gap, count in gap_counts().items() if count > before.get(gap, 0)}
    problems = aborted + differences(native, emulated)
    expected = DIFFERS.get(name)
    if expected is None:
        assert not problems, "\n".join(problems)
    else:
        assert problems, f"{name} now matches native Linux: drop its DIFFERS entry"
        assert all(compat.registry().get(gap) for gap in expected), "undeclared gap"
        missing = expected - hit - UNDETECTED
        assert not missing, f"expected gaps {sorted(missing)} were not hit"
