"""A lock its holder's thread cannot wait on: re-entry from a tracer or signal handler fails fast.

A provider runs Python code under its lock, and Python may run foreign code in that thread in
the middle of it: a trace function (a debugger, coverage in Python, Hypothesis's explain
phase), a signal handler, a finalizer. If that code calls the same provider, a plain
threading.Lock waits for its own thread forever. :class:`OwnedLock` refuses the re-entered call
at once with OSError(EDEADLK) (the gap :data:`REENTERED`); the interrupted operation then
completes as it would have. It is the C type of ``vfs._ownedlock`` when the extension was built,
else :class:`PyOwnedLock` (the same behaviour, a Python ``__enter__``: slower).
"""

from __future__ import annotations

import _thread
import errno
import os
from types import TracebackType

import compat

REENTERED = compat.declare(
    id="vfs.lock.reentered",
    function="vfs.MemoryFileSystem",
    aspect="a trace function or signal handler calling into a provider in the middle of one "
    "of its operations",
    level=compat.Level.WARNING,
    explanation="a system call is atomic to trace functions and signal handlers; the memory "
    "file system and the descriptor table run Python code under a lock, so a trace function "
    "(sys.settrace, a Python-level debugger or coverage tracer) or a signal handler that "
    "calls them while the same thread is inside one of their operations gets OSError(EDEADLK) "
    "at once (Linux never fails the call) instead of waiting for itself forever; the "
    "operation it interrupted completes, or fails as a whole if the error is not caught",
)


def reentered() -> OSError:
    """The error a re-entered acquire raises (and the gap's hit that goes with it)."""
    REENTERED.hit()
    return OSError(
        errno.EDEADLK,
        f"{os.strerror(errno.EDEADLK)}: called from a trace function or signal handler while "
        "this thread is inside the same file system (compat gap vfs.lock.reentered)",
    )


class PyOwnedLock:
    """:class:`OwnedLock` in Python, for an install without the C extension."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        # An RLock knows its holder; re-entry is refused before it could count up. The check and
        # the C acquire are separate steps, but an interruption between them holds nothing.
        self._lock = _thread.RLock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock as threading.Lock.acquire does; the holder's thread is refused."""
        if self._lock._is_owned():  # type: ignore[attr-defined]
            if not blocking:
                return False
            raise reentered()
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        """Let the lock go (its holder's thread only: an RLock's rule)."""
        self._lock.release()

    def locked(self) -> bool:
        """Whether a thread holds the lock."""
        if self._lock._is_owned():  # type: ignore[attr-defined]
            return True
        if self._lock.acquire(False):
            self._lock.release()
            return False
        return True

    def _is_owned(self) -> bool:
        return bool(self._lock._is_owned())  # type: ignore[attr-defined]

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()


OwnedLock: type[PyOwnedLock]
try:
    from vfs import _ownedlock
except ImportError:  # built without a compiler: the Python lock serves
    OwnedLock = PyOwnedLock
else:
    _ownedlock.configure(reentered)
    OwnedLock = _ownedlock.OwnedLock  # type: ignore[assignment]
