"""Clean-up that a second interrupt cannot cut short: rerun until it completes.

A block's exit, an entry cut short and a thread's hold on the stand-ins undo their steps in
Python, each step done at most once however often the undoing runs. After an interrupt they
run it again; :func:`until_done` (``posixbackend._standin.until_done``) reruns it after each
further exception too, from C, where nothing runs between the runs that another interrupt
could land in.
"""

from __future__ import annotations

import posix
from collections.abc import Callable
from typing import Any, Final

from posixbackend.emulated.accelerator import ENVIRONMENT_SWITCH


def until_done_python(function: Callable[..., Any], *args: Any) -> Any:
    """The fallback without the C extension: one more run after an exception (a second
    landing in that run cuts it short: the compat gap switch.block_exit_interrupted)."""
    try:
        return function(*args)
    except BaseException:
        function(*args)
        raise


def _chosen() -> Callable[..., Any]:
    """The C function when posixbackend._standin is built, else (or with
    ``POSIXBACKEND_PURE_PYTHON`` set, as for the C stand-ins) the fallback."""
    if posix.environ.get(ENVIRONMENT_SWITCH.encode(), b"") not in (b"", b"0"):
        return until_done_python
    try:
        from posixbackend import _standin
    except ImportError:
        return until_done_python
    return _standin.until_done


until_done: Final = _chosen()
"""``until_done(function, *args)``: ``function(*args)`` run again after each exception until
a run returns, then the last exception raised, if any run raised (C: at most 64 runs)."""
