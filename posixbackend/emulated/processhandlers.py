"""Process handlers: who starts the programs a guest of the emulated backend asks for.

Modelled on GraalVM's polyglot ``ProcessHandler``: the backend describes the program it wants
as a :class:`ProcessCommand` (argv, candidate executables, working directory, environment, and
the REAL host descriptors the child gets as 0, 1, 2 and as extra numbers), a handler starts it
and returns a :class:`ChildProcess`, which the backend waits for and signals. Without a
handler the backend refuses to start anything.

- :class:`HostProcessHandler` starts real host programs with the real
  ``_posixsubprocess.fork_exec`` (captured when this module is imported, so stand-ins installed
  over it later can never make it recurse into the emulated backend) and the real ``posix``.
- :class:`CallableProcessHandler` runs Python callables as the "programs", in threads, over
  the real descriptors they are given: the plumbing of a real child, without starting one.

Contract: the descriptors in a command stay the caller's; they are open while ``start`` runs
and the handler duplicates what it needs beyond that. ``start`` raises an ``OSError`` when the
program cannot be started: :class:`ChildChdirError` for the working directory,
:class:`ChildSetupError` for any other step before the program runs, a plain ``OSError``
(``FileNotFoundError``...) when no candidate executable could be run, and
:class:`ProgramNotAllowedError` when the handler's own policy refuses the program. Wait
statuses are encoded as Linux encodes them, so ``os.waitstatus_to_exitcode`` reads them.
"""

from __future__ import annotations

import _posixsubprocess
import collections
import errno
import fcntl
import functools
import itertools
import os
import posix
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Collection, Iterable, Mapping
from types import MappingProxyType
from typing import Final, Protocol, runtime_checkable

import attrs

from posixbackend.emulated.hostfcntl import host_fcntl

SYNTHETIC_PID_BASE: Final = 1 << 22
"""Linux's PID_MAX_LIMIT: no real process id reaches it, so ids from here on are never real."""
SIGNAL_MAX: Final = signal.NSIG - 1
"""The highest signal number (SIGRTMAX on Linux)."""
ERRPIPE_LIMIT: Final = 50000
"""subprocess reads at most this much of a child's error report; so does the host handler."""
_WAIT_DELAYS: Final = (0.0005, 0.05)
"""First and longest sleep between two polls of a child that is waited for with a timeout."""
_DEVNULL: Final = "/dev/null"
_FORK_EXEC_TAKES_VFORK: Final = sys.version_info < (3, 14)
"""3.14 dropped fork_exec's last parameter, allow_vfork."""
_NOEXEC_IS_CHDIR: Final = sys.version_info < (3, 13)
"""Before 3.13, fork_exec reports every failure before exec as "noexec" (subprocess then
blames the working directory); 3.13 tells "noexec:chdir" apart."""
_real_fork_exec: Final[Callable[..., int]] = _posixsubprocess.fork_exec
"""The real one, taken before any stand-in could replace the module's attribute."""

_pid_numbers = itertools.count(SYNTHETIC_PID_BASE)
_pid_lock = threading.Lock()


def synthetic_pid() -> int:
    """A fresh process id for a child that is not a host process (a callable, a failed start)."""
    with _pid_lock:
        return next(_pid_numbers)


def exit_status(code: int) -> int:
    """The wait status of a process that exited with ``code`` (as ``W_EXITCODE(code, 0)``)."""
    return (code & 0xFF) << 8


def signal_status(sig: int) -> int:
    """The wait status of a process killed by signal ``sig``."""
    return sig & 0x7F


def check_signal(sig: int) -> None:
    """EINVAL for a number that is no signal (0, the existence check, is one)."""
    if not 0 <= sig <= SIGNAL_MAX:
        raise OSError(errno.EINVAL, posix.strerror(errno.EINVAL))


# -- what a handler is asked, and what it answers --------------------------------------------------


def _fs_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else os.fsencode(value)


def _bytes_tuple(values: Iterable[str | bytes]) -> tuple[bytes, ...]:
    return tuple(_fs_bytes(value) for value in values)


def _environment(values: Mapping[bytes, bytes] | Mapping[str, str]) -> Mapping[bytes, bytes]:
    return MappingProxyType({_fs_bytes(k): _fs_bytes(v) for k, v in values.items()})


def _extra_fds(values: Mapping[int, int]) -> Mapping[int, int]:
    fds = dict(values)
    if any(child < 3 or real < 0 for child, real in fds.items()):
        raise ValueError(f"extra descriptors must map numbers >= 3 to open descriptors: {fds}")
    return MappingProxyType(fds)


@attrs.frozen
class ProcessCommand:
    """A program to start, as GraalVM's ``ProcessCommand``: what, where, and with which files.

    ``executables`` are the candidate paths, tried in order as ``execv`` would be (one that
    does not exist or is not a directory lets the next be tried; the first other error is the
    one reported). ``cwd`` is the guest's directory (a handler maps it to the host's), None
    for the handler's own. ``stdin``/``stdout``/``stderr`` are host descriptors the child gets
    as 0, 1 and 2 (None: the handler's own), ``fds`` maps further child numbers to host
    descriptors. ``umask`` -1 and ``process_group`` -1 leave those as the handler has them.
    """

    args: tuple[bytes, ...] = attrs.field(converter=_bytes_tuple)
    executables: tuple[bytes, ...] = attrs.field(converter=_bytes_tuple)
    cwd: str | None = None
    env: Mapping[bytes, bytes] = attrs.field(factory=dict, converter=_environment, hash=False)
    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None
    fds: Mapping[int, int] = attrs.field(factory=dict, converter=_extra_fds, hash=False)
    umask: int = -1
    restore_signals: bool = True
    """Reset SIGPIPE and SIGXFSZ, which Python ignores, to their defaults in the child."""
    new_session: bool = False
    process_group: int = -1

    @property
    def executable(self) -> bytes:
        """The first candidate: the name a failure to start is reported under."""
        return self.executables[0] if self.executables else b""


@runtime_checkable
class ChildProcess(Protocol):
    """A started program, as the backend's process table keeps it."""

    @property
    def pid(self) -> int:
        """Its process id (a synthetic one, from SYNTHETIC_PID_BASE up, if not a host process)."""

    def wait(self, timeout: float | None = None) -> int:
        """Wait until it ends and return its wait status; TimeoutError after ``timeout`` s."""

    def poll(self) -> int | None:
        """Its wait status if it has ended, else None (never blocks)."""

    def send_signal(self, sig: int) -> None:
        """Deliver ``sig`` (0 only checks); nothing happens once it has ended."""


@runtime_checkable
class ProcessHandler(Protocol):
    """Starts programs for an emulated backend (GraalVM's ``ProcessHandler``)."""

    def start(self, command: ProcessCommand) -> ChildProcess:
        """Start ``command``; raise OSError when it cannot be (see the module docstring)."""


class ChildSetupError(OSError):
    """The child failed before its program could run (a descriptor, a session...)."""


class ChildChdirError(ChildSetupError):
    """The child could not enter its working directory (``filename`` is the guest's)."""


class ProgramNotAllowedError(PermissionError):
    """The handler's policy refuses the program: raised in the parent, never as a child's error."""


class FinishedChild:
    """A child that has already ended with a known status (a program that could not start)."""

    def __init__(self, pid: int, status: int) -> None:
        self.pid = pid
        self._status = status

    def wait(self, timeout: float | None = None) -> int:
        return self._status

    def poll(self) -> int | None:
        return self._status

    def send_signal(self, sig: int) -> None:
        check_signal(sig)  # a zombie takes signals and ignores them


# -- real host programs ----------------------------------------------------------------------------


class HostChild:
    """A host process started by :class:`HostProcessHandler`, waited for through ``posix``.

    One lock serialises reaping, so two threads never both call ``waitpid`` on it; once reaped
    its status is kept and it takes no more signals (its pid may belong to another process).
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._status: int | None = None
        self._lock = threading.Lock()
        """Held by the one thread reaping the child: a second waitpid on a pid already reaped
        could reap an unrelated process that took the number. poll() never blocks on it."""

    def poll(self) -> int | None:
        if self._status is not None:
            return self._status
        if not self._lock.acquire(blocking=False):
            return None  # another thread is reaping it right now
        try:
            return self._reap(posix.WNOHANG)
        finally:
            self._lock.release()

    def wait(self, timeout: float | None = None) -> int:
        if timeout is None:
            with self._lock:
                status = self._reap(0)
            assert status is not None
            return status
        deadline = time.monotonic() + timeout
        delay, longest = _WAIT_DELAYS
        while (status := self.poll()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(errno.ETIMEDOUT, f"process {self.pid} is still running")
            time.sleep(min(delay, left))
            delay = min(delay * 2, longest)
        return status

    def _reap(self, options: int) -> int | None:
        """waitpid once (the caller holds the lock); None while it runs, with WNOHANG."""
        if self._status is None:
            try:
                pid, status = posix.waitpid(self.pid, options)
            except ChildProcessError:  # reaped behind our back (SIGCHLD ignored...): as
                pid, status = self.pid, 0  # subprocess does, count it as a success
            if pid == 0:
                return None
            self._status = status
        return self._status

    def send_signal(self, sig: int) -> None:
        check_signal(sig)
        if self._status is None:
            posix.kill(self.pid, sig)


@attrs.frozen
class _FdRemap:
    """Extra descriptors renumbered in the child: ``fork_exec`` keeps only a descriptor's own
    number, so a child that must see host fd 17 as its fd 5 gets it from a preexec function
    made only of C calls (``dup2`` then ``closerange``), which runs no Python code of ours.

    Every source is first copied above every target, so no ``dup2`` can overwrite a source.
    """

    sources: tuple[int, ...]
    targets: tuple[int, ...]
    floor: int
    """The lowest number above every target: where sources and the error pipe are put."""

    @classmethod
    def plan(cls, fds: Mapping[int, int]) -> _FdRemap:
        targets = tuple(sorted(fds))
        floor = max(targets, default=2) + 1
        sources: list[int] = []
        try:
            for target in targets:
                sources.append(host_fcntl(fds[target], fcntl.F_DUPFD_CLOEXEC, floor))
        except OSError:
            for source in sources:
                posix.close(source)
            raise
        return cls(tuple(sources), targets, floor)

    def preexec(self, errpipe_write: int) -> Callable[[], object] | None:
        """The child's preexec function, or None when there is nothing to renumber."""
        if not self.targets:
            return None
        keep = sorted({*self.targets, errpipe_write})
        limit = max(posix.sysconf("SC_OPEN_MAX"), keep[-1] + 1, max(self.sources) + 1)
        lows, highs = [], []
        low = 3
        for fd in [*keep, limit]:
            if fd > low:
                lows.append(low)
                highs.append(fd)
            low = fd + 1
        steps = itertools.chain(
            map(posix.dup2, self.sources, self.targets), map(posix.closerange, lows, highs)
        )
        return functools.partial(collections.deque, steps, 0)

    def close(self) -> None:
        for source in self.sources:
            posix.close(source)


class HostProcessHandler:
    """Starts real host processes (``posix`` and the real ``_posixsubprocess``, never the
    emulated backend, so it cannot recurse into it).

    ``cwd_map`` turns the guest's working directory into the host's (default: the same path,
    which suits a HostFileSystem without a root). ``allowed`` limits the programs: a candidate
    runs only if its path or its base name is in it (None: any program).
    """

    def __init__(
        self,
        *,
        cwd_map: Callable[[str], str | bytes] | None = None,
        allowed: Collection[str] | None = None,
    ) -> None:
        self._cwd_map = cwd_map
        self._allowed = None if allowed is None else frozenset(allowed)

    def start(self, command: ProcessCommand) -> HostChild:
        executables = self._permitted(command.executables)
        cwd = None
        if command.cwd is not None:
            cwd = _fs_bytes(command.cwd if self._cwd_map is None else self._cwd_map(command.cwd))
        env = [key + b"=" + value for key, value in command.env.items()]
        remap = _FdRemap.plan(command.fds)
        try:
            errpipe_read, errpipe_write = self._error_pipe(remap.floor)
        except OSError:
            remap.close()
            raise
        try:
            arguments = [
                command.args, executables, not remap.targets, (errpipe_write,), cwd, env,
                _fd(command.stdin), -1, -1, _fd(command.stdout), -1, _fd(command.stderr),
                errpipe_read, errpipe_write,
                command.restore_signals, command.new_session, command.process_group,
                None, None, None, command.umask, remap.preexec(errpipe_write),
            ]  # fmt: skip
            if _FORK_EXEC_TAKES_VFORK:
                arguments.append(True)
            pid = _real_fork_exec(*arguments)
        except BaseException:
            posix.close(errpipe_read)
            raise
        finally:
            posix.close(errpipe_write)
            remap.close()
        report = _read_report(errpipe_read)
        if report:
            posix.waitpid(pid, 0)  # the child has exited (255) after writing its report
            raise _child_error(report, command)
        return HostChild(pid)

    def _permitted(self, executables: tuple[bytes, ...]) -> tuple[bytes, ...]:
        allowed = self._allowed
        if allowed is None:
            return executables
        permitted = tuple(
            path
            for path in executables
            if os.fsdecode(path) in allowed or os.fsdecode(os.path.basename(path)) in allowed
        )
        if not permitted:  # a search along PATH is named by its program, a path by itself
            first = executables[0] if executables else b""
            name = os.fsdecode(os.path.basename(first) if len(executables) > 1 else first)
            raise ProgramNotAllowedError(
                errno.EPERM,
                f"running {name!r} is not permitted: add it to HostProcessHandler(allowed=...)",
            )
        return permitted

    @staticmethod
    def _error_pipe(floor: int) -> tuple[int, int]:
        """A close-on-exec pipe whose write end is above ``floor`` (fork_exec wants >= 3)."""
        read_end, write_end = posix.pipe2(posix.O_CLOEXEC)
        try:
            high = host_fcntl(write_end, fcntl.F_DUPFD_CLOEXEC, max(floor, 3))
        except OSError:
            posix.close(read_end)
            raise
        finally:
            posix.close(write_end)
        return read_end, high


def _fd(fd: int | None) -> int:
    return -1 if fd is None else fd


def _read_report(errpipe_read: int) -> bytes:
    """What the child wrote on the error pipe before exec (nothing: it is running)."""
    try:
        data = bytearray()
        while len(data) <= ERRPIPE_LIMIT:
            part = posix.read(errpipe_read, ERRPIPE_LIMIT)
            if not part:
                break
            data += part
        return bytes(data)
    finally:
        posix.close(errpipe_read)


def _child_error(report: bytes, command: ProcessCommand) -> OSError:
    """The OSError a child's ``"OSError:<hex errno>:<where>"`` report stands for."""
    name, _, rest = report.partition(b":")
    hex_errno, _, where = rest.partition(b":")
    try:
        code = int(hex_errno, 16)
    except ValueError:
        code = 0
    if name != b"OSError" or not code:  # a failing preexec step: a descriptor went wrong
        return ChildSetupError(errno.EBADF, posix.strerror(errno.EBADF))
    if where == b"noexec:chdir" or (where == b"noexec" and _NOEXEC_IS_CHDIR and command.cwd):
        return ChildChdirError(code, posix.strerror(code), command.cwd)
    if where == b"noexec":
        return ChildSetupError(code, posix.strerror(code))
    return OSError(code, posix.strerror(code), os.fsdecode(command.executable))


# -- Python callables as programs ------------------------------------------------------------------


@attrs.define
class ProgramContext:
    """What a callable program sees: its argv, environment, directory and HOST descriptors.

    The descriptors are the handler's duplicates: the program must not close them (the handler
    does when the program returns, which is what ends its readers' input). ``signalled`` is set
    when the process is killed; a program that runs long should watch it and return.
    """

    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    stdin: int
    stdout: int
    stderr: int
    fds: dict[int, int]
    """Extra descriptors, by the number the program was given them as."""
    signalled: threading.Event = attrs.field(factory=threading.Event)

    def read_all(self) -> bytes:
        """Everything on standard input, up to its end."""
        chunks = []
        while chunk := posix.read(self.stdin, 65536):
            chunks.append(chunk)
        return b"".join(chunks)

    def write(self, data: bytes | str, fd: int | None = None) -> None:
        """Write all of ``data`` to standard output (or to the descriptor ``fd``)."""
        view = memoryview(_fs_bytes(data) if isinstance(data, str) else data)
        target = self.stdout if fd is None else fd
        while view:
            view = view[posix.write(target, view) :]


Program = Callable[[ProgramContext], int | None]
"""A callable program: returns its exit status (None is 0) or raises SystemExit."""

_NOT_TERMINATING: Final = frozenset(
    {signal.SIGCHLD, signal.SIGURG, signal.SIGWINCH, signal.SIGCONT, signal.SIGSTOP,
     signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}
)  # fmt: skip
"""Signals whose default action is to ignore or to stop: a callable program goes on."""


class CallableChild:
    """A callable program running in a daemon thread, as a child process.

    A terminating signal ends the *process* at once (its status is the signal's, waits return)
    and puts /dev/null under its descriptors, so the pipes it wrote to reach their end as a
    dead process's would; the thread itself cannot be stopped and finishes on its own.
    """

    def __init__(self, pid: int, program: Program, context: ProgramContext, name: str) -> None:
        self.pid = pid
        self._program = program
        self._context = context
        self._status: int | None = None
        self._fds_open = True
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"posixbackend-program-{name}-{pid}", daemon=True
        )

    def _run(self) -> None:
        context = self._context
        try:
            code = _exit_code(self._program(context))
        except SystemExit as stop:
            code = _exit_code(stop.code, context)
        except BaseException:  # noqa: BLE001 - a program's crash is its exit status, as in a
            _report_crash(context)  # real interpreter: traceback on stderr, status 1
            code = 1
        self._end(exit_status(code))

    def _end(self, status: int) -> None:
        with self._lock:
            if self._status is None:
                self._status = status
            if self._fds_open:
                self._fds_open = False
                for fd in _context_fds(self._context):
                    posix.close(fd)
        self._done.set()

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise TimeoutError(errno.ETIMEDOUT, f"process {self.pid} is still running")
        status = self._status
        assert status is not None
        return status

    def poll(self) -> int | None:
        return self._status if self._done.is_set() else None

    def send_signal(self, sig: int) -> None:
        check_signal(sig)
        if sig == 0 or sig in _NOT_TERMINATING:
            return
        with self._lock:
            if self._status is not None:
                return
            self._status = signal_status(sig)
            self._context.signalled.set()
            if self._fds_open:
                _silence(_context_fds(self._context))
        self._done.set()


def _exit_code(value: object, context: ProgramContext | None = None) -> int:
    """The exit status a program's return value or SystemExit code stands for (as Python's)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if context is not None:
        context.write(f"{value}\n", context.stderr)
    return 1


def _report_crash(context: ProgramContext) -> None:
    """Print the running exception's traceback on the program's stderr, if it is still open."""
    try:
        context.write(traceback.format_exc(), context.stderr)
    except OSError:  # stderr closed or silenced: the status alone tells of the crash
        return


def _context_fds(context: ProgramContext) -> list[int]:
    return [context.stdin, context.stdout, context.stderr, *context.fds.values()]


def _silence(fds: list[int]) -> None:
    """Put /dev/null under ``fds`` in one step each: the numbers stay valid for the program's
    thread (no other file can take them) while the pipes and files behind them are let go."""
    null = posix.open(_DEVNULL, posix.O_RDWR | posix.O_CLOEXEC)
    try:
        for fd in fds:
            posix.dup2(null, fd, inheritable=False)
    finally:
        posix.close(null)


class CallableProcessHandler:
    """Runs Python callables as programs: ``CallableProcessHandler({"echo": echo})``.

    A candidate executable runs the program registered under its full path or its base name
    (ENOENT when there is none). The program gets duplicates of the command's descriptors
    (of this process's 0, 1, 2 for those the command leaves as None) and a synthetic pid;
    umask, sessions and process groups do not apply to it.
    """

    def __init__(self, programs: Mapping[str, Program]) -> None:
        self._programs = dict(programs)

    def start(self, command: ProcessCommand) -> CallableChild:
        name, program = self._find(command.executables)
        context = self._context(command)
        child = CallableChild(synthetic_pid(), program, context, name)
        child.thread.start()
        return child

    def _find(self, executables: tuple[bytes, ...]) -> tuple[str, Program]:
        for path in executables:
            for name in (os.fsdecode(path), os.fsdecode(os.path.basename(path))):
                program = self._programs.get(name)
                if program is not None:
                    return name, program
        name = os.fsdecode(executables[0]) if executables else ""
        raise FileNotFoundError(errno.ENOENT, posix.strerror(errno.ENOENT), name)

    @staticmethod
    def _context(command: ProcessCommand) -> ProgramContext:
        taken: list[int] = []
        try:
            stdio = [
                _own_copy(command.stdin, 0, taken),
                _own_copy(command.stdout, 1, taken),
                _own_copy(command.stderr, 2, taken),
            ]
            fds = {number: _own_copy(real, number, taken) for number, real in command.fds.items()}
        except OSError:
            for fd in taken:
                posix.close(fd)
            raise
        return ProgramContext(
            argv=[os.fsdecode(arg) for arg in command.args],
            env={os.fsdecode(k): os.fsdecode(v) for k, v in command.env.items()},
            cwd=command.cwd,
            stdin=stdio[0],
            stdout=stdio[1],
            stderr=stdio[2],
            fds=fds,
        )


def _own_copy(fd: int | None, standard: int, taken: list[int]) -> int:
    """A close-on-exec duplicate of ``fd`` (None: of this process's ``standard`` descriptor, or
    /dev/null when that is closed), recorded in ``taken``."""
    if fd is None:
        try:
            copy = host_fcntl(standard, fcntl.F_DUPFD_CLOEXEC, 3)
        except OSError:
            copy = posix.open(_DEVNULL, posix.O_RDWR | posix.O_CLOEXEC)
    else:
        copy = host_fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    taken.append(copy)
    return copy
