"""Random sequences of operations, applied to native Linux and to every provider at once.

Hypothesis picks operations and arguments from a small namespace (so that names collide, links
point at each other and directories fill up); after every step all drivers must report the same
outcome, and at the end the same tree. The number of examples follows the Hypothesis profile
(``HYPOTHESIS_PROFILE=thorough`` for long local runs). A second machine does it all as
``nobody``, so that permission checks take part too.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.vfs.conftest import IS_ROOT, make_root
from tests.vfs.ops import ProviderOps, host_provider_ops
from tests.vfs.permission_scenarios import NOBODY
from tests.vfs.recording import Recorder, differences
from tests.vfs.worker import Worker, native_worker
from vfs import Identity, MemoryFileSystem

STATEFUL_EXAMPLES = {"quick": 30, "measured": 130, "thorough": 5000}.get(
    os.environ.get("HYPOTHESIS_PROFILE", "default"), 400
)
"""Examples per machine: enough to find ordering bugs in CI (about 10 s each)."""

NAMES = ("a", "b", "c")
components = st.sampled_from((*NAMES, ".", ".."))
relative = st.lists(components, min_size=1, max_size=3).map("/".join)
paths = st.builds(
    lambda rel, slash: "/" + rel + ("/" if slash else ""),
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join) | relative,
    st.sampled_from([False, False, False, True]),  # a trailing slash now and then
)
targets = relative | (paths if IS_ROOT else relative)
modes = st.sampled_from([0o755, 0o700, 0o644, 0o1777, 0o4755, 0o2700, 0o000, 0o777])
flag_sets = st.lists(
    st.sampled_from(
        [os.O_CREAT, os.O_EXCL, os.O_TRUNC, os.O_APPEND, os.O_DIRECTORY, os.O_NOFOLLOW]
    ),
    max_size=3,
).map(lambda flags: sum(set(flags)))
access_modes = st.sampled_from([os.O_RDONLY, os.O_WRONLY, os.O_RDWR])
data = st.binary(max_size=64)


def host_ops(root: str, resolver: str) -> Callable[[], ProviderOps]:
    """A factory for a worker serving a confined HostFileSystem."""
    return functools.partial(host_provider_ops, root, resolver)


class ProvidersAgreeWithLinux(RuleBasedStateMachine):
    """The state: one native directory (in a worker) and each provider, in step."""

    uid: int | None = None
    """Run as this user (and group) instead of root; the guest's / belongs to them."""

    def __init__(self) -> None:
        super().__init__()
        self.old_umask = os.umask(0)
        self.roots = [make_root(), make_root(), make_root()]
        uid = self.uid
        if uid is not None:
            for root in self.roots:
                os.chown(root, uid, uid)
        self.workers = [native_worker(self.roots[0], uid, uid)]
        memory = MemoryFileSystem(identity=Identity.root() if uid is None else Identity(uid, uid))
        self.recorders = [
            Recorder(self.workers[0].call, "native", self.workers[0].post),
            Recorder(ProviderOps(memory).call, "memory"),
        ]
        for root, resolver in zip(self.roots[1:], ("openat2", "walk"), strict=True):
            worker = Worker(host_ops(root, resolver), uid=uid, gid=uid, umask=0o077)
            self.workers.append(worker)
            self.recorders.append(Recorder(worker.call, f"host-{resolver}", worker.post))
        self.handles: list[int] = []

    def teardown(self) -> None:
        os.umask(self.old_umask)
        for worker in self.workers:
            worker.close()
        for root in self.roots:
            shutil.rmtree(root, ignore_errors=True)

    def apply(self, op: str, *args: Any) -> Any:
        # the workers' processes run the step side by side (and beside the memory provider,
        # run here when its turn comes to be finished)
        pending = [recorder.begin(op, *args) for recorder in self.recorders]
        results = [finish() for finish in pending]
        native = self.recorders[0]
        for other in self.recorders[1:]:
            problems = differences(native, other)
            assert not problems, "\n".join(problems)
        return results[0]

    @rule(path=paths, mode=modes)
    def mkdir(self, path: str, mode: int) -> None:
        self.apply("mkdir", path, mode)

    @rule(path=paths)
    def rmdir(self, path: str) -> None:
        self.apply("rmdir", path)

    @rule(path=paths)
    def unlink(self, path: str) -> None:
        self.apply("unlink", path)

    @rule(src=paths, dst=paths)
    def rename(self, src: str, dst: str) -> None:
        self.apply("rename", src, dst)

    @rule(link_content=targets, path=paths)
    def symlink(self, link_content: str, path: str) -> None:
        self.apply("symlink", link_content, path)

    @rule(src=paths, dst=paths, follow=st.booleans())
    def link(self, src: str, dst: str, follow: bool) -> None:
        self.apply("link", src, dst, follow)

    @rule(path=paths, content=data)
    def write_file(self, path: str, content: bytes) -> None:
        self.apply("write_file", path, content, 0o644)

    @rule(path=paths, access=access_modes, flags=flag_sets, mode=modes)
    def open(self, path: str, access: int, flags: int, mode: int) -> None:
        handle = self.apply("open", path, access | flags, mode)
        if handle is not None:
            self.handles.append(handle)
            self.apply("fstat", handle)

    @precondition(lambda self: self.handles)
    @rule(index=st.integers(0, 7), content=data, offset=st.integers(0, 80))
    def pwrite(self, index: int, content: bytes, offset: int) -> None:
        self.apply("pwrite", self.handles[index % len(self.handles)], content, offset)

    @precondition(lambda self: self.handles)
    @rule(index=st.integers(0, 7), n=st.integers(0, 100), offset=st.integers(0, 80))
    def pread(self, index: int, n: int, offset: int) -> None:
        self.apply("pread", self.handles[index % len(self.handles)], n, offset)

    @precondition(lambda self: self.handles)
    @rule(index=st.integers(0, 7), length=st.integers(0, 100))
    def ftruncate(self, index: int, length: int) -> None:
        self.apply("ftruncate", self.handles[index % len(self.handles)], length)

    @precondition(lambda self: self.handles)
    @rule(index=st.integers(0, 7))
    def close(self, index: int) -> None:
        self.apply("close", self.handles.pop(index % len(self.handles)))

    @rule(path=paths, length=st.integers(-1, 100))
    def truncate(self, path: str, length: int) -> None:
        self.apply("truncate", path, length)

    @rule(path=paths, mode=modes, follow=st.booleans())
    def chmod(self, path: str, mode: int, follow: bool) -> None:
        self.apply("chmod", path, mode, follow)

    @rule(
        path=paths,
        uid=st.sampled_from([-1, 0, 7]),
        gid=st.sampled_from([-1, 0, 9]),
        follow=st.booleans(),
    )
    def chown(self, path: str, uid: int, gid: int, follow: bool) -> None:
        self.apply("chown", path, uid, gid, follow)

    @rule(path=paths, follow=st.booleans())
    def stat(self, path: str, follow: bool) -> None:
        self.apply("stat", path, follow)

    @rule(path=paths)
    def listdir(self, path: str) -> None:
        self.apply("scandir", path)

    @rule(path=paths)
    def readlink(self, path: str) -> None:
        self.apply("readlink", path)

    @rule(
        path=paths,
        mode=st.sampled_from([os.F_OK, os.R_OK, os.W_OK, os.X_OK, 7]),
        follow=st.booleans(),
    )
    def access(self, path: str, mode: int, follow: bool) -> None:
        self.apply("access", path, mode, follow)

    @rule(path=paths, follow=st.booleans())
    def utime(self, path: str, follow: bool) -> None:
        self.apply("utime", path, (123_456_789, 987_654_321), follow)

    @invariant()
    def same_tree(self) -> None:
        self.apply("tree")


class ProvidersAgreeWithLinuxAsNobody(ProvidersAgreeWithLinux):
    """The same, as an unprivileged user, so that every permission check takes part."""

    uid = NOBODY


machine_settings = settings(
    max_examples=STATEFUL_EXAMPLES,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ProvidersAgreeWithLinux.TestCase.settings = machine_settings
ProvidersAgreeWithLinuxAsNobody.TestCase.settings = machine_settings
TestProvidersAgreeWithLinux = ProvidersAgreeWithLinux.TestCase
TestProvidersAgreeWithLinuxAsNobody = pytest.mark.skipif(
    not IS_ROOT, reason="needs root to drop to nobody"
)(ProvidersAgreeWithLinuxAsNobody.TestCase)
