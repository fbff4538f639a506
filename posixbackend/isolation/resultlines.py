"""The batch command's result lines: one JSON object per job, every field always present.

``kind`` says whose doing the outcome is, as :class:`~posixbackend.isolation.result.ResultKind`
does: ``"guest"`` (the program ran; ``status`` says how it ended), ``"rejected"`` (the job
itself is wrong: its line is invalid, or the run could not be set up from it; the same job
fails again) or ``"infrastructure"`` (the pool or the machine failed; run it again).
``status`` is one of ``ok``, ``failed`` (a non-zero exit, an uncaught exception, a signal),
``limit`` (a limit the parent observed ended it: ``limit`` names it), ``protocol`` (the guest
forged or broke the result channel: nothing it sent is kept), ``invalid`` (the job line is
wrong), ``rejected`` (the run could not be set up) and ``infrastructure``.
"""

from __future__ import annotations

from typing import Any, Final

from posixbackend.isolation.jobs import JobId
from posixbackend.isolation.jsonbytes import encode_bytes
from posixbackend.isolation.result import IsolatedResult, ResultKind

GUEST: Final = ResultKind.GUEST.value
REJECTED: Final = ResultKind.REJECTED.value
INFRASTRUCTURE: Final = ResultKind.INFRASTRUCTURE.value

OK: Final = "ok"
FAILED: Final = "failed"
LIMIT: Final = "limit"
PROTOCOL: Final = "protocol"
INVALID: Final = "invalid"


def result_line(job_id: JobId, result: IsolatedResult) -> dict[str, Any]:
    """The result line of a job the pool ran (whatever became of it)."""
    if result.kind is not ResultKind.GUEST:
        error = result.error or result.summary()
        return failure_line(job_id, result.kind.value, error, result.wall_seconds)
    if result.protocol_error is not None:
        status = PROTOCOL
    elif result.limit_exceeded is not None:
        status = LIMIT
    elif result.ok:
        status = OK
    else:
        status = FAILED
    return {
        "id": job_id,
        "kind": GUEST,
        "status": status,
        "exit_status": result.status,
        "signal": result.signal,
        "limit": result.limit_exceeded,
        "reported_limit": result.reported_limit,
        "exception": result.exception,
        "summary": result.summary(),
        "error": result.protocol_error,
        "stdout": encode_bytes(result.stdout),
        "stderr": encode_bytes(result.stderr),
        "files": {path: encode_bytes(data) for path, data in sorted(result.files.items())},
        "links": dict(sorted(result.links.items())),
        "wall_seconds": round(result.wall_seconds, 6),
        "cpu_seconds": round(result.cpu_seconds, 6),
        "notes": list(result.notes),
    }


def invalid_line(job_id: JobId, error: str) -> dict[str, Any]:
    """The result line of a job whose line is wrong (``error`` says how): nothing ran."""
    line = failure_line(job_id, REJECTED, error)
    line["status"] = INVALID
    return line


def failure_line(
    job_id: JobId, kind: str, error: str, wall_seconds: float = 0.0
) -> dict[str, Any]:
    """The result line of a job whose guest did not run to an end of its own: ``kind`` is
    REJECTED or INFRASTRUCTURE, and is its status too; ``error`` says what failed."""
    status = kind
    return {
        "id": job_id,
        "kind": kind,
        "status": status,
        "exit_status": None,
        "signal": None,
        "limit": None,
        "reported_limit": None,
        "exception": None,
        "summary": error,
        "error": error,
        "stdout": "",
        "stderr": "",
        "files": {},
        "links": {},
        "wall_seconds": round(wall_seconds, 6),
        "cpu_seconds": 0.0,
        "notes": [],
    }
