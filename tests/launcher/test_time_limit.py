"""``--time-limit=SECONDS``: a program out of time ends with one line on stderr and status 124.

Python code gets TimeLimitExceeded (its ``finally`` blocks and at-exit handlers run); a process
still running GRACE seconds after the limit (the main thread or another one stuck in a C
call, a guest that keeps swallowing the exception) is ended from outside. A program that
finishes in time keeps its own status, and the exception never reaches at-exit handlers.
The option is a backend option: children get it through POSIXBACKEND_OPTIONS.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend.launcher.options import (
    BackendOptions,
    UsageError,
    options_from_environment,
    parse_command,
)
from posixbackend.launcher.session import GRACE, TIME_LIMIT_STATUS
from posixbackend.switch.names import PosixModuleBackend
from tests.launcher.running import (
    JAVA_HOST,
    JAVA_MEMORY,
    MODES,
    NATIVE,
    PYTHON,
    Mode,
    Outcome,
    launch,
    run,
)

LIMIT = 0.5
MESSAGE = f"posixbackend: time limit of {LIMIT!r} s exceeded\n"
FEW_SECONDS = 8.0
"""How long past its limit (and the grace period) a stopped run may take on a busy machine,
interpreter start-up included."""

SPIN = """\
def spin():
    while True:
        pass
"""


def timed(mode: Mode, code: str, cwd: Path, *options: str) -> tuple[Outcome, float]:
    """Run ``code`` with ``--time-limit=LIMIT`` in ``mode``: the outcome and seconds taken."""
    started = time.monotonic()
    done = launch(*mode.options, f"--time-limit={LIMIT}", *options, "-c", code, cwd=cwd)
    return done, time.monotonic() - started


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
def test_a_busy_loop_gets_the_exception_and_exits_124(mode: Mode, tmp_path: Path) -> None:
    """Stopped by the exception, not from outside: ``finally`` and at-exit handlers run, and
    the exception reaches no handler (it was stopped when the program returned)."""
    code = SPIN + (
        "import atexit, time\n"
        "def at_exit():\n"
        "    started = time.monotonic()\n"
        "    while time.monotonic() - started < 0.3:\n"
        "        pass\n"
        "    print('at-exit handler ran', flush=True)\n"
        "atexit.register(at_exit)\n"
        "try:\n"
        "    spin()\n"
        "finally:\n"
        "    print('finally ran', flush=True)\n"
    )
    done, elapsed = timed(mode, code, tmp_path)
    assert (done.returncode, done.stderr) == (TIME_LIMIT_STATUS, MESSAGE)
    # ended by the exception, not from outside: killed at the grace, no at-exit handler runs
    assert done.stdout == "finally ran\nat-exit handler ran\n"
    assert elapsed >= LIMIT


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
def test_sleep_in_the_main_thread_is_ended_after_the_grace(mode: Mode, tmp_path: Path) -> None:
    """A main thread in time.sleep sees no exception before the sleep returns: the process
    is ended from outside, what it printed flushed first."""
    done, elapsed = timed(mode, "import time\nprint('sleeping')\ntime.sleep(30)", tmp_path)
    assert (done.returncode, done.stderr) == (TIME_LIMIT_STATUS, MESSAGE)
    assert done.stdout == "sleeping\n"
    assert LIMIT + GRACE <= elapsed < LIMIT + GRACE + FEW_SECONDS


STUCK = {
    "thread-joined": "import threading, time\n"
    "stuck = threading.Thread(target=time.sleep, args=(30,))\n"
    "stuck.start()\n"
    "stuck.join()\n",
    "thread-left-running": "import threading, time\n"
    "threading.Thread(target=time.sleep, args=(30,)).start()\n"
    "print('main thread done')\n",
    "signal-pause": "import signal\nsignal.pause()\n",
    "exception-swallowed-forever": SPIN
    + "while True:\n    try:\n        spin()\n    except BaseException:\n        pass\n",
}


@pytest.mark.parametrize(
    ("mode", "program"),
    [(NATIVE, name) for name in STUCK] + [(JAVA_HOST, "thread-joined")],
    ids=lambda value: value.name if isinstance(value, Mode) else value,
)
def test_a_process_that_does_not_end_is_ended_with_124(
    mode: Mode, program: str, tmp_path: Path
) -> None:
    done, elapsed = timed(mode, STUCK[program], tmp_path)
    assert (done.returncode, done.stderr) == (TIME_LIMIT_STATUS, MESSAGE)
    assert LIMIT + GRACE <= elapsed < LIMIT + GRACE + FEW_SECONDS


@pytest.mark.parametrize(
    ("ending", "printed"),
    [
        ("print('done')", "caught\ndone\n"),
        ("raise SystemExit(0)", "caught\n"),
        ("raise ValueError('after the limit')", "caught\n"),
    ],
    ids=["returns", "exits-0", "raises"],
)
def test_a_program_that_swallowed_the_exception_still_exits_124(
    ending: str, printed: str, tmp_path: Path
) -> None:
    """However the program ends after its limit fired, the run was out of time (another
    uncaught exception is still shown)."""
    code = SPIN + f"try:\n    spin()\nexcept BaseException:\n    print('caught')\n{ending}\n"
    done, _ = timed(JAVA_MEMORY, code, tmp_path)
    assert done.returncode == TIME_LIMIT_STATUS and done.stdout == printed
    assert done.stderr.endswith(MESSAGE) and done.stderr.count("time limit") == 1
    assert ("ValueError: after the limit" in done.stderr) == ending.startswith("raise Value")


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
@pytest.mark.parametrize(
    ("code", "ending"),
    [
        ("print('in time')", (0, "in time\n", "")),
        ("import sys\nsys.exit(3)", (3, "", "")),
        ("raise KeyError('k')", (1, "", "KeyError: 'k'\n")),
    ],
    ids=["returns", "exits-3", "raises"],
)
def test_a_program_in_time_keeps_its_own_ending(
    mode: Mode, code: str, ending: tuple[int, str, str], tmp_path: Path
) -> None:
    """(status, stdout, end of stderr) as without a limit."""
    status, stdout, stderr = ending
    done = launch(*mode.options, "--time-limit=30", "-c", code, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (status, stdout)
    assert done.stderr.endswith(stderr) and "time limit" not in done.stderr


def test_at_exit_handlers_running_past_the_limit_get_no_exception(tmp_path: Path) -> None:
    """The program returned in time: its at-exit handler may run past the limit (but not
    past the grace period) without TimeLimitExceeded."""
    code = (
        "import atexit, time\n"
        "def at_exit():\n"
        "    started = time.monotonic()\n"
        f"    while time.monotonic() - started < {LIMIT + 0.2}:\n"
        "        pass\n"
        "    print('handler finished')\n"
        "atexit.register(at_exit)\n"
    )
    done, _ = timed(NATIVE, code, tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "handler finished\n", "")


# -- the option ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "abc", "", "nan", "inf", "-inf", "1s"])
def test_bad_values_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_command([f"--time-limit={value}", "-c", "pass"])
    assert str(caught.value) == (
        f"--time-limit: expected a positive number of seconds, not {value!r}"
    )


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_a_bad_value_stops_the_launcher_with_status_2(value: str, tmp_path: Path) -> None:
    done = launch(f"--time-limit={value}", "-c", "print('ran')", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(
        f"--time-limit: expected a positive number of seconds, not {value!r}\nusage: "
    )


def test_the_value_takes_both_spellings_and_both_backends() -> None:
    assert parse_command(["--time-limit", "2", "x.py"]).options.time_limit == 2.0
    java = parse_command(["--posix-backend=java", "--time-limit=0.25", "x.py"]).options
    assert java == BackendOptions(backend=PosixModuleBackend.JAVA, time_limit=0.25)


@given(
    st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.sampled_from(list(PosixModuleBackend)),
)
def test_the_limit_survives_the_environment(seconds: float, backend: PosixModuleBackend) -> None:
    options = BackendOptions(backend=backend, time_limit=seconds)
    assert options_from_environment(options.environment_value()) == options


def test_help_shows_the_option(tmp_path: Path) -> None:
    done = launch("--help", cwd=tmp_path)
    assert done.returncode == 0 and "--time-limit=SECONDS" in done.stdout


# -- children and the environment -----------------------------------------------------------


def test_children_get_the_limit(tmp_path: Path) -> None:
    done = launch(
        "--time-limit=30", "-c", "import os; print(os.environ['POSIXBACKEND_OPTIONS'])",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "--posix-backend=native --time-limit=30.0\n"


def test_a_python_process_given_the_limit_in_the_environment_exits_124(tmp_path: Path) -> None:
    """A child python (the interpreter runs the program, the .pth activated the limit):
    the exception once, CPython's traceback, then the message and status 124."""
    started = time.monotonic()
    done = run(
        [PYTHON, "-c", SPIN + "spin()"], tmp_path,
        env={"POSIXBACKEND_OPTIONS": f"--time-limit={LIMIT}"},
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode == TIME_LIMIT_STATUS
    assert done.stderr.startswith("Traceback (most recent call last):\n")
    assert done.stderr.endswith(
        f"TimeLimitExceeded: time limit of {LIMIT!r} s exceeded\n{MESSAGE}"
    )  # the exception's traceback: ended by it, not from outside after the grace
    assert elapsed >= LIMIT


def test_the_environment_limit_holds_under_a_longer_command_line_one(tmp_path: Path) -> None:
    """A launcher started with a limit in its environment cannot give itself more time."""
    done = run(
        [PYTHON, "-m", "posixbackend", "--time-limit=60", "-c",
         "import os\nprint(os.environ['POSIXBACKEND_OPTIONS'], flush=True)\n" + SPIN + "spin()"],
        tmp_path, env={"POSIXBACKEND_OPTIONS": f"--time-limit={LIMIT}"},
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (TIME_LIMIT_STATUS, MESSAGE)
    assert done.stdout == f"--posix-backend=native --time-limit={LIMIT!r}\n"
