"""``signal.signal`` and ``signal.getsignal`` stand-ins: handlers wait for the end of an operation.

Natively a signal handler runs between two bytecodes of the program, never inside a system
call, so it may call ``os.stat`` on the file its program is renaming. On the emulated backend
the memory file system and the descriptor table run Python code under their locks, and the
handler may run right there, in the thread holding them: its call would wait for itself. The
locks refuse such a call (vfs/ownedlock.py, OSError(EDEADLK)); a handler installed through
these stand-ins does not even get there: while its thread is inside such an operation, it is
queued and runs the moment the operation lets go of its last lock, as a native handler would
run after the system call. ``getsignal`` and ``signal`` report the handler as it was given.

The stand-ins stay in place while the others are parked (a handler keeps firing outside
blocks); uninstalling puts every handler they installed back as it was given.
"""

from __future__ import annotations

import functools
import signal as signal_module
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Final

from vfs.ownedlock import defer

Handler = Callable[[int, FrameType | None], Any]


class DeferringHandler:
    """A Python signal handler run later when its thread is inside a locked operation."""

    __slots__ = ("handler",)

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if not defer(functools.partial(self.handler, signum, frame)):
            self.handler(signum, frame)

    def __repr__(self) -> str:
        return f"<deferring {self.handler!r}>"


_installed: Final[dict[int, DeferringHandler]] = {}
"""Signal number -> the wrapper these stand-ins last installed for it. No lock: only the main
thread may set handlers, and a handler may set one itself (a lock would wait for itself)."""


def _given(handler: Any) -> Any:
    """The handler as its caller gave it (a wrapper's own)."""
    return handler.handler if isinstance(handler, DeferringHandler) else handler


def stand_ins() -> list[tuple[Any, str, Any]]:
    """(namespace, name, stand-in) for ``signal.signal`` and ``signal.getsignal``."""
    native_signal = signal_module.signal
    native_getsignal = signal_module.getsignal

    @functools.wraps(native_signal)
    def signal(signalnum: Any, handler: Any, /) -> Any:
        wrapped = DeferringHandler(handler) if callable(handler) else handler
        previous = native_signal(signalnum, wrapped)
        if isinstance(wrapped, DeferringHandler):
            _installed[int(signalnum)] = wrapped
        else:
            _installed.pop(int(signalnum), None)
        return _given(previous)

    @functools.wraps(native_getsignal)
    def getsignal(signalnum: Any, /) -> Any:
        return _given(native_getsignal(signalnum))

    return [(signal_module, "signal", signal), (signal_module, "getsignal", getsignal)]


def unwrap_all() -> None:
    """Put back, as they were given, the handlers the stand-ins installed and that are still
    in place (at uninstall: the interpreter is then as if they had never been there). Only
    the main thread may set handlers: an uninstall from another thread leaves the wrappers,
    which run their handlers as before."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, wrapped in list(_installed.items()):
        given = wrapped.handler
        if signal_module.getsignal(signum) is wrapped:
            signal_module.signal(signum, given)
        _installed.pop(signum, None)
