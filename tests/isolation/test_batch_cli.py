"""``python -m posixbackend --isolate-batch``: the JSON contract end to end, usage errors with
line numbers, exit statuses, resume after a kill, and the progress bar on a terminal only."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from posixbackend.isolation.batch import BatchCommand, parse_batch
from posixbackend.isolation.limits import Limits
from posixbackend.launcher.options import UsageError
from tests.processes import alive

LAUNCHER = (sys.executable, "-m", "posixbackend", "--isolate-batch")


def environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "POSIXBACKEND_OPTIONS"}


def batch(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*LAUNCHER, *arguments], capture_output=True, env=environment(), cwd=cwd, timeout=120,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


def write_jobs(path: Path, *jobs: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(job) + "\n" for job in jobs))
    return path


def results(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines()]


def test_the_command_line_is_parsed() -> None:
    assert parse_batch(["--isolate-batch", "j", "--workers=3", "--output", "o", "--resume",
                        "--isolate-limit", "cpu=2", "--allow-create-thread"]) == BatchCommand(
        jobs="j", workers=3, output="o", resume=True, limits=Limits(cpu_seconds=2),
        allow_create_thread=True,
    )  # fmt: skip
    assert parse_batch(["script.py", "--isolate-batch", "j"]) is None  # the script's argument
    assert parse_batch(["--isolate-batch", "--help"]) == BatchCommand(help=True)
    for bad, message in [
        (["--isolate-batch", "j", "--workers", "0"], "--workers must be a positive"),
        (["--isolate-batch", "j", "--resume"], "--resume needs --output"),
        (["--isolate-batch", "j", "-c", "x"], "-c: not an option of --isolate-batch"),
        (["--isolate-batch", "j", "--isolate-limit", "cpu=x"], "--isolate-limit: bad value"),
        (["--isolate-batch"], "Argument expected"),
    ]:
        with pytest.raises(UsageError, match=message):
            parse_batch(bad)


def test_every_job_gets_one_line_in_completion_order(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text("import sys\nprint('script', sys.argv[1:])\n")
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"id": "slow", "code": "import time; time.sleep(1.5)"},
        {"id": 1, "path": "script.py", "argv": ["a"]},
        {"id": "io", "code": "import sys; data = sys.stdin.buffer.read(); "
         "open('/tmp/copy', 'wb').write(data[::-1]); print(open('/in/x').read())",
         "stdin": {"base64": "/wA="}, "files": {"/in/x": "given"}},
        {"id": "memory", "code": "x = bytearray(1 << 30)", "limits": {"memory": "128M"}},
        {"id": "bad", "code": "", "env": []},
    )  # fmt: skip
    done = batch(str(jobs), "--workers", "2", "--output", "out.jsonl", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # the invalid job did not run
    assert done.stdout == done.stderr == b""  # results went to the file; stderr is no terminal
    lines = results((tmp_path / "out.jsonl").read_bytes())
    assert lines[0]["id"] == "bad" and lines[-1]["id"] == "slow"
    by_id = {line["id"]: line for line in lines}
    assert sorted(by_id, key=str) == sorted(["slow", 1, "io", "memory", "bad"], key=str)
    assert by_id[1]["stdout"] == "script ['a']\n" and by_id[1]["status"] == "ok"
    assert by_id["io"]["stdout"] == "given\n"
    assert by_id["io"]["files"]["/tmp/copy"] == {"base64": "AP8="}
    assert by_id["memory"]["reported_limit"] == "memory"
    assert by_id["memory"]["status"] == "failed" and by_id["memory"]["exception"] == "MemoryError"
    assert by_id["bad"]["status"] == "invalid"
    assert '"env" must be an object' in by_id["bad"]["error"]


def test_all_guests_ran_is_status_0_even_when_they_failed(tmp_path: Path) -> None:
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"id": "x", "code": "raise SystemExit(7)"},
        {"id": "y", "code": "while True: pass", "limits": {"wall": 0.5}},
    )
    done = batch(str(jobs), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    statuses = {line["id"]: (line["status"], line["limit"]) for line in results(done.stdout)}
    assert statuses == {"x": ("failed", None), "y": ("limit", "wall")}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": "a", "code": ""}', '{"code": "no id"}'],
         'jobs.jsonl, line 2: the job has no "id"'),
        (['{"id": "a", "code": ""}', "", '{"id": "a", "code": ""}'],
         'line 3: the id "a" is already the id of line 1'),
        (["{broken"], "line 1: not a JSON object"),
    ],
)  # fmt: skip
def test_a_line_without_a_usable_id_is_a_usage_error_and_nothing_runs(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    (tmp_path / "jobs.jsonl").write_text("\n".join(lines) + "\n")
    done = batch("jobs.jsonl", "--output", "out.jsonl", cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr.decode()
    assert b"Traceback" not in done.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_resume_skips_finished_ids_and_reruns_a_partial_last_line(tmp_path: Path) -> None:
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        *({"id": name, "code": f"print({name!r})"} for name in ("a", "b", "c")),
    )
    earlier = '{"id": "a", "stdout": "from before\\n"}\n{"id": "b", "kind": "gu'
    (tmp_path / "out.jsonl").write_text(earlier)
    done = batch(str(jobs), "--output", "out.jsonl", "--resume", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = results((tmp_path / "out.jsonl").read_bytes())
    assert lines[0] == {"id": "a", "stdout": "from before\n"}
    assert sorted(line["id"] for line in lines[1:]) == ["b", "c"]
    assert all(line["status"] == "ok" for line in lines[1:])
    again = batch(str(jobs), "--output", "out.jsonl", "--resume", cwd=tmp_path)
    assert again.returncode == 0 and len(results((tmp_path / "out.jsonl").read_bytes())) == 3


def test_resume_refuses_a_file_that_is_not_results(tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", {"id": "a", "code": ""})
    (tmp_path / "out.jsonl").write_text("some notes\n")
    done = batch(str(jobs), "--output", "out.jsonl", "--resume", cwd=tmp_path)
    assert done.returncode == 2 and b"line 1: not a JSON result line" in done.stderr
    assert (tmp_path / "out.jsonl").read_text() == "some notes\n"


def descendants(pid: int) -> set[int]:
    """The processes below ``pid`` now (from /proc)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as stat:
                    parent = int(stat.read().rpartition(b")")[2].split()[1])
            except (OSError, IndexError, ValueError):  # ended while we looked
                continue
            children.setdefault(parent, []).append(int(name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def test_a_killed_run_leaves_whole_lines_and_resume_finishes_it(tmp_path: Path) -> None:
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        *({"id": n, "code": f"import time; time.sleep({0.2 * (n % 3)}); print({n})"}
          for n in range(12)),
    )  # fmt: skip
    output = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [*LAUNCHER, str(jobs), "--workers", "2", "--output", str(output)], env=environment(),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while output.read_bytes().count(b"\n") < 3 if output.exists() else True:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        below = descendants(process.pid)
        assert below  # the zygote and guests
        process.kill()
    finally:
        process.kill()
        process.wait()
    data = output.read_bytes()
    whole = data[: data.rfind(b"\n") + 1]
    assert 3 <= len(results(whole)) < 12
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in below):  # the zygote kills its guests and exits
        assert time.monotonic() < deadline, [pid for pid in below if alive(pid)]
        time.sleep(0.05)
    done = batch(str(jobs), "--output", str(output), "--resume", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ids = [line["id"] for line in results(output.read_bytes())]
    assert sorted(ids) == list(range(12))


def test_the_progress_bar_is_drawn_on_a_terminal_only(tmp_path: Path) -> None:
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"id": 1, "code": ""}, {"id": 2, "code": "raise ValueError"}, {"id": 3, "code": ""},
    )  # fmt: skip
    main, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [*LAUNCHER, str(jobs)], env=environment(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=terminal,
        )  # fmt: skip
        os.close(terminal)
        terminal = -1
        drawn = b""
        while True:
            ready, _, _ = select.select([main], [], [], 60)
            assert ready, "no end of the progress bar"
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        out, _ = process.communicate(timeout=60)
    finally:
        os.close(main)
        if terminal >= 0:
            os.close(terminal)
    assert process.returncode == 0
    assert b"\r[" in drawn and b"3/3" in drawn and b"1 failed" in drawn and b"took" in drawn
    assert len(results(out)) == 3  # stdout has the results alone (with no terminal, stderr
    # stays empty: see test_every_job_gets_one_line_in_completion_order)


def test_interrupting_the_command_leaves_whole_lines(tmp_path: Path) -> None:
    jobs = write_jobs(
        tmp_path / "jobs.jsonl",
        {"id": "quick", "code": ""}, {"id": "long", "code": "import time; time.sleep(30)"},
    )  # fmt: skip
    output = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [*LAUNCHER, str(jobs), "--output", str(output)], env=environment(),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (output.exists() and output.read_bytes().endswith(b"\n")):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130, err
    assert b"Traceback" not in err
    assert [line["id"] for line in results(output.read_bytes())] == ["quick"]


def test_results_that_cannot_be_written_end_the_command_with_status_3(tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", {"id": "a", "code": "print(1)"})
    done = batch(str(jobs), "--output", "/dev/full", cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.decode() == (
        "posixbackend: cannot write the results: No space left on device\n"
    )
