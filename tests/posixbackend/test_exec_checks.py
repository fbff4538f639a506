"""exec* and posix_spawn* check their arguments as CPython does before the emulated backend
refuses to replace its process (or, without a process handler, to start one).

The native outcomes come from a worker process (an exec that passed its checks would replace
it, not the test run); every case there fails before exec, so both sides must agree. Cases
that pass the checks are compared separately: Linux tries the program (which does not exist),
the emulated backend refuses with the gap emulated.process.fork_exec.
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import posixbackend
from posixbackend import backend
from posixbackend.emulated import EmulatedBackend
from tests.posixbackend.sides import hits
from vfs import MemoryFileSystem

PRELUDE = """
E = "/nonexistent/program"
class M:
    def __getitem__(self, key): return 1
class L(M):
    def __len__(self): return 1
"""

WORKER = """
import json, os, sys
exec(sys.argv[1])
results = []
for case in json.loads(sys.argv[2]):
    try:
        eval(case)
        results.append(["ok"])
    except OSError as error:
        results.append([type(error).__name__, error.errno])
    except Exception as error:
        results.append([type(error).__name__, str(error)])
print(json.dumps(results))
"""

BAD_CALLS = [
    "os.execv(1, [E])", "os.execv(E, 'x')", "os.execv(E, ())", "os.execv(E, [1])",
    "os.execv(E, [''])", "os.execv(E, ['a\\0'])", "os.execv(E, [b''])",
    "os.execv(E, [bytearray(b'x')])", "os.execv('a\\0', [E])", "os.execv(E, [E, 1])",
    "os.execv(None, [])", "os.execve(E, 'x', {})", "os.execve(E, (), 5)",
    "os.execve(E, [], {})", "os.execve(E, [E], 5)", "os.execve(E, [1], 5)",
    "os.execve(E, [''], {})", "os.execve(E, [''], {'a=b': 'c'})", "os.execve(E, [E], {'': 'b'})",
    "os.execve(E, [E], {'a': 1})", "os.execve(E, [E], {1: 'a'})", "os.execve(E, [E], [])",
    "os.execve(E, [E], M())", "os.execve(E, [E], L())",
    "os.execve(E, [E], {'FRUIT\\0VEGETABLE': 'cabbage'})",
    "os.execve(E, [E], {'FRUIT': 'orange\\0VEGETABLE=cabbage'})",
    "os.execve(E, [E], {'FRUIT=ORANGE': 'lemon'})", "os.execve(None, [E], {})",
    "os.execve('a\\0', [E], {})", "os.execve(1.5, [E], {})",
    "os.posix_spawn(E, [], {}, resetids=None)", "os.posix_spawn(E, 5, 5, resetids=1.5)",
    "os.posix_spawn(E, [E], {}, resetids=2**40)", "os.posix_spawn(E, [], {}, setsid=None)",
    "os.posix_spawn(E, [E], {}, setsid='x')", "os.posix_spawn(E, [], 5)",
    "os.posix_spawn(E, [1], 5)", "os.posix_spawn(E, [''], 5)", "os.posix_spawn(E, [E], 5)",
    "os.posix_spawn(E, [E], {}, file_actions=5)",
    "os.posix_spawn(E, [E], {1: 2}, setpgroup='x')",
    "os.posix_spawn(E, [E], {}, file_actions=5, setpgroup='x')",
    "os.posix_spawn(E, [E], {}, setpgroup='x')", "os.posix_spawn(E, [E], {'': 'y'})",
    "os.posix_spawnp(E, [], {}, resetids=None)", "os.posix_spawnp(E, [E], {}, setsid=[])",
    "os.posix_spawnp(E, ('',), {})",
]  # fmt: skip
"""Calls that fail before any exec or spawn, on Linux and on the emulated backend alike."""

PYTHON_LEVEL_BAD_CALLS = [
    "os.execvpe('notepad', [], None)", "os.execvp('notepad', ())", "os.execl(E)",
    "os.execle(E, E, 5)", "os.execlp('notepad')", "os.execvpe('notepad', [E], {'': 'x'})",
]  # fmt: skip
"""os.py's exec functions, which call os.execv and os.execve (switched, on the emulated side)."""

ACCEPTED_CALLS = [
    "os.execv(E, [E])", "os.execve(E, [E, ''], {'=a': 'b'})", "os.execvp('/nonexistent/x', ['x'])",
    "os.execvpe('nonexistent-program', ['x'], {'PATH': '/nonexistent'})", "os.execl(E, E, 'arg')",
]  # fmt: skip
"""Calls whose arguments pass: Linux then fails to find the program."""


def native_outcomes(cases: list[str]) -> list[list[Any]]:
    worker = subprocess.run(
        [sys.executable, "-c", WORKER, PRELUDE, json.dumps(cases)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    results: list[list[Any]] = json.loads(worker.stdout)
    assert len(results) == len(cases), "the worker did not run every case"
    return results


def emulated_outcomes(os_like: Any, cases: list[str]) -> list[list[Any]]:
    namespace: dict[str, Any] = {"os": os_like}
    exec(PRELUDE, namespace)
    results: list[list[Any]] = []
    for case in cases:
        try:
            eval(case, namespace)
            results.append(["ok"])
        except OSError as error:
            results.append([type(error).__name__, error.errno])
        except Exception as error:  # noqa: BLE001 - the outcome is what is compared
            results.append([type(error).__name__, str(error)])
    return results


@pytest.fixture
def uninstalled() -> Iterator[None]:
    """The switch's stand-ins are taken out again after the test (other tests here compare
    with the real io and os)."""
    yield
    posixbackend.uninstall()


@pytest.fixture(scope="module")
def native() -> dict[str, list[Any]]:
    cases = BAD_CALLS + PYTHON_LEVEL_BAD_CALLS + ACCEPTED_CALLS
    return dict(zip(cases, native_outcomes(cases), strict=True))


REFUSED = ["PermissionError", errno.EPERM]
"""The emulated outcome of a call whose arguments pass: the process policy's refusal."""


def expected(native_outcome: list[Any]) -> list[Any]:
    """What the emulated backend must give where Linux gave ``native_outcome``: the same error,
    or, where the arguments passed and Linux looked for the program (some checks are gone in
    newer Pythons: 3.12 takes posix_spawn's setsid and resetids as any truth value), the
    refusal."""
    return REFUSED if native_outcome[0] == "FileNotFoundError" else native_outcome


def test_bad_arguments_fail_as_natively(native: dict[str, list[Any]]) -> None:
    emulated = emulated_outcomes(EmulatedBackend(), BAD_CALLS)
    problems = [
        f"{case}: native {native[case]}, emulated {got}"
        for case, got in zip(BAD_CALLS, emulated, strict=True)
        if expected(native[case]) != got
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.usefixtures("uninstalled")
def test_the_python_level_exec_functions_check_through_the_switch(
    native: dict[str, list[Any]],
) -> None:
    import os

    with backend("managed", file_system=MemoryFileSystem()):
        emulated = emulated_outcomes(os, PYTHON_LEVEL_BAD_CALLS)
    assert emulated == [native[case] for case in PYTHON_LEVEL_BAD_CALLS]


@pytest.mark.usefixtures("uninstalled")
def test_accepted_arguments_meet_the_refusal(native: dict[str, list[Any]]) -> None:
    import os

    for case in ACCEPTED_CALLS:
        assert native[case][0] == "FileNotFoundError", case  # Linux looked for the program
    before = hits("emulated.process.fork_exec")
    with backend("managed", file_system=MemoryFileSystem()):
        emulated = emulated_outcomes(os, ACCEPTED_CALLS)
    assert all(outcome[0] == "PermissionError" for outcome in emulated), emulated
    assert hits("emulated.process.fork_exec") >= before + len(ACCEPTED_CALLS)


def test_the_exec_audit_event_comes_before_the_refusal() -> None:
    seen: list[tuple[object, ...]] = []
    listening = [True]

    def hook(event: str, args: tuple[object, ...]) -> None:
        if listening[0] and event == "os.exec":
            seen.append(args)

    sys.addaudithook(hook)
    try:
        emulated = EmulatedBackend()
        with pytest.raises(PermissionError):
            emulated.execve("/bin/true", ["true"], {"A": "1"})
        with pytest.raises(ValueError, match="must not be empty"):
            emulated.execv("/bin/true", [])
    finally:
        listening[0] = False  # audit hooks cannot be removed
    assert seen == [("/bin/true", ["true"], {"A": "1"})]
