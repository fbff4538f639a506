"""Operations interrupted at every point where CPython can deliver an asynchronous exception.

CPython delivers an asynchronous exception (KeyboardInterrupt from a signal handler, a time
limit's exception, PyThreadState_SetAsyncExc) only where its eval loop checks for one: when a
function starts (RESUME), right after a call into C code returns (as part of the call
instruction, so the handlers around the call see it), and at a backward jump. A Python
function called by a plain call instruction runs in the caller's eval loop and returns to it
with no check (3.11 to 3.13), so its start is a point and its return is not; one reached
through C (a class's ``__init__``, ``__call__``, ``__enter__``...) returns through C, so the
instruction after the call is one.

:class:`Interrupter` is a tracer that counts those points in the code of the files it is
given while an operation runs, and raises :class:`Injected` at point number ``at``.
:func:`interrupt_everywhere` runs an operation once clean to count them, then once per point
(all of them, or a seeded sample when there are many) on a fresh world, checking the
invariants after each. Run it in a fresh interpreter (:func:`run_fresh`): CPython 3.11 can loop
forever on an opcode trace event once an asynchronous exception was left pending for a thread
that ended, as other tests in one worker may leave one.
"""

from __future__ import annotations

import bisect
import dis
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import CodeType, FrameType
from typing import Any, Generic, TypeVar

import attrs

ROOT = Path(__file__).resolve().parents[1]
CALLS = frozenset({"CALL", "CALL_FUNCTION_EX", "CALL_KW"})
"""Instructions after which CPython checks for an asynchronous exception when the callee is C
code (with the start of a function and JUMP_BACKWARD)."""
INLINED_CALLS = frozenset({"CALL", "CALL_KW"})
"""Call instructions that run a Python function in the caller's eval loop (no check on return).
CALL_FUNCTION_EX goes through C."""
FULL_PROFILE = "POSIXBACKEND_INTERRUPTS_FULL"
"""Set to anything but "" or "0" to interrupt at every point, however many (the long profile)."""
SAMPLE = 400
"""Points tried per operation in the quick profile, when it has more."""

RETRIES = 3
"""Runs to reach a point: 3.12+ may skip a code object's opcode events on the run after one
that raised from an opcode event (its instrumentation is redone on the next call)."""

World = TypeVar("World")


@attrs.frozen
class Point:
    """Where an exception was raised: its number, and the file, function and line."""

    at: int
    filename: str = ""
    function: str = ""
    line: int = 0

    def inside(self, prefix: str) -> bool:
        """Whether it landed in the code under ``prefix``."""
        return bool(self.filename) and self.filename.startswith(prefix)


class Injected(BaseException):
    """The exception raised at the chosen point."""


class Instructions:
    """A code object's instructions: offsets, names and exception handlers."""

    def __init__(self, code: CodeType) -> None:
        bytecode = dis.Bytecode(code)
        instructions = list(bytecode)
        self.offsets = [i.offset for i in instructions]
        self.names = [i.opname for i in instructions]
        table = getattr(bytecode, "exception_entries")  # noqa: B009 - not in typeshed yet
        self.entries: list[tuple[int, int, int]] = [(e.start, e.end, e.target) for e in table]
        self._loaded: list[frozenset[str]] = []  # per instruction: names loaded since a call
        names: set[str] = set()
        for instruction in instructions:
            if instruction.opname in CALLS:
                self._loaded.append(frozenset(names))
                names = set()
            else:
                self._loaded.append(frozenset())
                if instruction.opname.startswith("LOAD_") and isinstance(instruction.argval, str):
                    names.add(instruction.argval)

    def runs_inline(self, offset: int, callee: CodeType) -> bool:
        """Whether the instruction at ``offset`` is a call that runs the Python function
        ``callee`` in this eval loop: a plain call of a function or method loaded by name
        (not a special method C code calls, not a function reached through C code)."""
        index = bisect.bisect_right(self.offsets, offset) - 1  # a call stands in its caches
        name = callee.co_name
        if self.names[index] not in INLINED_CALLS or name.startswith("__"):
            return False
        return name in self._loaded[index]

    def index(self, offset: int) -> int:
        return bisect.bisect_left(self.offsets, offset)

    def handler(self, offset: int) -> int | None:
        """Where an exception raised at ``offset`` goes (None: out of the function)."""
        for start, end, target in self.entries:
            if start <= offset < end:
                return target
        return None


class Interrupter:
    """A tracer that counts the points where an asynchronous exception may land in the code of
    ``files`` (path prefixes), and raises :class:`Injected` at point number ``at`` (never if
    None).

    With ``again``, a second one is raised while the code handles the first: at the
    ``again``-th function start or return from a C call in ``files`` after it (two of the
    points), counted by a profile function -- CPython takes a trace function that raised off,
    and the profile function stays."""

    def __init__(self, files: tuple[str, ...], at: int | None, again: int | None = None) -> None:
        self.files = files
        self.at = at
        self.again = again
        self.seen = 0
        self.point = Point(0)
        """Where the exception at ``at`` was raised."""
        self.after = 0
        """The points the profile function counted after that."""
        self.raised: list[Injected] = []
        """The exceptions raised, first to last."""
        self.places: list[tuple[tuple[CodeType, int], ...]] = []
        """Where each point was, in the run that counts them: (code, instruction offset) of
        its frame and of each frame below it (the same code called from two places differs)."""
        self._offsets: dict[CodeType, Instructions] = {}
        self._inlined: set[int] = set()  # ids of watched frames whose last call ran Python inline

    def __call__(self, frame: FrameType, event: str, arg: object) -> Any:
        if event != "call":
            return None
        caller = frame.f_back
        if (
            caller is not None
            and caller.f_trace is not None
            and self._instructions(caller.f_code).runs_inline(caller.f_lasti, frame.f_code)
        ):
            self._inlined.add(id(caller))
        if not frame.f_code.co_filename.startswith(self.files):
            return None
        frame.f_trace_opcodes = True
        self._point(frame)  # the function's start
        return self._local

    def _local(self, frame: FrameType, event: str, arg: object) -> Any:
        if event == "opcode":
            code = self._instructions(frame.f_code)
            index = code.index(frame.f_lasti)
            name = code.names[index]
            if name == "JUMP_BACKWARD":
                self._point(frame)
            elif index and code.names[index - 1] in CALLS:
                inlined = id(frame) in self._inlined
                self._inlined.discard(id(frame))
                if not inlined and code.handler(code.offsets[index - 1]) == code.handler(
                    frame.f_lasti
                ):
                    self._point(frame)
            if name in CALLS:
                self._inlined.discard(id(frame))  # a fresh call: what it runs is yet unknown
        elif event == "return":
            self._inlined.discard(id(frame))
        return self._local

    def _instructions(self, code: CodeType) -> Instructions:
        found = self._offsets.get(code)
        if found is None:
            found = self._offsets[code] = Instructions(code)
        return found

    def _point(self, frame: FrameType) -> None:
        self.seen += 1
        if self.at is None:
            place = []
            below: FrameType | None = frame
            while below is not None:
                place.append((below.f_code, below.f_lasti))
                below = below.f_back
            self.places.append(tuple(place))
        if self.seen == self.at:
            code = frame.f_code
            self.point = Point(self.seen, code.co_filename, code.co_name, frame.f_lineno or 0)
            self.raised.append(Injected())
            raise self.raised[-1]

    def profile(self, frame: FrameType, event: str, arg: object) -> None:
        """The profile function: the second exception, ``again`` points after the first."""
        counted = event in ("call", "c_return") and frame.f_code.co_filename.startswith(self.files)
        if self.point.at and counted:
            self.after += 1
            if self.after == self.again:
                self.raised.append(Injected())
                raise self.raised[-1]

    def landed(self) -> list[Point]:
        """Where each exception raised landed (the frame it was raised in), first to last."""
        return [_landing(error) for error in self.raised]


def _landing(error: BaseException) -> Point:
    """Where ``error`` was raised: the innermost entry of its traceback below this module's
    own (the tracer's), numbered 0."""
    landed = Point(0)
    entry = error.__traceback__
    while entry is not None:
        code = entry.tb_frame.f_code
        if code.co_filename != __file__:
            landed = Point(0, code.co_filename, code.co_name, entry.tb_lineno)
        entry = entry.tb_next
    return landed


def traced(
    call: Callable[[], object],
    files: tuple[str, ...],
    at: int | None,
    again: int | None = None,
) -> Interrupter:
    """Run ``call`` under an :class:`Interrupter` (which then tells how many points it passed
    and where it raised)."""
    interrupter = Interrupter(files, at, again)
    outer = sys.gettrace()  # a coverage tracer, when the suite measures it: put back after
    outer_profile = sys.getprofile()
    sys.settrace(interrupter)
    if again is not None:
        sys.setprofile(interrupter.profile)
    try:
        call()
    except Injected:
        pass
    finally:
        sys.setprofile(outer_profile)
        sys.settrace(outer)
    return interrupter


def full_profile() -> bool:
    """Whether the long profile was asked for (every point of every operation)."""
    return os.environ.get(FULL_PROFILE, "") not in ("", "0")


def chosen_points(points: int, sample: int = SAMPLE, seed: int = 17) -> Iterable[int]:
    """Every point, or a fixed sample of ``sample`` of them (the first and last always) in the
    quick profile."""
    if full_profile() or points <= sample:
        return range(1, points + 1)
    chosen = random.Random(seed).sample(range(2, points), sample - 2)
    return sorted({1, points, *chosen})


class Operation(Generic[World]):
    """An operation to interrupt: how to build a fresh world, what to do in it, and what must
    hold after any interruption (``check`` receives the world and the :class:`Point`, whose
    number is 0 after the clean run)."""

    def __init__(
        self,
        files: tuple[str, ...],
        setup: Callable[[], World],
        run: Callable[[World], object],
        check: Callable[[World, Point], None],
    ) -> None:
        self.files = files
        self.setup = setup
        self.run = run
        self.check = check


def first_of_each_place(places: list[tuple[tuple[CodeType, int], ...]]) -> list[int]:
    """The points (numbered from 1) where each place of ``places`` is reached first: a loop
    that passes the same instructions again and again is interrupted in its first turn."""
    seen: set[tuple[tuple[CodeType, int], ...]] = set()
    chosen = []
    for number, place in enumerate(places, 1):
        if place not in seen:
            seen.add(place)
            chosen.append(number)
    return chosen


def interrupt_everywhere(
    operation: Operation[World], minimum: int = 3, sample: int = SAMPLE, *, distinct: bool = False
) -> int:
    """Run ``operation`` once clean (and check that), then once for each chosen point (every
    one, or ``sample`` of them in the quick profile; with ``distinct``, the first point at
    each place in the quick profile), raising there, checking each; the number of points
    the clean run passed."""
    warm = operation.setup()  # 3.12+ traces a code object's opcodes from its second run on
    traced(lambda: operation.run(warm), operation.files, None)
    operation.check(warm, Point(0))
    clean = operation.setup()
    counted = traced(lambda: operation.run(clean), operation.files, None)
    points = counted.seen
    assert points > minimum, "the tracer saw the operation run"
    operation.check(clean, Point(0))
    if distinct and not full_profile():
        chosen: Iterable[int] = first_of_each_place(counted.places)
    else:
        chosen = chosen_points(points, sample)
    for at in chosen:
        for _attempt in range(RETRIES):
            world = operation.setup()
            interrupter = traced(lambda: operation.run(world), operation.files, at)  # noqa: B023
            if interrupter.point.at == at:
                break
            operation.check(world, Point(0))  # ran whole, untraced in part: as after a clean run
        assert interrupter.point.at == at, f"point {at} was not reached on a rerun"
        operation.check(world, interrupter.point)
    return points


def run_fresh(module: str, *arguments: str, timeout: float = 120) -> None:
    """Run ``python -m module arguments`` from the project's root; assert it succeeded."""
    done = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
