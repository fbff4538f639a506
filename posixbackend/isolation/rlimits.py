"""Resource limits set in the child before the guest runs (setrlimit, soft = hard).

The hard limits equal the soft ones, so the guest cannot raise them again (and the seccomp
filter refuses setrlimit anyway). The CPU limit counts from now: the time the interpreter
took to start is added, so ``cpu_seconds`` is the guest's own. Core dumps are always off: a
guest killed by SIGXCPU leaves no core file on the host.
"""

from __future__ import annotations

import math
import resource

from posixbackend.isolation.limits import Limits

CPU_GRACE_SECONDS = 1
"""The hard CPU limit is this much above the soft one: SIGXCPU first, then SIGKILL."""


def set_resource_limits(limits: Limits) -> None:
    """Apply ``limits`` to this process (and the threads it will start)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits.cpu_seconds is not None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime + limits.cpu_seconds)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + CPU_GRACE_SECONDS))
    for kind, value in (
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes),
        (resource.RLIMIT_AS, limits.memory_bytes),
    ):
        if value is not None:
            resource.setrlimit(kind, (value, value))


def address_space_bytes() -> int:
    """The address space this process uses now (VmSize), from /proc/self/statm."""
    with open("/proc/self/statm", "rb") as statm:
        pages = int(statm.read().split()[0])
    return pages * resource.getpagesize()


def freeze_resource_limits() -> None:
    """No core dumps, and every hard limit lowered to its soft one: the limits in force now
    can no longer be raised, by the process or anything it starts (the launcher's sandbox)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for name in dir(resource):
        if not name.startswith("RLIMIT_") or name == "RLIMIT_CORE":
            continue
        kind = getattr(resource, name)
        soft, hard = resource.getrlimit(kind)
        if soft != hard:
            resource.setrlimit(kind, (soft, soft))
