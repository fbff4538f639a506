"""Helpers shared by the compat tests."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import compat

ROOT = Path(__file__).resolve().parents[2]
"""The project's root directory, where ``compat`` can be imported from."""


class Capture(logging.Handler):
    """A log handler that keeps the records that reach it."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


def declare(
    registry: compat.Registry,
    gap_id: str = "os.open.example",
    *,
    function: str = "os.open",
    aspect: str = "example",
    level: object = compat.Level.FINE,
    explanation: str = "an example gap",
) -> compat.Gap:
    """Declare a throwaway gap with sensible defaults."""
    return registry.declare(
        id=gap_id, function=function, aspect=aspect, level=level, explanation=explanation
    )


def run_python(
    *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a fresh interpreter in the project's root directory; do not check its status."""
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def gap_of(record: logging.LogRecord) -> compat.Gap:
    """Return the gap a compat log record is about (its ``compat_gap`` attribute)."""
    gap = record.__dict__["compat_gap"]
    assert isinstance(gap, compat.Gap)
    return gap
