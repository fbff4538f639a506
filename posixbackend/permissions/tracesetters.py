"""``sys.settrace`` and ``sys.setprofile`` that wait out CPython 3.11's "being installed" refusal.

Before 3.12, CPython refuses to set a trace (or profile) function in one thread while another
thread is setting one (python/cpython#98257): the setting thread runs the audit hooks first,
and a Python audit hook -- the library's, installed for good -- lets other threads run
meanwhile. Under a debugger or coverage (``threading.settrace``) every new thread sets one in
its bootstrap, so a thread started then died there with RuntimeError before its target ran
(a measured run of the suite hung at a barrier waiting for it). The refusal comes before
anything is changed, so the stand-ins here try again, briefly, until the other thread is done.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import compat

PAUSE: Final = 0.001
"""Seconds between tries (the other thread needs the GIL back only to finish its hooks)."""
TRIES: Final = 1000
"""Tries before the refusal is raised after all (a second of pauses)."""

RETRIED_SETTERS = compat.declare(
    id="permissions.trace_setters.retried",
    function="sys.settrace",
    aspect="sys.settrace and sys.setprofile on CPython 3.11",
    level=compat.Level.INFO,
    explanation="once the library's audit hook is installed on CPython 3.11, sys.settrace and "
    "sys.setprofile are Python functions that retry, for up to 1 s, where CPython raises "
    "RuntimeError because another thread is setting one at the same time (fixed in 3.12)",
)

_LOCK: Final = threading.Lock()
_INSTALLED: Final = threading.Event()


def _refused(error: RuntimeError) -> bool:
    """Whether ``error`` is the refusal of a setter another thread is running."""
    return str(error).endswith("function is being installed")


def _waiting(native: Callable[[Any], None]) -> Callable[[Any], None]:
    """``native`` (sys.settrace or sys.setprofile), tried again while it is refused."""

    def setter(function: Any, /) -> None:
        for _ in range(TRIES - 1):
            try:
                native(function)
                return
            except RuntimeError as error:
                if not _refused(error):
                    raise
            RETRIED_SETTERS.hit()
            time.sleep(PAUSE)  # lets the thread that is setting one finish
        native(function)

    setter.__name__ = setter.__qualname__ = native.__name__
    setter.__doc__ = native.__doc__
    setattr(setter, "__wrapped__", native)  # noqa: B010 - mypy knows no such attribute
    return setter


def install() -> None:
    """Replace sys.settrace and sys.setprofile for good on CPython 3.11 (as the audit hook
    that needs it stays for good); a second call, or a call on 3.12+, does nothing."""
    if sys.version_info >= (3, 12):
        return
    with _LOCK:
        if _INSTALLED.is_set():
            return
        sys.settrace = _waiting(sys.settrace)
        sys.setprofile = _waiting(sys.setprofile)
        _INSTALLED.set()
