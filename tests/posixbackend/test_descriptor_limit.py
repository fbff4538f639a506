"""With every descriptor in use, open fails with EMFILE before it creates or truncates the
file, as Linux does (it reserves the descriptor first); compared with a native run whose
RLIMIT_NOFILE is lowered in a child process (the test process's own limit stays as it is)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from posixbackend import EmulatedBackend
from vfs import MemoryFileSystem

LIMIT = 32

SCENARIO = """\
import errno, json, os

def scenario(os, directory):
    held = []
    while True:
        try:
            held.append(os.open(directory + "/existing", os.O_RDONLY))
        except OSError as error:
            assert error.errno == errno.EMFILE
            break
    seen = {}
    for name, flags in (("new", os.O_CREAT | os.O_WRONLY),
                        ("existing", os.O_WRONLY | os.O_TRUNC),
                        ("exclusive", os.O_CREAT | os.O_EXCL | os.O_RDWR)):
        path = directory + "/" + name
        try:
            os.open(path, flags, 0o644)
            seen[name] = "opened"
        except OSError as error:
            seen[name] = [type(error).__name__, error.errno, error.strerror,
                          error.filename == path]
        seen[name + " exists"] = os.path.exists(path)
    seen["existing size"] = os.stat(directory + "/existing").st_size
    os.close(held.pop())
    fd = os.open(directory + "/new", os.O_CREAT | os.O_WRONLY, 0o644)
    seen["after a close"] = os.path.exists(directory + "/new")
    os.close(fd)
    for fd in held:
        os.close(fd)
    return seen
"""


def native(directory: Path) -> Any:
    program = SCENARIO + (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({LIMIT}, {LIMIT}))\n"
        "print(json.dumps(scenario(os, sys.argv[1])))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, str(directory)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(done.stdout)


class _Os:
    """The scenario's ``os``: the emulated backend, with os.path over it."""

    def __init__(self, backend: EmulatedBackend) -> None:
        self._backend = backend
        self.O_RDONLY, self.O_WRONLY, self.O_RDWR = os.O_RDONLY, os.O_WRONLY, os.O_RDWR
        self.O_CREAT, self.O_EXCL, self.O_TRUNC = os.O_CREAT, os.O_EXCL, os.O_TRUNC
        self.path = self

    def exists(self, path: str) -> bool:
        try:
            self._backend.stat(path)
        except FileNotFoundError:
            return False
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def emulated() -> Any:
    backend = EmulatedBackend(MemoryFileSystem(), standard_streams=False)
    backend._table.limit = LIMIT  # RLIMIT_NOFILE, for this backend
    backend.mkdir("/d")
    fd = backend.open("/d/existing", os.O_CREAT | os.O_WRONLY, 0o644)
    backend.write(fd, b"keep me")
    backend.close(fd)
    namespace: dict[str, Any] = {}
    exec(SCENARIO, namespace)
    return namespace["scenario"](_Os(backend), "/d")


def test_emfile_leaves_the_file_system_unchanged(tmp_path: Path) -> None:
    (tmp_path / "existing").write_bytes(b"keep me")
    expected = native(tmp_path)
    assert expected["new"][:2] == ["OSError", 24]
    assert expected["new exists"] is False
    assert emulated() == expected
