"""``--compat-report`` (JSON for a .json name, checked against the schema; text otherwise; ``-``
for stderr) and ``--log.python.compatibility.level`` (gap lines on stderr, Java level names)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest

import compat
from tests.launcher.running import JAVA_MEMORY, MODES, Mode, launch, write

UMASK_TWICE = """\
import os
os.umask(0o022)
os.umask(0o022)
print("program done")
"""
UMASK_LINE = 2
"""The line of the first umask call, where the report must place the gap's first hit."""

UMASK_GAP = "emulated.umask.initial"
UMASK_LOG_LINE = (
    "[python.compatibility.os] FINE: os.umask (initial value): the umask starts at 0o022 "
    "whatever the process's umask is, and setting it does not change the process's "
    f"[{UMASK_GAP}]"
)


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
def test_json_report(mode: Mode, tmp_path: Path) -> None:
    """A valid report; on java it names the umask gap, hit twice, first from the script's
    line; natively nothing is emulated, so nothing is hit."""
    write(tmp_path, {"umask.py": UMASK_TWICE})
    report = tmp_path / "report.json"
    done = launch(*mode.options, f"--compat-report={report}", "umask.py", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == "program done\n", done.stderr
    document = json.loads(report.read_text())
    jsonschema.validate(document, compat.report_schema())
    gaps = {gap["id"]: gap for gap in document["gaps"]}
    if not mode.java:
        assert gaps == {} and document["total_hits"] == 0
        return
    umask = gaps[UMASK_GAP]
    assert umask["count"] == 2 and umask["level"] == "FINE"
    assert umask["first_site"] == {
        "file": str(tmp_path / "umask.py"), "line": UMASK_LINE, "function": "<module>",
    }  # fmt: skip


def test_text_report_relative_to_the_real_cwd(tmp_path: Path) -> None:
    """A relative report name is a host file in the launcher's own directory, whatever the
    program's --cwd or file system."""
    (tmp_path / "elsewhere").mkdir()
    done = launch(*JAVA_MEMORY.options, f"--cwd={tmp_path}/elsewhere", "--compat-report=r.txt",
                  "-c", UMASK_TWICE, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "r.txt").read_text()
    assert text.startswith("Compatibility report: ")
    row = next(line for line in text.splitlines() if line.startswith(UMASK_GAP))
    assert row.split()[:3] == [UMASK_GAP, "FINE", "2"]
    assert not (tmp_path / "elsewhere" / "r.txt").exists()


def test_report_on_stderr_after_the_program(tmp_path: Path) -> None:
    done = launch(*JAVA_MEMORY.options, "--compat-report=-", "-c", UMASK_TWICE, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == "program done\n"
    assert done.stderr.startswith("Compatibility report: ")
    assert any(line.startswith(UMASK_GAP) for line in done.stderr.splitlines())


def test_report_written_when_the_program_fails(tmp_path: Path) -> None:
    report = tmp_path / "failed.json"
    program = "import os\nos.umask(0)\nraise SystemExit(7)\n"
    done = launch(*JAVA_MEMORY.options, f"--compat-report={report}", "-c", program, cwd=tmp_path)
    assert done.returncode == 7
    assert UMASK_GAP in {gap["id"] for gap in json.loads(report.read_text())["gaps"]}


def test_report_counts_only_the_program(tmp_path: Path) -> None:
    report = tmp_path / "quiet.json"
    done = launch(*JAVA_MEMORY.options, f"--compat-report={report}", "-c", "pass", cwd=tmp_path)
    assert done.returncode == 0
    assert json.loads(report.read_text())["gaps"] == []


@pytest.mark.parametrize(("level", "logged"), [("FINE", True), ("fine", True), ("INFO", False)])
def test_log_level(level: str, logged: bool, tmp_path: Path) -> None:
    """At FINE the umask gap is logged once per call site (Java level name, logger and gap id on
    the line); at INFO it is not."""
    done = launch(*JAVA_MEMORY.options, f"--log.python.compatibility.level={level}",
                  "-c", UMASK_TWICE, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0 and done.stdout == "program done\n"
    lines = [line for line in done.stderr.splitlines() if UMASK_GAP in line]
    assert lines == ([UMASK_LOG_LINE, UMASK_LOG_LINE] if logged else [])


def test_log_level_on_native_logs_nothing(tmp_path: Path) -> None:
    done = launch("--log.python.compatibility.level=ALL", "-c", UMASK_TWICE, cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""
