"""The program's standard streams write to its own descriptors 0 to 2, on every backend.

Under python, ``sys.stdout`` writes to descriptor 1: after ``os.close(1)`` a write fails with
EBADF (at once unbuffered, at exit when buffered, where python prints "Exception ignored" and
exits with 120), and after ``os.dup2(fd, 1)`` print goes to ``fd``. On the java backend those
descriptors are the backend's, so the launcher builds the streams on them: everything the
process shows (status, stdout, stderr) must equal python's, byte for byte.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.launcher.running import (
    JAVA_MEMORY,
    LAUNCHER,
    MODES,
    NATIVE,
    PYTHON,
    TIMEOUT,
    Mode,
    Outcome,
    environment,
    run,
)

UNBUFFERED = ("PYTHONUNBUFFERED",)
"""Left out of the environment: the cases choose their buffering with -u."""

CLOSED = {
    "print-then-exit": ([], "import os\nos.close(1)\nprint('lost')\nos.write(2, b'after\\n')\n"),
    "print-then-flush": ([], "import os, sys\nos.close(1)\nprint('lost')\nsys.stdout.flush()\n"),
    "unbuffered": (["-u"], "import os\nos.close(1)\nprint('lost')\nos.write(2, b'after\\n')\n"),
    "stderr-closed": ([], "import os\nos.close(2)\nraise ValueError('unseen')\n"),
    "stdin-closed": ([], "import os\nos.close(0)\nprint(input())\n"),
}  # fmt: skip
"""Programs that close a standard descriptor and use its stream: python options, source."""


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
@pytest.mark.parametrize("case", sorted(CLOSED))
def test_closed_descriptor_like_python(case: str, mode: Mode, tmp_path: Path) -> None:
    options, source = CLOSED[case]
    expected = run([PYTHON, *options, "-c", source], tmp_path, unset=UNBUFFERED)
    got = run([*LAUNCHER, *mode.options, *options, "-c", source], tmp_path, unset=UNBUFFERED)
    assert got == expected


def test_the_closed_cases_show_what_they_claim(tmp_path: Path) -> None:
    """Python's side: the buffered write fails at exit (120), the unbuffered one at once."""

    def reference(case: str) -> Outcome:
        options, source = CLOSED[case]
        return run([PYTHON, *options, "-c", source], tmp_path, unset=UNBUFFERED)

    at_exit = reference("print-then-exit")  # "Exception ignored in: <stream>" (3.13: "on
    assert at_exit.returncode == 120 and at_exit.stdout == ""  # flushing sys.stdout:")
    assert at_exit.stderr.startswith("after\nException ignored ")
    assert at_exit.stderr.endswith("\nOSError: [Errno 9] Bad file descriptor\n")
    unbuffered = reference("unbuffered")
    assert unbuffered.returncode == 1 and unbuffered.stdout == ""
    assert 'File "<string>", line 3, in <module>\n' in unbuffered.stderr  # the print
    assert unbuffered.stderr.endswith("\nOSError: [Errno 9] Bad file descriptor\n")
    assert reference("stderr-closed") == Outcome(120, "", "")  # stderr not flushed at exit


REDIRECTED = """\
import os, sys
fd = os.open("out.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
saved = os.dup(1)
os.dup2(fd, 1)
print("into the file")
sys.stdout.flush()
os.dup2(saved, 1)
print("back on stdout;", open("out.txt").read().strip())
print(sys.stdout.buffer.raw, isinstance(sys.stdout.buffer.raw, __import__("io").FileIO))
"""


@pytest.mark.parametrize("mode", [NATIVE, JAVA_MEMORY], ids=lambda mode: mode.name)
def test_output_follows_dup2_like_python(mode: Mode, tmp_path: Path) -> None:
    expected = run([PYTHON, "-c", REDIRECTED], tmp_path, unset=UNBUFFERED)
    assert expected.stdout.startswith("back on stdout; into the file\n<_io.FileIO name='<stdout>'")
    got = run([*LAUNCHER, *mode.options, "-c", REDIRECTED], tmp_path, unset=UNBUFFERED)
    assert got == expected


@pytest.mark.parametrize("mode", [NATIVE, JAVA_MEMORY], ids=lambda mode: mode.name)
def test_broken_pipe_like_python(mode: Mode, tmp_path: Path) -> None:
    """A reader that went away: the program's write fails with EPIPE, as python's does."""
    program = "import sys\nsys.stdin.read()\nprint('x' * 100000)\n"

    def broken(command: list[str]) -> Outcome:
        with subprocess.Popen(
            command, cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=environment(unset=UNBUFFERED),
        ) as process:  # fmt: skip
            assert process.stdin is not None and process.stdout is not None
            assert process.stderr is not None
            process.stdout.close()  # nobody reads any more
            process.stdin.close()  # and now the program writes
            stderr = process.stderr.read().decode()
            return Outcome(process.wait(TIMEOUT), "", stderr)

    expected = broken([PYTHON, "-c", program])
    assert expected.returncode == 1 and "BrokenPipeError: [Errno 32] Broken pipe" in expected.stderr
    assert broken([*LAUNCHER, *mode.options, "-c", program]) == expected


def test_native_launcher_under_an_emulated_parent_like_python(tmp_path: Path) -> None:
    """A child launcher asked to run natively, whose start-up served it emulated first (the
    parent's options in the environment): its streams are python's own again."""
    source = "import sys\nprint(type(sys.stdout.buffer.raw).__module__, flush=True)\n" + CLOSED[
        "print-then-exit"
    ][1]
    expected = run([PYTHON, "-c", source], tmp_path, unset=UNBUFFERED)
    assert expected.stdout == "_io\n"
    got = run(
        [*LAUNCHER, "--posix-backend=native", "-c", source], tmp_path, unset=UNBUFFERED,
        env={"POSIXBACKEND_OPTIONS": "--posix-backend=java --fs=memory"},
    )  # fmt: skip
    assert got == expected
