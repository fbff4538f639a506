"""The launcher's own work that runs natively and unrestricted runs none of the program's code.

The directory children start in is removed at exit, and a child Python's file system is served
from a thread of the library's, both outside the program's permissions. A program that
replaces the standard library functions that work once looked up as it ran (``shutil.rmtree``,
``functools.partial``, ``contextvars.Context``) must not have its replacement run there. The
kernel's steps are left out (POSIXBACKEND_SANDBOX_SKIP), so that only the in-process layer
stands in the way; with them, the escape corpus shows Landlock holding as well.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from posixbackend.launcher.confinement import SKIP_VARIABLE
from tests.launcher.running import launch

OPTIONS = ("--sandbox", "--allow-create-process")
IN_PROCESS_ONLY = {SKIP_VARIABLE: "landlock,seccomp,supervisor"}
"""No kernel step and no supervisor: the in-process layer alone, and the launcher's own
clean-up at exit the only one."""

WRITE = "import posix\nposix.close(posix.open(MARKER, posix.O_CREAT | posix.O_WRONLY, 0o644))"
"""What a replacement does when it runs: write MARKER on the host (it does only natively)."""

REPLACED_FOR_THE_CLEAN_UP = {
    "shutil.rmtree": "import shutil\nshutil.rmtree = replaced",
    "shutil's internal walk": "import shutil\nshutil._rmtree_safe_fd = replaced\n"
    "shutil._rmtree_unsafe = replaced",
    "functools.partial": "import functools\nfunctools.partial = lambda *args, **kwargs: replaced",
    "os.scandir and os.rmdir": "os.scandir = os.rmdir = os.unlink = replaced",
}


def _program(marker: Path, *steps: str) -> str:
    return (
        f"import os, sys\nMARKER = {str(marker)!r}\n"
        f"def replaced(*args, **kwargs):\n{textwrap.indent(WRITE, '    ')}\n"
        + "\n".join(steps) + "\n"
    )


@pytest.mark.parametrize(
    "replace", REPLACED_FOR_THE_CLEAN_UP.values(), ids=REPLACED_FOR_THE_CLEAN_UP.keys()
)
def test_the_clean_up_at_exit_runs_none_of_the_programs_replacements(
    replace: str, tmp_path: Path
) -> None:
    marker = tmp_path / "escaped"
    scratch_base = tmp_path / "tmp"
    scratch_base.mkdir()
    start_a_child = (
        "import subprocess\nos.makedirs('/guest-only', exist_ok=True)\n"  # not on the host:
        "print(subprocess.run(['true'], cwd='/guest-only').returncode)"  # the child starts in
    )  # the launcher's scratch directory, removed at exit (after the replacement)
    done = launch(
        *OPTIONS, "-c", _program(marker, start_a_child, replace), cwd=tmp_path,
        env={**IN_PROCESS_ONLY, "TMPDIR": str(scratch_base)},
    )  # fmt: skip
    assert not marker.exists(), done
    assert done.returncode == 0 and done.stdout == "0\n", done
    assert list(scratch_base.iterdir()) == [], "the children's directory was not removed"


def test_a_served_child_runs_none_of_the_programs_replacements(tmp_path: Path) -> None:
    """contextvars.Context replaced: the fresh context the served file system's thread is
    started in is the real one (bound before the program ran)."""
    marker = tmp_path / "escaped"
    replace = (
        "import contextvars\nreal = contextvars.Context\n"
        "class Context:\n"
        "    def run(self, call, *args):\n"
        "        replaced()\n"
        "        return real().run(call, *args)\n"
        "contextvars.Context = Context"
    )
    child = "import subprocess\nsubprocess.run([sys.executable, '-c', 'print(\"child\")'])"
    done = launch(
        *OPTIONS, "-c", _program(marker, replace, child), cwd=tmp_path, env=IN_PROCESS_ONLY
    )
    assert not marker.exists(), done
    assert done.returncode == 0 and done.stdout == "child\n", done


def test_the_served_file_systems_thread_is_started_by_no_replacement(tmp_path: Path) -> None:
    """threading.Thread replaced: the server's thread is started by the real class (bound
    before the program ran), so the replacement never runs outside the permissions."""
    marker = tmp_path / "escaped"
    replace = (
        "import threading\n"
        "class Thread(threading.Thread):\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        replaced()\n"
        "        super().__init__(*args, **kwargs)\n"
        "threading.Thread = Thread"
    )
    child = "import subprocess\nsubprocess.run([sys.executable, '-c', 'print(\"child\")'])"
    done = launch(
        *OPTIONS, "-c", _program(marker, replace, child), cwd=tmp_path, env=IN_PROCESS_ONLY
    )
    assert not marker.exists(), done
    assert done.returncode == 0 and done.stdout == "child\n", done


def test_a_logging_handler_runs_under_the_programs_permissions_on_the_servers_thread(
    tmp_path: Path,
) -> None:
    """The server of a child's file system logs a broken frame from its own (unrestricted)
    thread; a handler the program added runs there, but under the program's permissions: it
    runs (it says so) and writes nothing on the host."""
    marker = tmp_path / "escaped"
    handler = (
        "import logging\n"
        "class Handler(logging.Handler):\n"
        "    def emit(self, record):\n"
        "        if 'remote file system' in record.getMessage():\n"
        "            print('handled', flush=True)\n"
        "            replaced()\n"
        "logging.getLogger().addHandler(Handler())"
    )
    breaker = (
        "from posixbackend.launcher import startup\nfrom vfs.remote import wire\n"
        "remote = startup._STARTED[0].layout.file_system\n"
        "wire.send_all(remote.connection.fd, b'\\xff\\xff\\xff\\xff' + b'x' * 64)\n"
    )
    child = (
        f"import subprocess, time\nsubprocess.run([sys.executable, '-c', {breaker!r}])\n"
        "time.sleep(0.3)"
    )
    done = launch(
        *OPTIONS, "-c", _program(marker, handler, child), cwd=tmp_path, env=IN_PROCESS_ONLY
    )
    assert not marker.exists(), done
    assert "handled" in done.stdout, done
