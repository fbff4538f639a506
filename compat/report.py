"""The compatibility report: which gaps a run hit, how often and from where.

A :class:`Report` is an immutable snapshot, rendered as a text table or as JSON. The JSON
document follows ``compat/report.schema.json`` (schema ``posixbackend.compat.report``,
version 1); :func:`report_schema` loads it. ``json`` and ``importlib.resources`` are imported
when a report is rendered or its schema loaded, not at start-up.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterable
from typing import Any, Final, Literal

import attrs

from compat.callsite import CallSite
from compat.gap import Gap
from compat.recorder import Example, GapStats

__all__ = [
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "GapReport",
    "Report",
    "ReportFormat",
    "report_schema",
    "resolve_report_format",
    "write_report",
]

SCHEMA_NAME: Final = "posixbackend.compat.report"
SCHEMA_VERSION: Final = 1
_SCHEMA_FILE: Final = "report.schema.json"

ReportFormat = Literal["text", "json"]

# Bound at import, before any stand-in can replace them, so a report always reaches the host's
# file system and the process's real working directory.
_HOST_OPEN: Final = io.open
_HOST_GETCWD: Final = os.getcwd


def report_schema() -> dict[str, Any]:
    """Load the JSON Schema that :meth:`Report.to_json` documents follow."""
    import json
    from importlib import resources

    text = resources.files(__package__ or "compat").joinpath(_SCHEMA_FILE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@attrs.frozen
class GapReport:
    """One gap's line in the report."""

    gap: Gap
    count: int
    first_site: CallSite | None
    examples: tuple[Example, ...]
    logger: str

    @classmethod
    def from_stats(cls, gap: Gap, stats: GapStats, logger: str) -> GapReport:
        """Combine a gap's declaration with what was recorded for it."""
        return cls(gap, stats.count, stats.first_site, stats.examples, logger)

    def as_dict(self) -> dict[str, Any]:
        """Return this gap's entry of the JSON document."""
        return {
            "id": self.gap.id,
            "function": self.gap.function,
            "aspect": self.gap.aspect,
            "level": self.gap.level.name,
            "level_number": int(self.gap.level),
            "explanation": self.gap.explanation,
            "logger": self.logger,
            "count": self.count,
            "first_site": _site_dict(self.first_site),
            "examples": [dict(example) for example in self.examples],
        }


@attrs.frozen
class Report:
    """A snapshot of the gaps hit so far, ordered by gap id."""

    gaps: tuple[GapReport, ...]
    declared_gaps: int
    logger: str
    dedupe: str

    @property
    def total_hits(self) -> int:
        """The number of hits over all gaps."""
        return sum(entry.count for entry in self.gaps)

    def get(self, gap_id: str) -> GapReport | None:
        """Return the entry of a gap, or None when it was not hit (or is unknown)."""
        return next((entry for entry in self.gaps if entry.gap.id == gap_id), None)

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON document as Python data."""
        return {
            "schema": SCHEMA_NAME,
            "version": SCHEMA_VERSION,
            "logger": self.logger,
            "dedupe": self.dedupe,
            "declared_gaps": self.declared_gaps,
            "total_hits": self.total_hits,
            "gaps": [entry.as_dict() for entry in self.gaps],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Render the report as a JSON document (see :func:`report_schema`)."""
        import json

        return json.dumps(self.as_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def to_text(self) -> str:
        """Render the report as a table for people, one row per gap hit."""
        return "\n".join([self._summary(), *_table(self.gaps)]) + "\n"

    def _summary(self) -> str:
        """Say in one line how much was hit."""
        settings = f"(logger {self.logger}, dedupe {self.dedupe})"
        if not self.gaps:
            return f"Compatibility report: no gap hit, {self.declared_gaps} declared {settings}"
        return (
            f"Compatibility report: {len(self.gaps)} of {self.declared_gaps} declared gaps hit, "
            f"{self.total_hits} hits {settings}"
        )


def resolve_report_format(target: str | os.PathLike[str], format: str | None) -> ReportFormat:
    """Pick the format for ``target``: ``format`` if given, else JSON for ``*.json`` files."""
    if format is None:
        return "json" if os.fspath(target).endswith(".json") else "text"
    if format == "text":
        return "text"
    if format == "json":
        return "json"
    raise ValueError(f"invalid report format {format!r}: expected 'text' or 'json'")


def host_path(target: str | os.PathLike[str]) -> str:
    """Return ``target`` made absolute against the process's real working directory."""
    path = os.fspath(target)
    return path if os.path.isabs(path) else os.path.join(_HOST_GETCWD(), path)


def write_report(report: Report, target: str, format: ReportFormat) -> None:
    """Write ``report`` to a file path on the host, or to stderr when ``target`` is '-'."""
    text = report.to_json() + "\n" if format == "json" else report.to_text()
    if target == "-":
        if sys.stderr is not None:  # None under pythonw and some embedders
            sys.stderr.write(text)
            sys.stderr.flush()
        return
    with _HOST_OPEN(target, "w", encoding="utf-8") as stream:
        stream.write(text)


def _site_dict(site: CallSite | None) -> dict[str, Any] | None:
    """Return a call site as JSON data."""
    if site is None:
        return None
    return {"file": site.file, "line": site.line, "function": site.function}


def _table(entries: Iterable[GapReport]) -> list[str]:
    """Lay out the gap rows, each followed by its explanation and examples."""
    rows = [("GAP", "LEVEL", "HITS", "FIRST CALL SITE")]
    notes: list[list[str]] = [[]]
    for entry in entries:
        site = str(entry.first_site) if entry.first_site else "(inside the library)"
        rows.append((entry.gap.id, entry.gap.level.name, str(entry.count), site))
        notes.append(_notes(entry))
    if len(rows) == 1:
        return []
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [""]
    for row, row_notes in zip(rows, notes, strict=True):
        cells = (row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]))
        lines.append("  ".join((*cells, row[3])).rstrip())
        lines.extend(row_notes)
    return lines


def _notes(entry: GapReport) -> list[str]:
    """Return the indented lines under a gap's row."""
    notes = [f"    {entry.gap.describe()}"]
    if entry.examples:
        examples = " | ".join(_example_text(example) for example in entry.examples)
        notes.append(f"    examples: {examples}")
    return notes


def _example_text(example: Example) -> str:
    """Render one example as ``name=value`` pairs."""
    return ", ".join(f"{name}={value!r}" for name, value in example)
