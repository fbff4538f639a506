"""The permissions the calling thread of control runs under (None: no block restricts it).

A context variable beside the switch's: blocks set it, threads and pool jobs started in a
block inherit it, the audit hook and the thread stand-ins read it. A thread a restricting
block anchored (:mod:`posixbackend.permissions.anchors`) answers from its anchor instead, so
code run in a fresh context there is still restricted.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Final

from posixbackend.permissions.anchors import ANCHORS, get_ident
from posixbackend.permissions.policy import Permissions

POLICY: Final[ContextVar[Permissions | None]] = ContextVar("posixbackend.policy", default=None)
"""The permissions of this thread of control's innermost block; None means everything is
allowed. Only the block's context: :func:`get_policy` is what is in force."""

_policy_in_context: Final = POLICY.get


def get_policy() -> Permissions | None:
    """The permissions in force for the caller: its anchor's if its thread is anchored,
    else its context's (None: everything is allowed)."""
    if ANCHORS:
        anchor = ANCHORS.get(get_ident())
        if anchor is not None:
            return anchor.policy
    return _policy_in_context()


def current_permissions() -> Permissions:
    """What the caller may do now (``Permissions.all()`` outside any restricting block)."""
    policy = get_policy()
    return Permissions.all() if policy is None else policy
