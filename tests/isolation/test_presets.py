"""run_isolated with each Permissions preset as a user writes it: the sandbox's memory files
go in, none/default give no file access, all() runs without what a confined child can never
have (processes, host sockets) and says so, and a provider whose files cannot be sent is a
clear ValueError."""

from __future__ import annotations

import posix
import textwrap
from pathlib import Path

import pytest

import compat
from posixbackend.isolation import run_isolated
from posixbackend.permissions.policy import Permissions
from tests.isolation.helpers import printed
from vfs import FileSystem, HostFileSystem

PROCESSES_NOTE = (
    "allow_create_process is not granted in isolated mode: the child can start no process "
    "(gap isolation.no_processes)"
)
SOCKETS_NOTE = (
    "allow_host_sockets is not granted in isolated mode: the child has no network "
    "(gap isolation.no_sockets)"
)


def write(fs: FileSystem, path: str, data: bytes) -> None:
    with fs.open(path, posix.O_WRONLY | posix.O_CREAT, 0o644) as handle:
        handle.pwrite(data, 0)


def test_the_sandbox_preset_gives_the_guest_its_memory_files() -> None:
    permissions = Permissions.sandbox()
    assert isinstance(permissions.allow_io, FileSystem)
    write(permissions.allow_io, "/tmp/given.txt", b"given")
    code = "print(open('/tmp/given.txt').read()); open('/tmp/out.txt', 'w').write('made')"
    before = compat.report().get("isolation.provided_copy")
    result = run_isolated(code, permissions, files={"/tmp/extra": "x"})
    after = compat.report().get("isolation.provided_copy")
    assert after is not None and after.count == (before.count if before else 0) + 1
    assert result.ok, result.stderr
    assert printed(result) == ["given"]
    assert result.files == {"/tmp/given.txt": b"given", "/tmp/out.txt": b"made", "/tmp/extra": b"x"}
    assert result.notes == ()
    with permissions.allow_io.open("/tmp/given.txt", posix.O_RDONLY) as handle:
        assert handle.pread(100, 0) == b"given"  # a copy went in: the provider is unchanged
    with pytest.raises(FileNotFoundError):
        permissions.allow_io.stat("/tmp/out.txt")


def test_files_given_win_over_the_providers() -> None:
    permissions = Permissions.sandbox()
    assert isinstance(permissions.allow_io, FileSystem)
    write(permissions.allow_io, "/tmp/f", b"provider's")
    result = run_isolated("print(open('/tmp/f').read())", permissions, files={"/tmp/f": "mine"})
    assert printed(result) == ["mine"]


@pytest.mark.parametrize("permissions", [Permissions.none(), Permissions()], ids=["none", "()"])
def test_no_file_access_is_none(permissions: Permissions) -> None:
    result = run_isolated("print('runs'); open('/tmp/x', 'w')", permissions)
    assert (printed(result), result.exception) == (["runs"], "PermissionError")
    assert b"grant allow_io" in result.stderr and result.notes == ()


def test_all_runs_without_processes_or_sockets_and_says_so() -> None:
    code = """\
        import os, socket, subprocess, threading
        for what, attempt in (("process", lambda: subprocess.run(["true"])),
                              ("socket", lambda: socket.create_connection(("127.0.0.1", 9)))):
            try:
                attempt()
            except OSError as error:
                print(what, "refused:", type(error).__name__)
        threading.Thread(target=print, args=("thread",)).start()
        print(dict(os.environ))
    """
    before = compat.report()
    result = run_isolated(textwrap.dedent(code), Permissions.all(), env={"A": "1"})
    assert result.ok, result.stderr
    assert printed(result) == [
        "process refused: PermissionError", "socket refused: PermissionError", "thread",
        "{'A': '1'}",
    ]  # fmt: skip
    assert result.notes == (PROCESSES_NOTE, SOCKETS_NOTE)
    after = compat.report()
    for gap in ("isolation.no_processes", "isolation.no_sockets"):
        entry, earlier = after.get(gap), before.get(gap)
        assert entry is not None and entry.count == (earlier.count if earlier else 0) + 1


@pytest.mark.parametrize(
    ("permissions", "notes"),
    [
        (Permissions(allow_io="all", allow_create_process=True), (PROCESSES_NOTE,)),
        (Permissions(allow_io="all", allow_host_sockets=["*:443"]), (SOCKETS_NOTE,)),
    ],
)
def test_a_custom_grant_follows_the_same_rule(
    permissions: Permissions, notes: tuple[str, ...]
) -> None:
    result = run_isolated("print('runs')", permissions)
    assert (printed(result), result.notes) == (["runs"], notes)


def test_a_host_file_system_grant_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="it shows host files, which the isolated child never"):
        run_isolated("pass", Permissions(allow_io=HostFileSystem(str(tmp_path))))
