"""Restricting blocks anchored to their thread, where a fresh context cannot shed them.

The backend and permissions of a block live in context variables, which follow asyncio tasks
and copied contexts; but ``contextvars.Context().run(f)`` (or setting the variables) gives
``f`` a context without them. So a block whose permissions restrict anything also anchors its
thread here, in a table keyed by thread id: while a thread is anchored, the stand-ins and the
audit hook take what serves it and what it may do from the anchor, whatever its context says.
Threads and pool jobs started by an anchored thread are anchored too.

An anchor is immutable and links to the one below it, so pushing and popping are each one
store into the table (an exception landing between two bytecodes leaves it whole). The price:
an anchored thread is restricted as a whole -- an asyncio task that awaits inside a
restricting block restricts every task its event loop runs meanwhile on that thread.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Final

import compat
from posixbackend.permissions.policy import Permissions

get_ident: Final = threading.get_ident

SHARED_THREAD = compat.declare(
    id="permissions.anchored_thread",
    function="posixbackend.backend",
    aspect="restricting blocks and asyncio tasks",
    level=compat.Level.INFO,
    explanation="a block whose permissions restrict anything holds its whole thread, not only "
    "its context: while an asyncio task awaits inside one, every other task the event loop "
    "runs on that thread runs under those permissions too (run guests in a thread of their "
    "own, or use the isolated mode)",
)


class Anchor:
    """One restricting block's hold on a thread: what serves it and what it may do."""

    __slots__ = ("below", "origin", "policy", "serving")

    def __init__(
        self,
        serving: Any,
        policy: Permissions | None,
        below: Anchor | None,
        origin: Anchor | None = None,
    ) -> None:
        self.origin = self if origin is None else origin
        """The anchor its block pushed (this one, unless it was rebuilt when a block below it
        was left first)."""
        self.serving = serving
        """The backend (or guard) that serves the thread; None: the real os."""
        self.policy = policy
        """The permissions the thread runs under; None: everything (a library section)."""
        self.below = below
        """The anchor this one was pushed onto (None: the thread was free before)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, "below"):  # set once, in __init__
            raise AttributeError(f"an anchor cannot change its {name}")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"<anchor {self.serving!r} {self.policy!r}>"


ANCHORS: Final[dict[int, Anchor]] = {}
"""Thread id -> the top anchor of that thread; empty while no thread is anchored (the
stand-ins' fast path tests for that first)."""


def anchor_of_caller() -> Anchor | None:
    """The calling thread's top anchor (None: it is not anchored)."""
    return ANCHORS.get(get_ident()) if ANCHORS else None


def push(serving: Any, policy: Permissions | None) -> Anchor:
    """Anchor the calling thread to ``serving`` under ``policy``, above its current anchor."""
    ident = get_ident()
    anchor = Anchor(serving, policy, ANCHORS.get(ident))
    ANCHORS[ident] = anchor
    return anchor


def adopt(anchor: Anchor) -> None:
    """Anchor the calling thread (a new one, or a pool worker between jobs) to ``anchor``, the
    anchor of the thread that started it or submitted its job."""
    ANCHORS[get_ident()] = anchor


def pop(anchor: Anchor) -> None:
    """Take ``anchor`` off the calling thread: its top (the usual case, one store), or one
    deeper down when blocks were left out of order (asyncio tasks sharing the thread); the
    anchors above it stay, as they narrowed it."""
    ident = get_ident()
    top = ANCHORS.get(ident)
    if top is not None and top.origin is anchor:
        restore(top.below)
        return
    kept: list[Anchor] = []
    while top is not None and top.origin is not anchor:
        kept.append(top)
        top = top.below
    if top is None:
        return  # not on this thread (left already)
    SHARED_THREAD.hit()  # blocks left out of order: tasks shared the anchored thread
    rebuilt = top.below
    for above in reversed(kept):
        rebuilt = Anchor(above.serving, above.policy, rebuilt, above.origin)
    assert rebuilt is not None, "the top was not the anchor, so one was kept above it"
    ANCHORS[ident] = rebuilt


def restore(anchor: Anchor | None) -> None:
    """Make ``anchor`` the calling thread's top again (None: the thread is free)."""
    if anchor is None:
        ANCHORS.pop(get_ident(), None)
    else:
        ANCHORS[get_ident()] = anchor


def release_thread() -> None:
    """Forget the calling thread's anchors (it is ending: a new thread may take its id)."""
    ANCHORS.pop(get_ident(), None)


class _Starting(threading.local):
    """Whether the calling thread is starting a thread that must not inherit its anchor."""

    free = False


STARTING: Final = _Starting()
"""Set by the library around a start: a pool's worker (each of its jobs is anchored on its
own) or a library thread that must run unrestricted (the time-limit watchdog)."""


class free_start:
    """Threads the caller starts inside this ``with`` are not anchored to its anchor."""

    def __enter__(self) -> None:
        STARTING.free = True

    def __exit__(self, *exc_info: object) -> None:
        STARTING.free = False


def _after_fork_in_child() -> None:
    """Only the forking thread exists in a forked child: keep its anchor alone."""
    if not ANCHORS:  # (a pool's zygote: clearing an empty table still writes to it)
        return
    mine = ANCHORS.get(get_ident())
    ANCHORS.clear()
    if mine is not None:
        ANCHORS[get_ident()] = mine


os.register_at_fork(after_in_child=_after_fork_in_child)
