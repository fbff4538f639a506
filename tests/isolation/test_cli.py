"""``python -m posixbackend --isolate``: output written through, the guest's status, a clear
line and status 125 (124 for --time-limit) when a limit ended it, and files written out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from posixbackend.isolation.cli import IsolatedCommand, parse_isolated
from posixbackend.isolation.limits import Limits
from posixbackend.launcher.options import UsageError

LAUNCHER = (sys.executable, "-m", "posixbackend")


def launch(*arguments: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {name: value for name, value in os.environ.items() if name != "POSIXBACKEND_OPTIONS"}
    return subprocess.run(
        [*LAUNCHER, *arguments], input=stdin, capture_output=True, env=env, timeout=60,
        check=False,
    )  # fmt: skip


def test_output_and_status_come_through() -> None:
    done = launch(
        "--isolate", "-c", "import sys; print(sys.argv); print('err', file=sys.stderr); "
        "sys.exit(4)", "a", "--isolate",
    )  # fmt: skip
    assert done.returncode == 4
    assert (done.stdout, done.stderr) == (b"['-c', 'a', '--isolate']\n", b"err\n")


def test_a_script_runs_with_its_arguments_and_standard_input(tmp_path: Path) -> None:
    script = tmp_path / "upper.py"
    script.write_text("import sys\nprint(sys.stdin.read().upper(), sys.argv[1:])\n")
    done = launch("--isolate", str(script), "x", stdin=b"quiet\n")
    assert (done.returncode, done.stdout) == (0, b"QUIET\n ['x']\n")


def test_a_limit_prints_one_line_and_exits_125() -> None:
    done = launch("--isolate", "--isolate-limit", "memory=200M", "-c", "x = bytes(1 << 34)")
    assert done.returncode == 125
    lines = done.stderr.decode().splitlines()
    assert lines[-2:] == [
        "MemoryError",
        "posixbackend: isolated program stopped: memory limit (200 MiB) exceeded "
        "(as the program reports)",
    ]


def test_time_limit_exits_124_as_the_launchers_own() -> None:
    done = launch("--time-limit=0.5", "--isolate", "-c", "import time; time.sleep(30)")
    assert done.returncode == 124
    assert done.stderr.decode().splitlines()[-1] == "posixbackend: time limit of 0.5 s exceeded"


def test_snapshot_out_writes_the_guests_files_below_the_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = "import os; os.makedirs('/tmp/a/b'); open('/tmp/a/b/f.txt', 'w').write('data')"
    done = launch("--isolate", f"--snapshot-out={out}", "-c", code)
    assert done.returncode == 0, done.stderr
    assert (out / "tmp/a/b/f.txt").read_text() == "data"
    assert sorted(str(path.relative_to(out)) for path in out.rglob("*")) == [
        "tmp", "tmp/a", "tmp/a/b", "tmp/a/b/f.txt",
    ]  # fmt: skip


def test_help_describes_the_isolated_mode() -> None:
    done = launch("--isolate", "--help")
    assert done.returncode == 0
    assert b"--isolate-limit SPEC" in done.stdout and b"status 125" in done.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--isolate", "--fs=memory", "-c", "1"), "--fs: not an option of --isolate"),
        (("--isolate",), "needs a program"),
        (("--isolate", "--isolate-limit", "speed=2", "-c", "1"), "--isolate-limit: expected"),
        (("--isolate", "--time-limit=never", "-c", "1"), "--time-limit: expected"),
        (("--isolate", "-c"), "Argument expected for the -c option"),
    ],
)
def test_usage_errors_exit_2(arguments: tuple[str, ...], message: str) -> None:
    done = launch(*arguments)
    assert done.returncode == 2
    assert message in done.stderr.decode()


def test_a_missing_script_is_reported_as_python_does(tmp_path: Path) -> None:
    done = launch("--isolate", str(tmp_path / "missing.py"))
    assert done.returncode == 2
    assert done.stderr.decode().strip() == (
        f"posixbackend: can't open file '{tmp_path / 'missing.py'}': [Errno 2] No such file or "
        "directory"
    )


def test_isolate_after_the_program_is_the_programs_argument() -> None:
    assert parse_isolated(["-c", "1", "--isolate"]) is None
    assert parse_isolated(["script.py", "--isolate"]) is None


def test_options_combine() -> None:
    command = parse_isolated([
        "--isolate-limit=cpu=2", "--isolate", "--isolate-limit", "memory=1G", "--time-limit", "3",
        "--allow-create-thread", "--snapshot-out", "/o", "-cpass", "x",
    ])  # fmt: skip
    assert command == IsolatedCommand(
        "pass", ("x",), Limits(cpu_seconds=2, memory_bytes=1 << 30), 3.0, "/o",
        allow_create_thread=True,
    )  # fmt: skip
    assert command.permissions.allow_create_thread and command.permissions.time_limit == 3.0


def test_grants_take_the_launchers_true_false_spelling() -> None:
    command = parse_isolated(["--isolate", "--allow-native-access=true",
                              "--allow-create-thread=false", "-cpass"])  # fmt: skip
    assert command is not None
    assert command.allow_native_access and not command.allow_create_thread
    with pytest.raises(UsageError, match="--allow-native-access: expected true or false"):
        parse_isolated(["--isolate", "--allow-native-access=perhaps", "-cpass"])


def test_a_missing_option_value_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="Argument expected for the --snapshot-out option"):
        parse_isolated(["--isolate", "--snapshot-out"])
