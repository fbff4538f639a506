"""``--sandbox`` as a kernel boundary: escapes from the Python layer reach nothing on the host.

Each guest tries to leave a trace on the host -- a marker file, a program started, a
connection to a listener this test holds, a datagram to a socket file it holds, a new address
on ``lo``, a new host name, a canary's secret in its output -- and each verdict is read on the
host (the corpus's by :mod:`tests.permissions.judge`). The guests get native access and
threads, so that the in-process permissions are out of the way and only the kernel (Landlock,
seccomp, the limits) stands in between.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from posixbackend.launcher.confinement import SKIP_VARIABLE
from posixbackend.launcher.startup import starts_the_launcher
from tests.launcher.running import LAUNCHER, environment, launch
from tests.permissions.escapes import ESCAPES, Escape
from tests.permissions.judge import Host
from tests.servers import listener

__all__ = ["listener"]  # the fixture, imported for the tests below

NATIVE = ("--sandbox", "--allow-native-access", "--allow-create-thread")
"""The sandbox with the in-process layer's native-code refusal lifted: the kernel alone."""


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A host file outside any sandbox holding a secret, and the secret."""
    secret = f"canary-{uuid.uuid4().hex}"
    path = tmp_path / "canary.txt"
    path.write_text(secret)
    yield path, secret


# -- the escape corpus ----------------------------------------------------------------------


@pytest.mark.parametrize("escape", ESCAPES, ids=[escape.name for escape in ESCAPES])
def test_the_escape_corpus_is_contained(
    escape: Escape, tmp_path: Path, listener: socket.socket
) -> None:
    """Every escape of the corpus, with the in-process refusal of native code lifted:
    nothing on the host (the judge puts back a changed hostname or address)."""
    host = Host.prepare(tmp_path, listener)
    done = launch(*NATIVE, "-c", host.source(escape), cwd=tmp_path)
    traces = host.traces(escape, done.stdout + done.stderr, patient=escape.effect == "process")
    assert traces == [], done


PLAIN_PYTHON_ESCAPES = {
    "a fresh contextvars.Context reading a host file": """
def escape():
    print(open(CANARY).read())
    open(MARKER, "w").close()
import contextvars
contextvars.Context().run(escape)
""",
    "ctypes and libc reading and writing": """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
buffer = ctypes.create_string_buffer(200)
print(libc.read(libc.open(CANARY.encode(), 0), buffer, 200), buffer.value)
print(libc.open(MARKER.encode(), 0o101, 0o644))
""",
}
"""Escapes of plain Python the corpus has not, each reading CANARY and writing MARKER."""


@pytest.mark.parametrize("code", PLAIN_PYTHON_ESCAPES.values(), ids=PLAIN_PYTHON_ESCAPES.keys())
def test_plain_python_escapes_reach_nothing(
    code: str, tmp_path: Path, listener: socket.socket, canary: tuple[Path, str]
) -> None:
    path, secret = canary
    marker = tmp_path / "escaped"
    done = launch(*NATIVE, "-c", _aimed(code, marker, path, listener), cwd=tmp_path)
    assert secret not in done.stdout + done.stderr
    assert not marker.exists()


def test_without_landlock_and_seccomp_an_escape_succeeds(
    tmp_path: Path, listener: socket.socket
) -> None:
    """The control: the kernel is what contains the escapes above. Where it lacks the steps
    (simulated), an escape the in-process layers cannot stop leaves its marker, and the report
    says why the steps are missing."""
    escape = next(
        escape for escape in ESCAPES if not escape.stopped_in_process and escape.effect == "file"
    )
    host = Host.prepare(tmp_path, listener)
    report = tmp_path / "report.json"
    done = launch(
        *NATIVE, f"--sandbox-report={report}", "-c", host.source(escape), cwd=tmp_path,
        env={SKIP_VARIABLE: "landlock,seccomp"},
    )  # fmt: skip
    assert host.traces(escape, done.stdout + done.stderr, patient=False) != [], done
    not_applied = json.loads(report.read_text())["not_applied"]
    assert not_applied["landlock"] == not_applied["seccomp"] == f"left out ({SKIP_VARIABLE})"


def _aimed(code: str, marker: Path, canary: Path, listener: socket.socket) -> str:
    prologue = (
        f"MARKER = {str(marker)!r}\nCANARY = {str(canary)!r}\nPORT = {listener.getsockname()[1]}\n"
    )
    return (
        prologue + f"try:\n{textwrap.indent(code.strip(), '    ')}\nexcept OSError as e:\n"
        "    print('refused:', e)\n"
    )


def test_a_datagram_socketpair_end_cannot_reach_a_host_socket(tmp_path: Path) -> None:
    """Through libc (no audit event): the kernel keeps a socketpair's ends to each other."""
    address = str(tmp_path / "host.sock")
    host = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    host.bind(address)
    host.setblocking(False)
    code = f"""
import ctypes, socket
libc = ctypes.CDLL(None, use_errno=True)
class sockaddr_un(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("path", ctypes.c_char * 108)]
target = sockaddr_un(socket.AF_UNIX, {address.encode()!r})
size = ctypes.sizeof(target)
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
header = (ctypes.c_char * 56)()
for result in (libc.sendto(a.fileno(), b"x", 1, 0, ctypes.byref(target), size),
               libc.connect(a.fileno(), ctypes.byref(target), size),
               libc.sendmsg(a.fileno(), header, 0)):
    print("refused:", ctypes.get_errno()) if result < 0 else print("sent")
print(libc.send(a.fileno(), b"kept", 4, 0), b.recv(8).decode())
"""
    try:
        done = launch(*NATIVE, "-c", code, cwd=tmp_path)
        with pytest.raises(BlockingIOError):
            host.recv(64)
    finally:
        host.close()
    assert done.stdout == "refused: 13\nrefused: 13\nrefused: 13\n4 kept\n", done.stderr


def test_children_read_no_more_than_the_program(tmp_path: Path, canary: tuple[Path, str]) -> None:
    path, secret = canary
    code = f"import subprocess\nsubprocess.run(['cat', {str(path)!r}])\nprint('ran')"
    done = launch("--sandbox", "--allow-create-process", "-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert secret not in done.stdout + done.stderr
    assert "Permission denied" in done.stderr and done.stdout == "ran\n"


def test_limits_cannot_be_raised_and_cores_are_off(tmp_path: Path) -> None:
    code = """
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
print(soft == hard, resource.getrlimit(resource.RLIMIT_CORE))
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, soft + 1))
except (OSError, ValueError) as error:
    print("refused:", type(error).__name__)
"""
    done = launch(*NATIVE, "-c", code, cwd=tmp_path)
    assert done.stdout == "True (0, 0)\nrefused: ValueError\n", done.stderr


# -- every thread is confined ---------------------------------------------------------------


def test_the_time_limit_threads_are_confined_too(tmp_path: Path) -> None:
    """The launcher's own threads (the time limit's, started after the confinement) run code
    a guest can reach: here its sys.stdout's flush, called by the thread that flushes the
    output of a process out of time, natively (outside any permissions). The kernel still
    refuses it the host."""
    marker = tmp_path / "escaped"
    code = f"""
import sys
class Stdout:
    def write(self, text):
        return len(text)
    def flush(self):
        open({str(marker)!r}, "w").close()
sys.stdout = Stdout()
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
"""
    done = launch(*NATIVE, "--time-limit=0.3", "-c", code, cwd=tmp_path)
    assert done.returncode == 124
    assert not marker.exists()


def test_each_thread_of_the_guest_is_filtered(tmp_path: Path) -> None:
    """Seen from the host: every thread of the confined process (the program's and the time
    limit's) has the seccomp filter and no_new_privs."""
    code = "import time\nprint('ready', flush=True)\ntime.sleep(30)"
    with subprocess.Popen(
        [*LAUNCHER, "--sandbox", "--time-limit=30", "-c", code], cwd=tmp_path,
        stdout=subprocess.PIPE, env=environment(), text=True,
    ) as supervisor:  # fmt: skip
        try:
            assert supervisor.stdout is not None
            assert supervisor.stdout.readline() == "ready\n"
            guest = _children_of(supervisor.pid)
            assert len(guest) == 1
            statuses = []
            for task in os.listdir(f"/proc/{guest[0]}/task"):
                status = Path(f"/proc/{guest[0]}/task/{task}/status").read_text()
                fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
                statuses.append((fields["Seccomp"].strip(), fields["NoNewPrivs"].strip()))
        finally:
            supervisor.terminate()
    assert len(statuses) >= 3  # the main thread, the watchdog, the time limit's ender
    assert set(statuses) == {("2", "1")}


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


# -- the report -----------------------------------------------------------------------------


def test_the_report_on_stderr_says_what_was_applied(tmp_path: Path) -> None:
    done = launch("--sandbox", "--sandbox-report", "-c", "print('ran')", cwd=tmp_path)
    assert done.stdout == "ran\n"
    first = done.stderr.splitlines()[0]
    assert first.startswith("posixbackend: sandbox: applied: rlimits, capabilities,")
    assert "landlock" in first and "seccomp" in first
    options = ("--sandbox", "--time-limit=30", "--sandbox-report")
    done = launch(*options, "-c", "print('ran')", cwd=tmp_path)
    assert done.stderr.startswith("posixbackend: sandbox: applied: supervisor, rlimits,")


def test_the_json_report_lists_the_policy(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = launch(
        "--sandbox", "--allow-host-sockets=127.0.0.1:8080", f"--sandbox-report={report}",
        "-c", "pass", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""
    data = json.loads(report.read_text())
    assert data["confined"] is True and "seccomp" in data["applied"]
    policy = data["policy"]
    assert (policy["sockets"], policy["tcp_ports"], policy["processes"]) == (
        "internet", [8080], False,
    )  # fmt: skip
    assert policy["writable"] == [] and "/etc/hosts" in policy["readable"]
    assert not any(path.endswith("/.git") for path in policy["readable"])


def test_a_step_left_out_is_reported_with_why(tmp_path: Path) -> None:
    done = launch(
        "--sandbox", "--time-limit=30", "--sandbox-report", "-c", "pass", cwd=tmp_path,
        env={SKIP_VARIABLE: "supervisor,landlock"},
    )  # fmt: skip
    lines = done.stderr.splitlines()
    assert "posixbackend: sandbox: not applied: supervisor: left out" in done.stderr
    assert f"posixbackend: sandbox: not applied: landlock: left out ({SKIP_VARIABLE})" in lines


def test_an_unrestricted_run_is_reported_as_not_confined(tmp_path: Path) -> None:
    done = launch("--sandbox-report", "-c", "print('free')", cwd=tmp_path)
    assert done.stdout == "free\n"
    assert done.stderr == (
        "posixbackend: sandbox: not confined: no permission option restricts the program\n"
    )


def test_a_writable_host_directory_stays_writable(tmp_path: Path) -> None:
    jail = tmp_path / "jail"
    jail.mkdir()
    (tmp_path / "outside.txt").write_text("outside")
    code = """
import os
open("/inside.txt", "w").write("written")
os.chmod("/inside.txt", 0o600)
print(sorted(os.listdir("/")))
"""
    done = launch("--sandbox", f"--fs=host:{jail}", "-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (jail / "inside.txt").read_text() == "written"
    assert (jail / "inside.txt").stat().st_mode & 0o777 == 0o600


def test_python_children_of_a_sandboxed_program_start(tmp_path: Path) -> None:
    code = (
        "import subprocess, sys\n"
        "print(subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True,"
        " text=True).stdout, end='')\n"
    )
    done = launch("--sandbox", "--allow-create-process", "-c", code, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "42\n"), done.stderr


def test_a_script_reads_its_own_directory_only(tmp_path: Path, canary: tuple[Path, str]) -> None:
    path, secret = canary
    program = tmp_path / "program"
    program.mkdir()
    (program / "helper.py").write_text("VALUE = 'imported'\n")
    (program / "main.py").write_text(
        "import ctypes, helper\nprint(helper.VALUE)\n"
        f"print(ctypes.CDLL(None).open({str(path).encode()!r}, 0))\n"
    )
    done = launch(*NATIVE, str(program / "main.py"), cwd=tmp_path)
    assert done.stdout == "imported\n-1\n", done.stderr
    assert secret not in done.stdout


def test_the_interpreter_is_used_as_it_is(tmp_path: Path) -> None:
    """The confined program's interpreter works as usual: stdlib extension modules and
    their shared libraries, this library's packages imported late."""
    code = (
        "import decimal, hashlib, json, sqlite3, ssl, zlib, ctypes\n"
        "import posixbackend.conformance, vfs.adapters\n"
        "print(json.dumps([str(decimal.Decimal(1) / 8), hashlib.md5(b'').hexdigest()[:4]]))\n"
    )
    done = launch(*NATIVE, "-c", code, cwd=tmp_path)
    assert done.stdout == '["0.125", "d41d"]\n', done.stderr
    assert sys.executable  # the interpreter the launcher runs is this one


@pytest.mark.parametrize(
    ("argv", "launcher"),
    [
        (["python", "-m", "posixbackend", "-c", "x"], True),
        (["python", "-mposixbackend"], True),
        (["python", "-Im", "posixbackend"], True),
        (["python", "-X", "dev", "-W", "ignore", "-m", "posixbackend"], True),
        (["python", "-Xdev", "-m", "posixbackend.__main__"], True),
        (["python", "-c", "import posixbackend"], False),
        (["python", "-m", "pytest"], False),
        (["python", "script.py"], False),
        (["python"], False),
    ],
)
def test_start_up_knows_a_launchers_process(argv: list[str], launcher: bool) -> None:
    assert starts_the_launcher(argv) is launcher


def test_start_up_knows_the_console_scripts(tmp_path: Path) -> None:
    script = tmp_path / "posixbackend"
    script.write_text("from posixbackend.launcher import main\nmain()\n")
    other = tmp_path / "elsewhere" / "posixbackend"
    other.parent.mkdir()
    other.write_text("print('a program of the same name')\n")
    assert starts_the_launcher(["python", str(script), "--sandbox"])
    assert not starts_the_launcher(["python", str(other)])


def test_a_limit_from_the_environment_starts_after_the_confinement(tmp_path: Path) -> None:
    """A launcher given a time limit through POSIXBACKEND_OPTIONS (a child of another
    launcher) starts it only once confined: no thread escapes, and the limit still holds."""
    code = "import time\nprint('ready', flush=True)\ntime.sleep(30)"
    with subprocess.Popen(
        [*LAUNCHER, "--sandbox", "-c", code], cwd=tmp_path, stdout=subprocess.PIPE,
        env=environment({"POSIXBACKEND_OPTIONS": "--time-limit=1"}), text=True,
    ) as supervisor:  # fmt: skip
        assert supervisor.stdout is not None
        assert supervisor.stdout.readline() == "ready\n"
        (guest,) = _children_of(supervisor.pid)
        tasks = os.listdir(f"/proc/{guest}/task")
        statuses = {Path(f"/proc/{guest}/task/{task}/status").read_text() for task in tasks}
        supervisor.wait(timeout=30)
    assert len(tasks) >= 3
    assert all("Seccomp:\t2" in status and "NoNewPrivs:\t1" in status for status in statuses)
    assert supervisor.returncode == 124
