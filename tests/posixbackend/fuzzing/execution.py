"""Running a program on an ``os``-like object and recording what each step did, normalised.

What is meant to differ is left out here, once: descriptor numbers (a new descriptor is
recorded as ``("fd",)`` and later steps name it by role), inode numbers, devices and times
(stat results keep type, permission bits, owner, size and link count; a directory's size and
link count depend on the file system natively: tmpfs and ext4 disagree, so they are left out).
"""

from __future__ import annotations

import os
import stat
from typing import Any

import compat
from posixbackend.emulated.files import DIRECTORY_SEEK_END
from posixbackend.emulated.paths import FIFOS
from posixbackend.emulated.transfers import CROSS_DEVICE_COPY
from tests.posixbackend.fuzzing.programs import BAD_FD, FD_MAKERS, Fd, Program, Step

Outcome = Any
SKIPPED_GAPS = tuple(gap.id for gap in (DIRECTORY_SEEK_END, CROSS_DEVICE_COPY, FIFOS))
"""Declared gaps: a step in which the emulated side hits one is not compared (its outcome is
recorded as ("gap", ids)); the fuzzer then knows the difference is the declared one."""


def gap_hits() -> tuple[int, ...]:
    report = compat.report()
    entries = [report.get(gap) for gap in SKIPPED_GAPS]
    return tuple(0 if entry is None else entry.count for entry in entries)
SEED_FILES = {"a": b"alpha", "d/b": b"bravo", "m/c": b"charlie"}


def seed(o: Any, mount: bool = False) -> None:
    """The tree every program starts from (``m`` already exists when it is a mount)."""
    o.mkdir("d", 0o755)
    if not mount:
        o.mkdir("m", 0o755)
    for name, data in SEED_FILES.items():
        fd = o.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        o.write(fd, data)
        o.close(fd)
    o.symlink("a", "s")


def stat_facts(result: os.stat_result) -> tuple[Any, ...]:
    kind = stat.S_IFMT(result.st_mode)
    mode = stat.S_IMODE(result.st_mode)
    if stat.S_ISDIR(kind):
        return (kind, mode, result.st_uid, result.st_gid)
    return (kind, mode, result.st_uid, result.st_gid, result.st_size, result.st_nlink)


def plain(result: Any) -> Outcome:
    if isinstance(result, os.stat_result):
        return stat_facts(result)
    if isinstance(result, list):
        return sorted(result)
    return result


class Execution:
    """One run of a program: descriptors by step id, the outcome of every step."""

    def __init__(self, o: Any, watch_gaps: bool = False) -> None:
        self.o = o
        self.watch_gaps = watch_gaps
        self.fds: dict[int, Any] = {}
        self.closed: set[Fd] = set()
        self.outcomes: list[Outcome] = []

    def resolve(self, value: Any) -> Any:
        if not isinstance(value, Fd):
            return value
        made = self.fds.get(value.step)
        if made is None or value in self.closed:
            return BAD_FD
        return made if value.end < 0 else made[value.end]

    def run(self, program: Program) -> list[Outcome]:
        for step in program:
            before = gap_hits() if self.watch_gaps else ()
            self.step(step)
            after = gap_hits() if self.watch_gaps else ()
            if after != before:
                hit = [gap for gap, a, b in zip(SKIPPED_GAPS, before, after, strict=True) if a != b]
                self.outcomes[-1] = ("gap", *hit)
        return self.outcomes

    def step(self, step: Step) -> None:
        """Run one step and record its outcome."""
        args = [self.resolve(arg) for arg in step.args]
        kwargs = {key: self.resolve(value) for key, value in step.kwargs}
        try:
            result = getattr(self.o, step.op)(*args, **kwargs)
        except OSError as error:
            self.outcomes.append(
                ("error", type(error).__name__, error.errno, error.filename, error.filename2)
            )
            return
        except (TypeError, ValueError, OverflowError) as error:
            self.outcomes.append(("exception", type(error).__name__, str(error)))
            return
        if step.op in FD_MAKERS:
            self.fds[step.id] = result
            self.outcomes.append(("fd",))
        else:
            if step.op == "close":
                self.closed.update(
                    fd for fd in (step.args[0],) if isinstance(fd, Fd)
                )
            self.outcomes.append(plain(result))

    def close_all(self) -> None:
        numbers: set[int] = set()
        for made in self.fds.values():
            numbers.update(made if isinstance(made, tuple) else (made,))
        for number in numbers:
            try:
                self.o.close(number)
            except OSError:
                continue


def tree(o: Any, top: str = "/") -> list[tuple[Any, ...]]:
    """Everything under ``top``: path, type, permission bits, size and content of files,
    link targets, and which paths are the same file (hard links, by first path)."""
    entries: list[tuple[Any, ...]] = []
    first_path: dict[tuple[int, int], str] = {}
    pending = [top]
    while pending:
        directory = pending.pop()
        for name in sorted(o.listdir(directory)):
            path = directory.rstrip("/") + "/" + name
            info = o.stat(path, follow_symlinks=False)
            kind = stat.S_IFMT(info.st_mode)
            fact: Any = None
            if stat.S_ISDIR(kind):
                pending.append(path)
            elif stat.S_ISLNK(kind):
                fact = o.readlink(path)
            elif stat.S_ISREG(kind):
                fd = o.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                try:
                    fact = o.read(fd, 1 << 16)
                finally:
                    o.close(fd)
                first = first_path.setdefault((info.st_dev, info.st_ino), path)
                fact = (fact, first, info.st_nlink)
            entries.append((path, kind, stat.S_IMODE(info.st_mode), fact))
    return sorted(entries)


def run(
    o: Any, program: Program, watch_gaps: bool = False
) -> tuple[list[Outcome], list[tuple[Any, ...]]]:
    """Outcomes of ``program`` on ``o`` (cwd at the tree's top, ``/``) and the final tree;
    ``watch_gaps`` on the emulated side (see SKIPPED_GAPS)."""
    execution = Execution(o, watch_gaps)
    try:
        outcomes = execution.run(program)
    finally:
        execution.close_all()
    o.chdir("/")
    return outcomes, tree(o)
