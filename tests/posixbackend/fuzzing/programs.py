"""Random programs of ``os`` calls, as data: generated from a seed, shrunk, printed as a script.

A program is a list of :class:`Step`. A descriptor argument is a :class:`Fd`: the result of an
earlier step, named by that step's id (ids survive shrinking; a step that is gone, failed or
was closed leaves a number no side has open, so both see EBADF). Descriptors are compared by
this role, never by number.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import Any

import attrs

BAD_FD = 99_999
"""The number a descriptor argument becomes when its step is gone: open on neither side."""


@attrs.frozen
class Fd:
    """The descriptor made by step ``step`` (``end`` picks a pipe's end)."""

    step: int
    end: int = -1
    """-1 for a single descriptor, 0 or 1 for a pipe's ends."""

    def name(self) -> str:
        if self.step < 0:
            return "BAD"
        return f"f{self.step}" + (f"[{self.end}]" if self.end >= 0 else "")


@attrs.frozen
class Step:
    """``os.<op>(*args, **kwargs)``; ``id`` names its result for later steps."""

    id: int
    op: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()


Program = Sequence[Step]

FD_MAKERS = frozenset({"open", "dup", "pipe2"})
NAMES = ("a", "b", "d", "d/b", "d/e", "d/e/f", "m", "m/c", "m/x", "s", "t", "d/s", "m/d")
ODD_NAMES = ("", ".", "d/..", "d/../a", "x/y", "a/b", "s/b", "d/.", "m/..", "m/../a")
TARGETS = ("a", "d", "b", "d/b", "m", "nowhere", "s", "t", "../a", "e", "m/c")
DATA = (b"", b"x", b"hello", b"0123456789" * 3)
ACCESS = (os.O_RDONLY, os.O_WRONLY, os.O_RDWR, os.O_PATH)
EXTRA_FLAGS = (os.O_CREAT, os.O_EXCL, os.O_TRUNC, os.O_APPEND, os.O_DIRECTORY, os.O_NOFOLLOW)
FLAG_NAMES = {
    os.O_WRONLY: "os.O_WRONLY",
    os.O_RDWR: "os.O_RDWR",
    os.O_PATH: "os.O_PATH",
    os.O_CREAT: "os.O_CREAT",
    os.O_EXCL: "os.O_EXCL",
    os.O_TRUNC: "os.O_TRUNC",
    os.O_APPEND: "os.O_APPEND",
    os.O_DIRECTORY: "os.O_DIRECTORY",
    os.O_NOFOLLOW: "os.O_NOFOLLOW",
}


class Generator:
    """Builds one program from a seeded :class:`random.Random`; keeps track of the
    descriptors earlier steps make, so that later steps mostly use live ones."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.steps: list[Step] = []
        self.fds: list[Fd] = []

    def program(self, length: int) -> list[Step]:
        makers = [getattr(self, name) for name in dir(self) if name.startswith("op_")]
        weights = [getattr(maker, "weight", 1) for maker in makers]
        while len(self.steps) < length:
            op, args, kwargs = self.rng.choices(makers, weights)[0]()
            step = Step(len(self.steps), op, tuple(args), tuple(sorted(kwargs.items())))
            self.steps.append(step)
            if op == "pipe2":
                self.fds += [Fd(step.id, 0), Fd(step.id, 1)]
            elif op in FD_MAKERS:
                self.fds.append(Fd(step.id))
            elif op == "close":
                self.fds = [fd for fd in self.fds if fd != args[0]]
        return self.steps

    # -- arguments ---------------------------------------------------------------------------

    def path(self) -> str:
        if self.rng.random() < 0.1:
            return self.rng.choice(ODD_NAMES)
        name = self.rng.choice(NAMES)
        return name + "/" if self.rng.random() < 0.1 else name

    def fd(self) -> Fd:
        if not self.fds or self.rng.random() < 0.03:
            return Fd(-1)
        return self.rng.choice(self.fds)

    def at(self, **kwargs: Any) -> dict[str, Any]:
        """``dir_fd`` one time in four (any descriptor: a file's gives ENOTDIR)."""
        if self.fds and self.rng.random() < 0.25:
            kwargs["dir_fd"] = self.fd()
        return kwargs

    def flags(self) -> int:
        flags = self.rng.choice(ACCESS)
        for extra in EXTRA_FLAGS:
            if self.rng.random() < 0.2:
                flags |= extra
        return flags

    # -- operations (op_<name> returns (os function, args, kwargs)) --------------------------

    def op_open(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "open", [self.path(), self.flags(), self.rng.choice((0o644, 0o600))], self.at()

    op_open.weight = 6  # type: ignore[attr-defined]

    def op_close(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "close", [self.fd()], {}

    op_close.weight = 2  # type: ignore[attr-defined]

    def op_read(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "read", [self.fd(), self.rng.choice((0, 1, 5, 100))], {}

    op_read.weight = 3  # type: ignore[attr-defined]

    def op_write(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "write", [self.fd(), self.rng.choice(DATA)], {}

    op_write.weight = 4  # type: ignore[attr-defined]

    def op_lseek(self) -> tuple[str, list[Any], dict[str, Any]]:
        whence = self.rng.choice((os.SEEK_SET, os.SEEK_CUR, os.SEEK_END))
        return "lseek", [self.fd(), self.rng.choice((0, 3, -2, 100)), whence], {}

    op_lseek.weight = 2  # type: ignore[attr-defined]

    def op_ftruncate(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "ftruncate", [self.fd(), self.rng.choice((0, 2, 50))], {}

    def op_truncate(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "truncate", [self.path(), self.rng.choice((0, 2, 50))], {}

    def op_fstat(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "fstat", [self.fd()], {}

    op_fstat.weight = 2  # type: ignore[attr-defined]

    def op_stat(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs = self.at(follow_symlinks=self.rng.random() < 0.6)
        return "stat", [self.path()], kwargs

    op_stat.weight = 3  # type: ignore[attr-defined]

    def op_mkdir(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "mkdir", [self.path(), 0o755], self.at()

    op_mkdir.weight = 3  # type: ignore[attr-defined]

    def op_rmdir(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "rmdir", [self.path()], self.at()

    op_rmdir.weight = 2  # type: ignore[attr-defined]

    def op_unlink(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "unlink", [self.path()], self.at()

    op_unlink.weight = 2  # type: ignore[attr-defined]

    def op_rename(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        if self.fds and self.rng.random() < 0.2:
            kwargs["src_dir_fd"] = self.fd()
        if self.fds and self.rng.random() < 0.2:
            kwargs["dst_dir_fd"] = self.fd()
        return "rename", [self.path(), self.path()], kwargs

    op_rename.weight = 4  # type: ignore[attr-defined]

    def op_link(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"follow_symlinks": self.rng.random() < 0.5}
        if self.fds and self.rng.random() < 0.2:
            kwargs["src_dir_fd"] = self.fd()
        if self.fds and self.rng.random() < 0.2:
            kwargs["dst_dir_fd"] = self.fd()
        return "link", [self.path(), self.path()], kwargs

    op_link.weight = 2  # type: ignore[attr-defined]

    def op_symlink(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "symlink", [self.rng.choice(TARGETS), self.path()], self.at()

    op_symlink.weight = 3  # type: ignore[attr-defined]

    def op_readlink(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "readlink", [self.path()], self.at()

    def op_listdir(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "listdir", [self.path()], {}

    def op_pipe(self) -> tuple[str, list[Any], dict[str, Any]]:
        # non-blocking: a read of an empty pipe would wait forever (EAGAIN instead)
        return "pipe2", [os.O_NONBLOCK], {}

    op_pipe.weight = 0.5  # type: ignore[attr-defined]

    def op_dup(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "dup", [self.fd()], {}

    def op_fsync(self) -> tuple[str, list[Any], dict[str, Any]]:
        return self.rng.choice(("fsync", "fdatasync")), [self.fd()], {}

    op_fsync.weight = 0.5  # type: ignore[attr-defined]

    def op_copy_file_range(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "copy_file_range", [self.fd(), self.fd(), self.rng.choice((0, 3, 100))], {}

    op_copy_file_range.weight = 0.5  # type: ignore[attr-defined]

    def op_posix_fallocate(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "posix_fallocate", [self.fd(), self.rng.choice((0, 4)), 10], {}

    op_posix_fallocate.weight = 0.3  # type: ignore[attr-defined]

    def op_fchdir(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "fchdir", [self.fd()], {}

    op_fchdir.weight = 0.3  # type: ignore[attr-defined]

    def op_chdir(self) -> tuple[str, list[Any], dict[str, Any]]:
        return "chdir", [self.rng.choice(("d", "m", "/", "d/e", "s"))], {}

    op_chdir.weight = 0.3  # type: ignore[attr-defined]


def generate(seed: int, length: int = 40) -> list[Step]:
    """The program of ``seed``: ``length`` steps."""
    return Generator(random.Random(seed)).program(length)


# -- printing --------------------------------------------------------------------------------


def _literal(value: Any, flags: bool = False, present: frozenset[int] | None = None) -> str:
    if isinstance(value, Fd):
        return value.name() if present is None or value.step in present else "BAD"
    if flags and isinstance(value, int):
        if value == os.O_NONBLOCK:
            return "os.O_NONBLOCK"
        names = [text for bit, text in FLAG_NAMES.items() if value & bit == bit]
        return " | ".join(names) or "os.O_RDONLY"
    if isinstance(value, int) and value in (0o644, 0o600, 0o755):
        return oct(value)
    return repr(value)


def statement(step: Step, present: frozenset[int] | None = None) -> str:
    """One step as Python source, calling ``o.<op>`` (``o`` is os or a backend); descriptors
    of steps not ``present`` (shrunk away) are BAD."""
    args = [
        _literal(arg, (step.op, index) in (("open", 1), ("pipe2", 0)), present)
        for index, arg in enumerate(step.args)
    ]
    args += [f"{key}={_literal(value, present=present)}" for key, value in step.kwargs]
    call = f"o.{step.op}({', '.join(args)})"
    if step.op in FD_MAKERS:
        return f"f{step.id} = step(lambda: {call}, fd=True)"
    return f"step(lambda: {call})"


def script(program: Program, configuration: str, seed: int | None = None) -> str:
    """A standalone Python script that replays ``program`` natively and on ``configuration``
    and prints both outcomes, step by step."""
    present = frozenset(step.id for step in program)
    body = "\n".join("    " + statement(step, present) for step in program)
    origin = f" (seed {seed})" if seed is not None else ""
    return f'''# A program on which {configuration} differs from Linux{origin}. Run as root:
#   python this_script.py
import os

from tests.posixbackend.fuzzing.replay import replay

BAD = {BAD_FD}


def program(o, step):
{body}


replay(program, {configuration!r})
'''
