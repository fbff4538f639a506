"""Ids, scheduling and terminal functions of the emulated process, compared with real os.

Both sides run in this process (the emulated process is the real one for scheduling
questions), so answers about it must be equal; where the emulation refuses what Linux would
do, the test names the gap.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import compat
from posixbackend.emulated import EmulatedBackend
from vfs import HostFileSystem, Identity, MemoryFileSystem


def hits(gap: str) -> int:
    entry = compat.report().get(gap)
    return entry.count if entry is not None else 0


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("ok", call())
    except Exception as error:  # noqa: BLE001 - the outcome is what is compared
        return (type(error), getattr(error, "errno", None), str(error) if not
                isinstance(error, OSError) else None)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[EmulatedBackend]:
    emulated = EmulatedBackend(HostFileSystem(tmp_path), identity=Identity.current())
    yield emulated
    emulated.file_system.close()


QUERIES: list[tuple[str, tuple[Any, ...]]] = [
    ("getresuid", ()), ("getresgid", ()), ("getpgrp", ()), ("getpgid", (0,)),
    ("getsid", (0,)), ("getpriority", (os.PRIO_PROCESS, 0)), ("sched_getaffinity", (0,)),
    ("sched_getscheduler", (0,)), ("sched_getparam", (0,)), ("ctermid", ()),
    ("getgrouplist", ("root", 0)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args"), QUERIES, ids=[q[0] for q in QUERIES])
def test_questions_about_this_process_get_the_real_answers(
    backend: EmulatedBackend, name: str, args: tuple[Any, ...]
) -> None:
    assert outcome(lambda: getattr(backend, name)(*args)) == outcome(
        lambda: getattr(os, name)(*args)
    )


BAD_IDS: list[tuple[str, tuple[Any, ...]]] = [
    ("setuid", ("0",)), ("setuid", (1 << 32,)), ("setuid", (-2,)), ("seteuid", (None,)),
    ("setreuid", ("x", 0)), ("setreuid", (0, 1 << 40)), ("setresuid", (0, 0, "x")),
    ("setgid", (1.5,)), ("setegid", (1 << 32,)), ("setregid", (-5, 0)),
    ("setresgid", (0, 0, [])), ("setgroups", (3,)), ("setgroups", ({0},)),
    ("setgroups", (["a"],)), ("setgroups", (list(range(70000)),)), ("initgroups", (3, 0)),
    ("getpriority", ("x", 0)), ("sched_getaffinity", ("0",)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args"), BAD_IDS, ids=[f"{b[0]}{b[1]!r}"[:40] for b in BAD_IDS])
def test_bad_arguments_fail_as_natively(
    backend: EmulatedBackend, name: str, args: tuple[Any, ...]
) -> None:
    native = outcome(lambda: getattr(os, name)(*args))
    assert native[0] != "ok"  # the native call failed: nothing on the host changed
    assert outcome(lambda: getattr(backend, name)(*args)) == native


def test_keeping_the_ids_works_and_changing_them_is_refused() -> None:
    me = Identity(uid=1000, gid=1000, groups=[1000])
    backend = EmulatedBackend(MemoryFileSystem(identity=me), identity=me)
    keeping: list[Callable[[], object]] = [
        lambda: backend.setuid(1000), lambda: backend.seteuid(1000),
        lambda: backend.setreuid(-1, -1), lambda: backend.setresuid(1000, -1, 1000),
        lambda: backend.setgid(1000), lambda: backend.setresgid(-1, -1, -1),
        lambda: backend.setgroups([1000]),
    ]  # fmt: skip
    for keep in keeping:
        keep()
    before = hits("emulated.process.set_ids")
    for call in (
        lambda: backend.setuid(0), lambda: backend.setreuid(0, -1),
        lambda: backend.setresgid(-1, 5, -1), lambda: backend.setgroups([0]),
    ):  # fmt: skip
        with pytest.raises(PermissionError) as caught:
            call()
        assert caught.value.errno == errno.EPERM
    assert hits("emulated.process.set_ids") == before + 4
    assert backend.getresuid() == (1000, 1000, 1000) and backend.getgroups() == [1000]
    with pytest.raises(OSError) as invalid:  # Linux: setuid((uid_t)-1) is EINVAL
        backend.setuid(-1)
    assert invalid.value.errno == errno.EINVAL


def test_root_may_change_its_groups() -> None:
    backend = EmulatedBackend(MemoryFileSystem(identity=Identity.root()))
    backend.setgroups([0, 5, 7])
    assert backend.getgroups() == [0, 5, 7]
    backend.setgroups([])
    assert backend.getgroups() == []


def test_other_processes_and_sessions_are_out_of_reach(backend: EmulatedBackend) -> None:
    before = hits("emulated.process.signals")
    lookups: list[Callable[[], object]] = [
        lambda: backend.getpgid(1), lambda: backend.getpriority(os.PRIO_PROCESS, 1),
    ]  # fmt: skip
    for call in lookups:
        with pytest.raises(ProcessLookupError):  # Linux answers for pid 1: gap
            call()
    assert hits("emulated.process.signals") == before + 2
    sessions = hits("emulated.process.sessions")
    refused: list[Callable[[], object]] = [
        backend.setsid, backend.setpgrp, lambda: backend.setpgid(0, 0),
    ]  # fmt: skip
    for call in refused:
        with pytest.raises(PermissionError):
            call()
    assert hits("emulated.process.sessions") == sessions + 3


def test_priority_changes_act_on_this_process(backend: EmulatedBackend) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base >= 19:
        pytest.skip("niceness is already at its maximum")
    backend.setpriority(os.PRIO_PROCESS, 0, base + 1)  # the niceness cannot be lowered back
    assert os.getpriority(os.PRIO_PROCESS, 0) == base + 1 == backend.getpriority(
        os.PRIO_PROCESS, 0
    )


def test_terminal_functions_on_files_and_bad_descriptors(
    backend: EmulatedBackend, tmp_path: Path
) -> None:
    (tmp_path / "f").write_bytes(b"")
    native_fd = os.open(tmp_path / "f", os.O_RDONLY)
    emulated_fd = backend.open("/f", os.O_RDONLY)
    try:
        for name in ("ttyname", "tcgetpgrp", "get_terminal_size"):
            emulated_call, native_call = getattr(backend, name), getattr(os, name)
            assert outcome(partial(emulated_call, emulated_fd)) == outcome(
                partial(native_call, native_fd)
            )
            assert outcome(partial(emulated_call, 1234)) == outcome(partial(native_call, 1234))
        assert outcome(lambda: backend.tcsetpgrp(emulated_fd, 0)) == outcome(
            lambda: os.tcsetpgrp(native_fd, 0)
        )
    finally:
        os.close(native_fd)
        backend.close(emulated_fd)
