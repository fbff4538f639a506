"""The pool's parts on their own: a child handle that a shutdown may kill while its reap
runs, and a pool used from a forked copy of its process."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import pytest

from posixbackend.isolation.zygotehandle import ZygoteChild
from tests.isolation.pooling import Traces


class _SlowReaper:
    """A zygote stand-in whose reap waits until told to go on."""

    alive = True

    def __init__(self) -> None:
        self.reaping = threading.Event()
        self.go_on = threading.Event()

    def reap(self, pid: int) -> tuple[int, float]:
        self.reaping.set()
        assert self.go_on.wait(10)
        return 0, 0.0


def test_a_kill_during_the_reap_signals_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []
    monkeypatch.setattr(signal, "pidfd_send_signal", lambda *args: sent.append(("pidfd", args)))
    monkeypatch.setattr(os, "killpg", lambda *args: sent.append(("killpg", args)))
    read, write = os.pipe()  # (a descriptor for the handle to close: no process is involved)
    os.close(write)
    zygote = _SlowReaper()
    child = ZygoteChild(123456, read, zygote)  # type: ignore[arg-type]
    reaper = threading.Thread(target=child.reap)
    reaper.start()
    assert zygote.reaping.wait(10)
    child.kill()  # the shutdown's kill, while the zygote reaps: the number may be reused
    zygote.go_on.set()
    reaper.join()
    child.kill()
    assert sent == []


def test_a_forked_copy_of_the_process_cannot_use_the_pool(traces: Traces) -> None:
    pool = traces.pool(workers=1)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the forked copy
        try:
            pool.submit("pass")
        except RuntimeError as error:
            os.write(write, str(error).encode())
        finally:
            os._exit(0)
    os.close(write)
    message = os.read(read, 1000).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert message == "a Pool serves the process that made it, not a forked copy"
    assert pool.submit("pass").result(timeout=30).ok
