"""``--sandbox`` and the ``--allow-*`` options: the launcher's program runs under Permissions.

A probe program tries one thing of each permission and prints what happened; each run is
compared with the same probe run by the launcher without permission options (everything
works there), so a denial seen here is the option's doing. Child Python processes get the
same permissions through POSIXBACKEND_OPTIONS, whatever environment the program gives them.
"""

from __future__ import annotations

import json
import shlex
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend.launcher.grants import PermissionOptions
from posixbackend.launcher.options import (
    BackendOptions,
    FsKind,
    UsageError,
    options_from_environment,
    parse_command,
)
from posixbackend.switch.names import PosixModuleBackend
from tests.launcher.running import PYTHON, Outcome, launch
from tests.servers import connections, listener

__all__ = ["listener"]  # the fixture, imported for the tests below

PROBE = """\
import json, os, socket, subprocess, sys, threading
from posixbackend import is_sandboxed

port, host_file, host_output = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def attempt(action):
    try:
        action()
    except OSError as error:
        return [type(error).__name__, error.errno, str(error)]
    return "ok"


def thread():
    started = threading.Thread(target=lambda: None)
    started.start()
    started.join()


def write():
    with open(host_output, "w") as stream:
        stream.write("written")


def native():
    import ctypes
    ctypes.CDLL(None)


print(json.dumps({
    "thread": attempt(thread),
    "process": attempt(lambda: subprocess.run([sys.executable, "-c", ""], check=True)),
    "read": attempt(lambda: open(host_file).read()),
    "write": attempt(write),
    "connect": attempt(lambda: socket.create_connection(("127.0.0.1", port), 5).close()),
    "resolve": attempt(lambda: socket.getaddrinfo("localhost", port)),
    "native": attempt(native),
    "environ": sorted(os.environ),
    "sandboxed": is_sandboxed(),
}))
"""

OPTIONS = "POSIXBACKEND_OPTIONS"


def probe(
    tmp_path: Path, listener: socket.socket, *options: str, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], Outcome]:
    """Run the probe with ``options``; what it printed, and the run's outcome."""
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    (tmp_path / "host.txt").write_text("on the host")
    port = listener.getsockname()[1]
    arguments = (str(port), str(tmp_path / "host.txt"), str(tmp_path / "output.txt"))
    done = launch(*options, str(script), *arguments, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1]), done


def denied(permission: str) -> list[Any]:
    """How the probe shows an operation the options refuse (its message's end)."""
    return ["PermissionError", 1, f"grant {permission}"]


def shape(result: Any) -> Any:
    """A probe result with a denial's message cut to the permission it names."""
    if isinstance(result, list) and result and result[0] == "PermissionError":
        return [result[0], result[1], "grant " + result[2].rpartition("grant ")[2]]
    return result


# -- the command line ----------------------------------------------------------------------


def test_without_permission_options_everything_works(
    tmp_path: Path, listener: socket.socket
) -> None:
    seen, _ = probe(tmp_path, listener, "--posix-backend=java")
    for action in ("thread", "process", "read", "write", "connect", "resolve", "native"):
        assert seen[action] == "ok", action
    assert seen["sandboxed"] is False
    assert connections(listener) == 1
    assert (tmp_path / "output.txt").read_text() == "written"


def test_sandbox_allows_its_memory_file_system_and_nothing_else(
    tmp_path: Path, listener: socket.socket
) -> None:
    seen, _ = probe(tmp_path, listener, "--sandbox")
    expected = {
        "thread": denied("allow_create_thread"),
        "process": denied("allow_create_process"),
        "connect": denied("allow_host_sockets"),
        "resolve": denied("allow_host_sockets"),
        "native": denied("allow_native_access"),
    }
    assert {action: shape(seen[action]) for action in expected} == expected
    # The memory file system: the host's file is not there, the write stays in memory.
    assert seen["read"][:2] == ["FileNotFoundError", 2]
    assert seen["write"] == "ok"
    assert not (tmp_path / "output.txt").exists()
    assert seen["environ"] == [OPTIONS]  # only what hands the options on to children
    assert seen["sandboxed"] is True
    assert connections(listener) == 0


@pytest.mark.parametrize(
    ("flag", "action"),
    [
        ("--allow-create-thread", "thread"),
        ("--allow-create-process", "process"),
        ("--allow-native-access", "native"),
        ("--allow-host-sockets=all", "connect"),
        ("--allow-host-sockets=all", "resolve"),
    ],
)
def test_each_allow_option_gives_one_thing_back_to_the_sandbox(
    tmp_path: Path, listener: socket.socket, flag: str, action: str
) -> None:
    seen, _ = probe(tmp_path, listener, "--sandbox", flag)
    assert seen[action] == "ok"
    others = {"thread", "process", "native", "connect", "resolve"} - {action}
    if flag == "--allow-host-sockets=all":
        others -= {"connect", "resolve"}
    for other in others:
        assert shape(seen[other])[0] == "PermissionError", other


def test_a_host_socket_allow_list(tmp_path: Path, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    seen, _ = probe(tmp_path, listener, "--sandbox", f"--allow-host-sockets=127.0.0.1:{port}")
    assert seen["connect"] == "ok"
    assert shape(seen["resolve"]) == denied("allow_host_sockets")  # localhost is not listed
    assert connections(listener) == 1
    seen, _ = probe(tmp_path, listener, "--sandbox", f"--allow-host-sockets=127.0.0.1:{port + 1}")
    assert shape(seen["connect"]) == denied("allow_host_sockets")
    assert connections(listener) == 0


@pytest.mark.parametrize("backend", ["native", "java"])
def test_allow_io_none_runs_the_script_but_refuses_its_file_access(
    tmp_path: Path, listener: socket.socket, backend: str
) -> None:
    seen, _ = probe(tmp_path, listener, f"--posix-backend={backend}", "--allow-io=none")
    assert seen["read"] == [
        "PermissionError", 13, f"[Errno 13] open is not permitted: grant allow_io: "
        f"'{tmp_path / 'host.txt'}'",
    ]  # fmt: skip
    assert shape(seen["write"]) == ["PermissionError", 13, "grant allow_io: "
                                    f"'{tmp_path / 'output.txt'}'"]  # fmt: skip
    assert not (tmp_path / "output.txt").exists()
    for action in ("thread", "process", "connect", "resolve", "native"):
        assert seen[action] == "ok", action  # without --sandbox, the rest is allowed
    assert seen["sandboxed"] is True


def test_allow_io_fs_serves_the_backend_file_system(
    tmp_path: Path, listener: socket.socket
) -> None:
    seen, _ = probe(tmp_path, listener, "--posix-backend=java", "--fs=host", "--allow-io=fs")
    assert seen["read"] == "ok"
    assert seen["write"] == "ok"
    assert (tmp_path / "output.txt").read_text() == "written"


@pytest.mark.parametrize("flag", ["--allow-create-process=false", "--processes=none"])
def test_denying_processes_alone(tmp_path: Path, listener: socket.socket, flag: str) -> None:
    seen, _ = probe(tmp_path, listener, "--posix-backend=java", "--allow-create-thread=true", flag)
    assert seen["process"][:2] == ["PermissionError", 1]
    assert seen["thread"] == "ok"
    if flag == "--allow-create-process=false":
        assert shape(seen["process"]) == denied("allow_create_process")


@pytest.mark.parametrize("backend", ["native", "java"])
def test_the_environment_grant(tmp_path: Path, listener: socket.socket, backend: str) -> None:
    env = {"PROBE_KEPT": "kept value", "PROBE_HIDDEN": "hidden"}
    options = (f"--posix-backend={backend}", "--allow-environment-access=PROBE_KEPT,PROBE_SET=1")
    seen, _ = probe(tmp_path, listener, *options, env=env)
    assert seen["environ"] == [OPTIONS, "PROBE_KEPT", "PROBE_SET"]
    seen, _ = probe(tmp_path, listener, f"--posix-backend={backend}",
                    "--allow-environment-access=none", env=env)  # fmt: skip
    assert seen["environ"] == [OPTIONS]
    seen, _ = probe(tmp_path, listener, f"--posix-backend={backend}",
                    "--allow-environment-access=inherit", env=env)  # fmt: skip
    assert {"PROBE_KEPT", "PROBE_HIDDEN"} <= set(seen["environ"])


def test_an_uncaught_denial_is_a_python_error(tmp_path: Path) -> None:
    done = launch("--sandbox", "-c", "import os; os.fork()", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "PermissionError: [Errno 1] os.fork is not permitted: grant allow_create_process"
    )


CHILD = """\
import os, threading
try:
    threading.Thread(target=print).start()
    print("thread started")
except PermissionError as error:
    print(error)
print(os.environ.get("POSIXBACKEND_OPTIONS"))
"""


@pytest.mark.parametrize(
    "child_env",
    [None, {}, {OPTIONS: "--posix-backend=native"}],
    ids=["inherited", "emptied", "replaced"],
)
def test_child_pythons_run_under_the_same_permissions(
    tmp_path: Path, child_env: dict[str, str] | None
) -> None:
    """(The child's program is given with -c: the kernel lets a sandboxed program's children
    read no more host files than the program, and the test's directory is not one.)"""
    code = (
        "import subprocess, sys\n"
        f"done = subprocess.run([sys.executable, '-c', {CHILD!r}], env={child_env!r},\n"
        "                      capture_output=True, text=True)\n"
        "print(done.stdout, end='')\n"
        "print(done.stderr, end='', file=sys.stderr)\n"
    )
    done = launch("--sandbox", "--allow-create-process", "-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "[Errno 1] threading.Thread.start is not permitted: grant allow_create_thread"
    )
    words = shlex.split(lines[1])  # the program's file system, served (pinned: whatever env)
    assert [word for word in words if not word.startswith("--cwd=/")] == [
        "--posix-backend=java", "--fs=inherit:3", "--sandbox", "--allow-create-process=true",
    ]  # fmt: skip
    assert len(words) == 5


def test_a_child_started_with_permissions_by_hand(tmp_path: Path) -> None:
    """Python started with POSIXBACKEND_OPTIONS naming --sandbox, outside any launcher:
    start-up activates the session once (site may read the .pth file twice)."""
    from tests.launcher.running import run

    child = tmp_path / "child.py"
    child.write_text(CHILD)
    done = run([PYTHON, str(child)], tmp_path, env={OPTIONS: "--sandbox"})
    assert done.stderr == ""
    assert done.stdout.splitlines()[0].endswith("grant allow_create_thread")


# -- parsing -------------------------------------------------------------------------------


def options_of(*arguments: str) -> BackendOptions:
    return parse_command([*arguments, "-c", ""]).options


def test_sandbox_chooses_the_emulated_backend_in_memory() -> None:
    options = options_of("--sandbox")
    assert options.backend is PosixModuleBackend.JAVA
    assert options.file_system.kind is FsKind.MEMORY
    assert options_of("--sandbox", "--fs=host").file_system.kind is FsKind.HOST
    assert options_of("--posix-backend=managed", "--sandbox").backend.emulated


def test_a_bare_flag_does_not_take_the_next_word() -> None:
    command = parse_command(["--allow-create-thread", "script.py", "arg"])
    assert command.options.grants.create_thread is True
    assert command.target.value == "script.py"
    assert command.target.args == ("arg",)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--posix-backend=native", "--sandbox"], "--sandbox: only for the emulated backend"),
        (["--allow-io=fs"], "--allow-io=fs: only for the emulated backend"),
        (["--allow-io=some"], "--allow-io: expected all, none or fs, not 'some'"),
        (["--allow-create-thread=maybe"], "--allow-create-thread: expected true or false"),
        (["--sandbox=yes"], "--sandbox takes no value"),
        (["--allow-host-sockets=localhost"], "--allow-host-sockets: expected all, none or"),
        (["--allow-environment-access=,"], "--allow-environment-access: expected inherit"),
        (["--posix-backend=java", "--processes=none", "--allow-create-process"],
         "--allow-create-process contradicts --processes=none"),
    ],
)  # fmt: skip
def test_bad_permission_options(arguments: list[str], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        options_of(*arguments)
    assert str(raised.value).startswith(message)


booleans = st.none() | st.booleans()
grants = st.builds(
    PermissionOptions,
    sandbox=st.booleans(),
    io=st.none() | st.sampled_from(["all", "none", "fs"]),
    create_process=booleans,
    create_thread=booleans,
    native_access=booleans,
    environment=st.none() | st.sampled_from(["inherit", "none", "HOME", "A=1,B"]),
    host_sockets=st.none() | st.sampled_from(["all", "none", "127.0.0.1:80,*.example:4*"]),
)


@given(grants)
def test_permission_options_reach_children_unchanged(given_grants: PermissionOptions) -> None:
    options = BackendOptions(backend=PosixModuleBackend.JAVA, grants=given_grants)
    handed = options_from_environment(options.environment_value())
    assert handed.grants == given_grants
    if given_grants.sandbox:
        assert handed.file_system.kind is FsKind.MEMORY


def test_help_names_the_permission_options(tmp_path: Path) -> None:
    done = launch("--help", cwd=tmp_path)
    for flag in ("--sandbox", "--allow-io=GRANT", "--allow-create-process[=BOOL]",
                 "--allow-create-thread[=BOOL]", "--allow-native-access[=BOOL]",
                 "--allow-environment-access=GRANT", "--allow-host-sockets=GRANT"):  # fmt: skip
        assert flag in done.stdout
