"""A child Python of a served program runs its program through the launcher's bootstrap.

The ``posixbackend-startup.pth`` file gives a child Python its parent's backend, but only
when site runs (never under ``-S``, which compileall's and many tests' children use), and the
interpreter itself opens a script named on its command line on the host, where a memory file
system's files are not. So a child that is this very interpreter is started as the launcher
restarts itself with Python's options (:mod:`~posixbackend.launcher.relaunch`): ``python
[its interpreter options] -c BOOTSTRAP ... [the backend options] [its own arguments]``; the
launcher then reads its script, module or code through the served file system, with Python's
meaning for every option, and the program sees the command line it was given as
``sys.orig_argv``.
"""

from __future__ import annotations

import os
import posixpath
import sys

import attrs

from posixbackend.emulated.processhandlers import ProcessCommand
from posixbackend.launcher.options import BackendOptions, UsageError, parse_command
from posixbackend.launcher.pythonoptions import interpreter_options
from posixbackend.launcher.relaunch import BOOTSTRAP, Launch, package_roots
from posixbackend.launcher.target import TargetKind

RUNS_PROGRAMS = frozenset({TargetKind.SCRIPT, TargetKind.MODULE, TargetKind.CODE})
"""The targets the launcher runs as python does (standard input and the prompt stay
python's own)."""


def through_launcher(command: ProcessCommand, options: BackendOptions) -> ProcessCommand:
    """``command`` started through the launcher's bootstrap with ``options`` when it runs
    this interpreter on a script, module or code (else ``command`` as it is)."""
    if len(command.executables) != 1 or not command.args:
        return command
    executable = os.fsdecode(command.executables[0])
    if not sys.executable or not _same_file(executable, sys.executable):
        return command
    args = [os.fsdecode(word) for word in command.args]
    try:
        parsed = parse_command(args[1:])
    except UsageError:
        return command  # python reports it itself
    if (
        parsed.help or parsed.python_help is not None or parsed.python.version
        or parsed.target.kind not in RUNS_PROGRAMS or parsed.options.fs is not None
        or parsed.options.backend.emulated
    ):  # fmt: skip
        return command  # python's own answer, or the words of a launcher, not python's
    launch = Launch("python", "native", args[0], tuple(args))
    roots = package_roots()
    rewritten = [
        args[0], *interpreter_options(args), "-c", BOOTSTRAP, launch.encode(), str(len(roots)),
        *roots, *options.arguments(), *args[1:],
    ]  # fmt: skip
    return attrs.evolve(command, args=tuple(os.fsencode(word) for word in rewritten))


def _same_file(one: str, other: str) -> bool:
    return posixpath.realpath(one) == posixpath.realpath(other)
