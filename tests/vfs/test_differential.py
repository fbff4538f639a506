"""Every scenario, on native Linux and on each provider: every result and error must match."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest

from tests.vfs.conftest import IS_ROOT, make_root
from tests.vfs.ops import ProviderOps
from tests.vfs.recording import Recorder, differences
from tests.vfs.scenarios import ABSOLUTE_LINKS, SCENARIOS
from tests.vfs.worker import native_worker
from vfs import FileSystem, HostFileSystem, Identity, MemoryFileSystem

PROVIDERS: dict[str, Callable[[str], FileSystem]] = {
    "memory": lambda root: MemoryFileSystem(identity=Identity.root()),
    "host": lambda root: HostFileSystem(root),
    "host-walk": lambda root: HostFileSystem(root, resolver="walk"),
}


@pytest.fixture
def directories() -> Iterator[Callable[[], str]]:
    made: list[str] = []

    def new() -> str:
        made.append(make_root())
        return made[-1]

    yield new
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


def run_native(name: str, root: str) -> Recorder:
    worker = native_worker(root)
    try:
        recorder = Recorder(worker.call, "native")
        SCENARIOS[name](recorder)
    finally:
        worker.close()
    return recorder


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_matches_native(name: str, provider: str, directories: Callable[[], str]) -> None:
    if name in ABSOLUTE_LINKS and not IS_ROOT:
        pytest.skip("absolute links need the native side chrooted, which needs root")
    old_umask = os.umask(0)
    try:
        native = run_native(name, directories())
        fs = PROVIDERS[provider](directories())
        try:
            emulated = Recorder(ProviderOps(fs).call, provider)
            SCENARIOS[name](emulated)
        finally:
            fs.close()
    finally:
        os.umask(old_umask)
    assert native.log, "the scenario recorded nothing"
    problems = differences(native, emulated)
    assert not problems, "\n".join(problems)
