"""IsolatedResult: how an isolated run ended, what it printed, and the files it left."""

from __future__ import annotations

import enum
import signal as _signal

import attrs

from posixbackend.isolation.limits import Limits


class ResultKind(enum.Enum):
    """Whose doing a result is: the guest's, the request's, or the machinery's.

    A harness retries :attr:`INFRASTRUCTURE` results alone: the same request gives the same
    :attr:`GUEST` or :attr:`REJECTED` result again.
    """

    GUEST = "guest"
    """The guest ran (the status, output, files and limit say how it ended: all of it the
    program's doing, a limit it hit or a protocol it broke included)."""
    REJECTED = "rejected"
    """The child could not set the run up from this request (a memory limit below what the
    interpreter needs, files that do not fit): no guest code ran."""
    INFRASTRUCTURE = "infrastructure"
    """The pool, its zygote or the machine failed (or the pool was shut down) before the
    guest could end on its own: nothing is known of what the program would do."""


@attrs.frozen
class IsolatedResult:
    """The outcome of :func:`~posixbackend.isolation.run_isolated`.

    Two kinds of fields. What the parent observed itself, which the guest cannot forge:
    ``status`` (the child's exit status: 0, a SystemExit code, 1 for an uncaught exception, or
    ``-N`` when signal N ended it, then ``signal`` is N), ``limit_exceeded``, ``protocol_error``,
    ``cpu_seconds``, ``wall_seconds``, ``confinement`` and ``not_confined`` (sent before any guest
    code ran). And what the guest controls, to be handled as untrusted data: ``stdout``,
    ``stderr``, ``files``, ``links``, ``exception`` and ``reported_limit`` (the guest can write
    anything there, and choose its exit status too).

    ``limit_exceeded`` names the limit the parent saw end the run: 'wall' (its clock), 'output'
    (its byte counts), 'cpu' (SIGXCPU, or a SIGKILL it did not send, with the CPU time at the
    limit), 'memory' (the result outgrew the memory limit, or the kernel's out-of-memory killer
    ended the child); None when none did. ``files`` holds every regular file of the guest's
    memory file system at its end (none of the read-only library), when the whole snapshot
    came back well formed; otherwise it is empty and ``notes`` says why.

    ``kind`` (set by the parent) says whose doing the result is (see :class:`ResultKind`):
    :func:`~posixbackend.isolation.run_isolated` raises IsolationError where a pool's result
    has the kind REJECTED or INFRASTRUCTURE, with ``error`` saying what failed. Such a result
    has no output or files and ``status`` -1, except a guest the pool killed for a shutdown:
    its result keeps what the parent observed (``status`` -9, the output read so far).
    """

    status: int
    stdout: bytes
    """The guest's standard output (at most the output limit): guest-controlled."""
    stderr: bytes
    """The guest's standard error (at most the output limit): guest-controlled."""
    files: dict[str, bytes]
    """Guest path -> contents: guest-controlled (names are clean absolute paths: no ``..``,
    no NUL, within the kernel's length limits). The names of one hard-linked file map to the
    same bytes object."""
    limit_exceeded: str | None
    signal: int | None
    confinement: tuple[str, ...]
    not_confined: dict[str, str]
    limits: Limits
    """The limits the run had (the wall time is the shorter of the limits' and the
    permissions' time limit)."""
    exception: str | None = None
    """The type name of the uncaught exception that ended the guest, as the guest's process
    reported it: guest-controlled."""
    cpu_seconds: float = 0.0
    """The CPU time the child used (the interpreter's start included)."""
    wall_seconds: float = 0.0
    """How long the child ran."""
    notes: tuple[str, ...] = ()
    """Anything else the caller should know (a grant the child ran without, a snapshot that
    could not come back...)."""
    pid: int = 0
    """The child's process id (and process group id), now reaped."""
    links: dict[str, str] = attrs.Factory(dict)
    """Each further name of a hard-linked file -> its first name, a key of ``files``:
    guest-controlled."""
    reported_limit: str | None = None
    """The limit the guest's process says the guest ran into ('memory' for a MemoryError under
    the memory limit, 'file_size' for EFBIG, 'open_files' for EMFILE, 'wall' for the
    permissions' time limit): guest-controlled, only ever a limit this run has, and never
    taken into ``limit_exceeded``."""
    protocol_error: str | None = None
    """How the guest broke the result channel's protocol (forged or malformed frames or
    snapshot), when it did: nothing it sent after its start was then kept."""
    kind: ResultKind = ResultKind.GUEST
    """Whose doing this result is: the guest's, the request's or the machinery's."""
    error: str | None = None
    """What failed, for a REJECTED or INFRASTRUCTURE result."""

    @classmethod
    def failure(
        cls,
        kind: ResultKind,
        error: str,
        limits: Limits,
        *,
        status: int = -1,
        wall_seconds: float = 0.0,
        pid: int = 0,
        notes: tuple[str, ...] = (),
    ) -> IsolatedResult:
        """The result of a run that did not happen (``kind`` REJECTED or INFRASTRUCTURE)."""
        if kind is ResultKind.GUEST:
            raise ValueError("a failure's kind is REJECTED or INFRASTRUCTURE")
        return cls(
            status=status, stdout=b"", stderr=b"", files={}, limit_exceeded=None,
            signal=None, confinement=(), not_confined={}, limits=limits,
            wall_seconds=wall_seconds, notes=notes, pid=pid, kind=kind, error=error,
        )  # fmt: skip

    @property
    def ok(self) -> bool:
        """Whether the guest ran to its end with status 0 and kept to the protocol."""
        return (
            self.kind is ResultKind.GUEST
            and self.status == 0
            and self.limit_exceeded is None
            and self.signal is None
            and self.protocol_error is None
        )

    def summary(self) -> str:
        """One line saying how the run ended: 'cpu time limit (10 s) exceeded (SIGXCPU)'."""
        if self.kind is ResultKind.REJECTED:
            return f"the run could not be set up: {self.error}"
        if self.kind is ResultKind.INFRASTRUCTURE:
            return f"the isolation machinery failed (retry): {self.error}"
        how = ""
        if self.signal is not None:
            how = _signal_name(self.signal)
        elif self.exception is not None:
            how = self.exception
        if self.protocol_error is not None:
            return f"the guest broke the result protocol: {self.protocol_error}"
        if self.limit_exceeded is not None:
            text = f"{self.limits.describe(self.limit_exceeded)} exceeded"
            return f"{text} ({how})" if how else text
        if self.reported_limit is not None:
            text = f"{self.limits.describe(self.reported_limit)} exceeded, as the guest reports"
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
