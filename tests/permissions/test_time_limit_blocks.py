"""``Permissions(time_limit=...)`` on a block, on both backends: the block's thread gets
TimeLimitExceeded when the time is used up, and never after the block has ended."""

from __future__ import annotations

import time

import attrs
import pytest

from posixbackend import Permissions, TimeLimitExceeded, backend

SIDES = ("native", "managed")


def limited(seconds: float) -> Permissions:
    return attrs.evolve(Permissions.all(), allow_io="none", time_limit=seconds)


def spin() -> None:
    while True:
        pass


@pytest.mark.parametrize("side", SIDES)
def test_a_busy_block_is_stopped_after_its_limit(side: str) -> None:
    started = time.monotonic()
    with (
        pytest.raises(TimeLimitExceeded, match=r"time limit of 0\.3 s exceeded"),
        backend(side, permissions=limited(0.3)),
    ):
        spin()
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 0.3 + 1.0  # 100 ms on an idle machine; CI's 2 cores are busy


@pytest.mark.parametrize("side", SIDES)
def test_swallowing_it_does_not_end_the_limit(side: str) -> None:
    caught = 0
    with pytest.raises(TimeLimitExceeded), backend(side, permissions=limited(0.2)):
        while True:
            try:
                spin()
            except TimeLimitExceeded:
                caught += 1
                if caught == 2:
                    break  # the block then ends normally: its exit raises it
    assert caught == 2


@pytest.mark.parametrize("side", SIDES)
def test_a_block_that_ends_in_time_is_never_interrupted(side: str) -> None:
    with backend(side, permissions=limited(0.2)):
        pass
    time.sleep(0.4)  # past the deadline: nothing arrives
    assert isinstance(TimeLimitExceeded(0.2), BaseException)
    assert not isinstance(TimeLimitExceeded(0.2), Exception)


def test_the_inner_limit_of_nested_blocks() -> None:
    started = time.monotonic()
    with backend("native", permissions=limited(5)):
        with pytest.raises(TimeLimitExceeded), backend("native", permissions=limited(0.2)):
            spin()
        assert time.monotonic() - started < 2  # the outer block goes on
