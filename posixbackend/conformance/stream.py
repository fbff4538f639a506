"""The child's result stream: one JSON object a line, flushed as each test starts and ends.

Lines are ``{"event": "start", "id": ...}`` when a test starts, ``{"event": "outcome", "id":
..., "outcome": ..., "detail": ...}`` when it has ended (set-up and tear-down errors of a class
or module come without a start), and ``{"event": "done"}`` when the module finished. A child
that dies keeps every line it flushed; the reader marks a started test without an outcome as
crashed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

import attrs

from posixbackend.conformance.results import Outcome, TestOutcome


class StreamError(ValueError):
    """A result stream line that is not one the child writes."""


class ResultWriter:
    """Writes the child's result stream to an open text file, flushing every line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def _write(self, record: dict[str, str]) -> None:
        self._stream.write(json.dumps(record, ensure_ascii=True) + "\n")
        self._stream.flush()

    def started(self, test_id: str) -> None:
        """A test started (so a crash is charged to it)."""
        self._write({"event": "start", "id": test_id})

    def finished(self, outcome: TestOutcome) -> None:
        """A test (or a class or module set-up or tear-down) ended with ``outcome``."""
        self._write(
            {"event": "outcome", "id": outcome.id, "outcome": outcome.outcome.value,
             "detail": outcome.detail}
        )  # fmt: skip

    def done(self) -> None:
        """Every test of the module ran."""
        self._write({"event": "done"})


@attrs.frozen
class StreamContents:
    """What a result stream says: the outcomes, the test left running, and whether it ended."""

    outcomes: dict[str, TestOutcome]
    running: str | None
    done: bool


def read_stream(lines: Iterable[str]) -> StreamContents:
    """Parse a result stream; a cut last line (the child died writing it) is ignored, any other
    bad line raises StreamError. Two outcomes of one id are merged (the worse wins)."""
    outcomes: dict[str, TestOutcome] = {}
    running: str | None = None
    done = False
    pending: str | None = None
    for number, line in enumerate(lines, 1):
        if pending is not None:
            raise StreamError(f"line {number - 1} is not a whole JSON line: {pending!r}")
        if not line.endswith("\n"):
            pending = line
            continue
        record = _parse(line, number)
        event = record["event"]
        if event == "done":
            done, running = True, None
        elif event == "start":
            running = record["id"]
        elif event == "outcome":
            outcome = _outcome(record, number)
            earlier = outcomes.get(outcome.id)
            outcomes[outcome.id] = outcome if earlier is None else earlier.merge(outcome)
            if running == outcome.id:
                running = None
        else:
            raise StreamError(f"line {number}: unknown event {event!r}")
    return StreamContents(outcomes, running, done)


def _parse(line: str, number: int) -> dict[str, str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise StreamError(f"line {number}: {error}") from None
    if not isinstance(record, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in record.items()
    ):
        raise StreamError(f"line {number}: expected an object of strings, got {line!r}")
    if "event" not in record or (record["event"] != "done" and "id" not in record):
        raise StreamError(f"line {number}: missing event or id: {line!r}")
    return record


def _outcome(record: dict[str, str], number: int) -> TestOutcome:
    try:
        outcome = Outcome(record.get("outcome"))
    except ValueError:
        raise StreamError(f"line {number}: unknown outcome {record.get('outcome')!r}") from None
    return TestOutcome(record["id"], outcome, record.get("detail", ""))
