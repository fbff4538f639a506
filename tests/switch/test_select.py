"""select.select, select.poll, select.epoll and selectors over emulated descriptors.

Each scenario runs natively (in a temporary directory) and on the managed backend and must
give the same result: which pipe ends and files are ready, the poll events, the errors. The
managed side sees emulated pipes and files, which the host's select cannot; before the switch
served select, subprocess.communicate() with two pipes polled host descriptors that happened
to have the emulated numbers (and hung when one of them was a quiet host pipe).
"""

from __future__ import annotations

import os
import select
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posixbackend import backend
from posixbackend.emulated.processhandlers import HostProcessHandler
from tests.switch.stdlib_harness import compare, error_facts, uninstall_after_module  # noqa: F401

IN, OUT, PRI, HUP, ERR = select.POLLIN, select.POLLOUT, select.POLLPRI, select.POLLHUP, (
    select.POLLERR
)


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as error:
        return error_facts(error) if isinstance(error, OSError) else (
            type(error).__name__, str(error)
        )


def polled(found: list[tuple[int, int]], names: dict[int, str]) -> list[tuple[str, int]]:
    """poll results with descriptors named (the numbers differ between the two runs)."""
    return sorted((names[fd], events) for fd, events in found)


def selected(found: tuple[list[Any], ...], names: dict[int, str]) -> list[list[str]]:
    """select results with descriptors named."""
    return [sorted(names[fd] for fd in ready) for ready in found]


def pipe_states(root: str) -> object:
    """Readiness of both ends of a pipe as it fills, drains and loses an end."""
    r, w = os.pipe()
    seen: dict[str, object] = {}

    def look(label: str, *fds: int) -> None:
        names = {r: "reader", w: "writer"} | {fd: "other end" for fd in fds if fd not in (r, w)}
        poller = select.poll()
        for fd in fds:
            poller.register(fd, IN | OUT | PRI)
        seen[label + " poll"] = polled(poller.poll(0), names)
        seen[label + " select"] = selected(select.select(fds, fds, fds, 0), names)

    look("empty", r, w)
    os.write(w, b"data")
    look("data", r, w)
    os.read(r, 10)
    look("drained", r, w)
    os.close(w)
    look("writer closed", r)
    r2, w2 = os.pipe()
    os.close(r2)
    look("reader closed", w2)
    os.close(r)
    os.close(w2)
    return seen


def files_and_errors(root: str) -> object:
    """A regular file is always ready; bad descriptors and arguments fail as natively."""
    fd = os.open(os.path.join(root, "f"), os.O_CREAT | os.O_RDWR, 0o600)
    names = {fd: "file"}
    poller = select.poll()
    poller.register(fd)
    seen: dict[str, object] = {
        "file select": selected(select.select([fd], [fd], [fd], 0), names),
        "file poll": polled(poller.poll(0), names),
    }
    poller.modify(fd, IN)
    seen["file poll in only"] = polled(poller.poll(0), names)
    with select.epoll() as epoll:
        seen["file epoll"] = outcome(lambda: epoll.register(fd, select.EPOLLIN))
    os.close(fd)
    seen["closed select"] = outcome(lambda: select.select([fd], [], [], 0))
    seen["closed poll"] = polled(poller.poll(0), names)
    seen["negative"] = outcome(lambda: select.select([-1], [], [], 0))
    seen["negative timeout"] = outcome(lambda: select.select([], [], [], -1))
    seen["not a sequence"] = outcome(lambda: select.select(3, [], [], 0))  # type: ignore[arg-type]
    seen["no fileno"] = outcome(lambda: select.select([object()], [], [], 0))
    seen["unregister unknown"] = outcome(lambda: poller.unregister(12345))
    seen["modify unknown"] = outcome(lambda: poller.modify(12345, IN))
    seen["empty with timeout"] = select.select([], [], [], 0.01)
    return seen


def wakes_up(root: str) -> object:
    """A blocking select, poll and selector return when another thread writes."""
    seen: dict[str, object] = {}
    for name in ("select", "poll", "selector"):
        r, w = os.pipe()
        writer = threading.Timer(0.05, os.write, (w, b"x"))
        writer.start()
        if name == "select":
            seen[name] = select.select([r], [], [], 10)[0] == [r]
        elif name == "poll":
            poller = select.poll()
            poller.register(r, IN)
            seen[name] = poller.poll(10_000) == [(r, IN)]
        else:
            with selectors.DefaultSelector() as chosen:
                chosen.register(r, selectors.EVENT_READ, "data")
                seen[name] = [(key.data, events) for key, events in chosen.select(10)]
        writer.join()
        os.close(r)
        os.close(w)
    return seen


def epolls(root: str) -> object:
    """epoll's level-triggered reports and its errors."""
    r, w = os.pipe()
    r2, w2 = os.pipe()
    names = {r: "reader", w: "writer"}
    seen: dict[str, object] = {}
    with select.epoll() as poller:
        poller.register(r, select.EPOLLIN)
        poller.register(w, select.EPOLLOUT)
        seen["empty"] = polled(poller.poll(0), names)
        os.write(w, b"x")
        seen["data"] = polled(poller.poll(0), names)
        seen["again"] = outcome(lambda: poller.register(r, select.EPOLLIN))
        seen["modify bad"] = outcome(lambda: poller.modify(999, select.EPOLLIN))
        seen["modify unregistered"] = outcome(lambda: poller.modify(r2, select.EPOLLIN))
        seen["unregister unregistered"] = outcome(lambda: poller.unregister(w2))
        poller.unregister(w)
        seen["max one"] = polled(poller.poll(0, 1), names)
        seen["fileno"] = poller.fileno() >= 0
    seen["closed"] = outcome(lambda: poller.poll(0))
    seen["closed flag"] = poller.closed
    for fd in (r, w, r2, w2):
        os.close(fd)
    return seen


@pytest.mark.parametrize("scenario", [pipe_states, files_and_errors, wakes_up, epolls])
def test_like_native(scenario: Callable[[str], object]) -> None:
    compare(scenario)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["write", "read", "close writer"]), max_size=6))
def test_readiness_follows_any_sequence_of_steps(steps: list[str]) -> None:
    def scenario(root: str) -> object:
        r, w = os.pipe()
        seen = []
        writer_open = True
        for step in steps:
            if step == "write" and writer_open:
                os.write(w, b"ab")
            elif step == "read" and select.select([r], [], [], 0)[0]:
                os.read(r, 1)
            elif step == "close writer" and writer_open:
                os.close(w)
                writer_open = False
            poller = select.poll()
            poller.register(r, IN)
            seen.append([events for _, events in poller.poll(0)])
        os.close(r)
        if writer_open:
            os.close(w)
        return seen

    compare(scenario)


@pytest.fixture
def quiet_host_pipes() -> Iterator[None]:
    """Host pipes that never get data, holding the low descriptor numbers the emulated
    pipes of a child will also have."""
    pipes = [os.pipe() for _ in range(8)]
    yield
    for r, w in pipes:
        os.close(r)
        os.close(w)


def test_communicate_with_two_pipes_on_the_managed_backend(quiet_host_pipes: None) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr)"
    command = [sys.executable, "-c", code]
    native = subprocess.run(command, capture_output=True, timeout=30, check=True)
    started = time.monotonic()
    with backend("managed", process_handler=HostProcessHandler()):
        managed = subprocess.run(command, capture_output=True, timeout=30, check=False)
    assert time.monotonic() - started < 20
    assert (managed.returncode, managed.stdout, managed.stderr) == (
        native.returncode, native.stdout, native.stderr
    )
    assert managed.stdout == b"out\n"


def test_a_socket_beside_an_emulated_pipe() -> None:
    """A socket's real descriptor and an emulated pipe in one select: both are watched."""
    import socket

    left, right = socket.socketpair()
    with backend("managed"), left, right:
        r, w = os.pipe()
        watched: list[Any] = [left, r]
        assert select.select(watched, [], [], 0) == ([], [], [])
        right.send(b"x")
        assert select.select(watched, [], [], 5) == ([left], [], [])
        os.write(w, b"y")
        assert select.select([r], [], [], 5) == ([r], [], [])
        assert outcome(lambda: select.select([10_000], [], [], 0))[1] == "EBADF"
