"""Child Pythons of a --fs=memory or overlay program work on the program's own file system.

Differential: one program, run by plain python in a host directory and by the launcher on a
memory and an overlay file system, starts child Pythons (with -S and -I too, which start no
site) that compile, write, rename, import and fail on its files, runs ``compileall`` and a
script only its file system holds; every result must be python's, and neither emulated run
may leave anything on the disk.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from posixbackend.launcher import ENVIRONMENT_VARIABLE
from posixbackend.launcher.options import FsKind, FsSpec, UsageError, options_from_environment
from tests.launcher.running import JAVA_MEMORY, PYTHON, launch, printed_json, run

CHILD = """
import json, os, py_compile, sys
out = {"cwd": os.getcwd(), "listing": sorted(os.listdir("pkg"))}
out["pyc"] = os.path.relpath(py_compile.compile("pkg/mod.py", doraise=True))
with open("pkg/data.txt", "w") as f:
    f.write("from the child")
os.rename("pkg/data.txt", "pkg/renamed.txt")
errors = []
for call, args in (("rename", ("pkg/missing", "pkg/other")), ("mkdir", ("pkg",)),
                   ("rmdir", ("pkg",)), ("open", ("pkg/mod.py/x", os.O_RDONLY))):
    try:
        getattr(os, call)(*args)
    except OSError as e:
        errors.append([call, type(e).__name__, e.errno, e.strerror, e.filename, e.filename2])
out["errors"] = errors
sys.path.insert(0, "pkg")
import mod
out["imported"] = mod.VALUE
print(json.dumps(out))
"""

PROGRAM = f"""
import json, os, subprocess, sys
os.mkdir("pkg")
with open("pkg/mod.py", "w") as f:
    f.write("VALUE = 42\\n")
results = []
for flags in ([], ["-S"], ["-I"]):
    done = subprocess.run([sys.executable, *flags, "-c", {CHILD!r}], capture_output=True,
                          text=True)
    results.append([flags, done.returncode, done.stderr or json.loads(done.stdout)])
done = subprocess.run([sys.executable, "-S", "-m", "compileall", "-q", "-f", "pkg"],
                      capture_output=True, text=True)
results.append([done.returncode, done.stdout, done.stderr])
with open("script.py", "w") as f:
    f.write("import os, sys; print(sys.argv, os.path.basename(__file__))")
done = subprocess.run([sys.executable, "script.py", "one"], capture_output=True, text=True)
results.append([done.returncode, done.stdout, done.stderr])
results.append([sorted(os.listdir("pkg")), sorted(os.listdir("pkg/__pycache__")),
                open("pkg/renamed.txt").read()])
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Any:
    directory = tmp_path_factory.mktemp("native")
    return _relative(printed_json(run([PYTHON, "-c", PROGRAM], directory)), directory)


@pytest.mark.parametrize("fs", ["memory", "overlay"])
def test_child_pythons_share_the_programs_file_system(
    fs: str, native: Any, tmp_path: Path
) -> None:
    done = launch("--posix-backend=java", f"--fs={fs}", "-c", PROGRAM, cwd=tmp_path)
    assert _relative(printed_json(done), tmp_path) == native
    assert list(tmp_path.iterdir()) == [], "nothing reaches the disk"


def test_the_native_side_ran_every_child(native: Any) -> None:
    """The reference itself: every child ran and saw its parent's files."""
    *children, compiled, script, final = native
    later = ["__pycache__", "mod.py", "renamed.txt"]  # what the first child left
    for number, (flags, status, out) in enumerate(children):
        assert status == 0, (flags, out)
        assert out["listing"] == (later if number else ["mod.py"])
        assert out["imported"] == 42
        assert [error[:3] for error in out["errors"]] == [
            ["rename", "FileNotFoundError", 2], ["mkdir", "FileExistsError", 17],
            ["rmdir", "OSError", 39], ["open", "NotADirectoryError", 20],
        ]  # fmt: skip
    assert compiled == [0, "", ""]
    assert script == [0, "['script.py', 'one'] script.py\n", ""]
    pyc = f"mod.{sys.implementation.cache_tag}.pyc"
    assert final == [["__pycache__", "mod.py", "renamed.txt"], [pyc], "from the child"]


def _relative(value: Any, directory: Path) -> Any:
    """``value`` with the run's directory written as ``DIR`` (each run has its own)."""
    if isinstance(value, str):
        return value.replace(str(directory), "DIR")
    if isinstance(value, list):
        return [_relative(item, directory) for item in value]
    if isinstance(value, dict):
        return {key: _relative(item, directory) for key, item in value.items()}
    return value


GRANDCHILD = """
import os, subprocess, sys
os.makedirs("deep/er")
os.chdir("deep")
code = "import os; os.rename('er', 'renamed'); print(os.getcwd(), sorted(os.listdir()))"
done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
print(done.stdout, end="")
print(os.environ["POSIXBACKEND_OPTIONS"])
"""

CHAIN = f"""
import os, subprocess, sys
done = subprocess.run([sys.executable, "-S", "-c", {GRANDCHILD!r}], capture_output=True,
                      text=True)
print(done.stdout + done.stderr, end="")
print(sorted(os.listdir("deep")))
"""


def test_grandchildren_are_served_by_their_parent(tmp_path: Path) -> None:
    """A served child serves what it was served on: the grandchild's rename, in a directory
    the child made, reaches the program's file system."""
    done = launch(*JAVA_MEMORY.options, "-c", CHAIN, cwd=tmp_path)
    assert done.returncode == 0, done
    lines = done.stdout.splitlines()
    assert lines[0] == f"{tmp_path}/deep ['renamed']"
    assert lines[1] == f"--posix-backend=java --fs=inherit:3 --cwd={tmp_path}"
    assert lines[2] == "['renamed']"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "text", ["inherit", "inherit:", "inherit:2", "inherit:-4", "inherit:x", "inherit:٣"]
)
def test_inherit_needs_a_descriptor_above_2(text: str) -> None:
    with pytest.raises(UsageError, match="inherit:FD needs a descriptor above 2"):
        FsSpec.parse(text, "--fs")


def test_inherit_names_its_descriptor_and_the_parents_directory() -> None:
    spec = FsSpec.parse("inherit:7", "--fs")
    assert (spec.kind, spec.fd, str(spec)) == (FsKind.INHERIT, 7, "inherit:7")
    options = options_from_environment("--posix-backend=java --fs=inherit:7 --cwd=/w")
    assert options.arguments() == ["--posix-backend=java", "--fs=inherit:7", "--cwd=/w"]
    memory = options_from_environment("--posix-backend=java --fs=memory --cwd=/w")
    assert memory.arguments() == ["--posix-backend=java", "--fs=memory"]  # as before
    with pytest.raises(UsageError, match="--mount: expected memory, host"):
        options_from_environment("--posix-backend=java --mount=/m=inherit:7")


def test_an_inherited_descriptor_that_is_no_socket_stops_the_child(tmp_path: Path) -> None:
    env = {ENVIRONMENT_VARIABLE: "--posix-backend=java --fs=inherit:9"}
    done = run([PYTHON, "-c", "print('ran')"], tmp_path, env=env)
    assert (done.returncode, done.stdout) == (2, "")
    assert "--fs=inherit:9: Bad file descriptor" in done.stderr
