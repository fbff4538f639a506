"""The library's own modules, first imported inside a block, always come from the library.

``import posixbackend`` imports almost nothing (issue 20, item 4), so many of the library's
modules are imported first inside a managed block -- through the stand-ins, the virtual file
system's finder and the permissions in force. Each scenario runs in a fresh interpreter (the
modules must not be imported yet) and prints what it saw as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import posixbackend

PACKAGE = Path(posixbackend.__file__).parent
TIMEOUT = 60


def run(code: str, *launcher: str) -> Any:
    """Run ``code`` in a fresh interpreter (through the launcher with ``launcher`` options
    when given); the JSON of its last line."""
    program = textwrap.dedent(code)
    command = [sys.executable, "-m", "posixbackend", *launcher] if launcher else [sys.executable]
    done = subprocess.run(
        [*command, "-c", program], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


PLANT = """
    import builtins, json, os, sys
    def plant(package_dir, relative):
        # the guest's own file at the path of a library module not imported yet
        path = os.path.join(package_dir, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as file:
            file.write("import builtins\\nbuiltins.GUEST_RAN = True\\n")
"""


def test_a_guest_file_at_a_library_modules_path_is_never_imported() -> None:
    # Before the fix the virtual file system's finder served names of the library's own
    # packages when the library is not below site-packages (an editable install, a source
    # tree): the guest's file ran as library code, trusted by the permission layer.
    seen = run(
        PLANT
        + f"""
    import posixbackend
    from posixbackend import backend
    from vfs import MemoryFileSystem
    assert "posixbackend.isolation" not in sys.modules
    with backend("managed", file_system=MemoryFileSystem()):
        plant({str(PACKAGE)!r}, "isolation/__init__.py")
        plant({str(PACKAGE)!r}, "conformance/__init__.py")
        plant({str(PACKAGE.parent / "compat")!r}, "docs.py")
        run_isolated = posixbackend.run_isolated
        import posixbackend.conformance
        import compat.docs
    print(json.dumps({{
        "guest_ran": getattr(builtins, "GUEST_RAN", False),
        "files": [sys.modules[name].__file__ for name in
                  ("posixbackend.isolation", "posixbackend.conformance", "compat.docs")],
        "run_isolated": run_isolated.__module__,
    }}))
    """
    )
    assert seen["guest_ran"] is False
    assert seen["files"] == [
        str(PACKAGE / "isolation" / "__init__.py"),
        str(PACKAGE / "conformance" / "__init__.py"),
        str(PACKAGE.parent / "compat" / "docs.py"),
    ]
    assert seen["run_isolated"].startswith("posixbackend.isolation")


SEEDED = """
import json, sys, types
MARKER = {marker!r}

def plant_marker(*args):
    import posix
    posix.close(posix.open(MARKER, posix.O_CREAT | posix.O_WRONLY))

def seed(name, **names):
    # the guest's module where the library's lazily imported one would be
    assert name not in sys.modules
    seeded = types.ModuleType(name)
    for attribute, value in names.items():
        setattr(seeded, attribute, type(attribute, (), {{"__init__": plant_marker}}))
    sys.modules[name] = seeded

import posixbackend
{trigger}
print(json.dumps(outcome), file=sys.__stdout__)
"""

TRIGGERS = {
    "the isolated mode's result": """
seed("posixbackend.isolation.result", IsolatedResult=None)
try:
    posixbackend.IsolatedResult()
    outcome = "ran"
except OSError as error:
    outcome = "refused: " + type(error).__name__
""",
    "the virtual modules' resource reader": """
import importlib.resources, os
seed("posixbackend.imports._resources", VirtualReader=None, ZipReader=None)
os.makedirs("/tmp/code/vpkg")  # a package of the virtual file system
open("/tmp/code/vpkg/__init__.py", "w").close()
sys.path.insert(0, "/tmp/code")
try:
    importlib.resources.files("vpkg")
    outcome = "ran"
except OSError as error:
    outcome = "refused: " + type(error).__name__
""",
}


@pytest.mark.parametrize("mode", ["--sandbox", "in-process sandbox"])
@pytest.mark.parametrize("lazy", sorted(TRIGGERS))
def test_a_module_seeded_in_sys_modules_runs_with_the_guests_rights_only(
    mode: str, lazy: str, tmp_path: Path
) -> None:
    # A lazy import finds what sys.modules holds: a guest can seed a name the library
    # imports on first use, as it can replace any attribute of a module already imported.
    # What it seeds runs as the guest's code, with the guest's rights: judged on the host.
    marker = tmp_path / "seeded-ran"
    guest = SEEDED.format(marker=str(marker), trigger=TRIGGERS[lazy])
    if mode == "--sandbox":
        outcome = run(guest, "--sandbox")
    else:
        outcome = run(
            f"""
    import textwrap
    from posixbackend import Permissions, backend
    with backend("managed", permissions=Permissions.sandbox()):
        exec(textwrap.dedent({guest!r}))
    """
        )
    assert outcome.startswith("refused: "), outcome
    assert not marker.exists()


STDLIB_ON_FIRST_USE = """
import io, json, sqlite3, sys
sys.path[:0] = {path!r}
from posixbackend import Permissions, backend
import vfs
before = sorted(name for name in ("decimal",) if name in sys.modules)
seen = {{}}
archive = io.BytesIO()
vfs.save_snapshot(vfs.MemoryFileSystem(), archive)
with backend("managed", permissions=Permissions()):
    # decimal: the archive's times, first used here (the connect's URI needs no module)
    memory = sqlite3.connect("file::memory:", uri=True)
    seen["memory"] = memory.execute("select 1").fetchone()[0]
    memory.close()
    try:
        sqlite3.connect("file:/denied.db", uri=True)
    except PermissionError as error:
        seen["file"] = str(error)
    archive.seek(0)
    seen["loaded"] = type(vfs.load_snapshot(archive)).__name__
after = sorted(name for name in ("decimal", "urllib.parse") if name in sys.modules)
print(json.dumps([before, seen, after]))
"""


def test_stdlib_modules_the_library_imports_on_first_use_load_inside_a_block() -> None:
    # a pool's zygote leaves them out (each fork copies what it holds): their first import
    # comes inside a block that grants nothing, from the interpreter's own library
    program = STDLIB_ON_FIRST_USE.format(path=[str(PACKAGE.parent), *sys.path[1:]])
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", program],
        capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    before, seen, after = json.loads(done.stdout.splitlines()[-1])
    assert before == []
    assert seen == {
        "memory": 1,
        "file": "[Errno 13] os.open is not permitted: grant allow_io: 'file:/denied.db'",
        "loaded": "MemoryFileSystem",
    }
    assert after == ["decimal"]
