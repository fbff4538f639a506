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

An asynchronous exception can arrive wherever a thread checks for one: at every call's first
instruction and after every call returns. So the limited thread's side of the bookkeeping
(:meth:`TimeLimit.start` and :meth:`TimeLimit.stop`) takes the watchdog's lock with a C-level
``with`` (nothing can arrive between acquiring it and the block that releases it) and first
clears any exception pending for the thread: from then on nothing can arrive, as the watchdog
fires under the same lock. An exception cleared that way is raised again, synchronously, when
the lock is released. ``stop()`` itself can still receive one pending at its entry, before it
runs: call it again (it is idempotent) until it returns.
"""

from __future__ import annotations

import contextvars
import ctypes
import heapq
import itertools
import math
import os
import sys
import threading
import time
import weakref
from typing import Final

import compat
from posixbackend.permissions.anchors import free_start
from posixbackend.permissions.entrypoints import entry_points

REPEAT: Final = 0.1
"""Seconds between a fired limit's raisings while it is not stopped."""
LATE: Final = 2 * REPEAT
"""An exception seen this long after it was raised was held up by a blocking call."""
LONGEST_WAIT: Final = 3600.0
"""The watchdog wakes at least this often (lock timeouts have a maximum)."""

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


class _SignalReset(BaseException):
    """Raised by a thread at itself, and caught at once, by :func:`_clear_pending`."""


_SIGNAL_RESET: Final = ctypes.py_object(_SignalReset)


def _clear_pending(ident: int) -> None:
    """Drop the exception raised at thread ``ident`` and not seen there yet, if any.

    CPython 3.11 keeps its "asynchronous exception" signal set after a clear (only a delivered
    exception resets it), and under a trace function (a debugger, coverage) the next call of
    any thread then spins at its first instruction forever: so a 3.11 caller raises one at
    itself, delivered by the check after the C call returns, and catches it."""
    _set_async_exc(ident, _NO_EXCEPTION)
    if sys.version_info < (3, 12):
        try:
            _set_async_exc(threading.get_ident(), _SIGNAL_RESET)
        except _SignalReset:
            pass


class TimeLimitExceeded(BaseException):
    """Raised in a guest's thread when its time limit is used up.

    A BaseException, as KeyboardInterrupt is, so ``except Exception`` in the guest does not
    swallow it; ``limit`` is the limit in seconds (None only for one raised by hand without
    one). Raised asynchronously by the watchdog (the interpreter then makes it without
    arguments, in the thread it stops) and again every 0.1 s until the limit is stopped.
    """

    limit: float | None

    def __init__(self, limit: float | None = None) -> None:
        self._source: TimeLimit | None = None
        if limit is None:
            fired = _WATCHDOG.fired_in(threading.get_ident())
            if fired is not None:
                limit = fired.seconds
                self._source = fired
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
        "_fired", "_late", "_pending_since", "_queued", "_stopped", "_token", "ident", "repeat",
        "seconds",
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
        self._late = 0.0
        """The longest an exception of this limit took to be seen."""

    @classmethod
    def start(cls, seconds: float, *, repeat: bool = True) -> TimeLimit:
        """A limit of ``seconds`` on the calling thread, counted from now (positive, finite).

        ``repeat=False`` raises the exception once only (for a caller that ends the thread's
        work by other means when it is swallowed). An outer limit's exception that was about
        to arrive is raised from here, and then no limit is started."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise TypeError(f"a time limit is a number of seconds, not {type(seconds).__name__}")
        if not 0 < seconds < math.inf:
            raise ValueError(f"a time limit must be a positive number of seconds, not {seconds!r}")
        ident = threading.get_ident()
        limit = cls(float(seconds), ident, _thread_token(), repeat)
        owed = _WATCHDOG.add(limit, time.monotonic() + seconds)
        if owed is not None:
            raise _owed_exception(owed)
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
        this limit arrives in its thread any more (a pending one is cleared). The exception
        of another limit of the caller's that was about to arrive is raised from here."""
        landed: TimeLimitExceeded | None = None
        while True:
            try:
                fired, owed, last = _WATCHDOG.cancel(self)
                break
            except TimeLimitExceeded as error:  # arrived before cancel took the lock
                landed = error
        if owed is not None:
            raise _owed_exception(owed)
        source = landed._source if landed is not None else None
        if landed is not None and source is not self and not (source and source._stopped):
            raise landed  # another limit's, still running: not this one's to swallow
        if last and self._late > LATE:  # no exception can come now: safe to record the gap
            late, self._late = self._late, 0.0
            BLOCKING_CALL.hit(late=f"{late:.1f} s")
        return fired

    def delivered(self) -> None:
        """The thread has seen the exception (it is being made there): how late it was.

        Only arithmetic: another exception may arrive in here (the gap, if it was late, is
        recorded by :meth:`stop`, when none can)."""
        since, self._pending_since = self._pending_since, None
        if since is not None:
            self._late = max(self._late, time.monotonic() - since)

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "fired" if self._fired else "running"
        return f"<TimeLimit {self.seconds!r} s on thread {self.ident}, {state}>"


def _owed_exception(limit: TimeLimit) -> TimeLimitExceeded:
    """The exception of ``limit`` that was cleared before it arrived, to raise in its place."""
    error = TimeLimitExceeded(limit.seconds)
    error._source = limit
    return error


class _Watchdog:
    """The thread that raises TimeLimitExceeded at deadlines, and the limits it watches.

    ``_lock`` is a plain C lock: ``with self._lock`` in a limited thread cannot leave it held
    when an exception arrives (a Condition's Python ``__enter__`` could, between acquiring
    and returning). The watchdog sleeps on ``_wake``, a lock used as a binary semaphore:
    released (by a limited thread, under ``_lock``) when an earlier deadline comes in.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Lock()
        self._wake.acquire()
        self._wake_pending = False
        self._heap: list[tuple[float, int, TimeLimit]] = []
        self._order = itertools.count()
        self._running: dict[int, list[TimeLimit]] = {}
        """Thread ident -> its limits not stopped yet, oldest first."""
        self._fired: dict[int, TimeLimit] = {}
        """Thread ident -> the limit fired at it last (the one its exception tells)."""
        self._thread: threading.Thread | None = None
        self._stale = 0
        """How many heap entries are stopped limits (the heap is rebuilt when most are)."""

    # -- the limited thread's side (lock held: clear first, then nothing can arrive) ---------

    def add(self, limit: TimeLimit, deadline: float) -> TimeLimit | None:
        """Watch ``limit`` (of the calling thread), to fire at ``deadline``; or, if another
        limit's exception was about to arrive, watch nothing and return that limit."""
        global _armed  # noqa: PLW0603 - read by the fork handler, which touches no object
        _armed = True  # before the lock: a fork from here on takes the full handler
        with self._lock:
            _clear_pending(limit.ident)
            owed = self._owed(limit.ident)
            if owed is not None:
                return owed
            self._running.setdefault(limit.ident, []).append(limit)
            self._push(limit, deadline)
            if self._thread is None:
                self._start_thread()
            elif self._heap[0][2] is limit and not self._wake_pending:
                self._wake_pending = True
                self._wake.release()
            return None

    def cancel(self, limit: TimeLimit) -> tuple[bool, TimeLimit | None, bool]:
        """Stop ``limit`` and clear its pending exception (idempotent): whether it fired, a
        limit of the caller's whose exception was about to arrive (to raise instead), and
        whether the caller has no limit left running (so no exception can arrive now)."""
        global _armed  # noqa: PLW0603 - read by the fork handler, which touches no object
        _armed = True  # (a limit never added may be stopped: it takes the lock too)
        caller = threading.get_ident()
        with self._lock:
            _clear_pending(caller)
            if not limit._stopped:
                limit._stopped = True
                if limit._queued:
                    self._drop_stale()
                self._unregister(limit)
            if limit._pending_since is not None:  # raised, never to be seen now
                limit._pending_since = None
                if limit.ident != caller:
                    _clear_pending(limit.ident)
                    if self._owed(limit.ident) is not None:  # another one's, still due there
                        _set_async_exc(limit.ident, ctypes.py_object(TimeLimitExceeded))
            return limit._fired, self._owed(caller), caller not in self._running

    def _owed(self, ident: int) -> TimeLimit | None:
        """A running limit of thread ``ident`` whose raised exception it has not seen (it is
        cleared once that thread holds the lock, so the limit is marked seen: it is owed)."""
        for limit in self._running.get(ident, ()):
            if limit._pending_since is not None:
                limit._pending_since = None
                return limit
        return None

    def _unregister(self, limit: TimeLimit) -> None:
        running = self._running.get(limit.ident, [])
        if limit in running:
            running.remove(limit)
        if not running:
            self._running.pop(limit.ident, None)
            self._fired.pop(limit.ident, None)

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

        Without the lock: the exception is made where it arrives, perhaps with it held."""
        return self._fired.get(ident)

    # -- the watchdog's side -----------------------------------------------------------------

    def _start_thread(self) -> None:
        """Start the watchdog thread in an empty context: whatever code started the first
        limit, the watchdog runs natively, under no guest's permissions."""
        thread = threading.Thread(target=self._watch, name="posixbackend-time-limits", daemon=True)
        with free_start():
            contextvars.Context().run(thread.start)
        self._thread = thread

    def _watch(self) -> None:
        if sys.version_info < (3, 12):
            # Untraced: on 3.11 a traced thread that raised an exception at another spins at
            # its next call until that one sees it (see _clear_pending), and this one would
            # spin holding the lock a limited thread may be waiting for.
            sys.settrace(None)
            sys.setprofile(None)
        while True:
            with self._lock:
                delay = self._fire_due()
            if self._wake.acquire(timeout=delay):
                with self._lock:
                    self._wake_pending = False

    def _fire_due(self) -> float:
        """Fire every limit whose deadline has come (lock held); seconds to the next one."""
        while self._heap:
            deadline, _, limit = self._heap[0]
            now = time.monotonic()
            if deadline > now:
                return min(deadline - now, LONGEST_WAIT)
            heapq.heappop(self._heap)
            limit._queued = False
            if limit._stopped:
                self._stale -= 1
            elif not self._fire(limit):
                self._forget(limit)
            elif limit.repeat:
                self._push(limit, now + REPEAT)
        return LONGEST_WAIT

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
        watchdog (its thread did not survive the fork) with fresh locks."""
        ident = threading.get_ident()
        self._lock = threading.Lock()
        self._wake = threading.Lock()
        self._wake.acquire()
        self._wake_pending = False
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
_armed = False
"""Whether this process (or the one it was forked from) ever added or cancelled a limit: until
then the watchdog's lock was never taken and it has no limit, no thread, nothing a fork breaks."""
entry_points(_Watchdog._watch)


def _after_fork_in_child() -> None:
    """The fork handler: nothing to do in a child of a process that never armed a limit (a
    pool's zygote: the full handler's new locks and lists copied 30-48 of its pages and took
    0.1-0.2 ms per guest); the watchdog's after_fork_in_child otherwise."""
    if _armed:
        _WATCHDOG.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
