"""IsolatedResult: how an isolated run ended, what it printed, and the files it left."""

from __future__ import annotations

import signal as _signal

import attrs

from posixbackend.isolation.limits import Limits


@attrs.frozen
class IsolatedResult:
    """The outcome of :func:`~posixbackend.isolation.run_isolated`.

    ``status`` is the guest's exit status (0, a SystemExit code, 1 for an uncaught exception),
    or ``-N`` when signal N ended the child (then ``signal`` is N). ``limit_exceeded`` names the
    limit that ended the run: 'cpu', 'wall', 'memory', 'file_size', 'open_files' or 'output'
    (None when none did). ``files`` holds every regular file of the guest's memory file system
    at its end (None of the read-only library); a child killed before it could send them back
    has none, and ``notes`` says so. ``confinement`` names the confinement steps applied,
    ``not_confined`` those the kernel refused, with the reason.
    """

    status: int
    stdout: bytes
    stderr: bytes
    files: dict[str, bytes]
    limit_exceeded: str | None
    signal: int | None
    confinement: tuple[str, ...]
    not_confined: dict[str, str]
    limits: Limits
    """The limits the run had (the wall time is the shorter of the limits' and the
    permissions' time limit)."""
    exception: str | None = None
    """The type name of the uncaught exception that ended the guest, if one did."""
    cpu_seconds: float = 0.0
    """The CPU time the child used (the interpreter's start included)."""
    wall_seconds: float = 0.0
    """How long the child ran."""
    notes: tuple[str, ...] = ()
    """Anything else the caller should know (a snapshot that could not come back...)."""
    pid: int = 0
    """The child's process id (and process group id), now reaped."""

    @property
    def ok(self) -> bool:
        """Whether the guest ran to its end with status 0."""
        return self.status == 0 and self.limit_exceeded is None and self.signal is None

    def summary(self) -> str:
        """One line saying how the run ended: 'cpu time limit (10 s) exceeded (SIGXCPU)'."""
        how = ""
        if self.signal is not None:
            how = _signal_name(self.signal)
        elif self.exception is not None:
            how = self.exception
        if self.limit_exceeded is not None:
            text = f"{self.limits.describe(self.limit_exceeded)} exceeded"
            return f"{text} ({how})" if how else text
        if self.signal is not None:
            return f"killed by {how}"
        if self.exception is not None:
            return f"exited with status {self.status} (uncaught {self.exception})"
        return f"exited with status {self.status}"

    def __str__(self) -> str:
        return self.summary()


def _signal_name(number: int) -> str:
    """SIGKILL for 9, or 'signal N' for a number without a name."""
    try:
        return _signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
