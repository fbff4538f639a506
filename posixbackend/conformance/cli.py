"""``python -m posixbackend.conformance``: run CPython's test modules natively and on the java
backend, print the comparison, and check (or rewrite) the expectations file."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from posixbackend.conformance import expectations as expected
from posixbackend.conformance.comparison import compare_all
from posixbackend.conformance.jsonreport import document, write_json
from posixbackend.conformance.modes import DEFAULT_MODULES, Mode, parse_java_modes
from posixbackend.conformance.results import ModuleRun
from posixbackend.conformance.runner import Job, RunSettings, run_jobs
from posixbackend.conformance.table import report

USAGE_STATUS = 2


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The runner's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m posixbackend.conformance",
        description="Run CPython's test modules natively and on the java backend "
        "(--fs=host, --fs=memory) and compare; fail when the expectations file disagrees.",
    )
    default_modules = " ".join(DEFAULT_MODULES)
    parser.add_argument(
        "modules",
        nargs="*",
        metavar="MODULE",
        help=f"modules of the test package (default: {default_modules})",
    )
    parser.add_argument("--fs", default="host,memory", help="java modes, comma separated")
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=os.cpu_count() or 1,
        help="child processes at a time (default: CPU count)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds one module may take in one mode (default 600)",
    )
    parser.add_argument(
        "--test-timeout",
        type=float,
        default=60.0,
        help="seconds one test may go without a result before its child is stopped and "
        "restarted after it (default 60)",
    )
    parser.add_argument(
        "--expectations",
        type=Path,
        default=expected.DEFAULT_PATH,
        help="the expectations file (default: the package's)",
    )
    parser.add_argument(
        "--write-expectations",
        action="store_true",
        help="rewrite the expectations for the modules and modes run",
    )
    parser.add_argument("--json", type=Path, help="also write numbers and outcomes as JSON")
    parser.add_argument("--logs", type=Path, help="directory for the runs' logs (default: new)")
    return parser.parse_args(argv)


def main(
    argv: Sequence[str] | None = None,
    *,
    package: str = "test",
    environment: dict[str, str] | None = None,
) -> int:
    """Run, report, check; 0 if the expectations hold, 1 if not, 2 for a bad command line.
    ``package`` and ``environment`` let tests run modules of their own."""
    arguments = parse_arguments(argv)
    try:
        modes = parse_java_modes(arguments.fs)
    except ValueError as error:
        print(error, file=sys.stderr)
        return USAGE_STATUS
    if arguments.jobs < 1 or arguments.timeout <= 0 or arguments.test_timeout <= 0:
        print("--jobs, --timeout and --test-timeout must be positive", file=sys.stderr)
        return USAGE_STATUS
    try:
        listed = _load(arguments.expectations, arguments.write_expectations)
    except expected.ExpectationsError as error:
        print(f"expectations: {error}", file=sys.stderr)
        return USAGE_STATUS
    logs = arguments.logs or Path(tempfile.mkdtemp(prefix="posixbackend-conformance-"))
    modules = list(dict.fromkeys(arguments.modules or DEFAULT_MODULES))
    jobs = [Job(module, mode) for module in modules for mode in (Mode.NATIVE, *modes)]
    settings = RunSettings(
        logs.absolute(),
        arguments.timeout,
        arguments.test_timeout,
        package=package,
        environment=environment or {},
    )
    started = time.monotonic()
    progress = _Progress(len(jobs), sys.stderr)
    runs = run_jobs(jobs, settings, arguments.jobs, progress)
    elapsed = time.monotonic() - started
    comparisons = compare_all(runs, modes)
    print(report(runs, (Mode.NATIVE, *modes), comparisons))
    if arguments.write_expectations:
        listed = expected.updated(listed, runs, comparisons, package=package)
        expected.write(arguments.expectations, listed)
        print(f"wrote {arguments.expectations}")
    problems = expected.check(listed, runs, comparisons, package=package)
    if problems:
        print(f"expectations ({arguments.expectations}): {len(problems)} problems")
        for problem in problems:
            print(f"  {problem}")
    else:
        print(f"expectations ({arguments.expectations}): all hold")
    if arguments.json is not None:
        write_json(arguments.json, document(runs, comparisons, problems, elapsed))
    print(f"{len(jobs)} runs in {elapsed:.1f} s with {arguments.jobs} jobs; logs: {logs}")
    return 1 if problems else 0


def _load(path: Path, writing: bool) -> expected.Expectations:
    """The expectations to check; a missing file is empty when it is about to be written."""
    if writing and not path.exists():
        return expected.Expectations()
    return expected.load(path)


class _Progress:
    """Prints a line as each run ends (the tests' own output is in the logs)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self._total = total
        self._done = 0
        self._stream = stream

    def __call__(self, run: ModuleRun) -> None:
        self._done += 1
        counts = run.counts
        status = "" if not run.message else f" ({run.status.value}: {run.message})"
        self._stream.write(
            f"[{self._done}/{self._total}] {run.module} {run.mode.label}: {counts.run} run, "
            f"{counts.passed} passed, {counts.failed} failed, {counts.errors} errors, "
            f"{counts.skipped} skipped in {run.duration:.1f} s{status}\n"
        )
        self._stream.flush()
