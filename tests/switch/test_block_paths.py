"""Entering and leaving a block by the C methods (posixbackend/_standin.c) and by the Python
ones (BackendBlock._enter_python/_exit_python): the same state before, inside and after."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import posixbackend.switch
from posixbackend import Permissions, backend, current_emulated
from posixbackend.permissions import anchors
from posixbackend.permissions.current import POLICY
from posixbackend.switch import block as block_module
from posixbackend.switch import rerun
from posixbackend.switch._threads import _stand_ins_used as stand_ins_used
from posixbackend.switch.active import ACTIVE
from posixbackend.switch.block import BackendBlock
from posixbackend.switch.installation import INSTALLATION
from tests.interrupts import (
    RETRIES,
    Operation,
    Point,
    first_of_each_place,
    full_profile,
    interrupt_everywhere,
    run_fresh,
    traced,
)
from vfs import Identity, MemoryFileSystem

C_BUILT = block_module.C_METHODS is not None


def memory(directory: str = "/d") -> MemoryFileSystem:
    fs = MemoryFileSystem(identity=Identity.root())
    fs.mkdir(directory)
    return fs


@pytest.fixture(params=["c", "python"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test once by the C methods (skipped when they are not built) and once by the
    Python ones."""
    if request.param == "c" and not C_BUILT:
        pytest.skip("posixbackend._standin's block methods are not in use")
    if request.param == "python":
        monkeypatch.setattr(BackendBlock, "__enter__", BackendBlock._enter_python)
        monkeypatch.setattr(BackendBlock, "__exit__", BackendBlock._exit_python)
    yield request.param
    assert ACTIVE.get() is None and POLICY.get() is None


def installed() -> bool:
    """Whether the stand-ins are in place (read through a call: mypy would narrow the
    property across the blocks that change it)."""
    return INSTALLATION.installed


def pending() -> bool:
    """Whether a park is pending (as :func:`installed`)."""
    return INSTALLATION.pending


def settled() -> None:
    """No block counts as entered, and nobody holds the installation's lock."""
    assert INSTALLATION._users == 0
    holders = getattr(INSTALLATION._lock, "holders", 0)
    assert holders == 0


def test_nested_blocks_and_an_exception_restore_each_level(path: str) -> None:
    outer_fs, inner_fs = memory("/outer"), memory("/inner")
    with backend("managed", file_system=outer_fs) as outer:
        inner = backend("managed", file_system=inner_fs)
        with pytest.raises(KeyError, match="inside"), inner:  # passes through, unchanged
            assert os.listdir("/") == ["inner"]
            raise KeyError("inside")
        assert current_emulated() is outer.emulated and os.listdir("/") == ["outer"]
        with backend("native"):
            assert current_emulated() is None
        assert os.listdir("/") == ["outer"]
    assert current_emulated() is None
    settled()


def test_a_block_entered_again_inside_itself_unwinds_in_order(path: str) -> None:
    block = backend("managed", file_system=memory())
    with block:
        os.chdir("/d")
        with block:
            assert os.getcwd() == "/d"
        assert current_emulated() is block.emulated
    with block:
        assert os.getcwd() == "/d"  # the backend keeps its state
    with pytest.raises(IndexError):  # never entered: nothing to leave
        block.__exit__(None, None, None)
    settled()


def test_either_path_leaves_what_the_other_entered(path: str) -> None:
    block = backend("managed", file_system=memory())
    methods = block_module.C_METHODS
    if path == "c" or methods is None:
        other_enter, other_exit = BackendBlock._enter_python, BackendBlock._exit_python
    else:
        other_enter, other_exit = methods
    other_enter(block)
    assert current_emulated() is block.emulated
    block.__exit__(None, None, None)
    block.__enter__()
    assert current_emulated() is block.emulated
    other_exit(block, None, None, None)
    assert current_emulated() is None
    settled()


def test_a_policy_left_set_inside_is_gone_after_the_block(path: str) -> None:
    with backend("managed", file_system=memory()):
        POLICY.set(Permissions())  # as a block entered and never left would
    assert POLICY.get() is None
    settled()


def test_threads_and_tasks_keep_their_own_backend(path: str) -> None:
    fs = memory()
    inside, release, seen = threading.Event(), threading.Event(), []

    def other() -> None:
        with backend("managed", file_system=fs):
            inside.set()
            release.wait(10)
            seen.append(os.listdir("/"))

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(10)
    assert current_emulated() is None  # the other thread's block is its own
    release.set()
    thread.join(10)
    assert seen == [["d"]]

    async def task(name: str) -> list[str]:
        with backend("managed", file_system=memory(name)):
            await asyncio.sleep(0)
            return os.listdir("/")

    async def both() -> list[list[str]]:
        return list(await asyncio.gather(task("/a"), task("/b")))

    assert asyncio.run(both()) == [["a"], ["b"]]
    settled()


def test_a_block_waits_while_another_thread_holds_the_installation(path: str) -> None:
    entered = threading.Event()

    def enter() -> None:
        with backend("managed", file_system=memory()):
            entered.set()

    with INSTALLATION._lock:  # as a park or an unpark in progress would
        thread = threading.Thread(target=enter)
        thread.start()
        assert not entered.wait(0.05)  # the lock held: it never took the way around it
    thread.join(10)
    assert entered.is_set()
    settled()


@pytest.mark.usefixtures("uninstalled")
def test_the_last_block_out_leaves_a_park_pending(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (pytest loads pyfakefs's plugin, whose module makes the last block park at once)
    monkeypatch.setattr("posixbackend.switch.installation.EAGER_PARKING", frozenset())
    with backend("managed", file_system=memory()):
        assert installed() and not pending()
    assert pending()
    os.getcwd()  # the first call outside parks them
    assert not installed()
    with backend("managed", file_system=memory()):
        assert installed() and os.listdir("/") == ["d"]
    monkeypatch.undo()  # and with pyfakefs's module loaded, at once
    if "pyfakefs.fake_filesystem_unittest" in sys.modules:
        with backend("managed", file_system=memory()):
            assert installed()
        assert not installed() and not pending()
    settled()


def test_a_block_sees_the_environment_as_it_was_made(path: str) -> None:
    # (a deleted variable leaves a hole in posix.environ's table: the copy skips it too)
    os.environ["POSIXBACKEND_TEST_GONE"] = "1"
    del os.environ["POSIXBACKEND_TEST_GONE"]
    os.environ["POSIXBACKEND_TEST_KEPT"] = "kept"
    try:
        block = backend("managed", file_system=memory())
        os.environ["POSIXBACKEND_TEST_LATER"] = "later"
        with block:
            assert os.environ.get("POSIXBACKEND_TEST_KEPT") == "kept"
            assert "POSIXBACKEND_TEST_LATER" not in os.environ
            assert "POSIXBACKEND_TEST_GONE" not in os.environ
            os.environ["POSIXBACKEND_TEST_INSIDE"] = "inside"
        assert "POSIXBACKEND_TEST_INSIDE" not in os.environ
    finally:
        os.environ.pop("POSIXBACKEND_TEST_KEPT", None)
        os.environ.pop("POSIXBACKEND_TEST_LATER", None)
    settled()


def test_leaving_by_an_entry_counts_it_out_once() -> None:
    """Installation.leave(entries, entry), which an exit cut short calls again: the entry
    goes with the count, once, also when it is not the last one."""
    first, second = object(), object()
    entries: list[object] = [first, second]
    INSTALLATION.enter()
    INSTALLATION.enter()
    users = INSTALLATION._users
    INSTALLATION.leave(entries, first)
    INSTALLATION.leave(entries, first)  # again: nothing
    assert entries == [second] and INSTALLATION._users == users - 1
    INSTALLATION.leave(entries, second)
    INSTALLATION.leave(entries, second)
    assert entries == [] and INSTALLATION._users == users - 2
    settled()


SWITCH_CODE = str(Path(posixbackend.switch.__file__).parent)
TRACED = (SWITCH_CODE, str(Path(anchors.__file__)))
"""Where the interrupts land: the switch's Python code, and the anchors a block pushes."""
EXIT_START = BackendBlock._exit_python.__code__.co_firstlineno


class World:
    """One run's blocks (on a fresh file system), kept for the check."""

    def __init__(self) -> None:
        self.fs = memory()
        self.blocks: list[BackendBlock] = []

    def block(self, permissions: Permissions | None = None) -> BackendBlock:
        made = backend("managed", file_system=self.fs, permissions=permissions)
        self.blocks.append(made)
        return made


def common(world: World) -> None:
    with world.block():  # (made in the run: its creation is interrupted too)
        pass


def nested(world: World) -> None:
    with world.block(), world.block():
        pass


def restricted() -> World:
    """A world whose block restricts (a guard serves it, an anchor holds the thread), made
    before the run (its creation is the permissions' code, not the switch's)."""
    world = World()
    world.block(Permissions(allow_io=world.fs))
    return world


def restricted_around_another() -> World:
    """A restricting block, and a block without permissions to enter in it (it gets the
    outer one's: a guard, an anchor of its own above the outer's)."""
    world = restricted()
    world.block()
    return world


def time_limited() -> World:
    """A world whose block has a time limit (one that never fires here)."""
    world = World()
    world.block(Permissions(allow_io=world.fs, time_limit=600))
    return world


def enter_made(world: World) -> None:
    """Enter the world's blocks, each in the one before."""
    with contextlib.ExitStack() as stack:
        for block in world.blocks:
            stack.enter_context(block)


def thread_hold(world: World) -> None:
    """What a thread or pool job started in a block holds while it runs: the stand-ins."""
    with stand_ins_used(True):
        pass


SCENARIOS = {
    "common": (World, common), "nested": (World, nested),
    "restricted": (restricted, enter_made),
    "restricted around another": (restricted_around_another, enter_made),
    "time limited": (time_limited, enter_made), "a thread's hold": (World, thread_hold),
}  # fmt: skip
"""Blocks interrupted everywhere once the stand-ins are pinned (after the lone block's)."""
C_SCENARIOS = frozenset({"common", "nested", "restricted"})
"""Those that the C methods serve (or hand over to the Python ones: one of them) in the quick
profile; the others run the Python methods' code alone, interrupted on the Python path."""


def left_whole(world: World, point: Point) -> None:
    """Nothing of ``world``'s blocks is in force after an interrupt at ``point``; a block
    is still entered (whole) only after one at its exit's very first instruction, which no
    Python ``__exit__`` can keep from landing before it runs: left here, then checked."""
    left_whole_after(world, [point])


def left_whole_after(world: World, points: list[Point]) -> None:
    """:func:`left_whole` after interrupts at each of ``points`` (in order)."""
    point = points[0] if len(points) == 1 else points
    stale = [block for block in world.blocks if block._entries]
    if stale:
        at_exit_start = [
            each for each in points if each.function == "_exit_python" and each.line == EXIT_START
        ]
        assert len(stale) <= len(at_exit_start), f"interrupted at {point}: a block still entered"
        assert all(len(block._entries) == 1 for block in stale), f"interrupted at {point}"
        users = INSTALLATION._users
        assert users == len(stale), f"interrupted at {point}: counted {users}"
        for block in reversed(stale):  # inner ones first (made after their outer ones)
            block.__exit__(None, None, None)
        ACTIVE.set(None)  # (an inner block left after its outer one restores the outer's)
        POLICY.set(None)
    assert ACTIVE.get() is None, f"interrupted at {point}: still served by the block"
    assert POLICY.get() is None, f"interrupted at {point}"
    assert INSTALLATION._users == 0, f"interrupted at {point}: counted as entered"
    assert getattr(INSTALLATION._lock, "holders", 0) == 0, f"interrupted at {point}"
    assert not anchors.ANCHORS, f"interrupted at {point}: the thread still anchored"
    limits = sys.modules.get("posixbackend.permissions.timelimit")
    if limits is not None:  # (no public view of the limits running: the watchdog's table)
        running = limits._WATCHDOG._running.get(threading.get_ident())
        assert not running, f"interrupted at {point}: a time limit still running"


def parked_world() -> World:
    """A fresh world, the stand-ins parked: the lone block puts them back."""
    INSTALLATION.settle()
    assert not installed()
    return World()


def left_to_park(world: World, point: Point) -> None:
    """As :func:`left_whole`, and the stand-ins are parked, or to be parked (pending)."""
    left_whole(world, point)
    assert pending() or not installed(), f"interrupted at {point}: left in place for good"


def interrupted_blocks(path: str) -> None:
    """Blocks interrupted at every point (of the switch's Python code and the anchors) that
    their creation, entry and exit pass, by the ``path`` methods ("c" or "python"):
    afterwards nothing of them is left in force."""
    if path == "python":
        BackendBlock.__enter__ = BackendBlock._enter_python
        BackendBlock.__exit__ = BackendBlock._exit_python
    else:
        assert C_BUILT
    # the lone block, the stand-ins not pinned: its entry unparks them, its exit parks them
    common(World())  # (built once)
    interrupt_everywhere(
        Operation(TRACED, parked_world, common, left_to_park), minimum=1, distinct=True
    )
    posixbackend.install()
    for name, (setup, run) in SCENARIOS.items():
        if path == "c" and name not in C_SCENARIOS and not full_profile():
            continue  # the same Python code as on the Python path, which runs them
        interrupt_everywhere(Operation(TRACED, setup, run, left_whole), minimum=1, distinct=True)


@pytest.mark.parametrize("path", ["c", "python"])
def test_an_interrupted_block_leaves_nothing_in_force(path: str) -> None:
    if path == "c" and not C_BUILT:
        pytest.skip("posixbackend._standin's block methods are not in use")
    run_fresh("tests.switch.test_block_paths", path)


SECOND_AFTER = (1, 2, 3, 5, 8)
"""How many points after the first interrupt the second one lands."""
NEVER = 0
"""A second interrupt never raised: the profile function on, counting nothing."""


def interrupted_twice() -> None:
    """Blocks (the Python methods) interrupted at every place their creation, entry and exit
    pass, then again while they handle that (a second Ctrl-C, a time limit beside it): nothing
    of them is left in force (the C extension's until_done reruns the clean-up)."""
    BackendBlock.__enter__ = BackendBlock._enter_python
    BackendBlock.__exit__ = BackendBlock._exit_python
    common(World())
    posixbackend.install()
    for setup, run in SCENARIOS.values():
        warm = setup()  # 3.12+ traces a code object's opcodes from its second run on
        traced(lambda: run(warm), TRACED, None, NEVER)  # noqa: B023
        clean = setup()  # (counted with the profile function on too: 3.12+ then sees others)
        counted = traced(lambda: run(clean), TRACED, None, NEVER)  # noqa: B023
        left_whole(clean, Point(0))
        for at in first_of_each_place(counted.places):
            for after in SECOND_AFTER:
                for _attempt in range(RETRIES):
                    world = setup()
                    interrupter = traced(lambda: run(world), TRACED, at, after)  # noqa: B023
                    if interrupter.point.at == at:
                        break
                    left_whole(world, Point(0))
                assert interrupter.point.at == at, f"point {at} was not reached on a rerun"
                left_whole_after(world, interrupter.landed())


@pytest.mark.skipif(
    rerun.until_done is rerun.until_done_python,
    reason="without posixbackend._standin the Python block methods survive one interrupt, "
    "not two (switch.block_exit_interrupted)",
)
def test_a_block_interrupted_again_while_it_cleans_up_leaves_nothing_in_force() -> None:
    run_fresh("tests.switch.test_block_paths", "twice")


if __name__ == "__main__":
    if sys.argv[1] == "twice":
        interrupted_twice()
    else:
        interrupted_blocks(sys.argv[1])


def test_a_block_left_in_another_context_raises_and_is_counted_out(path: str) -> None:
    """__exit__ in a context other than __enter__'s: ValueError (the context variables' tokens
    belong to the entry's context), and the block is left all the same -- counted out, its
    entry gone -- by the C method as by the Python one."""
    import contextvars

    posixbackend.install()
    try:
        block = backend("managed", file_system=memory())
        users = INSTALLATION._users
        inside = contextvars.copy_context()
        inside.run(block.__enter__)
        assert INSTALLATION._users == users + 1
        with pytest.raises(ValueError, match="different Context"):
            block.__exit__(None, None, None)
        assert INSTALLATION._users == users, "left in another context: still counted"
        assert block._entries == []
        assert inside.run(ACTIVE.get) is block.emulated  # (that context's own value stays)
        settled()
    finally:
        posixbackend.uninstall()
