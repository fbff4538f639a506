"""The runner's numbers and per-test outcomes as JSON, for tools (triage, and the generated
table of tests/README.md: ``python -m benchmarks.docblocks --conformance FILE``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from posixbackend.conformance.comparison import ModeComparison
from posixbackend.conformance.expectations import Problem
from posixbackend.conformance.modes import Mode
from posixbackend.conformance.results import ModuleRun
from posixbackend.conformance.table import COLUMNS

SCHEMA_VERSION = 1


def _run(run: ModuleRun) -> dict[str, object]:
    return {
        "module": run.module,
        "mode": run.mode.value,
        "status": run.status.value,
        "message": run.message,
        "returncode": run.returncode,
        "duration": round(run.duration, 3),
        "log": run.log,
        "counts": dict(zip(COLUMNS, run.counts.values(), strict=True)),
        "outcomes": {
            test_id: {"outcome": outcome.outcome.value, "detail": outcome.detail}
            for test_id, outcome in sorted(run.outcomes.items())
        },
    }


def _comparison(comparison: ModeComparison) -> dict[str, object]:
    return {
        "native_passing": comparison.native_passing,
        "java_passing": comparison.java_passing,
        "percent": comparison.percent,
        "target_percent": comparison.mode.target_percent,
        "target_met": comparison.target_met,
        "failures": {
            test_id: {
                "module": failure.module,
                "native": None if failure.native is None else failure.native.value,
                "java": None if failure.java is None else failure.java.value,
                "detail": failure.detail,
            }
            for test_id, failure in sorted(comparison.failures.items())
        },
    }


def document(
    runs: Sequence[ModuleRun],
    comparisons: Mapping[Mode, ModeComparison],
    problems: Sequence[Problem],
    elapsed: float,
) -> dict[str, object]:
    """Everything the runner found, as one JSON-ready object."""
    return {
        "schema_version": SCHEMA_VERSION,
        "elapsed": round(elapsed, 3),
        "runs": [_run(run) for run in runs],
        "comparisons": {
            comparison.mode.value: _comparison(comparison) for comparison in comparisons.values()
        },
        "problems": [
            {
                "kind": problem.kind.value,
                "mode": problem.mode.value,
                "id": problem.test_id,
                "message": problem.message,
            }
            for problem in problems
        ],
    }


def write_json(path: Path, content: dict[str, object]) -> None:
    """Write ``content`` to ``path`` as indented JSON."""
    path.write_text(json.dumps(content, indent=1, sort_keys=True) + "\n", encoding="utf-8")
