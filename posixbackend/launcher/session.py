"""Putting a backend in charge of the whole process: the launcher's and child processes'.

Unlike a ``with backend(...)`` block, a session is never left: the emulated backend serves the
main thread from activation until the interpreter has exited, so ``atexit`` handlers,
finalizers and threads the program leaves behind keep using it (a ``TemporaryDirectory``
cleaned up at exit must remove the emulated directory, not a host one of the same name).
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import functools
import logging
import math
import os
import posix
import queue
import resource
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, TextIO

import attrs

import compat
from posixbackend.defaultfs import host_cwd as process_cwd
from posixbackend.emulated import EmulatedBackend
from posixbackend.emulated.processhandlers import ChildProcess, HostProcessHandler, ProcessCommand
from posixbackend.launcher.childpython import through_launcher
from posixbackend.launcher.filesystems import (
    LOCKS_NOT_SHARED,
    Layout,
    build_layout,
    host_directory_of,
    serves_children,
)
from posixbackend.launcher.options import (
    ENVIRONMENT_VARIABLE,
    BackendOptions,
    FsKind,
    FsSpec,
    UsageError,
    options_from_environment,
)
from posixbackend.launcher.program import print_thread_exception
from posixbackend.launcher.removal import remove_tree
from posixbackend.launcher.streams import rebuild_standard_streams
from posixbackend.permissions.anchors import (
    Anchor,
    adopt,
    anchor_of_caller,
    free_start,
    release_thread,
)
from posixbackend.permissions.environment import PrivateEnvironment
from posixbackend.permissions.policy import Permissions
from posixbackend.permissions.timelimit import TimeLimit, TimeLimitExceeded
from posixbackend.switch.active import ACTIVE
from posixbackend.switch.block import BackendBlock, private_environment
from posixbackend.switch.installation import INSTALLATION
from posixbackend.switch.libraries import HOOK as C_LIBRARIES
from posixbackend.switch.nativecalls import native_calls, run_unrestricted
from vfs.host import host_is_directory
from vfs.remote import serve_pair

LOG_FORMAT = "[%(name)s] %(levelname)s: %(message)s"

TIME_LIMIT_STATUS: Final = 124
"""The exit status of a process whose ``--time-limit`` was used up (GNU timeout's)."""
GRACE: Final = 1.0
"""Seconds a process may run on after its time limit before it is ended from outside."""

# What runs natively and unrestricted (at exit, for a child, in the time limit's thread), bound
# now, before any program: a program can replace a standard library module's attributes
# (shutil.rmtree, contextvars.Context, atexit.register), but not these names' objects.
_UNRESTRICTED: Final = run_unrestricted
_REMOVE_TREE: Final = remove_tree
_AT_EXIT: Final = atexit.register
_FRESH_CONTEXT: Final = contextvars.Context
_SERVE_PAIR: Final = serve_pair
_PARTIAL: Final = functools.partial
_ADOPT: Final = adopt
_RELEASE: Final = release_thread


class LauncherProcessHandler:
    """Starts host processes for the program, in the host directory its guest cwd maps to.

    Under memory and overlay file systems a guest directory may not exist on the host (a
    temporary directory the program made): the child then runs in an empty host directory the
    launcher makes once and removes at exit, rather than failing to start.
    """

    def __init__(
        self,
        layout: Layout,
        pinned: tuple[bytes, bytes] | None = None,
        options: BackendOptions | None = None,
    ) -> None:
        self._layout = layout
        self._host = HostProcessHandler(cwd_map=self._host_directory)
        self._served = options if options and serves_children(layout, options) else None
        """The program's options when its child Python processes are served its file
        system (None: they see the host's, as every other child does)."""
        self._lock = threading.Lock()
        self._scratch: str | None = None
        self._pinned = pinned
        """A variable every child gets whatever the program gives it (the options, under
        permissions: a program cannot start its Python children without them)."""

    def _host_directory(self, guest: str) -> str:
        host = host_directory_of(self._layout, guest)
        layout = self._layout
        if (layout.host_root is None or layout.overlay is not None) and not host_is_directory(host):
            return self._scratch_directory()
        return host

    def _scratch_directory(self) -> str:
        """The empty host directory children start in when their guest one is missing (made
        at the first need, or before the sandbox confines the launcher: see :meth:`prepare`)."""
        with self._lock:
            if self._scratch is None:
                base = posix.environ.get(b"TMPDIR", b"/tmp").decode(sys.getfilesystemencoding())
                path = f"{base}/posixbackend-children-{posix.getpid()}-{posix.urandom(4).hex()}"
                posix.mkdir(path, 0o700)
                self._scratch = path
                _AT_EXIT(self._remove_scratch)  # (takes no path a program could choose)
            return self._scratch

    def _remove_scratch(self) -> None:
        """Remove the scratch directory and what children left in it (at exit; natively and
        unrestricted, whatever permissions the program had: so through functions bound
        before the program ran, see :mod:`~posixbackend.launcher.removal`)."""
        if self._scratch is not None:
            _UNRESTRICTED(_REMOVE_TREE, self._scratch)

    def prepare(self) -> str | None:
        """Make now, while the launcher may still write the host, the directory children may
        need later (when the layout can show directories the host lacks); its path."""
        layout = self._layout
        if layout.host_root is None or layout.overlay is not None:
            return self._scratch_directory()
        return None

    def start(self, command: ProcessCommand) -> ChildProcess:
        if self._pinned is not None:
            name, value = self._pinned
            command = attrs.evolve(command, env={**command.env, name: value})
        options = self._served_options(command)
        if options is None:
            return self._host.start(command)
        LOCKS_NOT_SHARED.hit()
        number = _free_child_descriptor(command.fds)
        fd = -1
        try:
            fd = _UNRESTRICTED(_SERVE_CONNECTION, self, anchor_of_caller())
            options = options.evolve(
                fs=FsSpec(FsKind.INHERIT, fd=number),
                mounts=(),  # they are in the served file system
                cwd=command.cwd if command.cwd is not None else options.cwd,
            )
            handed_on = options.environment_value().encode()
            env = {**command.env, ENVIRONMENT_VARIABLE.encode(): handed_on}
            command = attrs.evolve(command, env=env, fds={**command.fds, number: fd})
            if not options.grants.given:  # (permissions: the kernel confines it as it is)
                command = through_launcher(command, options)
            return self._host.start(command)
        finally:
            if fd >= 0:  # the child has its copy; the server sees the end once it exits
                posix.close(fd)

    def _served_options(self, command: ProcessCommand) -> BackendOptions | None:
        """The options a child Python gets when it is to be served the program's file
        system: it is handed this program's file system (a program that names another one
        for a child, or none, gets what it named); None otherwise."""
        served = self._served
        text = command.env.get(ENVIRONMENT_VARIABLE.encode())
        if served is None or not text:
            return None
        try:
            options = options_from_environment(os.fsdecode(text))
        except UsageError:
            return None  # the child reports it and exits with status 2, as before
        same = options.fs == served.fs and options.mounts == served.mounts
        return options if same and options.backend.emulated else None

    def _serve_connection(self, program: Anchor | None) -> int:
        """A socket to hand a child, its other end served with the program's file system
        from a thread of the library's own (native, unrestricted, anchored to nothing);
        ``program``: the anchor of the thread that starts the child, which the server's
        logging calls run under (a handler the program added is its code)."""
        log = None if program is None else _PARTIAL(_log_under, program)
        with free_start():
            return _FRESH_CONTEXT().run(
                _SERVE_PAIR, self._layout.file_system, "posixbackend-children-fs", log
            )


def _log_under(program: Anchor, method: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """A logging call of a server's, made with the calling (server) thread anchored to
    ``program`` for its duration: the handlers run under the program's permissions."""
    _ADOPT(program)
    try:
        method(*args, **kwargs)
    finally:
        _RELEASE()


_SERVE_CONNECTION: Final = LauncherProcessHandler._serve_connection


class Session:
    """One process's backend: built from options, activated once, with its at-exit outputs."""

    def __init__(self, options: BackendOptions, *, host_cwd: str | None = None) -> None:
        running = _PROCESS_LIMIT.seconds if _PROCESS_LIMIT is not None else _DEFERRED_LIMIT
        if running is not None:  # children get the shorter of the two, as nested blocks do
            shorter = min(options.time_limit or math.inf, running)
            options = options.evolve(time_limit=shorter)
        self.options = options
        self.time_limit: ProcessTimeLimit | None = None
        """The process's time limit once activated (None: none)."""
        self.layout: Layout | None = None
        self.emulated: EmulatedBackend | None = None
        self.permissions: Permissions | None = None
        """What the program may do (None: everything, and no audit hook)."""
        self.handler: LauncherProcessHandler | None = None
        self.announce: Callable[[], None] | None = None
        """Called once the time limit's message is printed (the supervisor then prints none)."""
        self._block: BackendBlock | None = None
        handed_on = (ENVIRONMENT_VARIABLE.encode(), options.environment_value().encode())
        if not options.backend.emulated:
            self.permissions = options.grants.permissions(None, None, _host_environment())
            self._block = BackendBlock(
                options.backend, None, permissions=self.permissions,
                environment=_private_environment(self.permissions, handed_on),
            )  # fmt: skip
            return
        cwd = process_cwd() if host_cwd is None else host_cwd
        self.layout = build_layout(options, cwd)
        grants = options.grants
        if options.processes == "none" and grants.given:
            grants = grants.evolve(create_process=False)
        handler = None
        if grants.creates_processes and options.processes != "none":
            pinned = handed_on if grants.given else None
            handler = LauncherProcessHandler(self.layout, pinned, options)
        self.handler = handler
        file_system = self.layout.file_system
        self.permissions = grants.permissions(file_system, handler, _host_environment())
        private = _private_environment(self.permissions, handed_on)
        environ = dict(posix.environ) if private is None else private.environ
        environ[handed_on[0]] = handed_on[1]
        self.emulated = EmulatedBackend(
            native_calls(file_system),
            cwd=self.layout.cwd,
            time_resolution_ns=options.time_resolution_ns or 10**9,
            environ=environ,
            process_handler=handler,
        )
        own = self.layout.private_fds  # the parent's file system's socket: not the program's
        self.emulated.adopt_host_descriptors(
            [fd for fd in inherited_descriptors() if fd not in own]
        )
        if self.permissions is not None:
            self._block = BackendBlock(
                options.backend, self.emulated, file_system, self.permissions
            )

    def activate(self, *, runs_program: bool = False, defer_time_limit: bool = False) -> None:
        """Make this session's backend serve the calling thread from now on (never undone).

        ``runs_program``: the caller runs the program itself, calls :meth:`begin_program`
        once it has read it (which starts the time limit and the permissions), and stops the
        time limit when the program returns (the launcher); otherwise (a child process the
        interpreter runs, activated at start-up) the permissions and the options' time limit
        apply at once, the limit raises its exception once and is stopped when the main
        thread has finished, and a process that used it up exits with status 124.
        ``defer_time_limit``: the process is a launcher's, which starts the limit itself
        (no thread may run before it has confined itself)."""
        seconds = self.options.time_limit
        if seconds is not None and not runs_program:
            if defer_time_limit:
                _defer_process_limit(seconds)
            else:
                self.time_limit = limit_process_time(seconds, runs_program=False)
        if runs_program:
            _PROGRAM_RUNS.append(self)
        # The program's streams go to its descriptors (before a log handler takes stderr).
        rebuild_standard_streams(self.emulated)
        if self.options.log_level is not None:
            log_to_stderr(self.options.log_level)
        if self.emulated is not None:
            INSTALLATION.install()
            C_LIBRARIES.install()
            ACTIVE.set(self.emulated)
            if self.handler is not None:  # processes may start, but never by a fork
                from posixbackend.launcher import startmethod

                startmethod.install()
            if threading.excepthook is threading.__excepthook__:
                threading.excepthook = print_thread_exception
        else:
            # A backend a parent chose through the environment (the .pth activated it at
            # start-up) gives way: this process was asked to run natively, and so are its
            # children.
            ACTIVE.set(None)
            os.environ[ENVIRONMENT_VARIABLE] = self.options.environment_value()
        if not runs_program:
            self.restrict()

    def begin_program(self) -> None:
        """The program is read and about to run (the launcher has confined itself): start its
        time limit (:attr:`time_limit`) and put its permissions in force on the calling
        thread."""
        if self.options.time_limit is not None:
            self.time_limit = limit_process_time(
                self.options.time_limit, runs_program=True, announce=self.announce
            )
        self.restrict()

    def restrict(self) -> None:
        """Put the program's permissions in force on the calling thread (never undone): a
        guard serves the backend, the audit hook enforces them (nothing without permissions).
        The launcher calls it once the program is read, so ``--allow-io=none`` can run a
        script file."""
        if self._block is not None:
            self._block.__enter__()  # a block never left
            self._block = None

    def report_at_exit(self, target: str) -> None:
        """Write the compatibility report to ``target`` (a host file, or - for stderr) at exit."""
        compat.write_report_at_exit(target)

    def changes_at_exit(self, stream: Callable[[], TextIO | None]) -> None:
        """List the overlay's changes on ``stream()`` at exit (after the program's own
        at-exit handlers, which may still change files)."""
        overlay = self.layout.overlay if self.layout is not None else None
        if overlay is None:
            raise ValueError("changes are only known for an overlay file system")

        def write_changes() -> None:
            out = stream()
            if out is None:
                return
            changes = overlay.changes()
            out.write(f"posixbackend: {len(changes)} changes in the overlay (not on disk)\n")
            for change in changes:
                out.write(f"  {change}\n")
            out.flush()

        atexit.register(write_changes)


class ProcessTimeLimit:
    """``--time-limit`` for a whole process, counted from activation.

    At the limit TimeLimitExceeded is raised in the activating (main) thread; whoever runs
    the program stops it when the program's code returns, so at-exit handlers never see
    it. A process still running :data:`GRACE` seconds after the limit (code stuck in a C
    call, a thread that does not end, a program that swallowed the exception) is ended
    from a watchdog thread with the same message and status 124, without at-exit handlers.
    """

    def __init__(
        self, seconds: float, *, repeat: bool, announce: Callable[[], None] | None = None
    ) -> None:
        self.seconds = seconds
        self._announce = announce
        self.deadline = time.monotonic() + seconds
        self._limit = TimeLimit.start(seconds, repeat=repeat)
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._reported = False
        ender = threading.Thread(
            target=self._end_stuck_process, name="posixbackend-time-limit", daemon=True
        )
        with free_start():
            _FRESH_CONTEXT().run(ender.start)  # natively, whatever the program may do

    @property
    def message(self) -> str:
        """The one line the launcher prints when the limit is used up."""
        return f"posixbackend: {TimeLimitExceeded(self.seconds)}"

    def remaining(self) -> float:
        """Seconds until the limit."""
        return self.deadline - time.monotonic()

    def program_returned(self) -> bool:
        """Stop the exception (the program's code is done); whether the limit was used up.
        (A TimeLimitExceeded pending at the call is raised at its entry: call it again.)"""
        return self._limit.stop()

    def exceeded(self) -> int:
        """Print the message (once) and give the exit status of a process out of time."""
        if self._first_report() and sys.stderr is not None:
            print(self.message, file=sys.stderr, flush=True)
            self._announced()
        return TIME_LIMIT_STATUS

    def cancel(self) -> None:
        """Give up this limit altogether (a shorter one replaces it)."""
        self._cancelled.set()
        self._limit.stop()

    def exit_if_exceeded(self) -> None:
        """At exit of a process whose program the interpreter ran: end it with status 124
        if the limit was used up (CPython would give 1 for the uncaught exception)."""
        if self._cancelled.is_set() or not self._limit.stop():
            return
        self.exceeded()
        if sys.stderr is not None:
            sys.stderr.flush()
        posix._exit(TIME_LIMIT_STATUS)

    def _announced(self) -> None:
        if self._announce is not None:
            self._announce()

    def _first_report(self) -> bool:
        """Whether the message is still to be printed (and from now on, it is not)."""
        with self._lock:
            first = not self._reported
            self._reported = True
            return first

    def _end_stuck_process(self) -> None:
        # The thread that flushes the streams at the end is started now: from 3.12 no thread
        # starts once the interpreter shuts down, which is when a thread left running is stuck.
        flush = queue.SimpleQueue[bool]()
        flushing = threading.Thread(target=_flush_standard_streams, args=(flush,), daemon=True)
        flushing.start()
        if self._cancelled.wait(self.remaining() + GRACE):
            flush.put(False)
            return
        flush.put(True)
        flushing.join(0.25)  # a stream locked by a stuck thread must not hold the end up
        if self._first_report():
            with contextlib.suppress(OSError):  # no standard error left to tell it on
                posix.write(2, f"{self.message}\n".encode())
                self._announced()
        posix._exit(TIME_LIMIT_STATUS)


_PROCESS_LIMIT: ProcessTimeLimit | None = None
"""The time limit of this process (one, however many sessions activate)."""
_DEFERRED_LIMIT: float | None = None
"""A limit the environment gave a launcher's process at start-up, not started: the launcher
starts the shorter of it and its own once it has confined itself."""
_PROGRAM_RUNS: list[Session] = []
"""The session a launcher activated to run its program in this process (at most one)."""


def runs_a_program() -> bool:
    """Whether a launcher runs its program in this process (which a second launcher, called
    by that program, must not replace: the program's permissions would go with it)."""
    return bool(_PROGRAM_RUNS)


def _defer_process_limit(seconds: float) -> None:
    global _DEFERRED_LIMIT  # noqa: PLW0603 - one limit per process
    _DEFERRED_LIMIT = min(seconds, _DEFERRED_LIMIT or math.inf)


def limit_process_time(
    seconds: float, runs_program: bool, announce: Callable[[], None] | None = None
) -> ProcessTimeLimit:
    """The process's time limit: ``seconds`` from now, unless one running ends sooner."""
    global _PROCESS_LIMIT  # noqa: PLW0603 - one limit per process
    running = _PROCESS_LIMIT
    if running is not None and running.remaining() <= seconds:
        return running
    if running is not None:
        running.cancel()
    limit = ProcessTimeLimit(seconds, repeat=runs_program, announce=announce)
    if not runs_program:
        stop_at_thread_shutdown(limit)
        atexit.register(limit.exit_if_exceeded)
    _PROCESS_LIMIT = limit
    return limit


def stop_at_thread_shutdown(limit: ProcessTimeLimit) -> None:
    """Stop ``limit``'s exception when the main thread has finished, before the interpreter
    waits for other threads and runs at-exit handlers (threading's own hook for this)."""
    register: Callable[[Callable[[], object]], None]
    register = threading._register_atexit  # type: ignore[attr-defined]
    register(limit.program_returned)


def _flush_standard_streams(told: queue.SimpleQueue[bool]) -> None:
    """Flush stdout and stderr once told to (or return when told not to)."""
    if told.get():
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()


def inherited_descriptors() -> list[int]:
    """The real descriptors above 2 this process has open now (before the program ran, those
    are the ones it inherited)."""
    try:
        listing = posix.open(
            "/proc/self/fd", posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC
        )
    except OSError:  # no /proc to read (a child of a sandboxed program): ask each number
        UNLISTED_DESCRIPTORS.hit()
        return _open_descriptors(min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], PROBED))
    try:
        numbers = sorted(int(name) for name in posix.listdir(listing))
    finally:
        posix.close(listing)
    return [fd for fd in numbers if fd > 2 and fd != listing]


PROBED: Final = 1 << 16
"""Descriptor numbers asked about where /proc cannot be read."""
UNLISTED_DESCRIPTORS = compat.declare(
    id="launcher.unlisted_descriptors",
    function="os.fstat",
    aspect="descriptors inherited by a child of a sandboxed program",
    level=compat.Level.FINE,
    explanation="a child Python of a --sandbox program cannot read /proc, so it finds the "
    "descriptors it inherited by asking each number up to 65535 (or its open files limit): "
    "one numbered higher is not served by its emulated backend",
)


def _open_descriptors(below: int) -> list[int]:
    """The descriptors from 3 up to ``below`` that are open."""
    found = []
    for fd in range(3, below):
        try:
            posix.fstat(fd)
        except OSError:
            continue
        found.append(fd)
    return found


def _host_environment() -> dict[str, str]:
    """The launcher's environment as str (what ``--allow-environment-access=NAME`` reads)."""
    return {os.fsdecode(name): os.fsdecode(value) for name, value in posix.environ.items()}


def _private_environment(
    permissions: Permissions | None, handed_on: tuple[bytes, bytes]
) -> PrivateEnvironment | None:
    """The program's own environment under ``--allow-environment-access`` none or a list
    (None: it sees the launcher's), with the options variable, which hands them on to child
    Python processes."""
    private = private_environment(permissions)
    if private is not None:
        private.environ[handed_on[0]] = handed_on[1]
    return private


def _free_child_descriptor(fds: Mapping[int, int]) -> int:
    """The lowest descriptor number above 2 a child is not already given."""
    number = 3
    while number in fds:
        number += 1
    return number


def log_to_stderr(level: str) -> None:
    """Show compatibility gaps hit at ``level`` or above on stderr, as GraalPy's ``--log``."""
    compat.configure(level=level)
    logger = logging.getLogger(compat.DEFAULT_LOGGER_ROOT)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JavaLevelFormatter(LOG_FORMAT))
    logger.addHandler(handler)


class JavaLevelFormatter(logging.Formatter):
    """Names a record's level as the flag does (FINE, not the DEBUG logging calls level 10)."""

    def format(self, record: logging.LogRecord) -> str:
        renamed = logging.makeLogRecord(record.__dict__)  # other handlers keep the record as is
        renamed.levelname = compat.level_name(record.levelno)
        return super().format(renamed)
