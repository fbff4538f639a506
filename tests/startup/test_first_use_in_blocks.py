"""The library's lazily imported parts work when first used inside a block: a managed one, a
sandboxed one, under the launcher's ``--sandbox`` (kernel confinement too) and in the isolated
mode. Each scenario runs in a fresh interpreter, so the first use really is the first import,
and checks that too; judged by what the library does, and by the refusals still standing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from posixbackend.isolation import run_isolated

TIMEOUT = 60

FIRST_USES = """
import os, sys, json
LAZY = ("posixbackend.isolation.limits", "posixbackend.isolation.result", "vfs.overlay",
        "vfs.snapshot")
import posixbackend
from posixbackend import backend, Permissions
import attrs, compat, vfs

def first_uses(file_system):
    # each of LAZY imported here for the first time, inside whatever block is in force
    seen = {"before": [name for name in LAZY if name in sys.modules]}
    seen["limit"] = posixbackend.TimeLimitExceeded.__name__
    narrower = attrs.evolve(Permissions.sandbox(file_system), time_limit=30.0)
    with backend("managed", file_system=file_system, permissions=narrower):
        # a directory of its own: /tmp may also hold the library's mounts (a checkout below
        # /tmp), which a sandboxed caller of the provider itself may not read
        os.makedirs("/tmp/first-use", exist_ok=True)
        with open("/tmp/first-use/inner.txt", "w") as file:
            file.write("inner")
    seen["limits"] = posixbackend.Limits().memory_bytes > 0
    seen["result"] = posixbackend.IsolatedResult.__name__
    overlay = vfs.OverlayFileSystem(vfs.MemoryFileSystem(), vfs.ReadOnlyFileSystem(file_system))
    seen["overlay"] = [name for name in overlay.listdir("/tmp/first-use") if name == "inner.txt"]
    seen["report"] = json.loads(compat.report().to_json())["schema"]
    import io
    archive = io.BytesIO()
    vfs.save_snapshot(file_system, archive, "/tmp/first-use")
    archive.seek(0)
    seen["snapshot"] = [name for name in vfs.load_snapshot(archive).listdir("/")
                        if name == "inner.txt"]
    seen["after"] = [name for name in LAZY if name in sys.modules]
    try:
        import ctypes
        ctypes.CDLL(None)
        seen["native"] = "allowed"
    except PermissionError as error:
        seen["native"] = "refused: " + str(error)[:60]
    return seen
"""

EXPECTED = {
    "limit": "TimeLimitExceeded",
    "limits": True,
    "result": "IsolatedResult",
    "overlay": ["inner.txt"],
    "snapshot": ["inner.txt"],
    "report": "posixbackend.compat.report",
}


def run_python(*arguments: str) -> Any:
    """The JSON a ``python ARGUMENTS`` run printed last (it must succeed)."""
    env = dict(os.environ)
    env.pop("POSIXBACKEND_OPTIONS", None)
    done = subprocess.run(
        [sys.executable, *arguments], capture_output=True, text=True, timeout=TIMEOUT, env=env,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def check(seen: dict[str, Any], *, sandboxed: bool) -> None:
    assert len(seen["before"]) < 4, "the scenario must import some of them for the first time"
    assert {key: seen[key] for key in EXPECTED} == EXPECTED
    assert len(seen["after"]) == 4, seen["after"]
    if sandboxed:
        assert seen["native"].startswith("refused: "), seen["native"]


def test_first_uses_inside_a_sandboxed_block() -> None:
    program = FIRST_USES + textwrap.dedent("""
        from posixbackend.defaultfs import default_file_system
        file_system = default_file_system()[0]
        with backend("managed", file_system=file_system,
                     permissions=Permissions.sandbox(file_system)):
            seen = first_uses(file_system)
        print(json.dumps(seen))
    """)
    check(run_python("-c", program), sandboxed=True)


def test_first_uses_inside_a_managed_block() -> None:
    program = FIRST_USES + textwrap.dedent("""
        from posixbackend.defaultfs import default_file_system
        file_system = default_file_system()[0]
        with backend("managed", file_system=file_system):
            seen = first_uses(file_system)
        print(json.dumps(seen))
    """)
    check(run_python("-c", program), sandboxed=False)


@pytest.mark.parametrize("options", [("--sandbox",), ("--posix-backend=java", "--fs=memory")])
def test_first_uses_under_the_launcher(options: tuple[str, ...]) -> None:
    program = FIRST_USES + textwrap.dedent("""
        file_system = posixbackend.current_emulated().file_system
        print(json.dumps(first_uses(file_system)), file=sys.__stdout__)
    """)
    seen = run_python("-m", "posixbackend", *options, "-c", program)
    check(seen, sandboxed="--sandbox" in options)


def test_first_uses_in_the_isolated_mode() -> None:
    program = FIRST_USES + textwrap.dedent("""
        file_system = posixbackend.current_emulated().file_system
        print(json.dumps(first_uses(file_system)))
    """)
    result = run_isolated(program)
    assert result.status == 0, result.stderr
    check(json.loads(result.stdout.decode().splitlines()[-1]), sandboxed=True)


def test_a_terminals_encoding_first_asked_inside_a_sandboxed_block() -> None:
    # os.device_encoding imports locale on first use (a terminal's descriptor only): the
    # first time may be inside a block that refuses what the import itself does not need.
    program = textwrap.dedent("""
        import json, os, sys
        from posixbackend import Permissions, backend
        before = "locale" in sys.modules
        with backend("managed", permissions=Permissions.sandbox()):
            inside = os.device_encoding(0), os.device_encoding(3)
        print(json.dumps([before, *inside, os.device_encoding(0)]))
    """)
    primary, secondary = os.openpty()
    env = dict(os.environ)
    env.pop("POSIXBACKEND_OPTIONS", None)
    try:
        done = subprocess.run(
            [sys.executable, "-c", program], stdin=secondary, capture_output=True, text=True,
            timeout=TIMEOUT, env=env, check=False, pass_fds=(),
        )  # fmt: skip
    finally:
        os.close(primary)
        os.close(secondary)
    assert done.returncode == 0, done.stderr
    before, terminal, not_open, native = json.loads(done.stdout.splitlines()[-1])
    assert before is False
    assert terminal == native
    assert terminal
    assert not_open is None


RESOURCES = """
import importlib.resources, io, json, os, sys, zipfile
from posixbackend import Permissions, backend
from vfs import MemoryFileSystem

READERS = "posixbackend.imports._resources"
before = READERS in sys.modules
archive = io.BytesIO()
with zipfile.ZipFile(archive, "w") as made:
    made.writestr("zpkg/__init__.py", "")
    made.writestr("zpkg/data.txt", "zipped")
memory = MemoryFileSystem()
with backend("managed", file_system=memory):
    os.makedirs("/code/vpkg")
    with open("/code/vpkg/__init__.py", "w") as file:
        file.write("")
    with open("/code/vpkg/data.txt", "w") as file:
        file.write("virtual")
    with open("/code/packages.zip", "wb") as file:
        file.write(archive.getvalue())
with backend("managed", file_system=memory, permissions=Permissions.sandbox(memory)):
    sys.path[:0] = ["/code", "/code/packages.zip"]
    read = [importlib.resources.files(name).joinpath("data.txt").read_text()
            for name in ("vpkg", "zpkg")]
print(json.dumps([before, read, READERS in sys.modules]))
"""


def test_resource_readers_first_asked_for_inside_a_sandboxed_block() -> None:
    # The readers (and zipfile) are imported when importlib.resources first asks a virtual
    # module's loader for one: here inside a block refusing native access and host files.
    before, read, after = run_python("-c", RESOURCES)
    assert before is False
    assert read == ["virtual", "zipped"]
    assert after is True
