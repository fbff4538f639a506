"""Threads started under a trace function while another thread sets one all run their target.

CPython 3.11 refuses ``sys.settrace`` in one thread while another is in it running the audit
hooks; with the library's hook installed, a thread started under coverage then died in its
bootstrap (and a measured run of the suite hung at a barrier waiting for it). Run in a fresh
interpreter: the library's hook and the setters it brings stay for good.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from posixbackend.permissions import tracesetters

STARTS = """\
import sys, threading, time
from posixbackend.permissions.hook import install_hook

install_hook()
# Another Python hook that lets other threads run while a thread sets its trace function,
# as the library's own may at any of its checks (this one makes the race sure, not rare).
sys.addaudithook(lambda event, args: time.sleep(0) if event == "sys.settrace" else None)
threading.settrace(lambda *event: None)  # as coverage has, for every new thread
ran, died = [], []
threading.excepthook = lambda args: died.append(repr(args.exc_value))
sys.unraisablehook = lambda args: died.append(repr(args.exc_value))
for _ in range(40):
    threads = [threading.Thread(target=ran.append, args=(1,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
print(len(ran), died[:1])
"""


def test_threads_started_while_another_sets_its_trace_function_all_run() -> None:
    done = subprocess.run(
        [sys.executable, "-c", STARTS],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["320", "[]"]


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12+ does not refuse: not replaced")
def test_the_setters_retry_only_the_refusal() -> None:
    tracesetters.install()
    assert sys.settrace.__wrapped__ is not None  # type: ignore[attr-defined]
    calls: list[object] = []

    def refuse_twice(function: object) -> None:
        calls.append(function)
        if len(calls) < 3:
            raise RuntimeError(
                "Cannot install a trace function while another trace function is being installed"
            )

    tracesetters._waiting(refuse_twice)(None)
    assert calls == [None, None, None]

    def fail(function: object) -> None:
        raise RuntimeError("something else")

    with pytest.raises(RuntimeError, match="something else"):
        tracesetters._waiting(fail)(None)
