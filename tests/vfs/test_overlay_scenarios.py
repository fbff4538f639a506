"""The provider scenario suite on OverlayFileSystem, compared with native Linux.

Three configurations: an empty lower layer (everything lives in the upper one), an empty host
directory as the lower layer, and a *seeded* one, where each scenario's opening steps that only
create files run on the lower layer itself; the scenario then goes on through the overlay, so
its changes copy lower entries up, leave whiteouts and merge directories. Where the overlay is
meant to differ from a plain Linux file system, the difference is allowed in place below,
named by its compat gap id.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.vfs.conftest import IS_ROOT
from tests.vfs.ops import ProviderOps
from tests.vfs.recording import Recorder, differences
from tests.vfs.scenarios import GUEST_ROOT, SCENARIOS, run_native
from vfs import HostFileSystem, Identity, MemoryFileSystem
from vfs.overlay import OverlayFileSystem

SEEDING = {"mkdir", "symlink", "link", "open", "pwrite", "close"}
"""Operations a seeded configuration sends to the lower layer while the scenario sets up."""


def memory() -> MemoryFileSystem:
    return MemoryFileSystem(identity=Identity.root())


class SeededOps(ProviderOps):
    """Runs a scenario's creating prelude on the lower layer, then everything on the overlay.

    The switch happens at the first operation that is not a creating one (see SEEDING; ``open``
    counts only with O_CREAT) while no file is open, so no handle spans the two phases.
    """

    def __init__(self) -> None:
        self.lower = memory()
        self.overlay = OverlayFileSystem(memory(), self.lower)
        super().__init__(self.lower)
        self.seeding = True

    def call(self, name: str, args: tuple[Any, ...]) -> Any:
        if self.seeding and not self._handles and not self._seeds(name, args):
            self.seeding = False
            self.fs = self.overlay
        return super().call(name, args)

    @staticmethod
    def _seeds(name: str, args: tuple[Any, ...]) -> bool:
        if name == "open":
            return bool(args[1] & os.O_CREAT)
        return name in SEEDING


CONFIGURATIONS: dict[str, Callable[[str], ProviderOps]] = {
    "empty-lower": lambda root: ProviderOps(OverlayFileSystem(memory(), memory())),
    "host-lower": lambda root: ProviderOps(OverlayFileSystem(memory(), HostFileSystem(root))),
    "seeded-lower": lambda root: SeededOps(),
}


HARDLINK_COPYUP = "vfs.overlay.hardlink-copyup"
EXPECTED: dict[tuple[str, str], dict[tuple[str, tuple[Any, ...]], str]] = {
    # Copying up one name of a lower file with two links splits them (overlayfs, index=off):
    # /f is copied up when /hl-follow is linked to it, so /g keeps the lower inode.
    ("hard_links", "seeded-lower"): {
        ("stat", ("/hl-follow",)): HARDLINK_COPYUP,
        ("scandir", ("/",)): HARDLINK_COPYUP,
    },
    # /f has a second name (/f-link) in the lower layer: renaming it copies it up alone, so it
    # gets a new inode number and no longer shares one with /f-link.
    ("rename_cases", "seeded-lower"): {
        ("note", ("rename keeps the inode",)): HARDLINK_COPYUP,
        ("scandir", ("/",)): HARDLINK_COPYUP,
    },
}
"""Steps whose outcome is meant to differ from native Linux, by scenario and configuration."""


@pytest.mark.parametrize("configuration", sorted(CONFIGURATIONS))
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_on_overlay_matches_native(
    name: str, configuration: str, directories: Callable[[], str]
) -> None:
    if name in GUEST_ROOT and not IS_ROOT:
        pytest.skip("needs a chrooted native side")
    native = run_native(name, directories())
    ops = CONFIGURATIONS[configuration](directories())
    old_umask = os.umask(0o077)
    try:
        emulated = Recorder(ops.call, configuration)
        SCENARIOS[name](emulated)
    finally:
        os.umask(old_umask)
        ops.close()
    assert native.log, "the scenario recorded nothing"
    unexplained = [
        (want, got)
        for want, got in zip(native.log, emulated.log, strict=False)
        if want != got and want[:2] not in EXPECTED.get((name, configuration), {})
    ]
    if unexplained or len(native.log) != len(emulated.log):
        problems = differences(native, emulated)
        assert not problems, "\n".join(problems)
