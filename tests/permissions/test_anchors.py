"""Restricting blocks hold their thread: no fresh context, context variable or thread start
sheds them, and leaving the block frees the thread again.

Each test runs in the test process's own threads (the anchors are per thread) and looks at what
is in force from inside a fresh ``contextvars.Context``, the way a guest would try to get out.
"""

from __future__ import annotations

import _thread
import asyncio
import contextvars
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import pytest

from posixbackend import Permissions, backend, current, current_permissions
from posixbackend.permissions import anchors
from posixbackend.permissions.current import POLICY
from posixbackend.switch.active import ACTIVE
from posixbackend.switch.nativecalls import native_calls
from vfs import MemoryFileSystem

SANDBOX = Permissions(allow_io="all", allow_create_thread=True)
NARROWER = attrs.evolve(SANDBOX, allow_create_thread=False)


def fresh(call: Any, *args: Any) -> Any:
    """``call(*args)`` in an empty context, as a guest escaping its block would run it."""
    return contextvars.Context().run(call, *args)


def in_force() -> tuple[Any, Permissions]:
    """The backend kind and the permissions a fresh context sees on this thread."""
    seen: tuple[Any, Permissions] = fresh(lambda: (current(), current_permissions()))
    return seen


def managed(permissions: Permissions | None = SANDBOX) -> Any:
    return backend("managed", file_system=MemoryFileSystem(), permissions=permissions)


def test_a_fresh_context_in_a_restricting_block_is_still_served_and_restricted() -> None:
    with managed():
        kind, permissions = in_force()
        assert permissions == SANDBOX
        assert kind.value == "java"
        assert fresh(os.listdir, "/") == []  # the block's memory file system, not the host's
    assert in_force()[1] == Permissions.all()
    assert anchors.anchor_of_caller() is None


def test_setting_the_context_variables_changes_nothing_in_force() -> None:
    with managed():
        ACTIVE.set(None)
        POLICY.set(None)
        assert current_permissions() == SANDBOX
        assert os.listdir("/") == []


def test_a_block_without_permissions_keeps_its_context_only() -> None:
    with managed(None):
        assert anchors.anchor_of_caller() is None
        assert fresh(current).value == "native"  # no permissions: nothing to hold the thread


def test_nested_blocks_anchor_and_unwind_in_order() -> None:
    with managed():
        outer = anchors.anchor_of_caller()
        with managed(NARROWER):
            assert in_force()[1] == NARROWER
            with backend("managed", file_system=MemoryFileSystem()):  # inherits, still held
                assert in_force()[1] == NARROWER
            assert anchors.anchor_of_caller() is not outer
        assert anchors.anchor_of_caller() is outer
        assert in_force()[1] == SANDBOX
    assert anchors.anchor_of_caller() is None


def test_blocks_left_out_of_order_keep_the_ones_still_open() -> None:
    """Two asyncio tasks, each with its own context, leave their blocks out of order."""
    seen: list[Permissions] = []

    async def first(entered: asyncio.Event, left: asyncio.Event) -> None:
        with managed():
            entered.set()
            await asyncio.sleep(0)
        left.set()

    async def second(entered: asyncio.Event, left: asyncio.Event) -> None:
        await entered.wait()
        with managed(NARROWER):
            await left.wait()  # the first block has ended meanwhile
            seen.append(in_force()[1])
        seen.append(in_force()[1])

    async def main() -> None:
        entered, left = asyncio.Event(), asyncio.Event()
        await asyncio.gather(first(entered, left), second(entered, left))

    asyncio.run(main())
    assert seen == [NARROWER, Permissions.all()]
    assert anchors.anchor_of_caller() is None


def test_threads_started_in_a_block_are_held_by_it() -> None:
    seen: list[Permissions] = []
    with managed():
        thread = threading.Thread(target=lambda: seen.append(in_force()[1]))
        thread.start()
        thread.join()
        done = threading.Event()

        def raw() -> None:
            seen.append(in_force()[1])
            done.set()

        _thread.start_new_thread(raw, ())
        assert done.wait(10)
    assert seen == [SANDBOX, SANDBOX]


def test_a_thread_that_ended_leaves_no_anchor_for_the_next_one_with_its_id() -> None:
    with managed():
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()
    deadline = time.monotonic() + 5  # join returns a moment before the thread's last line
    while thread.ident in anchors.ANCHORS and time.monotonic() < deadline:
        time.sleep(0.01)
    assert thread.ident not in anchors.ANCHORS


def test_pool_jobs_are_held_and_the_workers_freed_between_them() -> None:
    with ThreadPoolExecutor(1) as pool:
        with managed():
            inside = pool.submit(in_force).result()[1]
        outside = pool.submit(in_force).result()[1]  # the same worker, started in the block
    assert (inside, outside) == (SANDBOX, Permissions.all())


def test_asyncio_tasks_on_an_anchored_thread_are_all_held() -> None:
    """The documented price of anchoring: a task awaiting inside a restricting block holds
    every task its event loop runs meanwhile on that thread."""
    seen: dict[str, Permissions] = {}

    async def guest(started: asyncio.Event, release: asyncio.Event) -> None:
        with managed():
            started.set()
            await release.wait()

    async def other(started: asyncio.Event, release: asyncio.Event) -> None:
        await started.wait()
        seen["during"] = current_permissions()
        release.set()

    async def main() -> None:
        started, release = asyncio.Event(), asyncio.Event()
        await asyncio.gather(guest(started, release), other(started, release))
        seen["after"] = current_permissions()

    asyncio.run(main())
    assert seen == {"during": SANDBOX, "after": Permissions.all()}


def test_a_forked_child_keeps_the_anchor_of_the_thread_that_forked() -> None:
    with backend("native", permissions=attrs.evolve(SANDBOX, allow_create_process=True)):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report what holds it, then leave at once
            os.write(write, repr(fresh(current_permissions).allow_create_process).encode())
            os._exit(0)
        os.close(write)
        reported = os.read(read, 100)
        os.close(read)
        os.waitpid(pid, 0)
    assert reported == b"True"


def test_a_provider_calling_pythons_os_cannot_be_made_inside_a_restricting_block() -> None:
    from vfs.adapters.fs2_import import import_fs
    from vfs.adapters.pyfilesystem import PyFilesystemProvider

    import_fs()
    from fs.osfs import OSFS

    osfs = OSFS("/")
    made_outside = PyFilesystemProvider(osfs)
    with backend("managed", file_system=made_outside, permissions=Permissions(
        allow_io=made_outside
    )):  # fmt: skip
        assert "tmp" in fresh(os.listdir, "/")  # its calls run natively: it was made outside
        with pytest.raises(PermissionError, match="make it outside the restricting block"):
            native_calls(PyFilesystemProvider(osfs))  # what a guest would call to run natively
