"""Which backend serves the calling thread of control right now.

A context variable, so the choice is per thread and per asyncio task (tasks and
``asyncio.to_thread`` copy the context they start from); threads and executor jobs started
inside a block get it passed on by :mod:`posixbackend.switch._threads`. ``None`` means the
native backend: the stand-ins' fast path tests for it first. A thread a restricting block
anchored (:mod:`posixbackend.permissions.anchors`) is served by its anchor's backend whatever
its context holds, so a fresh ``contextvars.Context`` is no way out.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Final

from posixbackend.permissions.anchors import ANCHORS, get_ident

ACTIVE: Final[ContextVar[Any]] = ContextVar("posixbackend.active", default=None)
"""The backend of this thread of control's innermost block, or None for the native one (only
the context's: :func:`get_active` is what serves)."""

in_context: Final = ACTIVE.get
"""``ACTIVE.get``, bound once: the stand-ins call it on every call."""


def get_active() -> Any:
    """What serves the caller: its anchor's backend if its thread is anchored, else its
    context's (None: the real os)."""
    if ANCHORS:
        anchor = ANCHORS.get(get_ident())
        if anchor is not None:
            return anchor.serving
    return in_context()
