"""A pool's spare children (forked and isolated before their job comes) and the zygote's
janitor: each spare serves one guest, a dead one is replaced, none outlives the pool or its
zygote, and a guest's limits are its own although its spare was made before them."""

from __future__ import annotations

import os
import signal
import time

from posixbackend.isolation import Limits, ResultKind
from tests import processes
from tests.isolation.helpers import printed
from tests.isolation.pooling import Traces, alive

WORKERS = 2
SPARES = WORKERS + 1
"""A spare per worker, and one more (the zygote forks them two at a time)."""
HELPERS = SPARES + 1
"""A zygote's children besides its guests: its spares, and the janitor."""


def test_the_spares_and_the_janitor_end_with_the_pool(traces: Traces) -> None:
    pool = traces.pool(workers=WORKERS)
    helpers = traces.note_helpers(pool, HELPERS)
    for _ in range(2):  # (two spares used: the zygote forks two new ones)
        assert traces.seen(pool.submit("print('ran')").result(timeout=30)).ok
    helpers |= traces.note_helpers(pool, HELPERS)  # the used spares' replacements
    pool.shutdown(wait=True)
    assert not any(alive(pid) for pid in helpers)  # the zygote reaped them before it ended


def test_the_spares_and_the_janitor_die_with_the_zygote(traces: Traces) -> None:
    pool = traces.pool(workers=WORKERS)
    helpers = traces.note_helpers(pool, HELPERS)
    os.kill(traces.note_zygote(pool), signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(alive(pid) for pid in helpers)


def test_a_spare_serves_one_guest(traces: Traces) -> None:
    pool = traces.pool(workers=WORKERS)
    spares = traces.note_helpers(pool, HELPERS)
    futures = [pool.submit("import os; print(os.getpid())") for _ in range(8)]
    results = [traces.seen(future.result(timeout=60)) for future in futures]
    assert all(result.ok for result in results)
    pids = [result.pid for result in results]
    assert len(set(pids)) == len(pids)  # one process per guest
    assert spares & set(pids)  # the spares made ahead served guests
    assert all(not alive(pid) for pid in pids)


def test_spares_killed_before_their_job_are_replaced(traces: Traces) -> None:
    pool = traces.pool(workers=1)
    helpers = traces.note_helpers(pool, 3)  # two spares (one worker's, one more), the janitor
    deadline = time.monotonic() + 10
    while True:  # the janitor is in the zygote's group, a spare soon in its own
        spares = [pid for pid in helpers if os.getpgid(pid) == pid]
        if len(spares) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert len(spares) == 2
    for pid in spares:
        os.kill(pid, signal.SIGKILL)
    for pid in spares:
        while processes.alive(pid):  # dead: a zombie until the zygote tries to use it
            time.sleep(0.01)
    results = [traces.seen(pool.submit("print('ran')").result(timeout=30)) for _ in range(3)]
    assert [result.kind for result in results] == [ResultKind.GUEST] * 3
    assert all(printed(result) == ["ran"] for result in results), results
    assert not set(spares) & {result.pid for result in results}
    assert not any(alive(pid) for pid in spares)


def test_a_guest_gets_its_own_limits_though_its_spare_was_made_before_them(
    traces: Traces,
) -> None:
    pool = traces.pool(workers=WORKERS)
    traces.note_helpers(pool, HELPERS)  # the spares are ready: the jobs' limits come later
    hog = pool.submit("x = bytearray(1 << 28)", limits=Limits(memory_bytes=256 << 20))
    files = pool.submit("fs = [open('/tmp/f', 'w') for _ in range(64)]",
                        limits=Limits(open_files=16))  # fmt: skip
    burner = pool.submit("while True: pass", limits=Limits(cpu_seconds=1, wall_seconds=30))
    free = pool.submit("x = bytearray(1 << 28); print(len(x))")  # (512 MiB by default)
    hogged = traces.seen(hog.result(timeout=60))
    assert (hogged.exception, hogged.reported_limit) == ("MemoryError", "memory")
    assert traces.seen(files.result(timeout=60)).reported_limit == "open_files"
    assert traces.seen(burner.result(timeout=60)).limit_exceeded == "cpu"  # the kernel's
    unlimited = traces.seen(free.result(timeout=60))  # the same allocation, without the limit
    assert unlimited.ok and printed(unlimited) == [str(1 << 28)]
    too_small = pool.submit("pass", limits=Limits(memory_bytes=1 << 20)).result(timeout=30)
    assert too_small.kind is ResultKind.REJECTED
    assert "memory limit (1 MiB) is below" in (too_small.error or "")


def _status(pid: int) -> dict[str, str]:
    """The fields of /proc/PID/status (the caller's view of a spare or a guest)."""
    with open(f"/proc/{pid}/status") as status:
        return dict(line.split(":\t", 1) for line in status.read().splitlines() if ":\t" in line)


def _confined_status(pid: int, ready: tuple[str, str]) -> dict[str, str]:
    """``pid``'s status once its field ``ready[0]`` reads ``ready[1]``."""
    deadline = time.monotonic() + 10
    while True:
        status = _status(pid)
        if status.get(ready[0], "").strip() == ready[1] or time.monotonic() > deadline:
            return status
        time.sleep(0.01)


CAPABILITY_SETS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
NO_CAPABILITY = "0000000000000000"


def test_spares_and_running_guests_hold_no_capability(traces: Traces) -> None:
    """Every capability set is empty, the bounding and ambient sets included, in a spare
    waiting for its job (after no_new_privs, set once they are dropped) and in a guest running
    its code (after its seccomp filter), as the kernel reports it to the caller."""
    pool = traces.pool(workers=WORKERS)
    helpers = traces.note_helpers(pool, HELPERS)
    # a spare makes its own session first thing, but it may not have yet (the janitor stays
    # in the zygote's group)
    deadline = time.monotonic() + 10
    while True:
        spares = [pid for pid in helpers if os.getpgid(pid) == pid]
        if len(spares) == SPARES or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert len(spares) == SPARES, helpers
    for pid in spares:
        status = _confined_status(pid, ("NoNewPrivs", "1"))
        assert {name: status[name].strip() for name in CAPABILITY_SETS} == dict.fromkeys(
            CAPABILITY_SETS, NO_CAPABILITY
        ), (pid, status)
    sleeper = pool.submit("import time; time.sleep(60)", limits=Limits(wall_seconds=90))
    deadline = time.monotonic() + 30
    while True:
        with pool._lock:
            running = [child.pid for child in pool._running]
        if running or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert running
    status = _confined_status(running[0], ("Seccomp", "2"))
    assert status["Seccomp"].strip() == "2" and status["NoNewPrivs"].strip() == "1", status
    assert {name: status[name].strip() for name in CAPABILITY_SETS} == dict.fromkeys(
        CAPABILITY_SETS, NO_CAPABILITY
    ), status
    pool.shutdown(wait=True, cancel_futures=True)
    ended = traces.seen(sleeper.result(timeout=30))
    assert ended.kind is ResultKind.INFRASTRUCTURE, ended
