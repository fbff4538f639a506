"""until_done: idempotent clean-up rerun after each exception until a run completes (the C
function of posixbackend._standin, and the Python fallback that reruns once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from posixbackend.switch import rerun


class Interrupted(BaseException):
    """As KeyboardInterrupt: not an Exception."""


def failing(times: int, calls: list[tuple[Any, ...]]) -> Callable[..., str]:
    """A function that raises Interrupted on its first ``times`` calls, then returns."""

    def function(*args: Any) -> str:
        calls.append(args)
        if len(calls) <= times:
            raise Interrupted(len(calls))
        return "done"

    return function


C_FUNCTION = rerun.until_done if rerun.until_done is not rerun.until_done_python else None
FUNCTIONS = [
    pytest.param(C_FUNCTION, id="c", marks=pytest.mark.skipif(
        C_FUNCTION is None, reason="posixbackend._standin is not built")),
    pytest.param(rerun.until_done_python, id="python"),
]  # fmt: skip


@pytest.mark.parametrize("until_done", FUNCTIONS)
def test_a_run_that_completes_at_once_gives_its_result(until_done: Any) -> None:
    calls: list[tuple[Any, ...]] = []
    assert until_done(failing(0, calls), 1, "two") == "done"
    assert calls == [(1, "two")]


@pytest.mark.parametrize("until_done", FUNCTIONS)
def test_after_an_exception_it_runs_again_and_raises_that_exception(until_done: Any) -> None:
    calls: list[tuple[Any, ...]] = []
    with pytest.raises(Interrupted) as raised:
        until_done(failing(1, calls), "x")
    assert calls == [("x",), ("x",)] and raised.value.args == (1,)


@pytest.fixture
def c_until_done() -> Callable[..., Any]:
    """The C function (the test skipped without it)."""
    if C_FUNCTION is None:
        pytest.skip("posixbackend._standin is not built")
    return C_FUNCTION


def test_the_c_function_reruns_until_a_run_completes_and_raises_the_last(
    c_until_done: Callable[..., Any],
) -> None:
    calls: list[tuple[Any, ...]] = []
    with pytest.raises(Interrupted) as raised:
        c_until_done(failing(5, calls))
    assert len(calls) == 6 and raised.value.args == (5,)  # the last exception, once done


def test_the_c_function_gives_up_after_64_runs(c_until_done: Callable[..., Any]) -> None:
    calls: list[tuple[Any, ...]] = []
    with pytest.raises(Interrupted) as raised:
        c_until_done(failing(1000, calls))
    assert len(calls) == 64 and raised.value.args == (64,)
    with pytest.raises(TypeError):
        c_until_done()


def test_the_python_fallback_survives_one_exception_not_two() -> None:
    """Without the C extension (switch.block_exit_interrupted says so)."""
    calls: list[tuple[Any, ...]] = []
    with pytest.raises(Interrupted) as raised:
        rerun.until_done_python(failing(2, calls))
    assert len(calls) == 2 and raised.value.args == (2,)  # the second cut the rerun short
