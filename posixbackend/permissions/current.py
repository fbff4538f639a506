"""The permissions the calling thread of control runs under (None: no block restricts it).

A context variable beside the switch's: blocks set it, threads and pool jobs started in a
block inherit it, the audit hook and the thread stand-ins read it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Final

from posixbackend.permissions.policy import Permissions

POLICY: Final[ContextVar[Permissions | None]] = ContextVar("posixbackend.policy", default=None)
"""The effective permissions of this thread of control; None means everything is allowed."""

get_policy: Final = POLICY.get


def current_permissions() -> Permissions:
    """What the caller may do now (``Permissions.all()`` outside any restricting block)."""
    policy = get_policy()
    return Permissions.all() if policy is None else policy
