"""signal.signal and signal.getsignal stand-ins: handlers as given, errors as native, nothing left.

The stand-ins wrap a Python handler so that it waits for the end of an emulated operation its
thread is inside (tests/vfs/test_memory_reentry.py shows the waiting); what a program sees of
its handlers -- what signal() returns, what getsignal() says, the errors -- is native.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

import posixbackend
from posixbackend import backend
from posixbackend.switch.signals import DeferringHandler
from vfs import MemoryFileSystem

pytestmark = pytest.mark.usefixtures("uninstalled")


def handler(signum: int, frame: FrameType | None) -> None:
    """A handler to set (never run)."""


def other(signum: int, frame: FrameType | None) -> None:
    """Another."""


@pytest.fixture(autouse=True)
def usr1_restored() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGUSR1)
    yield
    signal.signal(signal.SIGUSR1, previous)


def outcome(call: Callable[[], Any]) -> Any:
    """What ``call`` returned, or its error's class, errno and message."""
    try:
        return call()
    except (OSError, ValueError, TypeError) as error:
        return (type(error), getattr(error, "errno", None), str(error))


STEPS: list[tuple[Any, ...]] = [
    ("signal", signal.SIGUSR1, handler),
    ("signal", signal.SIGUSR1, other),
    ("get", signal.SIGUSR1),
    ("signal", signal.SIGUSR1, signal.SIG_IGN),
    ("get", signal.SIGUSR1),
    ("signal", signal.SIGUSR1, handler),
    ("signal", signal.SIGUSR1, signal.SIG_DFL),
    ("signal", signal.SIGKILL, handler),
    ("signal", 0, handler),
    ("signal", signal.SIGUSR1, "not a handler"),
    ("get", 0),
    ("signal", signal.SIGUSR1, handler),
]


def play() -> list[Any]:
    """STEPS through whatever signal.signal and signal.getsignal are now."""
    results = []
    for step in STEPS:
        if step[0] == "signal":
            results.append(outcome(functools.partial(signal.signal, step[1], step[2])))
        else:
            results.append(outcome(functools.partial(signal.getsignal, step[1])))
    return results


def test_the_stand_ins_give_what_the_real_functions_give() -> None:
    native = play()
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    posixbackend.install()
    with backend("managed", file_system=MemoryFileSystem()):
        assert play() == native
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    assert play() == native  # outside the block too


def test_the_handler_in_place_is_the_wrapper_and_uninstall_puts_the_given_one_back() -> None:
    real_getsignal = signal.getsignal
    posixbackend.install()
    signal.signal(signal.SIGUSR1, handler)
    assert isinstance(real_getsignal(signal.SIGUSR1), DeferringHandler)
    assert signal.getsignal(signal.SIGUSR1) is handler
    posixbackend.uninstall()
    assert signal.getsignal is real_getsignal
    assert signal.getsignal(signal.SIGUSR1) is handler


def test_a_handler_set_in_a_lone_block_stays_wrapped_after_it_and_runs() -> None:
    ran: list[int] = []
    with backend("managed", file_system=MemoryFileSystem()):
        signal.signal(signal.SIGUSR1, lambda signum, frame: ran.append(signum))
    # the other stand-ins are parked now; these two stay (a handler fires outside blocks)
    assert not isinstance(signal.getsignal(signal.SIGUSR1), DeferringHandler)
    signal.raise_signal(signal.SIGUSR1)
    assert ran == [signal.SIGUSR1]
