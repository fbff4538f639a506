"""The interruption harness itself (tests/interrupts.py): it finds the points CPython delivers
an asynchronous exception at, and so catches the window that lost a description's offset."""

from __future__ import annotations

import sys
from types import FrameType

from tests.interrupts import Interrupter, Operation, Point, interrupt_everywhere, run_fresh, traced

HERE = __file__


def helper(value: int) -> int:
    return value + 1


def sample() -> int:
    total = helper(1)  # a Python call: its start is a point, its return is not
    total += len([total])  # a C call: the instruction after it is a point
    for _ in range(2):  # range() is a C call; each backward jump is a point
        total += 1
    return total


def popped(cell: list[int]) -> None:
    """The pattern that lost offsets: the value taken by a call, then the ``try``."""
    offset = cell.pop()
    try:
        offset += 1
    finally:
        cell.append(offset)


def subscripted(cell: list[int]) -> None:
    """The same with no call between taking the value and the ``try``."""
    offset = cell[0]
    del cell[0]
    try:
        cell.clear()  # a call inside the try: the finally covers the point after it
        offset += 1
    finally:
        cell.append(offset)


def count_points() -> None:
    traced(sample, (HERE,), None)  # 3.12+ traces opcodes from a code object's second run
    seen: list[tuple[str, int]] = []

    class Recording(Interrupter):
        def _point(self, frame: FrameType) -> None:
            seen.append((frame.f_code.co_name, frame.f_lineno))
            super()._point(frame)

    interrupter = Recording((HERE,), None)
    outer = sys.gettrace()
    sys.settrace(interrupter)
    try:
        sample()
    finally:
        sys.settrace(outer)
    names = [name for name, _ in seen]
    assert names.count("sample") == 5, seen  # start, after len, after range, two jumps
    assert names.count("helper") == 1, seen


def catches_the_pop() -> None:
    def kept(cell: list[int], point: Point) -> None:
        assert len(cell) == 1, f"the value is lost at {point}"

    interrupt_everywhere(Operation((HERE,), lambda: [0], subscripted, kept), minimum=1)
    try:
        interrupt_everywhere(Operation((HERE,), lambda: [0], popped, kept), minimum=1)
    except AssertionError as error:
        assert "the value is lost" in str(error)
    else:
        raise AssertionError("the harness missed the point right after pop() returned")


def test_the_harness_counts_where_cpython_checks() -> None:
    run_fresh("tests.test_interrupts", "count_points")


def test_the_harness_finds_a_value_taken_by_a_call_before_the_try() -> None:
    run_fresh("tests.test_interrupts", "catches_the_pop")


if __name__ == "__main__":
    {"count_points": count_points, "catches_the_pop": catches_the_pop}[sys.argv[1]]()
