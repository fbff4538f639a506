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

import contextlib
import errno
import json
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.interrupts import ROOT

TIMEOUT = 30
"""Seconds a scenario may take (each takes well under one; the defect hung forever)."""


ATTEMPT = """
import errno
seen = {"ok": 0, "deadlock": 0, "other": []}
def attempt(call):
    # a re-entering call: counted as served, refused with EDEADLK, or failed otherwise
    try:
        call()
        seen["ok"] += 1
    except OSError as error:
        if error.errno == errno.EDEADLK:
            seen["deadlock"] += 1
        else:
            seen["other"].append(repr(error))
"""
"""Scenario code defining ``seen`` and ``attempt(call)`` (every scenario runs it first)."""


def run_scenario(code: str, *arguments: str) -> dict[str, Any]:
    """Run ``code`` (with ``arguments`` in sys.argv, after ATTEMPT) in a fresh interpreter;
    the JSON object its last output line prints."""
    done = subprocess.run(
        [sys.executable, "-c", ATTEMPT + textwrap.dedent(code), *arguments],
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
        def tracer(frame, event, arg):
            if event == "call" and seen["ok"] + seen["deadlock"] < 400:
                attempt(lambda: (pathlib.Path("/tmp").resolve(strict=True), os.stat("/")))
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


SIGNAL_SCENARIO = """
    import errno, json, os, shutil, signal, sys, tempfile
    from posixbackend import backend
    from vfs.memory import MemoryFileSystem
    kind, where = sys.argv[1], sys.argv[2]
    root = tempfile.mkdtemp(dir="/dev/shm") if kind == "native" else "/r"
    def handler(signum, frame):
        attempt(lambda: os.stat(root + "/d"))
    fs = MemoryFileSystem()
    if where == "before":
        signal.signal(signal.SIGALRM, handler)
    block = backend("native") if kind == "native" else backend("managed", file_system=fs)
    with block:
        os.makedirs(root + "/d")
        if where == "inside":
            signal.signal(signal.SIGALRM, handler)
        given = signal.getsignal(signal.SIGALRM) is handler
        signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
        try:
            for i in range(3000):
                os.makedirs(f"{root}/d/x{i}/y/z")
                os.rename(f"{root}/d/x{i}/y", f"{root}/d/x{i}/w")
                if i >= 600 and (where != "before" or seen["deadlock"]):
                    break
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        made = i + 1
        names = len(os.listdir(root + "/d"))
        moved = all(os.listdir(f"{root}/d/x{n}") == ["w"] for n in range(made))
    if kind == "native":
        shutil.rmtree(root)
    print(json.dumps({"ok": seen["ok"] > 0, "deadlock": seen["deadlock"] > 0,
                      "other": seen["other"], "complete": names == made and moved,
                      "given": given, "lock": fs._lock.locked()}))
"""
"""A SIGALRM handler stats a directory while the program makes and renames directories under
it; argv: native|managed, and whether the handler is set before the block or inside it."""


def run_signal_scenario(kind: str, where: str) -> dict[str, Any]:
    """SIGNAL_SCENARIO's result for ``kind`` and ``where``."""
    return run_scenario(SIGNAL_SCENARIO, kind, where)


def test_a_handler_set_in_a_block_runs_after_the_operation_as_natively() -> None:
    native = run_signal_scenario("native", "inside")
    assert native == {
        "ok": True, "deadlock": False, "other": [], "complete": True, "given": True,
        "lock": False,
    }  # fmt: skip
    # signal.signal's stand-in queued the handler while the operation held its lock
    assert run_signal_scenario("managed", "inside") == native


def test_a_handler_set_before_the_block_gets_edeadlk_and_nothing_is_lost() -> None:
    result = run_signal_scenario("managed", "before")
    # Not through the stand-in: it runs where the signal lands, and its re-entry is refused
    # (compat gap vfs.lock.reentered); each interrupted operation still completed.
    assert result == {
        "ok": True, "deadlock": True, "other": [], "complete": True, "given": True,
        "lock": False,
    }  # fmt: skip


def test_an_uncaught_edeadlk_from_a_handler_fails_the_interrupted_call_all_or_nothing() -> None:
    result = run_scenario("""
        import errno, json, os, signal
        from posixbackend import backend
        from vfs.memory import MemoryFileSystem
        def handler(signum, frame):
            os.stat("/")
        def calm(call):
            # the test's own calls, tried again when the handler's refusal lands in them
            while True:
                try:
                    return call()
                except OSError as error:
                    assert error.errno == errno.EDEADLK, error
        def names():
            return calm(lambda: ("/d", "/e") if "d" in os.listdir("/") else ("/e", "/d"))
        fs = MemoryFileSystem()
        failures = 0
        name, other = "/d", "/e"
        signal.signal(signal.SIGALRM, handler)  # before the block: not through the stand-in
        with backend("managed", file_system=fs):
            os.makedirs("/d")
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
                        # an error landing after the change leaves it made, as natively a
                        # handler raising right after the system call
                        name, other = names()
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            listed = sorted(calm(lambda: os.listdir("/")))
            name = names()[0]
        print(json.dumps({"failures": failures, "names": listed, "name": name[1:],
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


@contextlib.contextmanager
def held_by_another_thread(owned: Any) -> Iterator[None]:
    """``owned`` held by a thread of its own for as long as the block runs."""
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
        yield
    finally:
        release.set()
        thread.join()


def test_another_thread_waits_for_it_and_is_not_refused(owned: Any) -> None:
    with held_by_another_thread(owned):
        assert owned.acquire(False) is False
        assert owned.acquire(True, 0.02) is False
    assert owned.acquire(True, 10) is True
    owned.release()


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

    with held_by_another_thread(owned):
        previous = signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        try:
            with pytest.raises(Stop):
                owned.acquire(True, 20)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    assert not owned.locked()


def test_the_c_locks_error_cannot_be_replaced_once_configured() -> None:
    from vfs.ownedlock import OwnedLock, PyOwnedLock

    if OwnedLock is PyOwnedLock:
        pytest.skip("the C extension is not built")
    from vfs import _ownedlock

    with pytest.raises(RuntimeError, match="configured already"):
        _ownedlock.configure(lambda: OSError("forged"), lambda: None)
    lock = OwnedLock()
    with lock, pytest.raises(OSError) as caught:
        lock.acquire()
    assert caught.value.errno == errno.EDEADLK


def test_a_queued_handler_that_raises_ends_the_operation_after_it_completed() -> None:
    result = run_scenario("""
        import json, os, signal
        from posixbackend import backend
        from vfs.memory import MemoryFileSystem
        class Stop(Exception):
            pass
        calls = [0]
        armed = [False]  # raises only around the rename (not in the test's own bookkeeping)
        def handler(signum, frame):
            os.stat("/")
            calls[0] += 1
            if armed[0] and calls[0] % 7 == 0:
                armed[0] = False
                raise Stop
        fs = MemoryFileSystem()
        stops = 0
        name, other = "/d", "/e"
        with backend("managed", file_system=fs):
            os.makedirs("/d/sub")
            signal.signal(signal.SIGALRM, handler)
            signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
            try:
                while stops < 20:
                    try:
                        armed[0] = True
                        os.rename(name, other)
                        armed[0] = False
                        name, other = other, name
                    except Stop:
                        stops += 1
                        name, other = ("/d", "/e") if os.path.isdir("/d") else ("/e", "/d")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            names = sorted(os.listdir("/"))
            inside = os.listdir(name)
        print(json.dumps({"names": names, "name": name[1:], "inside": inside,
                          "lock": fs._lock.locked()}))
    """)
    # Each rename happened entirely or not at all, and the tree moved with it.
    assert [name for name in result["names"] if name in ("d", "e")] == [result["name"]]
    assert result["inside"] == ["sub"]
    assert result["lock"] is False
