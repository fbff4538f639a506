"""The batch command's result lines: one JSON object per job, every field always present.

``kind`` says whose the outcome is: ``"guest"`` (the program ran; whatever it did is in
``status``), ``"infrastructure"`` (the pool or the machinery failed; the job may succeed when
run again) or ``"job"`` (the job line itself is wrong; nothing ran). ``status`` is one of
``ok``, ``failed`` (a non-zero exit, an uncaught exception, a signal), ``limit`` (a limit the
parent observed ended it: ``limit`` names it), ``protocol`` (the guest forged or broke the
result channel: nothing it sent is kept), ``infrastructure`` and ``invalid``.
"""

from __future__ import annotations

from typing import Any, Final

from posixbackend.isolation.jobs import JobId
from posixbackend.isolation.jsonbytes import encode_bytes
from posixbackend.isolation.result import IsolatedResult

GUEST: Final = "guest"
INFRASTRUCTURE: Final = "infrastructure"
JOB: Final = "job"

OK: Final = "ok"
FAILED: Final = "failed"
LIMIT: Final = "limit"
PROTOCOL: Final = "protocol"
INVALID: Final = "invalid"


def guest_line(job_id: JobId, result: IsolatedResult) -> dict[str, Any]:
    """The result line of a job whose guest ran (whatever became of it)."""
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


def failure_line(job_id: JobId, kind: str, error: str) -> dict[str, Any]:
    """The result line of a job that did not run: ``kind`` is INFRASTRUCTURE (the pool
    failed it) or JOB (its line is wrong); ``error`` says how."""
    status = INVALID if kind == JOB else INFRASTRUCTURE
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
        "wall_seconds": 0.0,
        "cpu_seconds": 0.0,
        "notes": [],
    }
