"""Running python and the launcher as child processes, and the backend modes compared.

Every test of this directory starts real processes: ``python ...`` is the reference, and
``python -m posixbackend [MODE OPTIONS] ...`` must behave the same where the issue says "like
python". The environment is scrubbed of a backend choice of its own (POSIXBACKEND_OPTIONS), so
what a test sees comes from the command line it gives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from posixbackend.launcher import ENVIRONMENT_VARIABLE

PYTHON = sys.executable
BIN = Path(sys.executable).parent
LAUNCHER = (PYTHON, "-m", "posixbackend")
TIMEOUT = 60


@attrs.frozen
class Mode:
    """A backend configuration of the launcher: its name and command-line options."""

    name: str
    options: tuple[str, ...]

    @property
    def java(self) -> bool:
        """Whether this mode runs on the emulated ("java") backend."""
        return "--posix-backend=java" in self.options


NATIVE = Mode("native", ())
JAVA_HOST = Mode("java-host", ("--posix-backend=java",))
JAVA_MEMORY = Mode("java-memory", ("--posix-backend=java", "--fs=memory"))
MODES = (NATIVE, JAVA_HOST, JAVA_MEMORY)
"""The matrix the "like python" tests run: native, and java on the host and in memory."""


@attrs.frozen
class Outcome:
    """What a finished process showed: exit status, stdout and stderr."""

    returncode: int
    stdout: str
    stderr: str


def printed_json(done: Outcome) -> Any:
    """The JSON a program printed as its last line (the run must have succeeded)."""
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def environment(
    extra: Mapping[str, str] | None = None, unset: Sequence[str] = ()
) -> dict[str, str]:
    """This process's environment without a backend choice, no bytecode writing, plus ``extra``
    and without the variables ``unset`` names."""
    env = {name: value for name, value in os.environ.items() if name != ENVIRONMENT_VARIABLE}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    for name in unset:
        env.pop(name, None)
    return env


def run(
    command: Sequence[str],
    cwd: Path,
    *,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    umask: int = -1,
    pass_fds: Sequence[int] = (),
    unset: Sequence[str] = (),
    merged: bool = False,
) -> Outcome:
    """Run ``command`` in ``cwd`` to its end (stdin: ``stdin``, or empty; ``merged``: stderr
    goes to the same pipe as stdout, whose order then shows in ``stdout``)."""
    done = subprocess.run(
        list(command), cwd=cwd, input=stdin or "", stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merged else subprocess.PIPE, text=True,
        env=environment(env, unset), timeout=TIMEOUT, umask=umask, check=False,
        pass_fds=pass_fds,
    )  # fmt: skip
    return Outcome(done.returncode, done.stdout, done.stderr or "")


def python(*args: str, cwd: Path, stdin: str | None = None, umask: int = -1) -> Outcome:
    """Plain ``python ARGS``: the reference."""
    return run([PYTHON, *args], cwd, stdin=stdin, umask=umask)


def launch(
    *args: str,
    cwd: Path,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    umask: int = -1,
    pass_fds: Sequence[int] = (),
) -> Outcome:
    """``python -m posixbackend ARGS``."""
    return run([*LAUNCHER, *args], cwd, stdin=stdin, env=env, umask=umask, pass_fds=pass_fds)


def console_script(name: str) -> str:
    """The path of an installed console script (next to the interpreter)."""
    path = BIN / name
    assert path.is_file(), f"the console script {name} is not installed next to {PYTHON}"
    return str(path)


def write(directory: Path, files: Mapping[str, str]) -> None:
    """Create ``files`` (relative path -> text) below ``directory``."""
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def snapshot(directory: Path) -> dict[str, tuple[str, int, int, bytes]]:
    """Every entry below ``directory``: kind, mode, mtime and content (of files), to show that
    a run left the disk unchanged."""
    entries: dict[str, tuple[str, int, int, bytes]] = {}
    for path in sorted(directory.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            entries[str(path)] = ("link", st.st_mode, 0, os.readlink(path).encode())
        elif path.is_dir():
            entries[str(path)] = ("dir", st.st_mode, st.st_mtime_ns, b"")
        else:
            entries[str(path)] = ("file", st.st_mode, st.st_mtime_ns, path.read_bytes())
    return entries
