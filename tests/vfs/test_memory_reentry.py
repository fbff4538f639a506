"""A trace function or a signal handler that re-enters the memory file system mid-operation.

Natively a trace function or a signal handler may call ``os.stat`` at any point: a system call
is atomic to them. The memory file system runs Python code under its lock, so one of them may
run in the very thread that holds it. They once waited forever for that thread (a tracer), or
recursed until RecursionError (a signal handler, its wait interrupted by the next signal); the
re-entered call now fails at once with OSError(EDEADLK), the compatibility gap
``vfs.lock.reentered``, and the operation it interrupted completes as it would have. Each
scenario runs in a fresh interpreter with a time-out, so the old hang fails instead of hanging.
"""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.interrupts import ROOT

TIMEOUT = 30
"""Seconds a scenario may take (each takes well under one; the defect hung forever)."""


def run_scenario(code: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; the JSON object its last output line prints."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_a_tracer_that_stats_during_makedirs_gets_edeadlk_and_the_tree_is_made() -> None:
    result = run_scenario("""
        import errno, json, os, pathlib, sys
        from posixbackend import backend
        from vfs.memory import MemoryFileSystem
        seen = {"ok": 0, "deadlock": 0, "other": []}
        def tracer(frame, event, arg):
            if event == "call" and seen["ok"] + seen["deadlock"] < 400:
                try:
                    pathlib.Path("/tmp").resolve(strict=True)
                    os.stat("/")
                    seen["ok"] += 1
                except OSError as error:
                    if error.errno == errno.EDEADLK:
                        seen["deadlock"] += 1
                    else:
                        seen["other"].append(repr(error))
            return None
        with backend("managed", file_system=MemoryFileSystem()):
            os.makedirs("/tmp", exist_ok=True)
            sys.settrace(tracer)
            try:
                os.makedirs("/tmp/a/b/c")
                os.rename("/tmp/a/b", "/tmp/a/d")
                with open("/tmp/a/d/f", "w") as f:
                    f.write("x")
            finally:
                sys.settrace(None)
            tree = sorted((top, sorted(dirs), sorted(files)) for top, dirs, files in os.walk("/"))
        print(json.dumps({"seen": seen, "tree": tree}))
    """)
    seen = result["seen"]
    assert isinstance(seen, dict)
    assert seen["other"] == []
    # The tracer ran both outside the lock (its calls served) and inside it (refused, not hung).
    assert seen["ok"] > 0
    assert seen["deadlock"] > 0
    assert result["tree"][1:] == [
        ["/tmp", ["a"], []], ["/tmp/a", ["d"], []], ["/tmp/a/d", ["c"], ["f"]],
        ["/tmp/a/d/c", [], []],
    ]  # fmt: skip


def test_a_signal_handler_that_stats_mid_operation_gets_edeadlk_and_nothing_is_lost() -> None:
    result = run_scenario("""
        import errno, json, os, signal
        from posixbackend import backend
        from vfs.memory import MemoryFileSystem
        seen = {"ok": 0, "deadlock": 0, "other": []}
        def handler(signum, frame):
            try:
                os.stat("/d")
                seen["ok"] += 1
            except OSError as error:
                if error.errno == errno.EDEADLK:
                    seen["deadlock"] += 1
                else:
                    seen["other"].append(repr(error))
        fs = MemoryFileSystem()
        with backend("managed", file_system=fs):
            os.makedirs("/d")
            signal.signal(signal.SIGALRM, handler)
            signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
            try:
                for i in range(3000):
                    os.makedirs(f"/d/x{i}/y/z")
                    os.rename(f"/d/x{i}/y", f"/d/x{i}/w")
                    if seen["deadlock"] and i > 200:
                        break
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            made = i + 1
            names = sorted(os.listdir("/d"))
            moved = all(os.listdir(f"/d/x{n}") == ["w"] for n in range(made))
        print(json.dumps({"seen": seen, "made": made, "names": len(names), "moved": moved,
                          "lock": fs._lock.locked()}))
    """)
    seen = result["seen"]
    assert isinstance(seen, dict)
    assert seen["other"] == []
    assert seen["ok"] > 0
    assert result["names"] == result["made"]
    assert result["moved"] is True
    assert result["lock"] is False


def test_an_uncaught_edeadlk_from_a_handler_fails_the_interrupted_call_all_or_nothing() -> None:
    result = run_scenario("""
        import errno, json, os, signal
        from posixbackend import backend
        from vfs.memory import MemoryFileSystem
        def handler(signum, frame):
            os.stat("/")
        fs = MemoryFileSystem()
        failures = 0
        name, other = "/d", "/e"
        with backend("managed", file_system=fs):
            os.makedirs("/d")
            signal.signal(signal.SIGALRM, handler)
            signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
            try:
                for i in range(3000):
                    try:
                        os.rename(name, other)
                        name, other = other, name
                    except OSError as error:
                        assert error.errno == errno.EDEADLK, error
                        failures += 1
                        if failures > 20:
                            break
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            names = sorted(os.listdir("/"))
        print(json.dumps({"failures": failures, "names": names, "name": name[1:],
                          "lock": fs._lock.locked()}))
    """)
    assert result["failures"] > 0
    # Each rename happened entirely or not at all: exactly one of the two names is there.
    assert isinstance(result["names"], list)
    assert [name for name in result["names"] if name in ("d", "e")] == [result["name"]]
    assert result["lock"] is False


def test_the_refusal_is_a_declared_gap_with_linux_errno() -> None:
    import compat
    from vfs.ownedlock import REENTERED, reentered

    assert REENTERED.id == "vfs.lock.reentered"
    assert REENTERED.id in {gap.id for gap in compat.registry()}
    error = reentered()
    assert isinstance(error, OSError)
    assert error.errno == errno.EDEADLK


# -- the lock itself, each build against threading.Lock ----------------------------------------


def lock_types() -> list[type]:
    """The Python lock, and the C one when the extension was built."""
    from vfs.ownedlock import OwnedLock, PyOwnedLock

    return [PyOwnedLock] if OwnedLock is PyOwnedLock else [PyOwnedLock, OwnedLock]


@pytest.fixture(params=lock_types(), ids=lambda kind: kind.__name__)
def owned(request: pytest.FixtureRequest) -> Any:
    return request.param()


def outcome(call: Callable[[], object]) -> object:
    """What ``call`` returned, or its exception's class (messages vary with the version)."""
    try:
        return call()
    except (TypeError, ValueError, OverflowError, RuntimeError) as error:
        return type(error)


@pytest.mark.parametrize(
    "arguments",
    [(), (True,), (False,), (True, 0.01), (False, 1), (True, -2), (True, 1e300), ("x",)],
)
def test_a_free_lock_is_taken_as_threading_lock_takes_it(
    owned: Any, arguments: tuple[Any, ...]
) -> None:
    native = threading.Lock()
    expected = outcome(lambda: native.acquire(*arguments))
    assert outcome(lambda: owned.acquire(*arguments)) == expected
    assert owned.locked() == native.locked()


def test_release_and_locked_are_threading_locks(owned: Any) -> None:
    native = threading.Lock()
    assert outcome(owned.release) == outcome(native.release)
    with owned as taken:
        assert taken is True
        assert owned.locked()
    assert not owned.locked()


def test_the_holders_thread_is_refused_at_once(owned: Any) -> None:
    with owned:
        assert owned.acquire(False) is False
        with pytest.raises(OSError) as caught:
            owned.acquire()
        assert caught.value.errno == errno.EDEADLK
        with pytest.raises(OSError):
            owned.acquire(True, 5)
        assert owned.locked()
    assert owned.acquire(False) is True
    owned.release()


def test_another_thread_waits_for_it_and_is_not_refused(owned: Any) -> None:
    taken = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with owned:
            taken.set()
            release.wait()

    thread = threading.Thread(target=holder)
    thread.start()
    taken.wait()
    try:
        assert owned.acquire(False) is False
        assert owned.acquire(True, 0.02) is False
    finally:
        release.set()
    assert owned.acquire(True, 10) is True
    owned.release()
    thread.join()


def test_it_keeps_threads_apart(owned: Any) -> None:
    counts = {"inside": 0, "most": 0, "done": 0}

    def work() -> None:
        for _ in range(2000):
            with owned:
                counts["inside"] += 1
                counts["most"] = max(counts["most"], counts["inside"])
                counts["done"] += 1
                counts["inside"] -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts == {"inside": 0, "most": 1, "done": 8000}


def test_a_wait_runs_signal_handlers_and_their_exception_leaves_it_untaken(owned: Any) -> None:
    class Stop(Exception):
        pass

    def handler(signum: int, frame: object) -> None:
        raise Stop

    release = threading.Event()
    taken = threading.Event()

    def holder() -> None:
        with owned:
            taken.set()
            release.wait()

    thread = threading.Thread(target=holder)
    thread.start()
    taken.wait()
    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    try:
        with pytest.raises(Stop):
            owned.acquire(True, 20)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        release.set()
        thread.join()
    assert not owned.locked()


def test_the_c_locks_error_cannot_be_replaced_once_configured() -> None:
    from vfs.ownedlock import OwnedLock, PyOwnedLock

    if OwnedLock is PyOwnedLock:
        pytest.skip("the C extension is not built")
    from vfs import _ownedlock

    with pytest.raises(RuntimeError, match="configured already"):
        _ownedlock.configure(lambda: OSError("forged"))
    lock = OwnedLock()
    with lock, pytest.raises(OSError) as caught:
        lock.acquire()
    assert caught.value.errno == errno.EDEADLK
