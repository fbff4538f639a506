"""The batch loop: result lines in completion order with every field, invalid jobs and
infrastructure failures told apart, and the exit status that follows."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import attrs
import pytest

from posixbackend.isolation.batch import run_jobs
from posixbackend.isolation.jobs import BatchJob, InvalidJob, read_jobs
from posixbackend.isolation.limits import Limits
from posixbackend.isolation.pool import Job, Pool
from posixbackend.isolation.result import IsolatedResult, ResultKind
from posixbackend.isolation.resultlines import result_line

FIELDS = {
    "id", "kind", "status", "exit_status", "signal", "limit", "reported_limit", "exception",
    "summary", "error", "stdout", "stderr", "files", "links", "wall_seconds", "cpu_seconds",
    "notes",
}  # fmt: skip


@pytest.fixture
def pool() -> Iterator[Pool]:
    with Pool(workers=2) as warm:
        yield warm


def test_lines_come_in_completion_order_with_every_field(pool: Pool) -> None:
    jobs = read_jobs([
        '{"id": "slow", "code": "import time; time.sleep(1.5); print(1)"}',
        '{"id": 2, "code": "import sys, os; sys.stdout.buffer.write(b\'\\\\xff\\\\n\'); '
        "print(sys.argv[1:], os.environ['K'], sys.stdin.read(), file=sys.stderr); "
        "open('/tmp/out.bin', 'wb').write(b'\\\\xfe\\\\x00'); open('/tmp/t', 'w').write('t'); "
        'sys.exit(3)", "argv": ["a"], "env": {"K": "v"}, "stdin": {"base64": "aW4="}}',
        '{"id": "bad", "code": "", "argv": "x"}',
        '{"id": "wall", "code": "while True: pass", "limits": {"wall": 0.5, "cpu": 5}}',
    ])  # fmt: skip
    written: list[dict[str, Any]] = []
    tally = run_jobs(jobs, lambda job: pool.submit_job(job.job), written.append, in_flight=2)
    assert [line["id"] for line in written] == ["bad", 2, "wall", "slow"]
    assert all(set(line) == FIELDS for line in written)
    bad, failed, wall, slow = written
    assert (bad["kind"], bad["status"], bad["exit_status"]) == ("rejected", "invalid", None)
    assert '"argv" must be an array' in bad["error"]
    assert failed["kind"] == "guest" and failed["status"] == "failed"
    assert failed["exit_status"] == 3 and failed["summary"] == "exited with status 3"
    assert failed["stdout"] == {"base64": base64.b64encode(b"\xff\n").decode()}
    assert failed["stderr"] == "['a'] v in\n"
    assert failed["files"] == {"/tmp/out.bin": {"base64": "/gA="}, "/tmp/t": "t"}
    assert failed["wall_seconds"] > 0 and failed["cpu_seconds"] > 0
    assert (wall["status"], wall["limit"], wall["kind"]) == ("limit", "wall", "guest")
    assert (slow["status"], slow["stdout"], slow["exit_status"]) == ("ok", "1\n", 0)
    assert (tally.guest, tally.not_run, tally.status) == (3, 1, 1)


def done(result: IsolatedResult | BaseException) -> Future[IsolatedResult]:
    future: Future[IsolatedResult] = Future()
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
    return future


def test_infrastructure_failures_and_unreadable_scripts_are_not_guest_results(
    pool: Pool, tmp_path: Path
) -> None:
    outcomes: dict[str, IsolatedResult | BaseException] = {
        "infra": IsolatedResult.failure(ResultKind.INFRASTRUCTURE, "zygote died", Limits()),
        "rejected": IsolatedResult.failure(ResultKind.REJECTED, "memory too low", Limits()),
        "raised": RuntimeError("pool is broken"),
    }

    def submit(batch_job: BatchJob) -> Future[IsolatedResult]:
        if batch_job.id == "missing":
            return pool.submit_job(batch_job.job)  # the pool reads the script: it raises
        return done(outcomes[str(batch_job.id)])

    jobs: list[BatchJob | InvalidJob] = [
        *(BatchJob(name, Job("")) for name in outcomes),
        BatchJob("missing", Job(tmp_path / "missing.py")),
    ]
    written: list[dict[str, Any]] = []
    tally = run_jobs(jobs, submit, written.append, in_flight=4)
    by_id = {line["id"]: line for line in written}
    assert (by_id["infra"]["kind"], by_id["infra"]["status"]) == ("infrastructure",) * 2
    assert by_id["infra"]["error"] == "zygote died"
    assert (by_id["rejected"]["kind"], by_id["rejected"]["status"]) == ("rejected",) * 2
    assert by_id["raised"]["kind"] == "infrastructure"
    assert by_id["raised"]["error"] == "RuntimeError: pool is broken"
    assert (by_id["missing"]["status"], by_id["missing"]["kind"]) == ("invalid", "rejected")
    assert "No such file or directory" in by_id["missing"]["error"]
    assert (tally.guest, tally.not_run, tally.status) == (0, 4, 1)


def test_a_guest_failure_alone_still_means_every_job_ran() -> None:
    stand_in = IsolatedResult.failure(ResultKind.INFRASTRUCTURE, "x", Limits())
    guest = attrs.evolve(stand_in, kind=ResultKind.GUEST, error=None, status=1, exception="E")
    written: list[dict[str, Any]] = []
    tally = run_jobs([BatchJob(1, Job(""))], lambda job: done(guest), written.append,
                     in_flight=1)  # fmt: skip
    assert written[0]["status"] == "failed" and tally.status == 0
    assert result_line(1, guest)["kind"] == "guest"



DOC = Path(__file__).parents[2] / "posixbackend" / "isolation" / "many-guests.md"


def test_the_docs_jobs_are_valid_and_name_every_result_field() -> None:
    text = DOC.read_text()
    example = text.split("```jsonl\n", 1)[1].split("```", 1)[0]
    jobs = read_jobs(example.splitlines())
    assert len(jobs) == 4 and all(isinstance(job, BatchJob) for job in jobs)
    results_table = text.split("### Results", 1)[1].split("###", 1)[0]
    documented = set()
    for row in results_table.splitlines():
        if row.startswith("| `"):
            documented.update(re.findall(r"`(\w+)`", row.split("|")[1]))
    assert documented == FIELDS
