"""Child Python processes run on the backend their launcher chose (POSIXBACKEND_OPTIONS, read
by the installed posixbackend-startup.pth), unless processes are not allowed; a bad value stops
a python process with status 2 before its program runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from posixbackend.launcher import ENVIRONMENT_VARIABLE
from tests.launcher.running import (
    JAVA_HOST,
    JAVA_MEMORY,
    NATIVE,
    PYTHON,
    Mode,
    Outcome,
    launch,
    printed_json,
    run,
)

CHILD = (
    "import json, os, posixbackend; umask = os.umask(0o022); print(json.dumps("
    "[posixbackend.current().value, umask, os.environ.get('POSIXBACKEND_OPTIONS'), os.getcwd(),"
    " sorted(os.listdir())]))"
)

PARENT = f"""\
import json, os, subprocess, sys
if sys.argv[1:] == ["sub"]:
    os.mkdir("sub")
    os.chdir("sub")
open("parent-wrote", "w").close()
try:
    child = subprocess.run([sys.executable, "-c", {CHILD!r}], capture_output=True, text=True)
except OSError as error:
    print(json.dumps([type(error).__name__, error.errno, error.filename]))
    raise SystemExit(0)
print(child.stderr, end="", file=sys.stderr)
print(json.dumps([child.returncode, json.loads(child.stdout)]))
"""


@pytest.mark.parametrize("mode", [NATIVE, JAVA_HOST], ids=lambda mode: mode.name)
def test_child_runs_on_the_parents_backend(mode: Mode, tmp_path: Path) -> None:
    """Started with umask 0o077: a java child sees 0o022 (its own emulated backend), a native
    one the real 0o077; the child starts in the directory the parent moved to."""
    done = launch(*mode.options, "-c", PARENT, "sub", cwd=tmp_path, umask=0o077)
    name = "java" if mode.java else "native"
    assert printed_json(done) == [
        0, [name, 0o022 if mode.java else 0o077, f"--posix-backend={name}", f"{tmp_path}/sub",
            ["parent-wrote"]],
    ]  # fmt: skip


def test_memory_child_python_sees_the_parents_file_system(tmp_path: Path) -> None:
    """A child Python of a --fs=memory program is served the program's file system on an
    inherited socket: it sees what the parent wrote (which is not on disk), starts in the
    parent's directory."""
    done = launch(*JAVA_MEMORY.options, "-c", PARENT, cwd=tmp_path)
    inherited = f"--posix-backend=java --fs=inherit:3 --cwd={tmp_path}"
    assert printed_json(done) == [0, ["java", 0o022, inherited, str(tmp_path), ["parent-wrote"]]]
    assert list(tmp_path.iterdir()) == []


def test_memory_child_python_starts_in_a_memory_directory(tmp_path: Path) -> None:
    """A directory only the memory file system has is where the child Python starts (its
    host process runs in an empty directory of the launcher's, which it never sees)."""
    done = launch(*JAVA_MEMORY.options, "-c", PARENT, "sub", cwd=tmp_path)
    status, (name, umask, options, cwd, listing) = printed_json(done)
    assert (status, name, umask, cwd, listing) == (
        0, "java", 0o022, f"{tmp_path}/sub", ["parent-wrote"],
    )  # fmt: skip
    assert options == f"--posix-backend=java --fs=inherit:3 --cwd={tmp_path}/sub"
    assert not (tmp_path / "sub").exists()


OTHER_PROGRAM = """import os, subprocess
os.mkdir("sub")
os.chdir("sub")
open("parent-wrote", "w").close()
print(subprocess.run(["sh", "-c", "pwd; ls"], capture_output=True, text=True).stdout, end="")
"""


def test_other_child_of_a_memory_directory_runs_in_an_empty_host_directory(
    tmp_path: Path,
) -> None:
    """Gap launcher.children_on_host: a program that is not Python sees the host; a
    directory only the memory file system has is no host directory, so it runs in an empty
    one the launcher made, removed when it exits."""
    report = tmp_path / "report.json"
    done = launch(
        *JAVA_MEMORY.options, f"--compat-report={report}", "-c", OTHER_PROGRAM, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    cwd, *listing = done.stdout.splitlines()
    assert listing == []
    assert Path(cwd).name.startswith("posixbackend-children-") and cwd != str(tmp_path)
    assert not Path(cwd).exists(), "the launcher removes the directory at exit"
    assert not (tmp_path / "sub").exists()
    gaps = {gap["id"] for gap in json.loads(report.read_text())["gaps"]}
    assert "launcher.children_on_host" in gaps


def test_child_of_a_rooted_program_starts_in_the_same_guest_directory(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    done = launch("--posix-backend=java", f"--fs=host:{root}", "-c", PARENT, "sub", cwd=root)
    assert printed_json(done) == [
        0,
        ["java", 0o022, f"--posix-backend=java --fs=host:{root}", "/sub", ["parent-wrote"]],
    ]
    assert (root / "sub" / "parent-wrote").exists()


def test_processes_none_refuses_subprocess(tmp_path: Path) -> None:
    program = (
        "import subprocess, sys\n"
        "try:\n"
        "    subprocess.run([sys.executable, '-c', 'pass'])\n"
        "except PermissionError as error:\n"
        "    print(error.errno, error.strerror)\n"
    )
    done = launch("--posix-backend=java", "--processes=none", "-c", program, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # subprocess starts programs through fork_exec, or through posix_spawn where it may (3.13
    # does with close_fds=True): the refusal names the call it stopped.
    called = "os.posix_spawn" if "os.posix_spawn" in done.stdout else "subprocess.Popen"
    assert done.stdout == (
        f"1 {called} is not permitted: grant allow_create_process "
        "(give the backend a process handler)\n"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("--fs=memory", "--fs: only for the emulated backend (--posix-backend=java)"),
        ("--posix-backend=jvm", "--posix-backend: expected one of native, java, managed, "
         "emulated, not 'jvm'"),
        ("--posix-backend=java 'unclosed", "No closing quotation"),
        ("--posix-backend=java script.py", "backend options only, not 'script.py'"),
    ],
)  # fmt: skip
def test_bad_environment_stops_python(value: str, message: str, tmp_path: Path) -> None:
    done = run([PYTHON, "-c", "print('ran')"], tmp_path, env={ENVIRONMENT_VARIABLE: value})
    assert done == Outcome(2, "", f"posixbackend: bad {ENVIRONMENT_VARIABLE}: {message}\n")


@pytest.mark.parametrize(
    ("inherited", "options", "expected"),
    [
        ("--posix-backend=java --fs=memory", (), "native"),
        ("--posix-backend=java --fs=memory", ("--posix-backend=java",), "java"),
        ("--posix-backend=native", ("--posix-backend=java",), "java"),
    ],
)
def test_the_launchers_own_choice_wins(
    inherited: str, options: tuple[str, ...], expected: str, tmp_path: Path
) -> None:
    """A launcher started by a program of another backend (the variable set, so the .pth
    activated that backend first) runs its program on the backend its own command line names,
    on its file system (here the host: the file reaches the disk), and hands that on."""
    program = (
        "import json, os, posixbackend\nopen('written', 'w').close()\n"
        "print(json.dumps([posixbackend.current().value, os.environ['POSIXBACKEND_OPTIONS']]))"
    )
    done = launch(*options, "-c", program, cwd=tmp_path, env={ENVIRONMENT_VARIABLE: inherited})
    assert printed_json(done) == [expected, f"--posix-backend={expected}"]
    assert (tmp_path / "written").exists()


@pytest.mark.parametrize("mode", [JAVA_HOST, JAVA_MEMORY], ids=lambda mode: mode.name)
def test_descriptors_a_parent_passes_are_the_programs(mode: Mode, tmp_path: Path) -> None:
    """A java program (and so a java child given ``pass_fds``) can use the real descriptors
    it inherited, under their numbers, as a native one can."""
    program = (
        "import os, sys\n"
        "fd = int(sys.argv[1])\n"
        "os.write(fd, b'through an inherited descriptor')\n"
        "os.close(fd)\n"
        "try:\n"
        "    os.write(fd, b'again')\n"
        "except OSError as error:\n"
        "    print(error.errno)\n"
    )
    outcomes: list[tuple[int, str, bytes]] = []
    for options in (NATIVE.options, mode.options):
        target = tmp_path / f"written-{len(outcomes)}"
        with open(target, "wb") as handle:
            done = launch(*options, "-c", program, str(handle.fileno()), cwd=tmp_path,
                          pass_fds=(handle.fileno(),))  # fmt: skip
        outcomes.append((done.returncode, done.stdout, target.read_bytes()))
    assert outcomes[0] == outcomes[1] == (0, "9\n", b"through an inherited descriptor")
