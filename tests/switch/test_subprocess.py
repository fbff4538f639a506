"""subprocess under a managed block: refused by the process policy, with nothing left open."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from posixbackend import backend
from vfs import Identity, MemoryFileSystem


def host_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize(
    "call",
    [
        lambda: subprocess.Popen(
            ["true"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ),
        lambda: subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=False),
        lambda: subprocess.check_output(["echo", "x"]),
        lambda: os.system("true"),
        lambda: os.popen("echo x").read(),
    ],
    ids=["Popen-pipes", "run", "check_output", "system", "popen"],
)
def test_starting_a_program_is_refused_and_leaves_no_descriptor(call: Callable[[], object]) -> None:
    before = host_fds()
    with backend("managed", file_system=MemoryFileSystem(identity=Identity.root())) as block:
        emulated = block.emulated
        assert emulated is not None
        table_before = set(emulated._table.files)
        with pytest.raises(PermissionError) as caught:
            call()
        assert set(emulated._table.files) == table_before, "pipes left open"
    assert "allow_create_process" in str(caught.value)
    assert host_fds() == before


def test_fork_and_exec_are_refused_naming_the_permission() -> None:
    with backend("managed", file_system=MemoryFileSystem(identity=Identity.root())):
        for call in (os.fork, lambda: os.execv("/bin/true", ["true"])):
            with pytest.raises(PermissionError, match="allow_create_process"):
                call()
