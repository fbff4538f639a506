"""A test harness's own code, served natively inside blocks.

A managed block entered by a pytest fixture stays active while pytest itself works between the
test's phases: its output capture duplicates and reads real descriptors, its reports read
source files, ``--pdb`` reads them too. Those calls are pytest's, not the test's, so the
stand-ins serve them natively. A call belongs to the harness when, walking out from the
stand-in's caller past the standard library's frames and this library's, the first frame met
is in a module of a registered prefix (``_pytest``, ``pluggy``...); a test's own frame met first
makes it the test's. Nothing is registered unless the pytest plugin is loaded.

This is a convenience for tests, not a boundary, so it never applies under permissions that
deny anything (code there could register a prefix of its own, or run pytest): a test whose
block restricts gets pytest's calls judged by its permissions like its own.
"""

from __future__ import annotations

import sys
import sysconfig
import types
from typing import Final

import compat
from posixbackend.permissions.current import get_policy

HARNESS_NATIVE = compat.declare(
    id="switch.harness_native",
    function="os.open",
    aspect="a test harness's own calls inside a block",
    level=compat.Level.FINE,
    explanation="while the pytest plugin is loaded, calls that pytest's own code (and its "
    "plugins: modules named pytest*, _pytest, pluggy, xdist, execnet) makes inside a "
    "managed block -- output capture, failure reports, the debugger -- reach the real os",
)
PREFIXES: list[str] = []
"""Module-name prefixes of harness code (empty: none, and the stand-ins never look)."""
ON_BEHALF: list[str] = []
"""Module-name prefixes, within the harness's, of code that acts for the test (pytest's
monkeypatch: its ``setenv`` and ``chdir`` are the test's own)."""
_DEPTH: Final = 64
_KEPT: Final = 100_000
_PASS, _HARNESS, _TEST = 0, 1, 2
_verdicts: dict[types.CodeType, int] = {}
"""Per code object: looked through (the standard library's or this library's), the
harness's, or the test's. Kept as prefixes are registered (the verdicts never change)."""
_noted: set[types.CodeType] = set()
"""Harness code whose module the gap's hits have named (later hits from it only count)."""
_noted_at: Final = [0]
"""The gap record's resets when :data:`_noted` was started."""


def _roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    found = {paths[key] for key in ("stdlib", "platstdlib") if paths.get(key)}
    for package in ("posixbackend", "vfs", "compat"):
        module = sys.modules.get(package)
        for location in getattr(module, "__path__", ()):
            found.add(location)
    return (*(root.rstrip("/") + "/" for root in found), "<frozen ")


_ROOTS: Final = _roots()


def register(prefixes: tuple[str, ...], on_behalf: tuple[str, ...] = ()) -> None:
    """Serve the code of modules named with ``prefixes`` natively from now on, except those
    named with ``on_behalf`` (served as the test's own code)."""
    ON_BEHALF.extend(prefix for prefix in on_behalf if prefix not in ON_BEHALF)
    PREFIXES.extend(prefix for prefix in prefixes if prefix not in PREFIXES)
    _verdicts.clear()


def called_by_harness(frame: types.FrameType | None) -> bool:
    """Whether the call whose caller is ``frame`` is a registered harness's. Never under
    permissions that deny anything: a guest can register a prefix of its own, or run pytest."""
    policy = get_policy()
    if policy is not None and policy.denies_anything:
        return False
    for _ in range(_DEPTH):
        if frame is None:
            return False
        code = frame.f_code
        verdict = _verdicts.get(code)
        if verdict is None:
            if len(_verdicts) >= _KEPT:
                _verdicts.clear()
            verdict = _verdicts[code] = _verdict(frame)
        if verdict == _HARNESS:
            if _noted_at[0] != HARNESS_NATIVE.resets:  # the examples were reset
                _noted.clear()
                _noted_at[0] = HARNESS_NATIVE.resets
            if code in _noted:  # its module is an example already: the hit is a count
                HARNESS_NATIVE.hit()
            else:
                HARNESS_NATIVE.hit(module=str(frame.f_globals.get("__name__")))
                if len(_noted) < _KEPT:
                    _noted.add(code)
            return True
        if verdict == _TEST:
            return False
        frame = frame.f_back
    return False


def _verdict(frame: types.FrameType) -> int:
    name = frame.f_globals.get("__name__")
    if isinstance(name, str) and name.startswith(tuple(PREFIXES)):
        return _TEST if name.startswith(tuple(ON_BEHALF)) else _HARNESS
    return _PASS if frame.f_code.co_filename.startswith(_ROOTS) else _TEST
