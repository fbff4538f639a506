"""The launcher's command line: ``[options] (SCRIPT | -m MODULE | -c CODE | -) [ARGS...]``.

Parsed by hand rather than with argparse because, as with ``python`` itself, everything after
the target belongs to the program, options take both ``--name=value`` and ``--name value``, and
GraalPy's ``--python.PosixModuleBackend=java`` spelling must be accepted too.
"""

from __future__ import annotations

import enum
import math
import shlex
import sys
from collections.abc import Callable, Sequence

from posixbackend.backendnames import PosixModuleBackend, valid_names
from posixbackend.launcher.grants import BOOLEAN_FLAGS, VALUED_FLAGS, GrantError, PermissionOptions
from posixbackend.launcher.plain import Plain
from posixbackend.launcher.pythonoptions import (
    HELP_LETTERS,
    HELP_TOPICS,
    LONG_OPTIONS,
    VALUED,
    PythonOptionError,
    PythonOptionReader,
    PythonOptions,
    missing_value,
)
from posixbackend.launcher.target import Target, TargetKind

ENVIRONMENT_VARIABLE = "POSIXBACKEND_OPTIONS"
"""Carries the backend options to child Python processes (shell syntax, e.g. ``--fs=host``)."""

USAGE = "usage: {prog} [option] ... (file | -m mod | -c cmd | -) [arg] ..."

HELP = """\
Run a Python program with the os interface served by a chosen POSIX backend.

Options:
  --posix-backend=NAME   native (the real os), java, managed or emulated (the emulated
                         backend); also spelled --python.PosixModuleBackend=NAME
  --fs=SPEC              the emulated backend's file system: memory, host, host:ROOT or
                         overlay (the host read-only, memory on top); default: host;
                         inherit:FD is the file system of the parent program, served on
                         the socket FD (what a child Python of a memory or overlay
                         program is given, with --cwd the parent's directory)
  --mount GUEST=SPEC[:ro]
                         also show SPEC (memory, host or host:DIR, or a host directory) at
                         the absolute path GUEST; repeatable; ':ro' makes it read-only
  --cwd=DIR              the program's starting directory (default: the current one)
  --time-resolution=T    file time resolution: an integer of nanoseconds or a number with
                         s, ms, us or ns (default: 1s, as GraalPy's Java backend)
  --log.python.compatibility.level=LEVEL
                         log compatibility gaps hit at LEVEL or above to stderr (OFF,
                         SEVERE, WARNING, INFO, CONFIG, FINE, FINER, FINEST, ALL)
  --compat-report=FILE   at exit, write the compatibility report to FILE (- for stderr;
                         a .json name gives JSON, anything else text)
  --changes              at exit, list what the program created, changed and deleted
                         (needs --fs=overlay)
  --processes=POLICY     host (default: the program may start host processes) or none
  --time-limit=SECONDS   stop the program after SECONDS of wall time: TimeLimitExceeded is
                         raised in its main thread, and the launcher prints "posixbackend:
                         time limit of SECONDS s exceeded" and exits with status 124 (as GNU
                         timeout); a supervisor process ends the program and everything it
                         started 1 s later if it is still running; child Python processes
                         get the same limit
  --sandbox              run the program under permissions: its file system (--fs, memory
                         unless given; implies --posix-backend=java) and nothing else, no
                         processes, threads, native code, environment or host sockets;
                         each --allow-* option gives one thing back (without --sandbox
                         everything is allowed and an --allow-* set to false or none takes
                         one thing away); whenever the permissions take something away,
                         the kernel confines the program too (Landlock, seccomp, rlimits)
  --sandbox-report[=FILE]
                         say what the kernel applied of that confinement and why not the
                         rest: text on stderr, or JSON written to FILE
  --allow-io=GRANT       all, none, or fs (the emulated backend's file system only; files
                         opened on the host by C code are refused)
  --allow-create-process[=BOOL]
                         start processes (with --processes=host, the default)
  --allow-create-thread[=BOOL]
                         start threads
  --allow-native-access[=BOOL]
                         use ctypes or cffi, import C extension modules outside the
                         interpreter's own library
                         (a flag given alone is true; BOOL is true or false)
  --allow-environment-access=GRANT
                         inherit, none, or NAME[=VALUE],...: the named variables only, with
                         the launcher's value or the one given ({variable} is always
                         there, to hand the options on)
  --allow-host-sockets=GRANT
                         all, none, or HOST:PORT,... patterns (shell wildcards), checked on
                         connect, bind, sendto and name resolution
  -h, --help             show this help and exit

Python's own options (python -h lists them) are accepted too, before the target and among
the options above, with python's meaning for the program: -b, -B, -d, -E, -i, -I, -O, -OO,
-P, -q, -R, -s, -S, -u, -v, -W arg, -x, -X opt, --check-hash-based-pycs MODE (the ones
that set the interpreter up start it again with them); -V and --version print python's
version, --help-env, --help-xoptions and --help-all print python's help.

Targets:
  file                   run the program in a script file (or a directory or zip file with
                         __main__.py)
  -m mod                 run a library module as a script
  -c cmd                 run the program passed as a string
  -                      read the program from standard input (the default when no target
                         is given and standard input is not a terminal)

The options are also handed to child Python processes the program starts, through the
environment variable {variable}. Under --fs=memory or overlay (or with --mount) a child
Python sees the program's own file system, served to it on a socket (--fs=inherit:FD), and
starts in the program's current directory; other programs see the host's files.
"""


USAGE_STATUS = 2
"""The exit status for a bad command line or an unreadable script, as python's."""


class UsageError(Exception):
    """A bad command line: the launcher prints the usage and exits with status 2, as python."""


def usage_error(prog: str, message: str) -> int:
    """Report a bad command line the way python does, and give its exit status."""
    print(message, file=sys.stderr)
    print(USAGE.format(prog=prog), file=sys.stderr)
    print(f"Try `{prog} --help' for more information.", file=sys.stderr)
    return USAGE_STATUS


class FsKind(enum.Enum):
    """The ``--fs`` choices."""

    MEMORY = "memory"
    HOST = "host"
    OVERLAY = "overlay"
    INHERIT = "inherit"
    """The parent program's file system, served on an inherited socket (child processes)."""


class FsSpec(Plain):
    """A file system named on the command line: its kind, for ``host:ROOT`` the root, and
    for ``inherit:FD`` the descriptor."""

    __slots__ = ("fd", "kind", "root")
    kind: FsKind
    root: str
    fd: int

    def __init__(self, kind: FsKind, root: str = "/", fd: int = -1) -> None:
        self._set(kind=kind, root=root, fd=fd)

    @classmethod
    def parse(cls, text: str, option: str) -> FsSpec:
        """``memory``, ``host``, ``host:ROOT``, ``overlay`` or ``inherit:FD`` (UsageError
        otherwise)."""
        name, colon, root = text.partition(":")
        if name == "host" and colon:
            if not root.startswith("/"):
                raise UsageError(f"{option}: host:ROOT needs an absolute ROOT, not {root!r}")
            return cls(FsKind.HOST, root)
        if name == "inherit" and option == "--fs":
            if not (colon and root.isascii() and root.isdigit() and int(root) > 2):
                raise UsageError(f"{option}: inherit:FD needs a descriptor above 2, not {text!r}")
            return cls(FsKind.INHERIT, fd=int(root))
        if not colon and name in {kind.value for kind in FsKind} - {"inherit"}:
            return cls(FsKind(name))
        raise UsageError(f"{option}: expected memory, host, host:ROOT or overlay, not {text!r}")

    def __str__(self) -> str:
        if self.kind is FsKind.HOST and self.root != "/":
            return f"host:{self.root}"
        if self.kind is FsKind.INHERIT:
            return f"inherit:{self.fd}"
        return str(self.kind.value)


class MountSpec(Plain):
    """``--mount GUEST=SPEC[:ro]``: a provider shown at an absolute guest path."""

    __slots__ = ("guest", "read_only", "source")
    guest: str
    source: FsSpec
    read_only: bool

    def __init__(self, guest: str, source: FsSpec, read_only: bool = False) -> None:
        self._set(guest=guest, source=source, read_only=read_only)

    @classmethod
    def parse(cls, text: str) -> MountSpec:
        guest, equals, spec = text.partition("=")
        if not equals or not guest or not spec:
            raise UsageError(f"--mount: expected GUEST=SPEC[:ro], not {text!r}")
        if not guest.startswith("/"):
            raise UsageError(f"--mount: the guest path must be absolute, not {guest!r}")
        read_only = spec.endswith(":ro")
        if read_only:
            spec = spec[: -len(":ro")]
        if spec.startswith("/"):  # a bare host directory
            spec = "host:" + spec
        source = FsSpec.parse(spec, "--mount")
        if source.kind is FsKind.OVERLAY:
            raise UsageError("--mount: SPEC is memory, host, host:DIR or a host directory")
        return cls(guest, source, read_only)

    def __str__(self) -> str:
        return f"{self.guest}={self.source}{':ro' if self.read_only else ''}"


def parse_time_resolution(text: str) -> int:
    """``--time-resolution``: nanoseconds, or a number with a unit (s, ms, us, ns)."""
    units = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9}
    for unit in ("ns", "us", "ms", "s"):
        if text.endswith(unit):
            number, scale = text[: -len(unit)], units[unit]
            break
    else:
        number, scale = text, 1
    try:
        value = round(float(number) * scale) if "." in number else int(number) * scale
    except ValueError:
        raise UsageError(
            f"--time-resolution: expected nanoseconds or a number with s, ms, us or ns, "
            f"not {text!r}"
        ) from None
    if value < 1:
        raise UsageError(f"--time-resolution: must be at least 1ns, not {text!r}")
    return value


def parse_time_limit(text: str) -> float:
    """``--time-limit``: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise UsageError(f"--time-limit: expected a positive number of seconds, not {text!r}")
    return value


class BackendOptions(Plain):
    """The options that choose and shape the backend (what child processes inherit)."""

    __slots__ = (
        "backend",
        "cwd",
        "fs",
        "grants",
        "log_level",
        "mounts",
        "processes",
        "time_limit",
        "time_resolution_ns",
    )  # fmt: skip
    backend: PosixModuleBackend
    fs: FsSpec | None
    mounts: tuple[MountSpec, ...]
    cwd: str | None
    time_resolution_ns: int | None
    log_level: str | None
    processes: str
    time_limit: float | None
    """``--time-limit`` in seconds (children get the same limit, counted from their start)."""
    grants: PermissionOptions
    """``--sandbox`` and the ``--allow-*`` options."""

    def __init__(  # noqa: PLR0917 - positional, as the attrs class it replaces
        self,
        backend: PosixModuleBackend = PosixModuleBackend.NATIVE,
        fs: FsSpec | None = None,
        mounts: tuple[MountSpec, ...] = (),
        cwd: str | None = None,
        time_resolution_ns: int | None = None,
        log_level: str | None = None,
        processes: str = "host",
        time_limit: float | None = None,
        grants: PermissionOptions | None = None,
    ) -> None:
        self._set(
            backend=backend, fs=fs, mounts=mounts, cwd=cwd,
            time_resolution_ns=time_resolution_ns, log_level=log_level, processes=processes,
            time_limit=time_limit, grants=PermissionOptions() if grants is None else grants,
        )  # fmt: skip

    @property
    def file_system(self) -> FsSpec:
        """The ``--fs`` in force (host when none was given, GraalPy's default)."""
        return FsSpec(FsKind.HOST) if self.fs is None else self.fs

    def arguments(self) -> list[str]:
        """These options as launcher arguments (for the environment variable)."""
        given = [f"--posix-backend={self.backend.value}"]
        if self.fs is not None:
            given.append(f"--fs={self.fs}")
        given += [f"--mount={mount}" for mount in self.mounts]
        if self.cwd is not None and self.file_system.kind is FsKind.INHERIT:
            given.append(f"--cwd={self.cwd}")  # where the parent was: the child starts there
        if self.time_resolution_ns is not None:
            given.append(f"--time-resolution={self.time_resolution_ns}ns")
        if self.log_level is not None:
            given.append(f"--log.python.compatibility.level={self.log_level}")
        if self.processes != "host":
            given.append(f"--processes={self.processes}")
        if self.time_limit is not None:
            given.append(f"--time-limit={self.time_limit!r}")
        return given + self.grants.arguments()

    def environment_value(self) -> str:
        """The value of :data:`ENVIRONMENT_VARIABLE` that hands these options on."""
        return shlex.join(self.arguments())


class Command(Plain):
    """A whole parsed command line."""

    __slots__ = (
        "changes",
        "compat_report",
        "help",
        "options",
        "python",
        "python_help",
        "sandbox_report",
        "target",
    )  # fmt: skip
    options: BackendOptions
    target: Target
    compat_report: str | None
    changes: bool
    help: bool
    sandbox_report: str | None
    """``--sandbox-report``: "-" (text on stderr) or a file for JSON; None: not asked."""
    python: PythonOptions
    """Python's own options given among the launcher's."""
    python_help: str | None
    """One of python's ``--help-*`` options, to print python's help for (and nothing else)."""

    def __init__(  # noqa: PLR0917 - positional, as the attrs class it replaces
        self,
        options: BackendOptions,
        target: Target,
        compat_report: str | None = None,
        changes: bool = False,
        help: bool = False,
        sandbox_report: str | None = None,
        python: PythonOptions | None = None,
        python_help: str | None = None,
    ) -> None:
        self._set(
            options=options, target=target, compat_report=compat_report, changes=changes,
            help=help, sandbox_report=sandbox_report,
            python=PythonOptions() if python is None else python, python_help=python_help,
        )  # fmt: skip


_VALUED = {
    "--posix-backend", "--python.PosixModuleBackend", "--fs", "--mount", "--cwd",
    "--time-resolution", "--log.python.compatibility.level", "--compat-report", "--processes",
    "--time-limit", *VALUED_FLAGS,
}  # fmt: skip
_BARE = {"--sandbox", *BOOLEAN_FLAGS}
"""Options given alone (``--allow-create-thread``) or with ``=value``, never the next word."""


Program = tuple[TargetKind, str, tuple[str, ...]]
"""A program named on the command line: its kind, the script, module or code, its arguments."""


class _Word(Plain):
    """What one word of the command line meant, beyond the options it recorded."""

    __slots__ = ("end", "help", "program", "taken")
    taken: int
    """How many of the following words it took as its value."""
    program: Program | None
    """The program it named (-c, -m), with the words after it."""
    help: str | None
    """-h (the launcher's help) or one of python's ``--help-*`` topics."""
    end: bool
    """The options end here (a lone "-" among letters, ``-u-``): the next word names the
    program, as after ``--``."""

    def __init__(
        self,
        taken: int = 0,
        program: Program | None = None,
        help: str | None = None,
        end: bool = False,
    ) -> None:
        self._set(taken=taken, program=program, help=help, end=end)


def parse_command(
    argv: Sequence[str],
    *,
    default_backend: PosixModuleBackend = PosixModuleBackend.NATIVE,
    stdin_is_tty: bool = False,
    notice: Callable[[str], None] | None = None,
) -> Command:
    """Parse the launcher's arguments (without the program name); UsageError when bad.

    Python's own options are accepted among the launcher's (:mod:`.pythonoptions`);
    ``notice`` receives python's non-fatal remarks about them."""
    options = BackendOptions(backend=default_backend)
    python = PythonOptionReader(notice=notice or (lambda message: None))
    backend_named = False
    report: str | None = None
    sandbox_report: str | None = None
    changes = False
    index = 0
    program: Program | None = None
    while index < len(argv):
        argument = argv[index]
        index += 1
        if argument == "--help":
            return Command(BackendOptions(), Target(TargetKind.INTERACTIVE), help=True)
        if argument == "--changes":
            changes = True
            continue
        if argument == "--version":
            python.flag("V")
            continue
        if argument in ("--", "-") or not argument.startswith("-"):
            following = argv[index:] if argument == "--" else argv[index - 1 :]
            program = _program_after_the_options(following)
            break
        if argument in LONG_OPTIONS or not argument.startswith("--"):
            word = _python_word(argument, argv[index:], python)
            index += word.taken
            if word.help == "-h":
                return Command(BackendOptions(), Target(TargetKind.INTERACTIVE), help=True)
            if word.help is not None:
                return Command(BackendOptions(), Target(TargetKind.STDIN), python_help=word.help)
            if word.program is not None or word.end:
                program = word.program or _program_after_the_options(argv[index:])
                break
            continue
        name, equals, value = argument.partition("=")
        if name == "--sandbox-report":
            if equals and not value:
                raise UsageError("--sandbox-report: expected a file name or nothing")
            sandbox_report = value if equals else "-"
            continue
        if name in _BARE:
            options = _with_grant(options, name, value if equals else None)
            continue
        if name not in _VALUED:
            raise UsageError(f"unknown option {argument}")
        if not equals:
            if index >= len(argv):
                raise UsageError(f"Argument expected for the {name} option")
            value = argv[index]
            index += 1
        if name == "--compat-report":
            if not value:
                raise UsageError("--compat-report: expected a file name or -")
            report = value
        else:
            options = _with_option(options, name, value)
            backend_named |= name in ("--posix-backend", "--python.PosixModuleBackend")
    target = _target(program, stdin_is_tty, python.skip_first_line)
    options = _sandboxed(options, backend_named)
    _check_consistent(options, changes)
    return Command(
        options, target, report, changes, sandbox_report=sandbox_report, python=python.options()
    )


def _python_word(word: str, following: Sequence[str], python: PythonOptionReader) -> _Word:
    """One word of python's options: a long option python knows, or short ones (``-uB``,
    ``-Wd``, ``-uc CODE``); UsageError with python's message when python would refuse it."""
    try:
        if word.startswith("--"):
            return _python_long_option(word, word, following, python)
        letters = word[1:]
        for position, letter in enumerate(letters, start=1):
            rest = letters[position:]
            if letter in HELP_LETTERS:
                return _Word(help="-h")
            if letter == "-":  # python's getopt reads a long option here
                if not rest:
                    python.notice("expected long option")
                    return _Word(end=True)
                if f"--{rest}" not in LONG_OPTIONS:
                    raise PythonOptionError(f"unknown option {word}")
                return _python_long_option(f"--{rest}", word, following, python)
            if letter in "cm" or letter in VALUED:
                taken = 0
                if not rest:
                    if not following:
                        raise missing_value(f"-{letter}")
                    rest, taken = following[0], 1
                if letter in VALUED:
                    python.valued(letter, rest)
                    return _Word(taken)
                kind = TargetKind.MODULE if letter == "m" else TargetKind.CODE
                return _Word(taken, program=(kind, rest, tuple(following[taken:])))
            python.flag(letter)
        return _Word()
    except PythonOptionError as error:
        raise UsageError(str(error)) from None


def _python_long_option(
    name: str, word: str, following: Sequence[str], python: PythonOptionReader
) -> _Word:
    """``--check-hash-based-pycs MODE`` or a help topic, given as ``word``."""
    if name in HELP_TOPICS:
        return _Word(help=name)
    if not following:
        raise missing_value(word, long=True)
    python.check_hash_based_pycs(following[0])
    return _Word(1)


def _program_after_the_options(words: Sequence[str]) -> Program | None:
    """The program the first word after the options names: a script, or standard input for
    "-" (None: no word, python then reads standard input or prompts)."""
    if not words:
        return None
    kind = TargetKind.STDIN if words[0] == "-" else TargetKind.SCRIPT
    return kind, words[0], tuple(words[1:])


def _target(program: Program | None, stdin_is_tty: bool, skip: bool) -> Target:
    """The target of the command line (python calls standard input "" in sys.argv[0] when it
    was not named with "-")."""
    if program is None:
        return Target(TargetKind.INTERACTIVE if stdin_is_tty else TargetKind.STDIN)
    kind, value, args = program
    if kind is TargetKind.STDIN and stdin_is_tty:
        kind = TargetKind.INTERACTIVE  # "-" with -i: python prompts too
    return Target(kind, value, args, skip_first_line=skip and kind is TargetKind.SCRIPT)


def _with_option(options: BackendOptions, name: str, value: str) -> BackendOptions:
    """``options`` with the backend option ``name`` set to ``value`` (UsageError if bad)."""
    if name in ("--posix-backend", "--python.PosixModuleBackend"):
        try:
            return options.evolve(backend=PosixModuleBackend(value))
        except ValueError:
            raise UsageError(
                f"{name}: expected one of {', '.join(valid_names())}, "
                f"not {value!r}"
            ) from None
    if name == "--fs":
        return options.evolve(fs=FsSpec.parse(value, name))
    if name == "--mount":
        return options.evolve(mounts=(*options.mounts, MountSpec.parse(value)))
    if name == "--cwd":
        if not value.startswith("/"):
            raise UsageError(f"--cwd: expected an absolute directory, not {value!r}")
        return options.evolve(cwd=value)
    if name == "--time-resolution":
        return options.evolve(time_resolution_ns=parse_time_resolution(value))
    if name == "--log.python.compatibility.level":
        import compat  # only this option needs it: parsing imports nothing of the library else

        try:
            compat.parse_level(value)
        except ValueError as error:
            raise UsageError(f"{name}: {error}") from None
        return options.evolve(log_level=value)
    if name == "--time-limit":
        return options.evolve(time_limit=parse_time_limit(value))
    if name in VALUED_FLAGS:
        return _with_grant(options, name, value)
    if value not in ("host", "none"):  # --processes, the last of _VALUED's backend options
        raise UsageError(f"--processes: expected host or none, not {value!r}")
    return options.evolve(processes=value)


def _with_grant(options: BackendOptions, name: str, value: str | None) -> BackendOptions:
    """``options`` with the permission option ``name`` (UsageError if its value is bad)."""
    try:
        return options.evolve(grants=options.grants.with_flag(name, value))
    except GrantError as error:
        raise UsageError(str(error)) from None


def _sandboxed(options: BackendOptions, backend_named: bool) -> BackendOptions:
    """``--sandbox`` runs on the emulated backend, in memory unless ``--fs`` says otherwise."""
    if not options.grants.sandbox:
        return options
    if not options.backend.emulated:
        if backend_named:
            raise UsageError("--sandbox: only for the emulated backend (--posix-backend=java)")
        options = options.evolve(backend=PosixModuleBackend.JAVA)
    if options.fs is None:
        options = options.evolve(fs=FsSpec(FsKind.MEMORY))
    return options


def _check_consistent(options: BackendOptions, changes: bool) -> None:
    """Options that mean nothing for the chosen backend are errors, not silently ignored."""
    if not options.backend.emulated:
        emulated_only = {
            "--fs": options.fs is not None, "--mount": bool(options.mounts),
            "--cwd": options.cwd is not None,
            "--time-resolution": options.time_resolution_ns is not None,
            "--processes": options.processes != "host", "--changes": changes,
            "--allow-io=fs": options.grants.io == "fs",
        }  # fmt: skip
        given = [name for name, present in emulated_only.items() if present]
        if given:
            raise UsageError(
                f"{', '.join(given)}: only for the emulated backend (--posix-backend=java)"
            )
    if options.processes == "none" and options.grants.create_process:
        raise UsageError("--allow-create-process contradicts --processes=none")
    if changes and options.file_system.kind is not FsKind.OVERLAY:
        raise UsageError("--changes needs --fs=overlay")


def options_from_environment(text: str) -> BackendOptions:
    """The options a parent handed on in :data:`ENVIRONMENT_VARIABLE`: backend options only
    (UsageError, its message not naming the variable, if anything else or bad)."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise UsageError(str(error)) from None
    index = 0
    while index < len(words):
        name, equals, _ = words[index].partition("=")
        if name in _NOT_INHERITED or name not in _VALUED | _BARE:
            raise UsageError(f"backend options only, not {words[index]!r}")
        if name in _VALUED and not equals:
            index += 1
            if index == len(words):
                raise UsageError(f"Argument expected for the {name} option")
        index += 1
    return parse_command([*words, "-c", ""]).options


_NOT_INHERITED = {"--changes", "--compat-report", "--help", "--sandbox-report"}
"""Launcher options about one run, not about the backend: never in the environment."""
