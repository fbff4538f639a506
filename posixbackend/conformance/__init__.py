"""The CPython conformance runner: CPython's own test modules, native vs the java backend.

``python -m posixbackend.conformance [--fs host,memory] [MODULE ...]`` runs each module in
child processes started through the launcher (natively, and on the java backend with each
``--fs``), prints run, passed, failed, errors and skipped side by side, the share of natively
passing tests that pass on java against issue 7's targets, and checks ``expectations.toml``,
which lists every java failure with its compat gap or bug.
"""

from posixbackend.conformance.cli import main
from posixbackend.conformance.comparison import JavaFailure, ModeComparison, compare_all
from posixbackend.conformance.expectations import Expectations, Problem, ProblemKind
from posixbackend.conformance.modes import DEFAULT_MODULES, Mode
from posixbackend.conformance.results import Counts, ModuleRun, Outcome, RunStatus, TestOutcome
from posixbackend.conformance.runner import Job, RunSettings, run_jobs

__all__ = [
    "DEFAULT_MODULES",
    "Counts",
    "Expectations",
    "JavaFailure",
    "Job",
    "Mode",
    "ModeComparison",
    "ModuleRun",
    "Outcome",
    "Problem",
    "ProblemKind",
    "RunSettings",
    "RunStatus",
    "TestOutcome",
    "compare_all",
    "main",
    "run_jobs",
]
