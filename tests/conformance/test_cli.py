"""``python -m posixbackend.conformance`` as a command: usage errors, and the check and the
rewriting of an expectations file over real child processes."""

from __future__ import annotations

import json
from pathlib import Path

from posixbackend.conformance.cli import main
from posixbackend.conformance.expectations import UNEXPLAINED, load
from posixbackend.conformance.modes import Mode

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = "tests.conformance.samples"
FAILING = f"{SAMPLES}.sample_java_differs.Differs.test_nanosecond_times"


def run(tmp_path, *arguments):
    return main(
        ["--fs", "host", "--jobs", "2", "--logs", str(tmp_path / "logs"), *arguments],
        package=SAMPLES,
        environment={"PYTHONPATH": str(ROOT)},
    )


def test_bad_command_lines_are_usage_errors(tmp_path, capsys):
    assert main(["--fs", "overlay", "sample_mixed"]) == 2
    assert "expected host or memory" in capsys.readouterr().err
    assert main(["--jobs", "0", "sample_mixed"]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[overlay]\n")
    assert main(["--expectations", str(bad), "sample_mixed"]) == 2
    assert "unknown table [overlay]" in capsys.readouterr().err
    assert main(["--expectations", str(tmp_path / "missing.toml"), "sample_mixed"]) == 2


def test_write_then_explain_then_notice_a_stale_entry(tmp_path, capsys):
    expectations = tmp_path / "expectations.toml"
    report = tmp_path / "report.json"
    arguments = ["--expectations", str(expectations), "sample_java_differs"]
    # a new failure is written as unexplained, which the check rejects
    assert run(tmp_path, "--write-expectations", "--json", str(report), *arguments) == 1
    assert load(expectations).entries[Mode.HOST] == {FAILING: UNEXPLAINED}
    out = capsys.readouterr().out
    assert f"host: bad reason: {FAILING}" in out
    assert "java --fs=host: 2 tests pass natively, 1 of them pass on java: 50.0%" in out
    document = json.loads(report.read_text())
    assert list(document["comparisons"]["host"]["failures"]) == [FAILING]
    assert [problem["kind"] for problem in document["problems"]] == ["bad reason"]
    # explained with the gap that causes it: the check holds
    text = expectations.read_text().replace(UNEXPLAINED, "gap:emulated.times.resolution")
    expectations.write_text(text)
    assert run(tmp_path, *arguments) == 0
    assert "all hold" in capsys.readouterr().out
    # an entry for a test that passes on java is a failure until it is removed
    passing = f"{SAMPLES}.sample_java_differs.Differs.test_same_everywhere"
    entry = f'"{passing}" = "bug:was broken once"\n'
    expectations.write_text(text.replace("[host]\n", "[host]\n" + entry))
    assert run(tmp_path, *arguments) == 1
    assert f"host: listed but passes: {passing}" in capsys.readouterr().out
    # rewriting drops it and keeps the explained reason
    assert run(tmp_path, "--write-expectations", *arguments) == 0
    assert load(expectations).entries[Mode.HOST] == {FAILING: "gap:emulated.times.resolution"}
