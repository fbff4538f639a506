"""Isolated mode: untrusted Python code in a separate interpreter confined by the kernel.

In-process permissions are defence in depth only (PEP 578 says so of audit hooks); here the
guest runs in a child process under the managed backend, and the operating system itself
holds it: resource limits, no_new_privs, user, network and mount namespaces with a minimal
root (the interpreter's files, read-only, nothing else of the host), no capabilities,
Landlock (reading exactly those files) and a seccomp filter (no processes, no sockets, no
other process reached). Files go in and come out as a memory file system snapshot; stdout,
stderr and the exit status come back in an :class:`IsolatedResult`.

The names below are imported on first use: the isolated child and the launcher's sandbox use
this package's confinement modules without the parent's machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from posixbackend.isolation.limits import Limits, parse_limits
    from posixbackend.isolation.result import IsolatedResult
    from posixbackend.isolation.runner import IsolationError, run_isolated

_LAZY = {
    "IsolatedResult": "posixbackend.isolation.result",
    "IsolationError": "posixbackend.isolation.runner",
    "Limits": "posixbackend.isolation.limits",
    "parse_limits": "posixbackend.isolation.limits",
    "run_isolated": "posixbackend.isolation.runner",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["IsolatedResult", "IsolationError", "Limits", "parse_limits", "run_isolated"]
