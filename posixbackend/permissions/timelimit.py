"""Time limits: a watchdog thread raises TimeLimitExceeded in a thread whose time is used up.

One daemon thread, started the first time a limit starts, keeps a heap of deadlines. At a
limit's deadline it raises :class:`TimeLimitExceeded` in the limit's thread with
``PyThreadState_SetAsyncExc`` and raises it again every :data:`REPEAT` seconds until the limit
is stopped, so a guest that catches BaseException and carries on is stopped again.

What the interpreter allows, and so what a limit can do: the exception is seen at the thread's
next bytecode, so Python code is stopped within milliseconds; a thread in a blocking C call
(``time.sleep``, a lock or ``join`` wait, a blocking read, ``signal.pause``) sees it only when
the call returns, and C code that never returns to Python is not stopped at all (C code that
holds the GIL meanwhile keeps the watchdog itself from running; the launcher's
``--time-limit`` ends a process stuck in a call that releases it after a grace period).
CPython 3.11 and 3.13 attribute an exception arriving at the back jump of a loop written
first in a ``try`` body to the instruction before the ``try``, which then does not catch it
(python/cpython#108214, #130279; KeyboardInterrupt has the same quirk).

Every Python call can receive the exception at its first instruction: :meth:`TimeLimit.stop`
is safe against one landing inside it, but one pending when it is called is raised at its
entry, before it runs -- call it again (it is idempotent) until it returns.
"""

from __future__ import annotations

import contextvars
import ctypes
import heapq
import itertools
import math
import os
import threading
import time
import weakref
from typing import Final

import compat

REPEAT: Final = 0.1
"""Seconds between a fired limit's raisings while it is not stopped."""
LATE: Final = 2 * REPEAT
"""An exception seen this long after it was raised was held up by a blocking call."""

BLOCKING_CALL = compat.declare(
    id="permissions.time_limit.blocking_call",
    function="posixbackend.Permissions.time_limit",
    aspect="a thread in a blocking call",
    level=compat.Level.INFO,
    explanation="TimeLimitExceeded reaches a thread blocked in a C call (time.sleep, lock and "
    "join waits, blocking reads, signal.pause) only when the call returns, and code that "
    "never returns to Python is not stopped (the launcher's --time-limit ends such a process "
    "1 s after its limit)",
)

# Bound when this module is imported, before any guest runs: a guest denied ctypes later (by
# an audit hook) does not stop the watchdog, which runs in its own, unrestricted, thread.
_set_async_exc: Final = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)
_NO_EXCEPTION: Final = ctypes.py_object()
"""A NULL object pointer: PyThreadState_SetAsyncExc clears the pending exception with it."""


class TimeLimitExceeded(BaseException):
    """Raised in a guest's thread when its time limit is used up.

    A BaseException, as KeyboardInterrupt is, so ``except Exception`` in the guest does not
    swallow it; ``limit`` is the limit in seconds (None only for one raised by hand without
    one). Raised asynchronously by the watchdog (the interpreter then makes it without
    arguments, in the thread it stops) and again every 0.1 s until the limit is stopped.
    """

    limit: float | None

    def __init__(self, limit: float | None = None) -> None:
        if limit is None:
            fired = _WATCHDOG.fired_in(threading.get_ident())
            if fired is not None:
                limit = fired.seconds
                fired.delivered()
        self.limit = limit
        super().__init__(
            "time limit exceeded" if limit is None else f"time limit of {limit!r} s exceeded"
        )

    def __reduce__(self) -> tuple[type[TimeLimitExceeded], tuple[float | None]]:
        return (type(self), (self.limit,))


class _ThreadToken:
    """Lives exactly as long as its thread (kept in a thread-local): a limit whose thread
    ended, and whose ident a new thread may have taken, is never fired."""

    __slots__ = ("__weakref__",)


_THREAD_TOKENS = threading.local()


def _thread_token() -> _ThreadToken:
    """The calling thread's token, made on first use."""
    token: _ThreadToken | None = getattr(_THREAD_TOKENS, "token", None)
    if token is None:
        token = _THREAD_TOKENS.token = _ThreadToken()
    return token


class TimeLimit:
    """A running limit on the calling thread's time, from :meth:`start` to :meth:`stop`."""

    __slots__ = (
        "_fired", "_pending_since", "_queued", "_stopped", "_token", "ident", "repeat", "seconds",
    )  # fmt: skip

    def __init__(self, seconds: float, ident: int, token: _ThreadToken, repeat: bool) -> None:
        self.seconds = seconds
        self.ident = ident
        self.repeat = repeat
        self._token = weakref.ref(token)
        self._fired = False
        self._stopped = False
        self._queued = False
        self._pending_since: float | None = None
        """When the watchdog raised an exception the thread has not seen yet."""

    @classmethod
    def start(cls, seconds: float, *, repeat: bool = True) -> TimeLimit:
        """A limit of ``seconds`` on the calling thread, counted from now (positive, finite).

        ``repeat=False`` raises the exception once only (for a caller that ends the thread's
        work by other means when it is swallowed)."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise TypeError(f"a time limit is a number of seconds, not {type(seconds).__name__}")
        if not 0 < seconds < math.inf:
            raise ValueError(f"a time limit must be a positive number of seconds, not {seconds!r}")
        deadline = time.monotonic() + seconds
        limit = cls(float(seconds), threading.get_ident(), _thread_token(), repeat)
        _WATCHDOG.add(limit, deadline)
        return limit

    @property
    def fired(self) -> bool:
        """Whether the limit was used up (its exception raised at least once)."""
        return self._fired

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` has run."""
        return self._stopped

    def stop(self) -> bool:
        """Cancel the limit; True if it had fired. Once this returns, no TimeLimitExceeded of
        this limit arrives in its thread any more (a pending one is cleared); one of an outer
        limit of the same thread that has fired is left pending, or raised from here."""
        if self.ident != threading.get_ident():  # what lands here is the caller's own
            return _WATCHDOG.cancel(self)[0]
        landed: TimeLimitExceeded | None = None
        while True:
            try:
                fired, outer_fired = _WATCHDOG.cancel(self)
                break
            except TimeLimitExceeded as error:  # raised before cancel cleared it: once more
                landed = error
        if landed is not None and outer_fired:
            raise landed
        return fired

    def delivered(self) -> None:
        """The thread has seen the exception (it is being made there): a gap if late."""
        since, self._pending_since = self._pending_since, None
        if since is not None and time.monotonic() - since > LATE:
            BLOCKING_CALL.hit(late=f"{time.monotonic() - since:.1f} s")

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "fired" if self._fired else "running"
        return f"<TimeLimit {self.seconds!r} s on thread {self.ident}, {state}>"


class _Watchdog:
    """The thread that raises TimeLimitExceeded at deadlines, and the limits it watches."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, TimeLimit]] = []
        self._order = itertools.count()
        self._running: dict[int, list[TimeLimit]] = {}
        """Thread ident -> its limits not stopped yet, oldest first."""
        self._fired: dict[int, TimeLimit] = {}
        """Thread ident -> the limit fired at it last (the one its exception tells)."""
        self._thread: threading.Thread | None = None
        self._stale = 0
        """How many heap entries are stopped limits (the heap is rebuilt when most are)."""

    def add(self, limit: TimeLimit, deadline: float) -> None:
        """Watch ``limit``, to fire at ``deadline`` (time.monotonic)."""
        with self._condition:
            self._running.setdefault(limit.ident, []).append(limit)
            self._push(limit, deadline)
            if self._thread is None:
                self._start_thread()
            elif self._heap[0][2] is limit:  # the earliest now: the watchdog waits less
                self._condition.notify()

    def cancel(self, limit: TimeLimit) -> tuple[bool, bool]:
        """Stop ``limit`` and clear its pending exception (idempotent): (whether it fired,
        whether another limit of its thread has fired and is still running)."""
        with self._condition:
            if not limit._stopped:
                limit._stopped = True
                if limit._queued:
                    self._drop_stale()
            running = self._running.get(limit.ident, [])
            if limit in running:
                running.remove(limit)
            outer_fired = any(other._fired for other in running)
            if not running:
                self._running.pop(limit.ident, None)
                self._fired.pop(limit.ident, None)
            if limit._fired and not outer_fired:
                _set_async_exc(limit.ident, _NO_EXCEPTION)
                limit._pending_since = None
            return limit._fired, outer_fired

    def _drop_stale(self) -> None:
        """Count one more stopped limit in the heap; rebuild it without them when they are
        most of it (a long limit stopped early would otherwise stay until its deadline)."""
        self._stale += 1
        if self._stale > 64 and self._stale * 2 > len(self._heap):
            kept = [entry for entry in self._heap if not entry[2]._stopped]
            for _, _, limit in self._heap:
                limit._queued = not limit._stopped
            self._heap = kept
            heapq.heapify(self._heap)
            self._stale = 0

    def fired_in(self, ident: int) -> TimeLimit | None:
        """The limit fired last at thread ``ident`` (None if none is).

        Without the lock: the exception is made wherever it lands, inside :meth:`cancel`
        with the lock held too."""
        return self._fired.get(ident)

    def _start_thread(self) -> None:
        """Start the watchdog thread in an empty context: whatever code started the first
        limit, the watchdog runs natively, under no guest's permissions."""
        thread = threading.Thread(target=self._watch, name="posixbackend-time-limits", daemon=True)
        contextvars.Context().run(thread.start)
        self._thread = thread

    def _watch(self) -> None:
        with self._condition:
            while True:
                if not self._heap:
                    self._condition.wait()
                    continue
                deadline, _, limit = self._heap[0]
                now = time.monotonic()
                if deadline > now:
                    self._condition.wait(deadline - now)
                    continue
                heapq.heappop(self._heap)
                limit._queued = False
                if limit._stopped:
                    self._stale -= 1
                elif not self._fire(limit):
                    self._forget(limit)
                elif limit.repeat:
                    self._push(limit, now + REPEAT)

    def _push(self, limit: TimeLimit, deadline: float) -> None:
        """Queue ``limit`` to fire at ``deadline`` (lock held)."""
        heapq.heappush(self._heap, (deadline, next(self._order), limit))
        limit._queued = True

    def _fire(self, limit: TimeLimit) -> bool:
        """Raise TimeLimitExceeded in ``limit``'s thread (lock held); False if it has ended."""
        if limit._token() is None:
            return False
        limit._fired = True
        if limit._pending_since is None:
            limit._pending_since = time.monotonic()
        self._fired[limit.ident] = limit
        changed: int = _set_async_exc(limit.ident, ctypes.py_object(TimeLimitExceeded))
        return changed == 1

    def _forget(self, limit: TimeLimit) -> None:
        """Drop a limit whose thread has ended (lock held)."""
        limit._stopped = True
        self._running.pop(limit.ident, None)
        self._fired.pop(limit.ident, None)

    def after_fork_in_child(self) -> None:
        """In a forked child only the forking thread exists: keep its limits, restart the
        watchdog (its thread did not survive the fork) and take a fresh lock."""
        ident = threading.get_ident()
        self._condition = threading.Condition(threading.Lock())
        for _, _, limit in self._heap:
            limit._queued = limit.ident == ident
        self._heap = [entry for entry in self._heap if entry[2].ident == ident]
        heapq.heapify(self._heap)
        self._running = {ident: self._running[ident]} if ident in self._running else {}
        self._fired = {ident: self._fired[ident]} if ident in self._fired else {}
        self._thread = None
        self._stale = sum(1 for entry in self._heap if entry[2]._stopped)
        if self._heap:
            self._start_thread()


_WATCHDOG: Final = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG.after_fork_in_child)
