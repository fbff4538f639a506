"""The launcher runs a program the way ``python`` does, on every backend and file system.

For each way to start a program (script, directory, zip, -m, -c, stdin) the whole ``__main__``
set-up the program prints must equal python's; for each way a program ends (return, SystemExit
of every kind, uncaught exceptions in every kind of code, KeyboardInterrupt, syntax errors,
missing modules) the exit status, stdout and stderr must equal python's, byte for byte:
tracebacks with their source lines and no launcher frame (runpy's frames stay for -m and
directories, as python shows them).
"""

from __future__ import annotations

import functools
import json
import signal
from pathlib import Path

import pytest

from tests.launcher.programs import ENDS, STARTS, Case, arguments
from tests.launcher.running import MODES, PYTHON, Mode, Outcome, launch, python


@functools.cache
def reference(case: Case, directory: Path) -> Outcome:
    """What plain python shows for ``case`` (run once per worker)."""
    return python(*arguments(case, directory), cwd=directory, stdin=case.stdin)


def launched(mode: Mode, case: Case, directory: Path) -> Outcome:
    """What the launcher in ``mode`` shows for ``case``."""
    return launch(*mode.options, *arguments(case, directory), cwd=directory, stdin=case.stdin)


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
@pytest.mark.parametrize("start", sorted(STARTS))
def test_main_module_set_up_like_python(start: str, mode: Mode, programs: Path) -> None:
    case = STARTS[start]
    expected = reference(case, programs)
    assert expected.returncode == 0, expected.stderr
    got = launched(mode, case, programs)
    assert got == expected
    shown = json.loads(got.stdout)
    assert shown["name"] == "__main__" and shown["same_module"]


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
@pytest.mark.parametrize("end", sorted(ENDS))
def test_program_ends_like_python(end: str, mode: Mode, programs: Path) -> None:
    case = ENDS[end]
    expected = reference(case, programs)
    got = launched(mode, case, programs)
    assert got == expected


def test_reference_endings_are_what_the_tests_claim(programs: Path) -> None:
    """The python side shows what the cases are about (so an equal launcher shows it too)."""
    statuses = {name: reference(case, programs).returncode for name, case in ENDS.items()}
    assert statuses["return"] == 0 and statuses["exit-none"] == 0
    assert statuses["exit-3"] == 3 and statuses["exit-from-code"] == 42
    assert statuses["keyboard-interrupt"] == -signal.SIGINT
    for name in ("exit-message", "exception-chained", "exception-in-module", "syntax-error"):
        assert statuses[name] == 1, name
    assert statuses["module-not-found"] == 1 and statuses["directory-without-main"] == 1
    assert reference(ENDS["exit-message"], programs).stderr == "a message for stderr\n"
    interrupted = reference(ENDS["keyboard-interrupt"], programs)
    assert interrupted.stdout == "atexit ran\n"
    assert interrupted.stderr.endswith("KeyboardInterrupt\n")
    chained = reference(ENDS["exception-chained"], programs).stderr
    assert 'raise RuntimeError("while chaining") from error' in chained  # source lines
    assert "The above exception was the direct cause" in chained
    module = reference(ENDS["exception-in-module"], programs).stderr
    assert '"<frozen runpy>"' in module and "raise LookupError('from a module')" in module
    thread = reference(ENDS["thread-exception"], programs)
    assert thread.returncode == 0 and "Exception in thread worker" in thread.stderr


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
def test_missing_script_like_python(mode: Mode, programs: Path) -> None:
    """Status 2 and python's message, named as python names itself: its own argv[0] (the
    launcher is started as ``python -m posixbackend``, with the same argv[0])."""
    expected = python("no_such_script.py", "arg", cwd=programs)
    got = launch(*mode.options, "no_such_script.py", "arg", cwd=programs)
    message = f"can't open file '{programs}/no_such_script.py': [Errno 2] No such file or directory"
    assert expected == Outcome(2, "", f"{PYTHON}: {message}\n")
    assert got == expected
