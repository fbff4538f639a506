"""``python -m posixbackend``: parse the command line, put the backend in charge, run it."""

from __future__ import annotations

import atexit
import importlib
import posix
import sys
from collections.abc import Sequence

from posixbackend.backendnames import PosixModuleBackend
from posixbackend.launcher.options import (
    ENVIRONMENT_VARIABLE,
    HELP,
    USAGE,
    USAGE_STATUS,
    Command,
    FsKind,
    UsageError,
    parse_command,
    usage_error,
)
from posixbackend.launcher.program import CannotOpen, Interrupted, fresh_main, run

# The session (the backend, the switch), the sandbox and Python's relaunch are imported where
# a run needs them: a run that builds its backend lazily (:mod:`.lazystart`) imports them at
# the program's first use of the backend, or never.
DEFERRED_MODULES = (
    "posixbackend.launcher.pythonoptions", "posixbackend.launcher.relaunch",
    "posixbackend.launcher.session", "posixbackend.launcher.sandbox",
    "posixbackend.launcher.sources", "code", "runpy", "threading", "traceback",
)  # fmt: skip
"""The modules a run imports where it needs them, which a lazy run may never import: an
eager run imports them before it activates its session, as it always did (so that they bind
the real ``posix``, and the standard library's before any stand-in), and so does a process
whose backend is put in charge before the launcher runs (a child Python's start-up; see
:func:`import_deferred`)."""
TYPE_CHECKING = False  # typing costs milliseconds to import; mypy knows this one
if TYPE_CHECKING:
    from typing import NoReturn

    from posixbackend.launcher.relaunch import Launch
    from posixbackend.launcher.session import Session


def import_deferred() -> None:
    """Import :data:`DEFERRED_MODULES` now (before a backend's stand-ins are installed)."""
    for name in DEFERRED_MODULES:
        importlib.import_module(name)


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = "posixbackend",
    default_backend: PosixModuleBackend = PosixModuleBackend.NATIVE,
    program_name: str | None = None,
    relaunched: bool = False,
) -> int | None:
    """Run the launcher with ``argv`` (default: sys.argv[1:]); the process's exit status, or
    None when the program has run and python's ``-i`` prompt is to follow (the caller then
    returns to the interpreter instead of exiting).

    ``program_name`` begins the messages the launcher prints on python's behalf ("can't open
    file"): for ``python -m posixbackend`` python's own ``argv[0]``, as python would print
    it; by default ``prog`` (the console scripts' names). ``relaunched``: this interpreter was
    started again with the Python options of ``argv``, which are in force."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if any(argument.startswith("--isolate-batch") for argument in arguments):
        from posixbackend.isolation.batch import batch_main  # parses its own command line

        batch = batch_main(arguments, prog)
        if batch is not None:
            return batch
    if "--isolate" in arguments:  # the isolated mode parses its own command line
        from posixbackend.isolation.cli import isolated_main

        isolated = isolated_main(arguments, prog)
        if isolated is not None:
            return isolated
    name = prog if program_name is None else program_name
    interrupted = Interrupted()
    stdin_is_tty = sys.stdin is not None and sys.stdin.isatty()
    try:
        command = parse_command(
            arguments, default_backend=default_backend,
            stdin_is_tty=stdin_is_tty or bool(sys.flags.interactive),
            notice=None if relaunched else _notice,  # the first interpreter printed them
        )  # fmt: skip
        early = _answered_without_running(command, prog, name)
        if early is not None:
            return early
        if command.python.interpreter and not relaunched:
            from posixbackend.launcher.relaunch import Launch, RelaunchError

            try:
                _start_again(Launch(prog, default_backend.value, name, tuple(sys.orig_argv)),
                             command, arguments)  # fmt: skip
            except RelaunchError as error:
                print(f"{prog}: {error}", file=sys.stderr)
                return 1
        session = None if _lazy(command) else _session(command)
    except UsageError as error:
        return usage_error(prog, str(error))
    inspecting = bool(sys.flags.inspect)
    prompting = inspecting and (bool(sys.flags.interactive) or stdin_is_tty)
    try:
        if session is None:
            status = _run_lazily(command, interrupted)
        else:
            status = _run_program(command, session, prog, interrupted, inspecting)
    except CannotOpen as error:
        print(f"{name}: {error}", file=sys.stderr)
        if prompting:  # python -i prompts all the same, in an empty __main__
            fresh_main()
            return None
        status = USAGE_STATUS
    except SystemExit as error:  # the launcher's own (the sandbox cannot be applied)
        if inspecting:
            end_now(error.code)
        raise
    return _ending(status, inspecting, prompting)


def _session(command: Command) -> Session:
    """The session of an eager run (UsageError when its options cannot be put in force)."""
    from posixbackend.launcher.session import Session

    return Session(command.options)


def _lazy(command: Command) -> bool:
    """Whether the run builds its backend at the program's first use of it."""
    from posixbackend.launcher.lazystart import eligible

    return eligible(command)


def _run_lazily(command: Command, interrupted: Interrupted) -> int:
    """Run the program with light stand-ins in place, the session built at its first use of
    the backend (see :mod:`.lazystart`): what :func:`_run_program` does for such a run (no
    sandbox, no supervisor, no permissions, no time limit, nothing at exit), put off."""
    from posixbackend.launcher.lazystart import LazyStart

    def build() -> None:
        session = _session(command)
        session.activate(runs_program=True)
        session.begin_program()  # (nothing to start: no time limit, no permissions)

    LazyStart(build).install()
    return run(command.target, interrupted)


def _start_again(launch: Launch, command: Command, arguments: Sequence[str]) -> None:
    """Replace this process by the interpreter started with the command's Python options,
    running the launcher on the same ``arguments`` (RelaunchError when it cannot)."""
    from posixbackend.launcher.pythonoptions import interpreter_options
    from posixbackend.launcher.relaunch import RelaunchError, command_line, relaunch
    from posixbackend.launcher.session import runs_a_program

    if runs_a_program():
        raise RelaunchError(
            "Python's options start a new interpreter, which a program the launcher runs "
            "cannot do: give them on the launcher's own command line"
        )
    current = interpreter_options(sys.orig_argv)
    relaunch(command_line(launch, current, command.python.interpreter, arguments))


def _ending(status: int, inspecting: bool, prompting: bool) -> int | None:
    """What ``main`` gives for the program's ``status``: under python's -i, None to let its
    prompt follow (the program's endings give 0 or 1 then), or the end of the process (a time
    limit's 124, or no prompt to follow: a SystemExit would not end it)."""
    if not inspecting:
        return status
    from posixbackend.launcher.session import TIME_LIMIT_STATUS

    if prompting and status != TIME_LIMIT_STATUS:
        return None
    end_now(status)


def _answered_without_running(command: Command, prog: str, name: str) -> int | None:
    """The exit status when the command line asks only for help or the version (which it
    prints); None when there is a program to run."""
    if command.help:
        print(USAGE.format(prog=prog))
        print(HELP.format(variable=ENVIRONMENT_VARIABLE), end="")
        return 0
    if command.python_help is not None:  # python's own help: python prints it
        from posixbackend.launcher.relaunch import relaunch

        relaunch([name, command.python_help])
    if command.python.version:
        long_version = sys.version
        print(command.python.version_line(long_version.split(" ", 1)[0], long_version))
        return 0
    return None


def _run_program(
    command: Command, session: Session, prog: str, interrupted: Interrupted, inspecting: bool
) -> int:
    """Start the session and run the program (CannotOpen when its script is unreadable)."""
    import_deferred()
    from posixbackend.launcher.sandbox import Sandbox
    from posixbackend.launcher.sources import copy_in, program_files

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
    return run(target, interrupted, sandbox.start, lambda: session.time_limit, inspect=inspecting)


def _notice(message: str) -> None:
    """Print one of python's remarks about its options (it goes on parsing)."""
    print(message, file=sys.stderr, flush=True)


def end_now(code: object) -> NoReturn:
    """End the process as SystemExit(code) would where python's -i does not let SystemExit
    end it: the message of a non-numeric code, the other threads waited for, the at-exit
    handlers run and the standard streams flushed, then the status."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    import threading

    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            try:
                stream.flush()
            except (OSError, ValueError):
                status = status or 120  # python's status when it cannot flush at exit
    posix._exit(status & 0xFF)


def managed_main() -> int | None:
    """The ``posixbackend-managed`` command: the launcher with the java backend by default."""
    return main(prog="posixbackend-managed", default_backend=PosixModuleBackend.JAVA)
