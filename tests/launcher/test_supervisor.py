"""The supervisor: the launcher's parent process when a time limit asks for one. It runs no
guest code, ends the way the guest ended, passes on the signals meant for the program, and
enforces the time limit from outside the guest's reach.

The modes below supervise a confined program (``--sandbox``) and an unconfined one (the
native backend).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from posixbackend.launcher.session import GRACE, TIME_LIMIT_STATUS
from posixbackend.launcher.supervisor import SLACK
from tests.launcher.running import LAUNCHER, PYTHON, environment, launch
from tests.processes import alive

SUPERVISED = {
    "sandbox": ("--sandbox", "--allow-native-access", "--time-limit=60"),
    "native": ("--time-limit=60",),
}
FEW_SECONDS = 8.0
"""How long past its limit and grace a stopped run may take on a busy machine."""


@pytest.mark.parametrize("options", SUPERVISED.values(), ids=SUPERVISED.keys())
@pytest.mark.parametrize(
    ("code", "status", "stderr_end"),
    [
        ("print('out')", 0, ""),
        ("import sys; sys.exit(3)", 3, ""),
        ("raise KeyError('k')", 1, "KeyError: 'k'\n"),
        ("import ctypes; getattr(ctypes.CDLL(None), 'raise')(9)", -signal.SIGKILL, ""),
        ("import ctypes; ctypes.string_at(0)", -signal.SIGSEGV, ""),
    ],
    ids=["returns", "exits-3", "raises", "killed", "segfault"],
)
def test_the_guests_ending_is_mirrored(
    options: tuple[str, ...], code: str, status: int, stderr_end: str, tmp_path: Path
) -> None:
    done = launch(*options, "-c", code, cwd=tmp_path)
    assert done.returncode == status, done.stderr
    assert done.stderr.endswith(stderr_end)
    assert not list(tmp_path.glob("core*"))  # no core dump, even of the supervisor


def running(options: tuple[str, ...], code: str, cwd: Path) -> subprocess.Popen[str]:
    """The launcher running ``code`` (which prints 'ready' once it is), in a session of its
    own, as a terminal's foreground job is in its own process group."""
    process = subprocess.Popen(
        [*LAUNCHER, *options, "-c", code], cwd=cwd, env=environment(), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    return process


WAITS = "import time\nprint('ready', flush=True)\ntime.sleep(30)\n"


@pytest.mark.parametrize("options", SUPERVISED.values(), ids=SUPERVISED.keys())
def test_ctrl_c_ends_the_program_as_it_ends_plain_python(
    options: tuple[str, ...], tmp_path: Path
) -> None:
    """SIGINT to the whole process group (the terminal's Ctrl-C): the program gets its
    KeyboardInterrupt and ends by SIGINT; the supervisor only follows."""
    outcomes = []
    for command in ((PYTHON,), (*LAUNCHER, *options)):
        process = subprocess.Popen(
            [*command, "-c", WAITS], cwd=tmp_path, env=environment(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        outcomes.append((process.returncode, stderr.splitlines()[-1]))
    assert outcomes[0] == outcomes[1] == (-signal.SIGINT, "KeyboardInterrupt")


@pytest.mark.parametrize("options", SUPERVISED.values(), ids=SUPERVISED.keys())
def test_sigterm_and_sighup_are_passed_on_to_the_program(
    options: tuple[str, ...], tmp_path: Path
) -> None:
    code = (
        "import signal, sys, time\n"
        "def bye(number, frame):\n"
        "    print('got', signal.Signals(number).name, flush=True)\n"
        "    sys.exit(5)\n"
        "signal.signal(signal.SIGHUP, bye)\n" + WAITS
    )
    process = running(options, code, tmp_path)
    process.send_signal(signal.SIGHUP)  # to the supervisor alone
    stdout, _ = process.communicate(timeout=30)
    assert (process.returncode, stdout) == (5, "got SIGHUP\n")
    process = running(options, WAITS, tmp_path)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGTERM


HARDENED = """\
import os, signal, subprocess, sys
import posixbackend.launcher.session as session
import posixbackend.permissions.timelimit as timelimit
child = subprocess.Popen(["sleep", "60"])
print(child.pid, flush=True)
for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGALRM):
    signal.signal(number, signal.SIG_IGN)
session._PROCESS_LIMIT.cancel()        # the in-process ender thread gives up
timelimit._WATCHDOG._fire = lambda limit: True   # the watchdog raises nothing any more
timelimit._WATCHDOG._lock.acquire()    # and is stuck on its own lock
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
"""


@pytest.mark.parametrize(
    "options",
    [("--sandbox", "--allow-create-process"), ()],
    ids=["sandbox", "native"],
)
def test_a_program_that_disarms_the_time_limit_is_still_ended(
    options: tuple[str, ...], tmp_path: Path
) -> None:
    """Cancelling the library's objects, holding its lock, swallowing the exception and
    ignoring signals change nothing: the supervisor ends the program and what it started at
    the limit plus the grace period, says so once, and exits with 124."""
    limit = 0.5
    started = time.monotonic()
    done = launch(*options, f"--time-limit={limit}", "-c", HARDENED, cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert done.returncode == TIME_LIMIT_STATUS, done.stderr
    assert done.stderr == f"posixbackend: time limit of {limit!r} s exceeded\n"
    assert limit + GRACE + SLACK <= elapsed < limit + GRACE + SLACK + FEW_SECONDS
    child = int(done.stdout.split()[0])
    assert not alive(child), "the program's child outlived the time limit"


def test_what_a_program_left_running_is_ended_when_it_ran_out_of_time(tmp_path: Path) -> None:
    """A program ended by its own TimeLimitExceeded (status 124, from inside) leaves no
    process behind either: past the limit, the supervisor ends what is left."""
    code = (
        "import subprocess\n"
        "child = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        "print(child.pid, flush=True)\n"
        "while True:\n    pass\n"
    )
    done = launch("--time-limit=0.5", "-c", code, cwd=tmp_path)
    assert done.returncode == TIME_LIMIT_STATUS
    assert done.stderr.count("time limit") == 1
    assert not alive(int(done.stdout.split()[0]))


def test_a_program_in_time_may_leave_a_process_running_as_with_python(tmp_path: Path) -> None:
    code = (
        "import subprocess\n"
        "child = subprocess.Popen(['sleep', '30'], start_new_session=True,\n"
        "                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(child.pid, flush=True)\n"
    )
    done = launch("--time-limit=30", "-c", code, cwd=tmp_path)
    child = int(done.stdout.split()[0])
    try:
        assert done.returncode == 0 and alive(child)
    finally:
        os.kill(child, signal.SIGKILL)


def test_a_killed_supervisor_takes_the_program_along(tmp_path: Path) -> None:
    process = running(("--time-limit=60",), WAITS, tmp_path)
    guests = _children_of(process.pid)
    process.kill()
    process.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while any(alive(guest) for guest in guests) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert guests and not any(alive(guest) for guest in guests)


def _children_of(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_bytes()
            except OSError:
                continue
            if int(stat.rpartition(b")")[2].split()[1]) == pid:
                found.append(int(name))
    return found


def test_a_program_whose_main_thread_ended_is_still_ended(tmp_path: Path) -> None:
    """A process whose main thread has exited shows as a zombie while its other threads run
    (and its children stay its own): the supervisor still ends it and what it started."""
    code = (
        "import ctypes, subprocess, threading\n"
        "import posixbackend.launcher.session as session\n"
        "session._PROCESS_LIMIT.cancel()\n"  # only the supervisor can end it now
        "def work():\n"
        "    child = subprocess.Popen(['sleep', '60'])\n"
        "    print(child.pid, flush=True)\n"
        "    while True:\n"
        "        pass\n"
        "threading.Thread(target=work).start()\n"
        "import time; time.sleep(0.2)\n"
        "ctypes.CDLL(None).pthread_exit(None)\n"
    )
    started = time.monotonic()
    done = launch("--time-limit=0.5", "-c", code, cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert done.returncode == TIME_LIMIT_STATUS, done.stderr
    assert elapsed < 0.5 + GRACE + SLACK + FEW_SECONDS
    assert not alive(int(done.stdout.split()[0]))
