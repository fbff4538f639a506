"""Which limit ended a run, judged only from what the parent itself observed.

The parent knows what it did (killed the child at the wall-time limit, for output beyond its
limit, for a result beyond its bounds), its own clock, the child's wait status and resource
usage from wait4, and the kernel's count of out-of-memory kills. It never takes the child's
word: a guest can end its own process with any signal (SIGXCPU, SIGKILL...) and write any
frame. What only the child can see (a MemoryError under RLIMIT_AS, EFBIG, EMFILE) reaches
the result as the guest's report (``IsolatedResult.reported_limit``), never from here.
"""

from __future__ import annotations

import os
import signal

import attrs

from posixbackend.isolation.limits import Limits


@attrs.frozen
class Observation:
    """What the parent saw of one run."""

    killed_for: str | None
    """Why the parent killed the child: 'wall', 'output', 'result' (the channel passed its
    bounds), 'protocol' (the guest broke it); None when it did not."""
    signal: int | None
    """The signal that ended the child, from its wait status."""
    cpu_seconds: float
    """The child's CPU time, from wait4's resource usage."""
    guest_seconds: float | None
    """From the confined frame's arrival (the guest starts right after) to the child's end, on
    the parent's clock; None when the guest never started."""
    oom_kills: int = 0
    """Processes the kernel's out-of-memory killer ended while the child ran (0 if unknown)."""


def exceeded_limit(seen: Observation, limits: Limits) -> str | None:
    """The limit ``seen`` shows the run ran into, or None.

    'wall' and 'output' when the parent killed the child for them, 'memory' when the channel
    outgrew the memory limit; 'wall' too when the child was still running the wall-time limit
    after the guest started (a permissions time limit stops the guest from inside); 'cpu' for
    SIGXCPU, or a SIGKILL the parent did not send, with the CPU time at the limit; 'memory' for
    a SIGKILL the parent did not send while the kernel's out-of-memory killer was at work.
    """
    if seen.killed_for in ("wall", "output"):
        return seen.killed_for
    if seen.killed_for == "result" and limits.memory_bytes is not None:
        return "memory"
    wall = limits.wall_seconds
    if wall is not None and seen.guest_seconds is not None and seen.guest_seconds >= wall:
        return "wall"
    unsent_kill = seen.signal == signal.SIGKILL and seen.killed_for is None
    if seen.signal == signal.SIGXCPU or unsent_kill:
        cpu = limits.cpu_seconds
        if cpu is not None and seen.cpu_seconds >= cpu:
            return "cpu"
    if unsent_kill and seen.oom_kills > 0 and limits.memory_bytes is not None:
        return "memory"
    return None


def oom_kills() -> int | None:
    """The kernel's count of out-of-memory kills so far (/proc/vmstat), None where unknown.
    Read whole and searched once (a file object and a loop over its ~180 lines cost the
    caller ~20 us more per guest)."""
    try:
        fd = os.open("/proc/vmstat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    text = b"\n" + b"".join(chunks)
    at = text.find(b"\noom_kill ")
    if at < 0:
        return None
    end = text.find(b"\n", at + 1)
    try:
        return int(text[at + len(b"\noom_kill ") : None if end < 0 else end])
    except ValueError:
        return None
