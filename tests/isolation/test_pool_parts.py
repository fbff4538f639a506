"""The pool's parts on their own: a child handle that a shutdown may kill while its reap
runs, a pool used from a forked copy of its process, and its submit taking run_isolated's
arguments."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import threading
from typing import Any

import pytest

from posixbackend.isolation import Pool, run_isolated
from posixbackend.isolation.runner import prepare_run
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


def _parameters(function: Any) -> dict[str, tuple[object, object]]:
    """A function's parameters as callers see them: name -> (kind, default)."""
    return {p.name: (p.kind, p.default) for p in inspect.signature(function).parameters.values()}


def test_submit_and_prepare_run_take_run_isolateds_arguments() -> None:
    """run_isolated's signature is spelled again by prepare_run (which checks the arguments
    for both run_isolated and Pool.submit) and, for its keywords, by Pool.submit: the same
    names, kinds and defaults, so that a default changed in one place cannot differ in
    another."""
    public = _parameters(run_isolated)
    assert _parameters(prepare_run) == public
    keywords = {name: p for name, p in public.items() if p[0] is inspect.Parameter.KEYWORD_ONLY}
    submitted = _parameters(Pool.submit)
    assert {name: submitted[name] for name in keywords if name in submitted} == keywords


FILL = """
import json, os, sys
from posixbackend.isolation import zygote
def free_blocks():
    table = os.memfd_create("mallocstats")
    saved = os.dup(2)
    os.dup2(table, 2)
    try:
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    text = os.pread(table, 1 << 20, 0)
    os.close(table)
    return {int(size): int(count) for size, count in zygote.POOL_STATS.findall(text)}
before = free_blocks()
zygote.fill_allocator_pools()
after = free_blocks()
print(json.dumps([before, after, sum(1 for filler in zygote._FILLERS[0] if filler is not None)]))
"""


@pytest.mark.skipif(
    sys.implementation.name != "cpython" or not hasattr(sys, "_debugmallocstats"),
    reason="CPython's small-object allocator",
)
def test_the_zygote_fills_its_allocators_pools() -> None:
    """The fill takes the free blocks of every pool in use (hundreds or thousands, after the
    library's imports): right after it, the size classes its own work does not allocate from
    (96 bytes and up: its list and ints are smaller) have none left. (How many are free to
    begin with varies with what the imports freed, so only the classes it fills are read.)"""
    done = subprocess.run([sys.executable, "-c", FILL], capture_output=True, text=True, check=True)
    before, after, filled = json.loads(done.stdout)
    large = [size for size in before if int(size) >= 96]
    assert len(large) > 20  # the allocator's table was read
    assert sum(before[size] for size in large) > 100
    assert filled >= sum(before[size] for size in large)
    assert {size: after[size] for size in large} == dict.fromkeys(large, 0)


GIVE_BACK = """
import json
from posixbackend.isolation import zygote

def private_dirty_kb():
    with open("/proc/self/smaps_rollup") as rollup:
        return sum(int(line.split()[1]) for line in rollup if line.startswith("Private_Dirty"))

# 8 MiB in chunks past the small-object allocator (malloc's heap, below its mmap threshold),
# every other one freed: the kept ones hold the heap's top, so free() cannot shrink it
chunks = [bytes(64000) for _ in range(128)]
del chunks[::2]
before = private_dirty_kb()
zygote.give_back_free_heap()
after = private_dirty_kb()
print(json.dumps([before - after, sum(map(len, chunks))]))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup"), reason="Linux's /proc")
def test_the_zygote_gives_its_free_heap_back() -> None:
    """What the C heap holds free (here 4 MiB between kept chunks) goes back to the kernel:
    fewer private pages for each fork to copy (glibc; a C library without malloc_trim keeps
    them, and is told apart by the result's sign, never by a failure)."""
    done = subprocess.run(
        [sys.executable, "-c", GIVE_BACK], capture_output=True, text=True, check=True
    )
    given_back_kb, kept = json.loads(done.stdout)
    assert kept == 64 * 64000  # (the kept half is still there, whole)
    if os.confstr("CS_GNU_LIBC_VERSION"):
        assert given_back_kb > 2048, given_back_kb


WARM_HANDLERS = """
import json, logging, os, random, threading
from posixbackend.isolation import zygote

def threads_work():
    done = []
    thread = threading.Thread(target=done.append, args=(1,))
    thread.start()
    thread.join(10)
    return done == [1] and threading.main_thread() is threading.current_thread()

def in_children():
    seen = []
    for _ in range(2):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(write, json.dumps([random.random(), threads_work()]).encode())
            os._exit(0)
        os.close(write)
        seen.append(json.loads(os.read(read, 1000)))
        os.close(read)
        os.waitpid(pid, 0)
    return seen

logging.getLogger("x").addHandler(logging.StreamHandler())
lock = threading._active_limbo_lock
zygote.warm_fork_handlers()
renewed = threading._active_limbo_lock is not lock
stop = threading.Event()
other = threading.Thread(target=stop.wait)
other.start()
lock = threading._active_limbo_lock
zygote.warm_fork_handlers()  # another thread runs: nothing is done
untouched = threading._active_limbo_lock is lock
stop.set()
other.join()
print(json.dumps([renewed, untouched, threads_work(), in_children()]))
"""


@pytest.mark.skipif(not hasattr(threading, "_after_fork"), reason="CPython's threading module")
def test_the_zygote_warms_its_fork_handlers_only_alone_and_leaves_them_working() -> None:
    """The zygote runs its children's at-fork handlers itself before forking (specialized,
    they copy fewer of its pages): only while it has one thread, and afterwards threads, its
    forked children's threads and their random generators work as before."""
    done = subprocess.run(
        [sys.executable, "-c", WARM_HANDLERS], capture_output=True, text=True, check=True
    )
    renewed, untouched, works, children = json.loads(done.stdout)
    assert renewed and untouched and works
    (random_1, works_1), (random_2, works_2) = children
    assert works_1 and works_2
    assert random_1 != random_2


WARM_CHILD_PATHS = """
import json, os
from posixbackend.isolation import zygote
from posixbackend.isolation.limits import Limits
from posixbackend.isolation.request import Program, Request, grant

def open_fds():
    return sorted(os.listdir("/proc/self/fd"))

limits = Limits()
request = Request(Program("code", "pass"), (), {}, "/tmp", {}, grant(None, limits).data, limits)
before = open_fds()
zygote.warm_child_paths(request)
print(json.dumps([before, open_fds()]))
"""


def test_the_zygote_warms_its_childrens_paths_leaving_no_descriptor() -> None:
    """The zygote runs the parts of a child's life that change nothing (request, frames to
    /dev/null, bookkeeping) before forking: every pipe and descriptor it used is closed."""
    done = subprocess.run(
        [sys.executable, "-c", WARM_CHILD_PATHS], capture_output=True, text=True, check=True
    )
    before, after = json.loads(done.stdout)
    assert after == before


GATHER_CODE = """
import json, os
from posixbackend.isolation import zygote
from posixbackend.permissions.trusted import TRUSTED
from vfs.identity import Identity

def adder(n):
    return lambda x: x + n  # (nested code: a constant of adder's)

def untouched():
    return 1

current = Identity.current.__func__
originals = {"adder": adder.__code__, "untouched": untouched.__code__, "current": current.__code__}
inner = [c for c in adder.__code__.co_consts if hasattr(c, "co_code")][0]
kind = TRUSTED.trusts(current.__code__)
called = zygote.calls_made_by(lambda: (adder(1)(2), Identity.current()))
zygote.gather_code(called)
copied_inner = [c for c in adder.__code__.co_consts if hasattr(c, "co_code")][0]
print(json.dumps({
    "order": [code.co_name for code in called.values()],
    "copied": [adder.__code__ is not originals["adder"],
               current.__code__ is not originals["current"], copied_inner is not inner],
    "equal": [adder.__code__ == originals["adder"], current.__code__ == originals["current"],
              copied_inner == inner],
    "left": untouched.__code__ is originals["untouched"],
    "works": [adder(2)(3), untouched(), Identity.current().uid == os.getuid()],
    "trusted": [kind, TRUSTED.trusts(current.__code__), TRUSTED.trusts(adder.__code__)],
}))
"""


def test_the_zygote_gathers_the_code_its_children_call_without_changing_it() -> None:
    """The functions a guest's set-up calls get copies of their code, made together (a
    child's calls then write to fewer of the zygote's pages): nested code called is copied
    into its parent's constants, code never called is left; each copy equals its original,
    works as it did, and the permissions trust exactly what they trusted before."""
    done = subprocess.run(
        [sys.executable, "-c", GATHER_CODE], capture_output=True, text=True, check=True
    )
    seen = json.loads(done.stdout)
    assert {"adder", "<lambda>", "current"} <= set(seen["order"])
    assert "untouched" not in seen["order"]
    assert seen["copied"] == [True, True, True]
    assert seen["equal"] == [True, True, True]
    assert seen["left"] is True
    assert seen["works"] == [5, 1, True]
    # trust is by identity: the library's copy is trusted as its original (replace_code)
    assert seen["trusted"] == [True, True, False]
