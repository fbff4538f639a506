"""The runner with real child processes started through the launcher: the small modules of
tests/conformance/samples (a crash, a hang, every outcome), and one real CPython test module
end to end against the committed expectations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from posixbackend.conformance.modes import Mode
from posixbackend.conformance.results import Counts, Outcome, RunStatus
from posixbackend.conformance.runner import Job, RunSettings, run_jobs
from posixbackend.conformance.table import COLUMNS
from posixbackend.launcher import ENVIRONMENT_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = "tests.conformance.samples"


def settings(tmp_path, timeout=60.0, test_timeout=60.0):
    return RunSettings(tmp_path, timeout, test_timeout, package=SAMPLES,
                       environment={"PYTHONPATH": str(ROOT)})  # fmt: skip


def outcomes_of(run):
    return {key.rsplit(".", 1)[-1]: value.outcome for key, value in run.outcomes.items()}


@pytest.mark.parametrize("mode", [Mode.NATIVE, Mode.MEMORY])
def test_a_crashed_test_is_charged_and_the_tests_after_it_still_run(tmp_path, mode):
    [run] = run_jobs([Job("sample_crash", mode)], settings(tmp_path), 1)
    assert run.status is RunStatus.COMPLETED
    assert run.returncode == 0
    assert run.message == "restarted after 1 crashed tests: test_b_crashes (exit status 3)"
    assert outcomes_of(run) == {
        "test_a_passes": Outcome.PASSED,
        "test_b_crashes": Outcome.CRASHED,
        "test_c_never_runs": Outcome.FAILED,
    }
    crashed = run.outcomes[f"{SAMPLES}.sample_crash.Crash.test_b_crashes"]
    assert crashed.detail == "exit status 3"
    log = Path(run.log).read_text()
    assert log.count("test_a_passes (") == 1  # the second child skipped what had a result
    assert "restarting without the 2 tests that have a result" in log


def test_a_crash_outside_any_test_ends_the_run(tmp_path):
    [run] = run_jobs([Job("sample_dies_at_import", Mode.MEMORY)], settings(tmp_path), 1)
    assert (run.status, run.returncode, run.outcomes) == (RunStatus.CRASHED, 4, {})
    assert run.message == "exit status 4"


def test_a_hung_test_is_stopped_with_its_tracebacks_in_the_log(tmp_path):
    limits = settings(tmp_path, test_timeout=2.0)
    [run] = run_jobs([Job("sample_hang", Mode.HOST)], limits, 1)
    assert run.status is RunStatus.COMPLETED
    assert outcomes_of(run) == {
        "test_a_passes": Outcome.PASSED,
        "test_b_hangs": Outcome.CRASHED,
        "test_c_passes": Outcome.PASSED,
    }
    assert run.message == "restarted after 1 crashed tests: test_b_hangs (no result for 2 s)"
    log = Path(run.log).read_text()
    assert "sample_hang.py" in log and "in test_b_hangs" in log  # faulthandler's dump


def test_the_module_time_limit_ends_the_run(tmp_path):
    [run] = run_jobs([Job("sample_hang", Mode.NATIVE)], settings(tmp_path, timeout=2.0), 1)
    assert run.status is RunStatus.TIMEOUT
    assert run.message == "timed out after 2 s"
    assert outcomes_of(run) == {"test_a_passes": Outcome.PASSED, "test_b_hangs": Outcome.CRASHED}
    assert 2.0 <= run.duration < 30


def test_each_mode_records_every_outcome_in_a_fresh_working_directory(tmp_path):
    jobs = [Job("sample_mixed", mode) for mode in (Mode.NATIVE, Mode.HOST, Mode.MEMORY)]
    runs = run_jobs(jobs, settings(tmp_path), 3)
    assert [run.mode for run in runs] == [Mode.NATIVE, Mode.HOST, Mode.MEMORY]
    prefix = f"{SAMPLES}.sample_mixed."
    expected = {
        prefix + "Outcomes.test_passes": Outcome.PASSED,
        prefix + "Outcomes.test_fails": Outcome.FAILED,
        prefix + "Outcomes.test_errors": Outcome.ERROR,
        prefix + "Outcomes.test_skipped": Outcome.SKIPPED,
        prefix + "Outcomes.test_expected_failure": Outcome.EXPECTED_FAILURE,
        prefix + "Outcomes.test_unexpected_success": Outcome.UNEXPECTED_SUCCESS,
        prefix + "Outcomes.test_subtests": Outcome.FAILED,
        f"setUpClass ({prefix}BrokenFixture)": Outcome.ERROR,
    }
    for run in runs:
        assert run.status is RunStatus.COMPLETED, run.message
        assert run.returncode == 0
        assert {key: value.outcome for key, value in run.outcomes.items()} == expected
        assert run.counts == Counts(run=8, passed=2, failed=3, errors=2, skipped=1)
    # the working directory was a fresh temporary one, and nothing was left in the logs dir
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".jsonl"] * 3 + [".log"] * 3


def test_the_runner_on_a_real_module_against_the_committed_expectations(tmp_path):
    out = tmp_path / "result.json"
    environment = {key: value for key, value in os.environ.items() if key != ENVIRONMENT_VARIABLE}
    command = [sys.executable, "-m", "posixbackend.conformance", "--fs", "host,memory",
               "--jobs", "2", "--json", str(out), "--logs", str(tmp_path / "logs"),
               "test_genericpath"]  # fmt: skip
    finished = subprocess.run(
        command, check=False, capture_output=True, text=True, env=environment, timeout=120
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "expectations" in finished.stdout and "all hold" in finished.stdout
    document = json.loads(out.read_text())
    runs = {run["mode"]: run for run in document["runs"]}
    assert sorted(runs) == ["host", "memory", "native"]
    printed = table_row(finished.stdout, "test_genericpath")
    for position, mode in enumerate(("native", "host", "memory")):
        outcomes = [Outcome(value["outcome"]) for value in runs[mode]["outcomes"].values()]
        counts = [0, 0, 0, 0, 0]
        for outcome in outcomes:
            counts[0] += 1
            counts[("passed", "failed", "errors", "skipped").index(outcome.column) + 1] += 1
        assert runs[mode]["status"] == "completed"
        assert printed[position] == counts
        assert [runs[mode]["counts"][column] for column in COLUMNS] == counts
    native_passing = sum(
        Outcome(value["outcome"]).passing for value in runs["native"]["outcomes"].values()
    )
    assert native_passing > 20
    for mode in ("host", "memory"):
        comparison = document["comparisons"][mode]
        assert comparison["native_passing"] == native_passing
        assert f"java --fs={mode}: {native_passing} tests pass natively" in finished.stdout


def table_row(text, module):
    """The numbers the printed table gives ``module``, one list per mode."""
    [line] = [line for line in text.splitlines() if line.startswith(module + " ")]
    groups = line.split("|")[1:]
    return [[int(value) for value in group.rstrip(" *").split()] for group in groups]
