"""Permission semantics compared with real Linux, as an unprivileged user (``nobody``).

The native side prepares the tree as root and then runs the scenario in a child that dropped to
nobody; the memory file system switches its identity; the confined host provider runs in a
nobody child too.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator

import pytest

from tests.vfs.conftest import make_root
from tests.vfs.ops import NativeOps, ProviderOps, host_provider_ops
from tests.vfs.permission_scenarios import NOBODY, NOGROUP, PERMISSION_SCENARIOS
from tests.vfs.recording import Recorder, differences
from tests.vfs.worker import Worker
from vfs import HostFileSystem, Identity, MemoryFileSystem

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to nobody")


@pytest.fixture
def directory() -> Iterator[str]:
    path = make_root()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def native(name: str, root: str) -> Recorder:
    setup, scenario, groups = PERMISSION_SCENARIOS[name]
    prepare = Worker(NativeOps, chroot=root)
    try:
        setup(Recorder(prepare.call, "native-setup"))
    finally:
        prepare.close()
    worker = Worker(NativeOps, chroot=root, uid=NOBODY, gid=NOGROUP, groups=groups)
    try:
        recorder = Recorder(worker.call, "native")
        scenario(recorder)
    finally:
        worker.close()
    return recorder


def memory(name: str) -> Recorder:
    setup, scenario, groups = PERMISSION_SCENARIOS[name]
    fs = MemoryFileSystem(identity=Identity.root())
    setup(Recorder(ProviderOps(fs).call, "memory-setup"))
    fs.identity = Identity(NOBODY, NOGROUP, frozenset(groups))
    recorder = Recorder(ProviderOps(fs).call, "memory")
    scenario(recorder)
    return recorder


def host(name: str, root: str, resolver: str) -> Recorder:
    setup, scenario, groups = PERMISSION_SCENARIOS[name]
    with HostFileSystem(root, resolver=resolver) as fs:
        setup(Recorder(ProviderOps(fs).call, "host-setup"))
    worker = Worker(
        functools.partial(host_provider_ops, root, resolver),
        uid=NOBODY,
        gid=NOGROUP,
        groups=groups,
    )
    try:
        recorder = Recorder(worker.call, f"host-{resolver}")
        scenario(recorder)
    finally:
        worker.close()
    return recorder


@pytest.mark.parametrize("provider", ["memory", "host-openat2", "host-walk"])
@pytest.mark.parametrize("name", sorted(PERMISSION_SCENARIOS))
def test_permissions_match_linux(name: str, provider: str, directory: str) -> None:
    old_umask = os.umask(0)
    try:
        expected = native(name, directory)
        other = make_root()
        try:
            if provider == "memory":
                actual = memory(name)
            else:
                actual = host(name, other, provider.removeprefix("host-"))
        finally:
            shutil.rmtree(other, ignore_errors=True)
    finally:
        os.umask(old_umask)
    assert expected.log, "the scenario recorded nothing"
    problems = differences(expected, actual)
    assert not problems, "\n".join(problems)
