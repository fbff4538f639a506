"""Group ``startup`` (issue 20, item 4): start-up time, measured by ``benchmarks.bench_startup``.

That module (written separately) times ``python -c pass`` against ``import posixbackend`` and
the launchers in paired runs and prints its own table; this group calls its ``main()`` with
``--quick`` passed on, and keeps the rows it returns, if it returns any (a list of
:class:`~benchmarks.harness.Row` or of their JSON form). Without the module the group says so.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from typing import Any

from benchmarks.harness import Outcome, Row, Settings

GROUP = "startup"
MODULE = "benchmarks.bench_startup"
MISSING = f"{MODULE} is missing (benchmarks/bench_startup.py): start-up not measured"


def rows_of(result: Any) -> list[Row]:
    """The rows ``main()`` gave back, if it gave any."""
    if not isinstance(result, Iterable) or isinstance(result, str | bytes):
        return []
    rows = []
    for item in result:
        if isinstance(item, Row):
            rows.append(item)
        elif isinstance(item, dict):
            rows.append(Row.from_json(item))
        else:
            raise TypeError(f"{MODULE}.main() returned a {type(item).__name__}, not rows")
    return rows


def run(settings: Settings) -> Outcome:
    try:
        module = importlib.import_module(MODULE)
    except ModuleNotFoundError as error:
        if error.name != MODULE:
            raise  # the module is there but something it imports is not
        return Outcome(GROUP, [], [MISSING])
    argv = sys.argv
    sys.argv = [MODULE, *(["--quick"] if settings.number_scale < 1 else [])]
    try:
        result = module.main()
    finally:
        sys.argv = argv
    rows = rows_of(result)
    notes = [] if rows else [f"{MODULE} printed its own table above (no rows for the JSON)"]
    return Outcome(GROUP, rows, notes)
