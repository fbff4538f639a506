"""Paths whose directory part is missing, through the real names: os.stat, os.path.exists,
os.mkdir, os.makedirs and open(..., 'x'/'w') inside a managed block on a memory file system
fail or succeed as they do natively (error class, errno, file name), whichever of the quick
resolution (plain lookups that find a name missing, in Python or in the C stat), the caches
or the general walk answers them."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from posixbackend import backend
from vfs import Identity, MemoryFileSystem

COMPONENTS = ["d", "e", "f", "missing", "new", ".", "", "x" * 256]
"""Names on the way: directories (d, d/e), a file (d/f), missing names, dots, an empty
component and one too long."""
paths = st.lists(st.sampled_from([*COMPONENTS, ".."]), min_size=1, max_size=5)
operations = st.lists(
    st.tuples(st.sampled_from(["stat", "exists", "mkdir", "makedirs", "create"]), paths),
    min_size=1,
    max_size=12,
)


def within(parts: list[str]) -> bool:
    """Whether ``..`` never climbs above the top (whose parent differs between the sides)."""
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else part not in (".", "")
        if depth < 0:
            return False
    return True


def build(top: str) -> None:
    os.makedirs(f"{top}/d/e", exist_ok=True)
    os.chmod(top, 0o755)  # (mkdtemp's is 0o700)
    with open(f"{top}/d/f", "w") as file:
        file.write("f")


def call(name: str, path: str) -> Any:
    """One operation through the real names (looked up as called: the block's stand-ins)."""
    if name == "stat":
        return os.stat(path)
    if name == "exists":
        return os.path.exists(path)
    if name == "mkdir":
        return os.mkdir(path)
    if name == "makedirs":
        return os.makedirs(path, exist_ok=True)
    with open(path, "w") as file:
        return file.write("new")


def outcome(name: str, path: str, top: str) -> Any:
    """What a call did, with the top directory left out of file names."""
    try:
        result = call(name, path)
    except OSError as error:
        filename = error.filename
        return (type(error).__name__, error.errno, filename[len(top) :] if filename else None)
    if isinstance(result, os.stat_result):
        return ("ok", result.st_mode, result.st_size)
    return ("ok", result)


def run(top: str, program: list[tuple[str, list[str]]]) -> list[Any]:
    return [
        (name, parts, outcome(name, top + "/" + "/".join(parts), top)) for name, parts in program
    ]


@given(operations)
def test_missing_directories_fail_as_natively(program: list[tuple[str, list[str]]]) -> None:
    program = [(name, parts) for name, parts in program if within(parts)]
    native_top = tempfile.mkdtemp()
    try:
        build(native_top)
        native = run(native_top, program)
    finally:
        shutil.rmtree(native_top)
    with backend("managed", file_system=MemoryFileSystem(identity=Identity.root())):
        build("/top")
        managed = run("/top", program)
    assert managed == native
