"""``python -m posixbackend --isolate [OPTIONS] (SCRIPT | -c CODE) [ARGS]``: the launcher's
isolated mode, dispatched from :func:`posixbackend.launcher.main.main` before its own parsing.

The program runs through :func:`run_isolated`; its stdout and stderr are written through and
the launcher exits with its status. A run a limit ended prints one line and exits with 125
(124 when it was ``--time-limit``, as the launcher's own ``--time-limit``), also when the limit
is one only the program's process could see and reports (a MemoryError under the memory
limit: the line says so); a child killed by a signal exits with 128 + the signal, as a shell
reports it; a program that broke the result channel's protocol prints one line and exits
with 123, its files discarded.
"""

from __future__ import annotations

import contextlib
import os
import posix
import posixpath
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

import attrs

import compat
from posixbackend.isolation.limits import Limits, parse_limits
from posixbackend.isolation.runner import IsolationError, run_isolated
from posixbackend.launcher.grants import GrantError, parse_boolean
from posixbackend.launcher.options import UsageError, parse_time_limit, usage_error
from posixbackend.permissions.policy import Access, Permissions
from vfs import HostFileSystem

ISOLATE = "--isolate"
LIMIT_STATUS = 125
"""The exit status when a limit of the isolated mode ended the program."""
TIME_LIMIT_STATUS = 124
"""The exit status when ``--time-limit`` ended it (GNU timeout's, as the launcher's own)."""
PROTOCOL_STATUS = 123
"""The exit status when the program broke the result channel's protocol (forged or
malformed frames or snapshot): nothing it sent back is kept."""
CANNOT_RUN_STATUS = 2
"""The exit status when the script cannot be read or the child cannot run it (as python's)."""

STDIN_READ_WHOLE = compat.declare(
    id="isolation.stdin_read_whole",
    function="sys.stdin.read",
    aspect="standard input under --isolate",
    level=compat.Level.FINE,
    explanation="the launcher reads its whole standard input (unless it is a terminal, when "
    "the program gets none) before the isolated program starts, so the program cannot "
    "interact with a user or read a stream that never ends",
)

HELP = """\
usage: {prog} --isolate [option] ... (file | -c cmd) [arg] ...

Run a Python program in a separate interpreter confined by the kernel (resource limits,
user and network namespaces, Landlock, seccomp), under the managed backend with a memory
file system. The program cannot write host files, start processes or open sockets.

Options (after --isolate, before the program):
  --time-limit=SECONDS   stop the program after SECONDS of wall time (status 124)
  --isolate-limit SPEC   change limits: cpu=S, wall=S, memory=SIZE, open_files=N,
                         file_size=SIZE, output=SIZE (SIZE with K, M or G; 'off' for none);
                         repeatable; defaults: {defaults}
  --snapshot-out DIR     write the files the program left in its memory file system below
                         the host directory DIR (made if missing)
  --allow-create-thread[=BOOL]
                         let the program start threads
  --allow-native-access[=BOOL]
                         let the program use ctypes and load C extensions
  -h, --help             show this help and exit

A limit that ends the program prints one line and gives status 125; a program that
breaks the result protocol (forges what the isolated child reports) gives status 123.
"""

_VALUED = ("--time-limit", "--isolate-limit", "--snapshot-out")


@attrs.frozen
class IsolatedCommand:
    """A parsed ``--isolate`` command line."""

    program: str | Path
    """The code of ``-c``, or the script's host path."""
    argv: tuple[str, ...] = ()
    limits: Limits = attrs.field(factory=Limits)
    time_limit: float | None = None
    snapshot_out: str | None = None
    allow_create_thread: bool = False
    allow_native_access: bool = False
    help: bool = False

    @property
    def permissions(self) -> Permissions:
        """What the program may do inside its child."""
        return guest_permissions(
            self.allow_create_thread, self.allow_native_access, self.time_limit
        )


def guest_permissions(
    allow_create_thread: bool, allow_native_access: bool, time_limit: float | None = None
) -> Permissions:
    """The in-process permissions the command line's grants give a guest inside its child
    (``--isolate`` and ``--isolate-batch``): its whole memory file system, and what was
    granted."""
    return Permissions(
        allow_io=Access.ALL,
        allow_create_thread=allow_create_thread,
        allow_native_access=allow_native_access,
        time_limit=time_limit,
    )


GRANTS: Final = {
    "--allow-create-thread": "allow_create_thread",
    "--allow-native-access": "allow_native_access",
}
"""The grant options of ``--isolate`` and ``--isolate-batch``, with the field each sets."""

def granted(name: str, value: str | None) -> dict[str, Any]:
    """The command field the grant option ``name`` sets, with the boolean ``value`` gives
    (None when the option came bare); UsageError when it is not a boolean."""
    try:
        return {GRANTS[name]: parse_boolean(name, value)}
    except GrantError as error:
        raise UsageError(str(error)) from None


def next_value(arguments: Sequence[str], index: int, name: str) -> tuple[str, int]:
    """The value of the option ``name`` given as the next argument (``arguments[index]``), and
    the index after it; UsageError when the arguments end first."""
    if index >= len(arguments):
        raise UsageError(f"Argument expected for the {name} option")
    return arguments[index], index + 1


def parse_isolated(arguments: Sequence[str]) -> IsolatedCommand | None:
    """The isolated command ``arguments`` give, or None when ``--isolate`` is not among the
    launcher's own options (it may be the program's argument); UsageError when bad."""
    found = False
    command = IsolatedCommand("")
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        index += 1
        name, equals, value = argument.partition("=")
        if argument == ISOLATE:
            found = True
        elif argument in ("-h", "--help") and found:
            return attrs.evolve(command, help=True)
        elif name in GRANTS:
            command = attrs.evolve(command, **granted(name, value if equals else None))
        elif name in _VALUED:
            if not equals:
                value, index = next_value(arguments, index, name)
            command = _with_option(command, name, value)
        elif not found:
            return None
        elif argument.startswith("-c"):
            code = argument[2:]
            if not code:
                if index >= len(arguments):
                    raise UsageError("Argument expected for the -c option")
                code = arguments[index]
                index += 1
            return attrs.evolve(command, program=code, argv=tuple(arguments[index:]))
        elif argument.startswith("-"):
            raise UsageError(
                f"{name}: not an option of --isolate (it runs a SCRIPT or -c CODE under the "
                "managed backend with a memory file system)"
            )
        else:
            return attrs.evolve(command, program=Path(argument), argv=tuple(arguments[index:]))
    if not found:
        return None
    raise UsageError("--isolate needs a program: a SCRIPT or -c CODE")


def _with_option(command: IsolatedCommand, name: str, value: str) -> IsolatedCommand:
    """``command`` with the valued option ``name`` set to ``value``."""
    if name == "--time-limit":
        return attrs.evolve(command, time_limit=parse_time_limit(value))
    if name == "--isolate-limit":
        try:
            return attrs.evolve(command, limits=parse_limits(value, command.limits))
        except ValueError as error:
            raise UsageError(f"--isolate-limit: {error}") from None
    return attrs.evolve(command, snapshot_out=value)


def isolated_main(arguments: Sequence[str], prog: str) -> int | None:
    """Run an ``--isolate`` command line; its exit status, or None when ``arguments`` do not
    ask for the isolated mode."""
    try:
        command = parse_isolated(arguments)
    except UsageError as error:
        return usage_error(prog, str(error))
    if command is None:
        return None
    if command.help:
        print(HELP.format(prog=prog, defaults=_defaults()), end="")
        return 0
    stdin = sys.stdin
    data = b"" if stdin is None or stdin.isatty() else stdin.buffer.read()
    if data:
        STDIN_READ_WHOLE.hit()
    try:
        result = run_isolated(
            command.program, command.permissions, limits=command.limits, argv=command.argv,
            stdin=data,
        )  # fmt: skip
    except OSError as error:
        if not isinstance(command.program, Path) or error.filename is None:
            raise
        # the script cannot be read: python's message and status
        print(f"{prog}: can't open file {str(command.program)!r}: [Errno {error.errno}] "
              f"{error.strerror}", file=sys.stderr)  # fmt: skip
        return CANNOT_RUN_STATUS
    except IsolationError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return CANNOT_RUN_STATUS
    _write_through(result.stdout, sys.stdout)
    _write_through(result.stderr, sys.stderr)
    if command.snapshot_out is not None:
        try:
            write_snapshot(command.snapshot_out, result.files, result.links)
        except OSError as error:
            print(f"{prog}: cannot write the files to {command.snapshot_out}: {error}",
                  file=sys.stderr)  # fmt: skip
        for note in result.notes:
            print(f"{prog}: {note}", file=sys.stderr)
    if result.protocol_error is not None:
        print(f"{prog}: isolated program broke the result protocol: {result.protocol_error}",
              file=sys.stderr)  # fmt: skip
        return PROTOCOL_STATUS
    kind = result.limit_exceeded or result.reported_limit
    if kind is not None:
        reported = "" if result.limit_exceeded is not None else " (as the program reports)"
        time_limit = command.time_limit
        if kind == "wall" and time_limit is not None and result.limits.wall_seconds == time_limit:
            print(f"{prog}: time limit of {time_limit!r} s exceeded{reported}", file=sys.stderr)
            return TIME_LIMIT_STATUS
        print(f"{prog}: isolated program stopped: {result.limits.describe(kind)} "
              f"exceeded{reported}", file=sys.stderr)  # fmt: skip
        return LIMIT_STATUS
    if result.signal is not None:
        return 128 + result.signal
    return result.status


def _defaults() -> str:
    """The default limits, for the help text."""
    limits = Limits()
    return ", ".join(
        f"{kind}={limits.describe(kind).partition('(')[2].rstrip(')')}"
        for kind in ("cpu", "wall", "memory", "open_files", "file_size", "output")
    )


def _write_through(data: bytes, stream: TextIO | None) -> None:
    """Write ``data`` to a text stream's binary buffer (decoded, to one without a buffer)."""
    if stream is None:
        return
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(data.decode(errors="replace"))
        stream.flush()
        return
    buffer.write(data)
    buffer.flush()


def write_snapshot(
    directory: str, files: Mapping[str, bytes], links: Mapping[str, str] | None = None
) -> None:
    """Write ``files`` (guest path -> contents) below the host ``directory``, which is made if
    missing: each file once, and each name of ``links`` (further name -> first name) as a hard
    link to its first name. The host provider keeps every write inside ``directory``, whatever
    the guest named; a name already there is replaced, never written through."""
    links = links or {}
    os.makedirs(directory, exist_ok=True)
    host = HostFileSystem(os.path.abspath(directory))
    try:
        for path, data in sorted(files.items()):
            if path in links:
                continue
            _replaceable(host, path)
            flags = posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL
            with host.open(path, flags, 0o644) as handle:
                handle.pwrite(data, 0)
        for path, first in sorted(links.items()):
            _replaceable(host, path)
            host.link(first, path, False)
    finally:
        host.close()


def _replaceable(host: HostFileSystem, path: str) -> None:
    """Make ``path``'s parent directories, and remove what ``path`` names already."""
    parent = ""
    for part in posixpath.dirname(path).strip("/").split("/"):
        if part:
            parent += "/" + part
            with contextlib.suppress(FileExistsError):
                host.mkdir(parent, 0o755)
    with contextlib.suppress(FileNotFoundError):
        host.unlink(path)
