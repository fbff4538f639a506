"""Isolated mode: untrusted Python code in a separate interpreter confined by the kernel.

In-process permissions are defence in depth only (PEP 578 says so of audit hooks); here the
guest runs in a child process under the managed backend, and the operating system itself
holds it: resource limits, no_new_privs, user and network namespaces, no capabilities,
Landlock (read-only access to the interpreter's files) and a seccomp filter (no processes,
no sockets, no other process reached). Files go in and come out as a memory file system
snapshot; stdout, stderr and the exit status come back in an :class:`IsolatedResult`.
"""

from posixbackend.isolation.limits import Limits, parse_limits
from posixbackend.isolation.result import IsolatedResult
from posixbackend.isolation.runner import IsolationError, run_isolated

__all__ = ["IsolatedResult", "IsolationError", "Limits", "parse_limits", "run_isolated"]
