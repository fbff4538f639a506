"""``python -m posixbackend``: parse the command line, put the backend in charge, run it."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from posixbackend.launcher.options import (
    ENVIRONMENT_VARIABLE,
    HELP,
    USAGE,
    FsKind,
    UsageError,
    parse_command,
)
from posixbackend.launcher.program import CannotOpen, Interrupted, run
from posixbackend.launcher.sandbox import Sandbox
from posixbackend.launcher.session import Session
from posixbackend.launcher.sources import copy_in, program_files
from posixbackend.switch.names import PosixModuleBackend

USAGE_STATUS = 2
"""The exit status for a bad command line or an unreadable script, as python's."""


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = "posixbackend",
    default_backend: PosixModuleBackend = PosixModuleBackend.NATIVE,
) -> int:
    """Run the launcher with ``argv`` (default: sys.argv[1:]); the process's exit status."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if "--isolate" in arguments:  # the isolated mode parses its own command line
        from posixbackend.isolation.cli import isolated_main

        isolated = isolated_main(arguments, prog)
        if isolated is not None:
            return isolated
    interrupted = Interrupted()
    stdin_is_tty = sys.stdin is not None and sys.stdin.isatty()
    try:
        command = parse_command(
            arguments, default_backend=default_backend, stdin_is_tty=stdin_is_tty
        )
        if command.help:
            print(USAGE.format(prog=prog))
            print(HELP.format(variable=ENVIRONMENT_VARIABLE), end="")
            return 0
        session = Session(command.options)
    except UsageError as error:
        return usage_error(prog, str(error))
    if command.compat_report is not None:
        session.report_at_exit(command.compat_report)
    if command.changes:
        session.changes_at_exit(lambda: sys.stderr)
    target = command.target
    layout = session.layout
    if layout is not None and command.options.file_system.kind is FsKind.MEMORY:
        for path in program_files(target, layout.cwd):
            copy_in(layout.file_system, path)
    sandbox = Sandbox(command, session, prog)
    sandbox.prepare()  # forks the supervisor when one is needed: only the guest goes on
    session.activate(runs_program=True)
    try:
        return run(target, interrupted, sandbox.start, lambda: session.time_limit)
    except CannotOpen as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return USAGE_STATUS


def usage_error(prog: str, message: str) -> int:
    """Report a bad command line the way python does, and give its exit status."""
    print(message, file=sys.stderr)
    print(USAGE.format(prog=prog), file=sys.stderr)
    print(f"Try `{prog} --help' for more information.", file=sys.stderr)
    return USAGE_STATUS


def managed_main() -> int:
    """The ``posixbackend-managed`` command: the launcher with the java backend by default."""
    return main(prog="posixbackend-managed", default_backend=PosixModuleBackend.JAVA)
