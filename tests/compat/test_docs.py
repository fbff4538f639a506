"""The documentation table: generated from the registry, and kept in sync by a check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import compat
from compat import docs
from tests.compat.helpers import ROOT, declare, run_python

CHECKED_IN = ROOT / "compat" / "compatibility.md"
TABLE_HEADER = "| Id | Function | Aspect | Level | Explanation |"


def test_checked_in_docs_are_up_to_date() -> None:
    result = run_python("-m", "compat.docs", "--check")
    assert result.returncode == 0, result.stderr


def test_render_lists_gaps_sorted_by_id(registry: compat.Registry) -> None:
    declare(registry, "os.umask.fixed", function="os.umask", aspect="initial", level="CONFIG")
    declare(
        registry,
        "os.access.effective_ids",
        function="os.access",
        aspect="effective_ids",
        explanation="effective ids are not supported",
    )
    page = docs.render(registry.view())
    table = page[page.index(TABLE_HEADER) :].splitlines()
    assert table[2:] == [
        "| `os.access.effective_ids` | `os.access` | effective_ids | FINE "
        "| effective ids are not supported |",
        "| `os.umask.fixed` | `os.umask` | initial | CONFIG | an example gap |",
    ]
    assert "No gap is declared yet." not in page


def test_render_escapes_table_syntax(registry: compat.Registry) -> None:
    declare(registry, explanation=r"pipes | and back\slashes")
    assert r"| pipes \| and back\\slashes |" in docs.render(registry.view())


def test_render_without_gaps_keeps_header_and_says_so() -> None:
    page = docs.render([])
    assert page.rstrip().endswith("No gap is declared yet.")
    assert TABLE_HEADER in page
    for level in compat.Level:
        assert f"| {level.name} | {int(level)} |" in page


def test_write_then_check(registry: compat.Registry, tmp_path: Path) -> None:
    declare(registry)
    output = tmp_path / "nested" / "compatibility.md"
    arguments = ["--import", "json", "--output", str(output)]
    assert docs.main(arguments, registry=registry.view()) == 0
    assert output.read_text(encoding="utf-8") == docs.render(registry.view())
    assert docs.main([*arguments, "--check"], registry=registry.view()) == 0


def test_check_fails_with_the_command_to_regenerate(
    registry: compat.Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "compatibility.md"
    arguments = ["--import", "json", "--output", str(output)]
    docs.main(arguments, registry=registry.view())
    declare(registry)  # a new gap makes the file stale
    capsys.readouterr()
    assert docs.main([*arguments, "--check"], registry=registry.view()) == 1
    message = capsys.readouterr().err
    assert "is out of date" in message
    assert f"python -m compat.docs --import json --output {output}" in message


def test_check_fails_when_the_file_is_missing(
    registry: compat.Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "absent.md"
    assert docs.main(["--check", "--output", str(output)], registry=registry.view()) == 1
    assert "is missing" in capsys.readouterr().err
    assert not output.exists()


def test_unimportable_module_is_an_error(
    registry: compat.Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out.md"
    arguments = ["--import", "no_such_module_for_compat_tests", "--output", str(output)]
    assert docs.main(arguments, registry=registry.view()) == 2
    assert "no_such_module_for_compat_tests" in capsys.readouterr().err
    assert not output.exists()


def test_command_imports_modules_that_declare_gaps(tmp_path: Path) -> None:
    (tmp_path / "compat_docs_probe.py").write_text(
        "import compat\n"
        "compat.declare(id='probe.gap', function='os.probe', aspect='everything',\n"
        "               level='SEVERE', explanation='declared at import time')\n",
        encoding="utf-8",
    )
    output = tmp_path / "out.md"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    command = ["-m", "compat.docs", "--import", "compat_docs_probe", "--output", str(output)]
    result = run_python(*command, env=environment)
    assert result.returncode == 0, result.stderr
    row = "| `probe.gap` | `os.probe` | everything | SEVERE | declared at import time |"
    assert row in output.read_text(encoding="utf-8")
    check = run_python(*command, "--check", env=environment)
    assert check.returncode == 0, check.stderr
    stale = run_python("-m", "compat.docs", "--import", "json", "--output", str(output), "--check")
    assert stale.returncode == 1
    assert "regenerate it with" in stale.stderr
