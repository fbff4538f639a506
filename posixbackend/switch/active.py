"""Which backend serves the calling thread of control right now.

A context variable, so the choice is per thread and per asyncio task (tasks and
``asyncio.to_thread`` copy the context they start from); threads and executor jobs started
inside a block get it passed on by :mod:`posixbackend.switch.threads`. ``None`` means the
native backend: the stand-ins' fast path tests for it first.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Final

ACTIVE: Final[ContextVar[Any]] = ContextVar("posixbackend.active", default=None)
"""The emulated backend serving this thread of control, or None for the native one."""

get_active: Final = ACTIVE.get
"""``ACTIVE.get``, bound once: the stand-ins call it on every call."""
