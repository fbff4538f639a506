"""Recording what a scenario observes, in a form that can be compared across drivers."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Any

Call = Callable[[str, tuple[Any, ...]], Any]
Post = Callable[[str, tuple[Any, ...]], Callable[[], Any]]


class Recorder:
    """Runs a scenario's operations on one driver and records normalised outcomes.

    ``rec.mkdir('/a')`` runs the operation and records its result or error (exceptions are
    recorded, not raised). Inode and device numbers are replaced by labels in order of first
    appearance within each outcome, so two drivers agree when the same files in one listing or
    tree share numbers (hard links); across outcomes numbers mean nothing, since Linux reuses
    a freed inode's number. Scenarios compare identity across calls with :meth:`note`.
    """

    def __init__(self, call: Call, name: str, post: Post | None = None) -> None:
        self._call = call
        self._post = post
        """Starts an operation and returns what waits for its outcome (see :meth:`begin`)."""
        self.name = name
        self.log: list[tuple[str, tuple[Any, ...], Any]] = []
        self._inodes: dict[int, int] = {}
        self._devices: dict[int, int] = {}

    def __getattr__(self, op: str) -> Callable[..., Any]:
        if op.startswith("_"):
            raise AttributeError(op)

        def run(*args: Any) -> Any:
            return self._finish(op, args, lambda: self._call(op, args))

        return run

    def begin(self, op: str, *args: Any) -> Callable[[], Any]:
        """Start ``op`` and return what finishes it (records and returns as calling
        ``self.op(*args)`` would): drivers in other processes then work side by side."""
        if self._post is None:
            return lambda: self._finish(op, args, lambda: self._call(op, args))
        outcome = self._post(op, args)
        return lambda: self._finish(op, args, outcome)

    def _finish(self, op: str, args: tuple[Any, ...], outcome: Callable[[], Any]) -> Any:
        """Record ``outcome()``'s result or error for ``op``; the result (None after an error)."""
        try:
            result = outcome()
        except OSError as error:
            self.log.append(
                (
                    op,
                    args,
                    (
                        "error",
                        type(error).__name__,
                        error.errno,
                        error.filename,
                        error.filename2,
                    ),
                )
            )
            return None
        except (TypeError, ValueError, NotImplementedError) as error:
            self.log.append((op, args, ("exception", type(error).__name__)))
            return None
        self._inodes.clear()
        self._devices.clear()
        self.log.append((op, args, self.normalise(result)))
        return result

    def raw(self, op: str, *args: Any) -> Any:
        """Run an operation without recording it (its exceptions propagate)."""
        return self._call(op, args)

    def note(self, label: str, value: Any) -> None:
        """Record a fact the scenario derived itself (e.g. whether mtime moved)."""
        self.log.append(("note", (label,), value))

    def label_inode(self, ino: int) -> int:
        return self._inodes.setdefault(ino, len(self._inodes))

    def normalise(self, result: Any) -> Any:
        if isinstance(result, os.stat_result):
            return self.stat_summary(result)
        if isinstance(result, list):
            if all(isinstance(item, str) for item in result) or all(
                isinstance(item, bytes) for item in result
            ):
                return sorted(result)
            if all(isinstance(item, tuple) and len(item) == 3 for item in result):
                if all(isinstance(item[1], os.stat_result) for item in result):  # tree rows
                    return [(path, self.stat_summary(st), extra) for path, st, extra in result]
                return [(n, t, self.label_inode(i)) for n, t, i in sorted(result)]  # scandir
        return result

    def stat_summary(self, st: os.stat_result) -> tuple[Any, ...]:
        kind = stat.S_IFMT(st.st_mode)
        size = None if kind == stat.S_IFDIR else st.st_size
        device = self._devices.setdefault(st.st_dev, len(self._devices))
        return (
            "stat",
            kind,
            oct(stat.S_IMODE(st.st_mode)),
            st.st_nlink,
            st.st_uid,
            st.st_gid,
            size,
            self.label_inode(st.st_ino),
            device,
        )


def differences(expected: Recorder, actual: Recorder) -> list[str]:
    """Human-readable differences between two recordings of the same scenario."""
    lines = []
    for index, (want, got) in enumerate(zip(expected.log, actual.log, strict=False)):
        if want != got:
            op, args, outcome = want
            ran = "" if got[:2] == want[:2] else f"  (ran {got[0]}{got[1]!r})"
            lines.append(
                f"#{index} {op}{args!r}:\n    {expected.name}: {outcome!r}\n"
                f"    {actual.name}: {got[2]!r}{ran}"
            )
    if len(expected.log) != len(actual.log):
        lines.append(
            f"{expected.name} recorded {len(expected.log)} steps, {actual.name} {len(actual.log)}"
        )
    return lines
