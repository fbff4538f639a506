"""The program a launcher runs: a script, a module, code, standard input or the prompt.

Kept apart from the command line's parsing (:mod:`posixbackend.launcher.options`, which
re-exports these): the isolated child runs programs too, and needs none of the options.
"""

from __future__ import annotations

import enum

from posixbackend.launcher.plain import Plain


class TargetKind(enum.Enum):
    """What the program to run is given as."""

    SCRIPT = "script"
    MODULE = "module"
    CODE = "code"
    STDIN = "stdin"
    INTERACTIVE = "interactive"


class Target(Plain):
    """The program: its kind, the file, module or code, and the arguments after it."""

    __slots__ = ("args", "kind", "skip_first_line", "value")
    kind: TargetKind
    value: str
    args: tuple[str, ...]
    skip_first_line: bool
    """Python's -x for a script: its first line is not source (a ``#!`` of another system)."""

    def __init__(
        self,
        kind: TargetKind,
        value: str = "",
        args: tuple[str, ...] = (),
        skip_first_line: bool = False,
    ) -> None:
        self._set(kind=kind, value=value, args=args, skip_first_line=skip_first_line)
