"""Isolated mode: untrusted Python code in a separate interpreter confined by the kernel.

In-process permissions are defence in depth only (PEP 578 says so of audit hooks); here the
guest runs in a child process under the managed backend, and the operating system itself
holds it: resource limits, no_new_privs, user, network and mount namespaces with a minimal
root (the interpreter's files, read-only, nothing else of the host), no capabilities,
Landlock (reading exactly those files) and a seccomp filter (no processes, no sockets, no
other process reached). Files go in and come out as a memory file system snapshot; stdout,
stderr and the exit status come back in an :class:`IsolatedResult`. The parent trusts no
byte the child sends after its confinement: it reads them with hard bounds and hands them
over as the guest's data.

Many guests: a :class:`Pool` (and :func:`run_isolated_many`) forks each from a warm zygote
instead of starting an interpreter, and confines and watches it the same way; each result's
``kind`` tells the guest's doing from a failure of the machinery.

The parent's side (:func:`run_isolated`, the pool and their results) is imported on first
use: the child imports this package too, and needs none of it (nor does the launcher's
sandbox, which uses the confinement modules).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from posixbackend.isolation.limits import Limits, parse_limits

if TYPE_CHECKING:
    from posixbackend.isolation.pool import Job, Pool, run_isolated_many
    from posixbackend.isolation.result import IsolatedResult, ResultKind
    from posixbackend.isolation.runner import IsolationError, RunRejected, run_isolated

_PARENT_SIDE = {
    "IsolatedResult": "posixbackend.isolation.result",
    "ResultKind": "posixbackend.isolation.result",
    "IsolationError": "posixbackend.isolation.runner",
    "RunRejected": "posixbackend.isolation.runner",
    "run_isolated": "posixbackend.isolation.runner",
    "Job": "posixbackend.isolation.pool",
    "Pool": "posixbackend.isolation.pool",
    "run_isolated_many": "posixbackend.isolation.pool",
}
"""Names of the parent's side -> the module each comes from."""


def __getattr__(name: str) -> object:
    module = _PARENT_SIDE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "IsolatedResult",
    "IsolationError",
    "Job",
    "Limits",
    "Pool",
    "ResultKind",
    "RunRejected",
    "parse_limits",
    "run_isolated",
    "run_isolated_many",
]
