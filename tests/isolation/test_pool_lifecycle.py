"""A pool's life: guests run, queued ones cancelled, a shutdown that kills the running ones,
a zygote killed mid-batch and replaced, and results whose kind says whose doing they are."""

from __future__ import annotations

import os
import signal
import time

import pytest

from posixbackend.isolation import (
    Job,
    Limits,
    Pool,
    ResultKind,
    run_isolated_many,
)
from posixbackend.isolation.pool import SHUT_DOWN
from tests.isolation.helpers import printed
from tests.isolation.pooling import Traces, alive

SLEEPER = "import time; time.sleep(60)"


def started(pool: Pool, count: int) -> list[int]:
    """Wait until ``count`` guests of ``pool`` are forked and have their confinement (their
    pids): they have started their program or are about to."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with pool._lock:
            running = [child.pid for child in pool._running]
        if len(running) >= count:
            time.sleep(0.3)  # the children confine themselves and start the program
            return running
        time.sleep(0.01)
    raise AssertionError(f"{count} guests did not start")


def test_a_guest_runs_with_its_inputs_and_brings_its_files_back(traces: Traces) -> None:
    pool = traces.pool(workers=2)
    code = """\
import os, sys
print(sys.argv[1:], sys.stdin.read(), os.environ.get("NAME"), open("/data/in").read())
open("/tmp/out", "w").write("written")
"""
    future = pool.submit(
        code, files={"/data/in": "given"}, stdin=b"fed", argv=["a"], env={"NAME": "n"}
    )
    result = traces.seen(future.result(timeout=30))
    assert result.ok and result.kind is ResultKind.GUEST and result.error is None
    assert printed(result) == ["['a'] fed n given"]
    assert result.files["/tmp/out"] == b"written"
    assert "seccomp" in result.confinement and "minimal_root" in result.confinement
    assert result.pid not in (os.getpid(), traces.note_zygote(pool))


def test_map_keeps_the_order_and_imap_unordered_names_each_index(traces: Traces) -> None:
    pool = traces.pool(workers=2)
    programs: list[str | Job] = [f"print({n})" for n in range(7)]
    programs.append(Job("import sys; print(sys.argv[1])", argv=("j",)))
    results = [traces.seen(result) for result in pool.map(programs)]
    assert [printed(result) for result in results] == [[str(n)] for n in range(7)] + [["j"]]
    pairs = list(pool.imap_unordered([f"print({n})" for n in range(5)]))
    assert sorted(index for index, _ in pairs) == list(range(5))
    assert all(printed(result) == [str(index)] for index, result in pairs)


def test_run_isolated_many_runs_every_program_and_stops_its_pool(traces: Traces) -> None:
    results = run_isolated_many(["print(1)", "raise SystemExit(3)"], workers=2)
    assert [(result.status, result.stdout) for result in results] == [(0, b"1\n"), (3, b"")]
    for result in results:
        traces.seen(result)


def test_a_queued_guest_can_be_cancelled(traces: Traces) -> None:
    pool = traces.pool(workers=1, limits=Limits(wall_seconds=1))
    first = pool.submit(SLEEPER)
    queued = pool.submit("print('never')")
    assert queued.cancel()
    result = traces.seen(first.result(timeout=30))
    assert result.limit_exceeded == "wall" and result.kind is ResultKind.GUEST
    assert queued.cancelled()


def test_a_shutdown_that_cancels_kills_running_guests_and_drops_queued_ones(
    traces: Traces,
) -> None:
    pool = traces.pool(workers=2)
    running = [pool.submit(SLEEPER) for _ in range(2)]
    queued = pool.submit("print('never')")
    started(pool, 2)
    begun = time.monotonic()
    pool.shutdown(wait=True, cancel_futures=True)
    assert time.monotonic() - begun < 5
    for future in running:
        result = traces.seen(future.result(timeout=0))
        assert (result.kind, result.error) == (ResultKind.INFRASTRUCTURE, SHUT_DOWN)
        assert result.status == -signal.SIGKILL and not result.ok
    assert queued.cancelled()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit("pass")


def test_leaving_the_block_with_an_exception_kills_the_guests(traces: Traces) -> None:
    with pytest.raises(KeyError), Pool(workers=1) as pool:
        traces.note_zygote(pool)
        future = pool.submit(SLEEPER)
        started(pool, 1)
        raise KeyError("harness failure")
    result = traces.seen(future.result(timeout=0))
    assert result.kind is ResultKind.INFRASTRUCTURE


def test_a_zygote_killed_mid_batch_is_replaced(traces: Traces) -> None:
    pool = traces.pool(workers=2)
    in_flight = [pool.submit(SLEEPER) for _ in range(2)]
    started(pool, 2)
    zygote = traces.note_zygote(pool)
    os.kill(zygote, signal.SIGKILL)
    for future in in_flight:
        result = traces.seen(future.result(timeout=10))
        assert result.kind is ResultKind.INFRASTRUCTURE and not result.ok
        assert (result.error or "").endswith("the zygote was killed by SIGKILL")
    after = traces.seen(pool.submit("print('after')").result(timeout=30))
    assert after.ok and printed(after) == ["after"]
    assert traces.note_zygote(pool) != zygote
    assert not alive(zygote)


def test_a_request_the_child_cannot_set_up_is_rejected(traces: Traces) -> None:
    pool = traces.pool(workers=1)
    result = traces.seen(pool.submit("pass", limits=Limits(memory_bytes=1 << 20)).result())
    assert result.kind is ResultKind.REJECTED and not result.ok
    assert "memory limit (1 MiB) is below" in (result.error or "")
    assert result.summary().startswith("the run could not be set up: ")


def test_bad_arguments_fail_at_submit(traces: Traces) -> None:
    pool = traces.pool(workers=1)
    with pytest.raises(TypeError, match="stdin must be bytes"):
        pool.submit("pass", stdin="text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cwd must be an absolute path"):
        pool.submit("pass", cwd="relative")
    with pytest.raises(ValueError, match="workers must be a positive int"):
        Pool(workers=0)


def test_a_shutdown_that_does_not_wait_ends_everything_in_the_background(
    traces: Traces,
) -> None:
    pool = traces.pool(workers=1)
    zygote = traces.note_zygote(pool)
    futures = [pool.submit("print('ran')") for _ in range(3)]
    pool.shutdown(wait=False)
    results = [traces.seen(future.result(timeout=30)) for future in futures]
    assert all(result.ok and printed(result) == ["ran"] for result in results)
    deadline = time.monotonic() + 10
    while alive(zygote) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(zygote)
