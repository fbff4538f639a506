"""The batch command's jobs: one JSON object per line, read into :class:`BatchJob` records.

A line is ``{"id": ..., "code": ...}`` or ``{"id": ..., "path": ...}`` with the optional
fields ``files`` (guest path -> bytes in :mod:`~posixbackend.isolation.jsonbytes` form),
``stdin`` (the same form), ``argv`` (strings), ``env`` (string -> string) and ``limits``
(the command line's limit names -> a number, a string such as ``"256M"``, or null for off).
A script's path is relative to the jobs file's directory, and is read when its job starts.
The id (a non-empty string or an integer) must be readable and unique: a line without one
stops the command before anything runs (there is no id to give its result); any other
mistake makes that job an :class:`InvalidJob`, whose result line says what is wrong.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from posixbackend.isolation.jsonbytes import decode_bytes
from posixbackend.isolation.limits import Limits, parse_limits
from posixbackend.isolation.pool import Job
from posixbackend.isolation.request import guest_path

FIELDS = frozenset({"id", "code", "path", "files", "stdin", "argv", "env", "limits"})
"""Every field a job line may have."""

JobId = str | int
"""A job's id as its line gave it (and as its result line gives it back)."""


class JobFileError(ValueError):
    """The jobs file cannot be used at all: a line whose id cannot be read, or two jobs with
    one id (no result line could name them apart). Carries the line number."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@attrs.frozen
class BatchJob:
    """One line's guest: the pool's :class:`~posixbackend.isolation.pool.Job` (its code or
    script path, inputs and limits), named by ``id``."""

    id: JobId
    job: Job
    line: int = 0
    """The job's line in the jobs file."""

    @property
    def key(self) -> str:
        """The id as a canonical JSON text: equal for equal ids only (1 and "1" differ)."""
        return id_key(self.id)


@attrs.frozen
class InvalidJob:
    """A job line with a readable id and a mistake elsewhere: it runs nothing, and its
    result line carries ``error``."""

    id: JobId
    error: str
    line: int

    @property
    def key(self) -> str:
        return id_key(self.id)


def id_key(job_id: JobId) -> str:
    """A job id as canonical JSON (what tells ids apart)."""
    return json.dumps(job_id)


def read_jobs(
    lines: Iterable[str], limits: Limits | None = None, base: str | os.PathLike[str] = "."
) -> list[BatchJob | InvalidJob]:
    """Every job of a jobs file's ``lines`` (blank lines skipped), with ``limits`` (default
    :class:`Limits`) under each job's own changes and script paths relative to ``base``.
    JobFileError for a line whose id cannot be read, or an id given twice."""
    jobs: list[BatchJob | InvalidJob] = []
    seen: dict[str, int] = {}
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        job = parse_job(text, number, Limits() if limits is None else limits, Path(base))
        first = seen.setdefault(job.key, number)
        if first != number:
            raise JobFileError(number, f"the id {job.key} is already the id of line {first}")
        jobs.append(job)
    return jobs


def parse_job(text: str, line: int, limits: Limits, base: Path) -> BatchJob | InvalidJob:
    """One job line; JobFileError when its id cannot be read."""
    try:
        data = json.loads(text)
    except ValueError as error:  # JSONDecodeError, or a number too long to convert
        raise JobFileError(line, f"not a JSON object ({error})") from None
    if not isinstance(data, dict):
        raise JobFileError(line, "not a JSON object (a job is an object with an id)")
    if "id" not in data:
        raise JobFileError(line, 'the job has no "id"')
    job_id = data["id"]
    if isinstance(job_id, bool) or not isinstance(job_id, str | int) or job_id == "":
        raise JobFileError(line, f'"id" must be a non-empty string or an integer, not {job_id!r}')
    try:
        return _job(job_id, data, line, limits, base)
    except (TypeError, ValueError) as error:
        return InvalidJob(job_id, str(error), line)


def _job(
    job_id: JobId, data: dict[str, Any], line: int, limits: Limits, base: Path
) -> BatchJob:
    """The job ``data`` describes; TypeError or ValueError saying what is wrong."""
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        known = ", ".join(sorted(FIELDS))
        raise ValueError(f"unknown field {unknown[0]!r} (the fields are {known})")
    if ("code" in data) == ("path" in data):
        raise ValueError('a job has exactly one of "code" (Python source) and "path" (a script)')
    program: str | Path
    if "code" in data:
        program = _string(data["code"], '"code"')
    else:
        given = _string(data["path"], '"path"')
        if not given or "\0" in given:
            raise ValueError(f'"path" must name a file, not {given!r}')
        program = base / given
    files = _mapping(data.get("files", {}), '"files"')
    contents: dict[str, bytes] = {}
    for path, value in files.items():
        normal = guest_path(path, f'the guest path {path!r} in "files"')
        if normal == "/":
            raise ValueError('a guest path in "files" cannot be the root directory')
        contents[normal] = decode_bytes(value, f'"files"[{path!r}]')
    argv = data.get("argv", [])
    if not isinstance(argv, list):
        raise TypeError(f'"argv" must be an array of strings, not {type(argv).__name__}')
    arguments = tuple(_string(argument, 'an item of "argv"') for argument in argv)
    env = _mapping(data.get("env", {}), '"env"')
    environment = {name: _string(value, f'"env"[{name!r}]') for name, value in env.items()}
    job = Job(
        program,
        files=contents,
        stdin=decode_bytes(data.get("stdin", ""), '"stdin"'),
        argv=arguments,
        env=environment,
        limits=job_limits(data.get("limits", {}), limits),
    )
    return BatchJob(job_id, job, line)


def job_limits(given: Any, base: Limits) -> Limits:
    """``base`` with the changes of a job's ``"limits"`` object: the command line's names
    (cpu, wall, memory, open_files, file_size, output...) -> a number, a string with the
    command line's units, or null for no limit."""
    changes = _mapping(given, '"limits"')
    limits = base
    for name, value in changes.items():
        if value is None:
            text = "off"
        elif isinstance(value, bool) or not isinstance(value, int | float | str):
            raise TypeError(f'"limits"[{name!r}] must be a number, a string or null')
        else:
            text = str(value)
        if "," in name or "," in text or "=" in name:
            raise ValueError(f'"limits": bad item {name!r}: {text!r}')
        try:
            limits = parse_limits(f"{name}={text}", limits)
        except ValueError as error:
            raise ValueError(f'"limits": {error}') from None
    return limits


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    return value


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be an object, not {type(value).__name__}")
    return value
