"""The provider scenarios on PyFilesystem2 FSs wrapped as providers, against native Linux.

A PyFilesystem2 FS has no links, modes, owners or nanosecond times, so some outcomes differ
from Linux by design. Every differing step must be explained by one of the rules below, each
naming the compat gap it stands for; a difference no rule explains fails the test. Scenarios
that cannot even be set up without a missing feature are listed in SETUP_NEEDS with their gap,
and must fail with exactly that gap's error.
"""

from __future__ import annotations

import difflib
import errno
import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.vfs.conftest import IS_ROOT
from tests.vfs.ops import ProviderOps
from tests.vfs.recording import Recorder
from tests.vfs.scenarios import GUEST_ROOT, O_TMPFILE, SCENARIOS, run_native
from vfs.adapters.fs2_import import import_fs
from vfs.adapters.pyfilesystem import PyFilesystemProvider
from vfs.adapters.pyfilesystem.library import FS

import_fs()
from fs.memoryfs import MemoryFS  # noqa: E402
from fs.osfs import OSFS  # noqa: E402

SYMLINKS = "vfs.pyfilesystem.symlinks"
HARD_LINKS = "vfs.pyfilesystem.hard_links"
MODES = "vfs.pyfilesystem.modes"
OWNERS = "vfs.pyfilesystem.owners"
TIMES = "vfs.pyfilesystem.times"
TMPFILE = "vfs.pyfilesystem.tmpfile"

BACKENDS: dict[str, Callable[[str], FS]] = {
    "memoryfs": lambda root: MemoryFS(),
    "osfs": OSFS,
}

SETUP_NEEDS: dict[str, tuple[str, str, int]] = {
    # scenario: (gap, operation, errno) - the scenario cannot go on once this refusal happens
    "symlink_loops_and_limits": (SYMLINKS, "symlink", errno.EPERM),  # builds chains of links
    "hard_links": (HARD_LINKS, "link", errno.EPERM),  # compares a link's inode with its source
    "rename_cases": (SYMLINKS, "symlink", errno.EPERM),  # then asks for the links' inodes
    "times_follow_linux": (MODES, "chmod", errno.EPERM),  # chmods a file to watch its times
    "utime_and_truncate": (SYMLINKS, "symlink", errno.EPERM),  # then asks for a link's times
    "tmpfile": (TMPFILE, "open", errno.EOPNOTSUPP),  # then writes to the unnamed file
}
EXACT = {"append_mode", "handle_access_modes", "names_with_odd_characters"}
"""Scenarios that must match Linux step for step, with no gap at all."""

Step = tuple[str, tuple[Any, ...], Any]


# -- the rules: (gap, does it explain this difference?) ----------------------------------------


def _error(outcome: Any, code: int) -> bool:
    return isinstance(outcome, tuple) and outcome[:1] == ("error",) and outcome[2] == code


def _refused(gap: str, ops: set[str], code: int) -> Callable[[Step, Step | None, set[str]], bool]:
    """The adapter refusing an operation it cannot do, with the errno vfat gives."""

    def rule(want: Step, got: Step | None, tainted: set[str]) -> bool:
        return got is not None and got[0] in ops and _error(got[2], code)

    rule.__doc__ = f"{sorted(ops)} fail with {errno.errorcode[code]} ({gap})"
    return rule


def _stat_field(index: int) -> Callable[[Step, Step | None, set[str]], bool]:
    """Stat records that differ only in field ``index`` of the recorder's summary (and others
    explained the same way)."""

    def rule(want: Step, got: Step | None, tainted: set[str]) -> bool:
        if got is None or want[:2] != got[:2]:
            return False
        a, b = want[2], got[2]
        if not (isinstance(a, tuple) and isinstance(b, tuple) and a[:1] == b[:1] == ("stat",)):
            return False
        return a[index] != b[index] and _same_but(a, b, {index} | _LOOSE_FIELDS)

    return rule


_LOOSE_FIELDS = {2, 3, 4, 5}
"""Summary fields some gap explains: mode bits (MODES), links (HARD_LINKS), owners (OWNERS)."""


def _same_but(a: tuple[Any, ...], b: tuple[Any, ...], fields: set[int]) -> bool:
    return all(x == y for i, (x, y) in enumerate(zip(a, b, strict=True)) if i not in fields)


def _mentions(tainted: set[str], value: Any) -> bool:
    """Whether ``value`` (arguments, a listing...) involves a name that is a link natively."""
    if isinstance(value, str):
        return any(part in tainted for part in value.split("/"))
    if isinstance(value, (tuple, list)):
        return any(_mentions(tainted, item) for item in value)
    return False


def _through_links(want: Step, got: Step | None, tainted: set[str]) -> bool:
    """A step on (or listing) a name that natively is a symbolic or hard link."""
    return (
        _mentions(tainted, want[1])
        or _mentions(tainted, want[2])
        or (got is not None and _mentions(tainted, got[2]))
    )


def _tmpfile(want: Step, got: Step | None, tainted: set[str]) -> bool:
    return (
        got is not None
        and got[0] == "open"
        and bool(O_TMPFILE)
        and got[1][1] & O_TMPFILE == O_TMPFILE
        and _error(got[2], errno.EOPNOTSUPP)
    )


def _execute_denied(want: Step, got: Step | None, tainted: set[str]) -> bool:
    """X_OK refused on a file whose execute bits a chmod could not set."""
    return (
        got is not None
        and got[0] == "access"
        and bool(got[1][1] & os.X_OK)
        and _error(got[2], errno.EACCES)
    )


def _handle_of_a_failed_step(want: Step, got: Step | None, tainted: set[str]) -> bool:
    """fstat/close of a handle that exists on one side only (its open differed, explained)."""
    return want[0] in {"fstat", "close", "pread", "pwrite"} and got is None


RULES: list[tuple[str, Callable[[Step, Step | None, set[str]], bool]]] = [
    (SYMLINKS, _refused(SYMLINKS, {"symlink"}, errno.EPERM)),
    (SYMLINKS, _refused(SYMLINKS, {"readlink"}, errno.EINVAL)),
    (HARD_LINKS, _refused(HARD_LINKS, {"link"}, errno.EPERM)),
    (MODES, _refused(MODES, {"chmod", "fchmod"}, errno.EPERM)),
    (OWNERS, _refused(OWNERS, {"chown", "fchown"}, errno.EPERM)),
    (TMPFILE, _tmpfile),
    (HARD_LINKS, _stat_field(3)),  # directories report one link (no host stat record)
    (MODES, _stat_field(2)),  # new files keep the FS's own permission bits
    (OWNERS, _stat_field(4)),  # nor can owners change
    (OWNERS, _stat_field(5)),
    (MODES, _execute_denied),
    (SYMLINKS, _through_links),
    (SYMLINKS, _handle_of_a_failed_step),
]


def explain(native: Recorder, wrapped: Recorder, tainted: set[str]) -> list[str]:
    """Differences between the recordings that no rule explains (aligned by operation)."""
    native_log, wrapped_log = _by_open(native.log), _by_open(wrapped.log)
    keys_a = [(op, repr(args)) for op, args, _ in native_log]
    keys_b = [(op, repr(args)) for op, args, _ in wrapped_log]
    unexplained = []
    matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        pairs: list[tuple[Step, Step | None]] = []
        if tag == "equal":
            pairs = [(native_log[i], wrapped_log[b0 + i - a0]) for i in range(a0, a1)]
        else:
            pairs = [(native_log[i], None) for i in range(a0, a1)]
            pairs += [(wrapped_log[j], None) for j in range(b0, b1)]
        for want, got in pairs:
            if got is not None and want == got:
                continue
            if not any(rule(want, got, tainted) for _, rule in RULES):
                unexplained.append(f"{want!r}\n    wrapped: {got!r}")
    return unexplained


HANDLE_OPS = {
    "close",
    "pread",
    "pwrite",
    "append",
    "size",
    "ftruncate",
    "fsync",
    "fstat",
    "fchmod",
    "fchown",
    "futime",
    "flistdir",
    "ftimes",
}


def _by_open(log: list[Step]) -> list[Step]:
    """The log with handle numbers replaced by the open that made them, so that one side
    failing an open does not shift every later handle number of the other."""
    opened: dict[int, str] = {}
    rewritten: list[Step] = []
    for op, args, outcome in log:
        if op == "open" and isinstance(outcome, int):
            opened[outcome] = f"handle of open{args!r}"
            rewritten.append((op, args, "handle"))
        elif op in HANDLE_OPS and args and isinstance(args[0], int):
            rewritten.append((op, (opened.get(args[0], args[0]), *args[1:]), outcome))
        else:
            rewritten.append((op, args, outcome))
    return rewritten


def _name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def linked_names(native: Recorder) -> set[str]:
    """Names the native run made into symbolic or hard links, and the links' targets."""
    names = set()
    for op, args, outcome in native.log:
        if op in {"symlink", "link"} and outcome is None:
            names.add(_name(args[1]))
            if op == "symlink" and args[0]:
                names.add(_name(args[0]))
    return names


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_on_wrapped_fs(name: str, backend: str, directories: Callable[[], str]) -> None:
    if name in GUEST_ROOT and not IS_ROOT:
        pytest.skip("needs a chrooted native side")
    ops = ProviderOps(PyFilesystemProvider(BACKENDS[backend](directories())))
    wrapped = Recorder(ops.call, backend)
    try:
        if name in SETUP_NEEDS:
            gap, op, code = SETUP_NEEDS[name]
            with pytest.raises((OSError, KeyError)) as raised:
                SCENARIOS[name](wrapped)
            refused = [step for step in wrapped.log if step[0] == op and _error(step[2], code)]
            direct = isinstance(raised.value, OSError) and raised.value.errno == code
            assert refused or direct, f"the scenario should stop at {gap}, not {raised.value!r}"
            return
        SCENARIOS[name](wrapped)
    finally:
        ops.close()
    native = run_native(name, directories())
    if name in EXACT:
        assert native.log == wrapped.log
        return
    problems = explain(native, wrapped, linked_names(native))
    assert not problems, "\n".join(problems)
