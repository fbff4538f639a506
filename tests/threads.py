"""Running test code in many threads at once, with the interpreter switching often."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

import pytest

THREADS = 8


@pytest.fixture
def switch_often() -> Iterator[None]:
    """Make the interpreter switch threads every few bytecodes, so races really interleave."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def run_threads(work: Callable[[int], None], threads: int = THREADS) -> None:
    """Run ``work(index)`` in ``threads`` threads started together; re-raise the first failure."""
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def body(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except BaseException as error:  # noqa: BLE001 - re-raised below, in the test's thread
            failures.append(error)

    started = [threading.Thread(target=body, args=(i,)) for i in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    if failures:
        raise failures[0]
