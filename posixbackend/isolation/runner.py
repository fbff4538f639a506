"""run_isolated: the guest in a confined child interpreter, watched by this process.

The parent starts ``sys.executable -I -S -B`` (isolated mode: no PYTHON* variables, no user
site, no .pth files run, no bytecode written) with an empty environment, in a session and
process group of its own, with the directories holding this library and its dependencies
appended to the child's sys.path (that works for a regular install and an editable one alike).
The request goes in through one pipe, the guest's stdin through another; stdout and stderr
are read at once with a selector, so no full pipe can stall either side, and so is the result
channel (a stream socket: frames and the snapshot, parsed as they come, see
:mod:`posixbackend.isolation.channel`), trusting none of it beyond the confinement frame.
The parent kills the child's whole process group on the wall-time limit, when an output
stream outgrows its limit, or when the channel breaks its protocol or bounds, and always
reaps it: it never waits on the guest without a bound. Which limit ended the run is judged
from what the parent observed (:mod:`posixbackend.isolation.observed`).

The supervision is the same for a child forked by a pool's zygote: a :class:`Spawner`
starts the child (:class:`FreshInterpreter` here, the pool's zygote in
:mod:`posixbackend.isolation.pool`) and the :class:`Started` it returns is what the parent
waits on, kills and reaps.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import posixpath
import select
import signal
import site
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Final, Protocol

import attrs

from posixbackend.isolation.channel import SNAPSHOT_SLACK, Bounds, Channel, ChannelParser
from posixbackend.isolation.interpreterview import isolated_view_json
from posixbackend.isolation.limits import Limits, format_size
from posixbackend.isolation.observed import Observation, exceeded_limit, oom_kills
from posixbackend.isolation.request import Request, file_contents, grant, guest_path, program_of
from posixbackend.isolation.result import IsolatedResult
from posixbackend.permissions.policy import Permissions
from posixbackend.switch.block import backend
from posixbackend.switch.guard import current_emulated

BOOTSTRAP = """\
import sys
request, result, view = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sys.path.extend(sys.argv[4:])
del sys.argv[1:]
from posixbackend.isolation.child import main
main(request, result, view)
"""
"""What the child interpreter runs first (its arguments: the two pipe descriptors, the host
view it confines itself to, then the directories to import this library and its
dependencies from)."""
PACKAGES = ("posixbackend", "vfs", "compat", "attr", "attrs")
"""The top-level packages the child imports before anything else can be imported."""
DRAIN_SECONDS = 2.0
"""How long output is still read after the child ended or was killed."""
TIME_LIMIT_GRACE = 1.0
"""A permissions time limit first stops the guest inside the child (cleanly, with its
files); the parent kills the child this much later if that did not end it."""
POLL_SECONDS = 0.05
"""How often the child's exit is checked where the kernel has no pidfd to wait on."""
CHUNK = 1 << 16
CHANNEL_CHUNK = 1 << 18
"""The most one read of the result channel takes (a snapshot comes in few reads)."""
CHANNEL_READS = 16
"""The most reads of the channel per wake-up (then the clock and the pipes are looked at)."""
MSG_CTRUNC: Final = int(socket.MSG_CTRUNC)
"""recvmsg's flag as a plain int (socket's is an IntFlag: each ``&`` with it went through
enum's Python code, ~9 calls per run)."""


class IsolationError(RuntimeError):
    """The isolated child could not run the program at all (not the program's own failure)."""


class RunRejected(IsolationError):
    """The child could not set the run up from this request (the same request fails again)."""


@attrs.frozen
class ChildEnds:
    """The child's ends of its pipes and channel, as the parent made them (the spawner's
    child gets them as its descriptors 0, 1 and 2, and the request's and result's)."""

    stdin: int
    stdout: int
    stderr: int
    request: int
    result: int


class Started(Protocol):
    """A child as its spawner started it: leader of a process group of its own, not yet
    reaped (so its pid and group id name it until :meth:`reap`)."""

    @property
    def pid(self) -> int:
        """Its process id, and its process group's."""

    def exit_descriptor(self) -> int | None:
        """A new descriptor readable once the child exits (None where the kernel has none)."""

    def has_exited(self, exit_fd: int | None) -> bool:
        """Whether the child has exited, without reaping it (``exit_fd``: from
        :meth:`exit_descriptor`; -1 once it was readable, None where there is none)."""

    def kill(self) -> None:
        """SIGKILL the child's process group (nothing if it is gone)."""

    def reap(self) -> tuple[int, float]:
        """Wait for the child's end: its wait status and CPU seconds (user and system);
        IsolationError if they cannot be known."""


class Spawner(Protocol):
    """Starts the isolated child: a fresh interpreter, or a fork of a warm zygote."""

    def spawn(self, ends: ChildEnds) -> Started:
        """Start a child with ``ends`` (the caller closes its copies afterwards)."""


@attrs.define
class _FreshChild:
    """A fresh interpreter started by this process (its child, reaped here)."""

    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_descriptor(self) -> int | None:
        return _exit_descriptor(self.process.pid)

    def has_exited(self, exit_fd: int | None) -> bool:
        return _has_exited(self.process.pid, exit_fd)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def reap(self) -> tuple[int, float]:
        try:
            _, status, usage = os.wait4(self.process.pid, 0)
        except ChildProcessError:
            raise IsolationError(
                "the isolated child was reaped by someone else (is SIGCHLD ignored?)"
            ) from None
        self.process.returncode = os.waitstatus_to_exitcode(status)
        return status, usage.ru_utime + usage.ru_stime


class FreshInterpreter:
    """Spawns ``sys.executable -I -S -B`` running :data:`BOOTSTRAP` (what run_isolated
    does): the interpreter's start and the library's imports are paid by every run."""

    def spawn(self, ends: ChildEnds) -> Started:
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", "-c", BOOTSTRAP, str(ends.request),
             str(ends.result), isolated_view_json(), *import_roots()],
            stdin=ends.stdin, stdout=ends.stdout, stderr=ends.stderr,
            pass_fds=(ends.request, ends.result), env={}, cwd="/", start_new_session=True,
        )  # fmt: skip
        return _FreshChild(process)


FRESH_INTERPRETER: Final = FreshInterpreter()


def run_isolated(
    code_or_path: str | os.PathLike[str],
    permissions: Permissions | None = None,
    *,
    files: Mapping[str, bytes | str] | None = None,
    limits: Limits | None = None,
    argv: tuple[str, ...] | list[str] = (),
    stdin: bytes = b"",
    cwd: str = "/tmp",
    env: Mapping[str, str] | None = None,
) -> IsolatedResult:
    """Run Python code (a str) or a host script (a path, read now) in a confined child.

    The guest runs under the managed backend over a memory file system holding ``files``
    (guest path -> contents) with the interpreter's library read-only, as ``__main__`` with
    ``sys.argv`` [``-c`` or the script's path, *argv], in ``cwd``, with ``env`` as its whole
    environment (empty by default) and ``stdin`` as its standard input. ``permissions``
    (default: file access to that memory file system only) are the guest's in-process
    permissions: an ``allow_io`` FileSystem gives the guest a copy of its memory part's files
    (``files`` win over them), and grants the child can never honour (processes, host
    sockets) are left out with a note. ``limits`` (default :class:`Limits`) bound what it may
    use. Never raises for what the guest does, whatever it sends back (see
    :class:`IsolatedResult`); IsolationError if the child could not run it at all.
    """
    prepared = prepare_run(
        code_or_path, permissions, files=files, limits=limits, argv=argv, stdin=stdin,
        cwd=cwd, env=env,
    )  # fmt: skip
    return supervise(prepared, FRESH_INTERPRETER)


@attrs.frozen
class PreparedRun:
    """One run checked and ready to start: the request and what the parent keeps."""

    request: Request
    stdin: bytes
    notes: tuple[str, ...]
    """The grants the child runs without."""

    @property
    def limits(self) -> Limits:
        return self.request.limits


def prepare_run(
    code_or_path: str | os.PathLike[str],
    permissions: Permissions | None = None,
    *,
    files: Mapping[str, bytes | str] | None = None,
    limits: Limits | None = None,
    argv: tuple[str, ...] | list[str] = (),
    stdin: bytes = b"",
    cwd: str = "/tmp",
    env: Mapping[str, str] | None = None,
) -> PreparedRun:
    """Check :func:`run_isolated`'s arguments and build the child's request from them
    (TypeError or ValueError for bad ones; a host script is read now)."""
    limits = Limits() if limits is None else limits
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a Limits, not {type(limits).__name__}")
    given = grant(permissions, limits)
    contents = {**given.files, **file_contents(files)}
    program = program_of(code_or_path, contents)
    environment = dict(env or {})
    for key, value in environment.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("env maps str names to str values")
    if not isinstance(stdin, bytes | bytearray):
        raise TypeError(f"stdin must be bytes, not {type(stdin).__name__}")
    request = Request(
        program=program,
        argv=tuple(str(argument) for argument in argv),
        files=contents,
        cwd=guest_path(cwd, "cwd"),
        env=environment,
        permissions=given.data,
        limits=limits,
    )
    return PreparedRun(request, bytes(stdin), given.notes)


def supervise(prepared: PreparedRun, spawner: Spawner) -> IsolatedResult:
    """Start ``prepared`` in a child from ``spawner`` and watch it to its end (see the
    module's docstring); IsolationError if the child could not run it at all."""
    time_limit = prepared.request.permissions["time_limit"]
    with _natively():
        return _Supervision(
            prepared.request, prepared.stdin, time_limit, prepared.notes, spawner
        ).run()


@contextlib.contextmanager
def _natively() -> Iterator[None]:
    """The real os for the parent's own work, also when called inside a managed block."""
    if current_emulated() is None:
        yield
        return
    with backend("native"):
        yield


def import_roots() -> list[str]:
    """The sys.path entries the child needs: the directories holding this library's packages
    and attrs, then the active site-packages directories (for the guest's own imports)."""
    roots: list[str] = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise IsolationError(f"cannot find the {name!r} package to give the child")
        roots.append(posixpath.dirname(posixpath.dirname(spec.origin)))
    active = [entry for entry in site.getsitepackages() if entry in sys.path]
    return list(dict.fromkeys([*roots, *active]))


class _Poller:
    """The few descriptors one run watches, polled directly (selectors' keys and lookups were
    ~50 Python calls per run; poll, not epoll: an epoll instance is a descriptor of its own
    and a system call per registration and unregistration)."""

    __slots__ = ("_poll",)

    def __init__(self) -> None:
        self._poll = select.poll()

    def register(self, fd: int | socket.socket, events: int) -> None:
        self._poll.register(fd, events)

    def unregister(self, fd: int | socket.socket) -> None:
        self._poll.unregister(fd)  # (KeyError for one not registered, as selectors')

    def select(self, timeout: float | None) -> list[int]:
        """The descriptors ready, hung up or failed within ``timeout`` seconds (None: no
        bound): each is read or written by its handler, which sees which it was."""
        milliseconds = None if timeout is None else math.ceil(max(timeout, 0.0) * 1000)
        return [fd for fd, _ in self._poll.poll(milliseconds)]

    def close(self) -> None:
        """Nothing to release (poll keeps no kernel object); for symmetry with selectors."""


@attrs.define
class _Reader:
    """One pipe the parent reads, and what came through it."""

    name: str
    cap: int | None
    data: bytearray = attrs.Factory(bytearray)


class _Supervision:
    """One child: started, fed, read, limited in time and output, and reaped."""

    def __init__(
        self,
        request: Request,
        stdin: bytes,
        time_limit: float | None,
        notes: tuple[str, ...],
        spawner: Spawner,
    ) -> None:
        self.request = request
        self.spawner = spawner
        limits = request.limits
        self.deadline_seconds = limits.wall_seconds
        if time_limit is not None:
            if limits.wall_seconds is None or time_limit < limits.wall_seconds:
                self.deadline_seconds = time_limit + TIME_LIMIT_GRACE
            shorter = min(time_limit, limits.wall_seconds or time_limit)
            limits = attrs.evolve(limits, wall_seconds=shorter)
        self.limits = limits
        self.stdin = stdin
        self.killed_for: str | None = None
        self.notes: list[str] = list(notes)
        self.selector = _Poller()
        self.readers: dict[int, _Reader] = {}
        """The pipes still read, by the parent's descriptor."""
        self.collected: dict[str, bytearray] = {}
        """What came through each pipe read (stdout, stderr), by name."""
        self.writers: dict[int, memoryview] = {}
        self.channel: socket.socket | None = None
        """The parent's end of the result channel (from the child's start)."""
        self.parser: ChannelParser | None = None
        """What is made of the channel as it comes (with :attr:`channel`)."""
        self.channel_done = False
        self.exited_at: float | None = None
        """When the parent saw the child exit (time.monotonic)."""
        self._ours: dict[str, int] = {}
        """The parent's pipe ends not yet handed to the selector."""

    def run(self) -> IsolatedResult:
        started = time.monotonic()
        kills_before = oom_kills()
        child = self._start()
        try:
            self._begin()
            self._watch(child, started)
        finally:
            try:
                for fd in [*self.readers, *self.writers]:
                    self._close(fd)
                for fd in self._ours.values():  # not put to work yet
                    os.close(fd)
                self.selector.close()
                child.kill()  # anything left in its group
            finally:
                try:
                    assert self.channel is not None, "started with the child"
                    self.channel.close()
                finally:
                    status, cpu_seconds = child.reap()
        ended = time.monotonic()
        assert self.parser is not None, "started with the child"
        self.parser.end()  # (a channel cut short ends where it was cut)
        channel = self.parser.channel
        signal_number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        kills = 0
        if signal_number == signal.SIGKILL and self.killed_for is None:
            kills_after = oom_kills()
            if kills_before is not None and kills_after is not None:
                kills = kills_after - kills_before
        confined_at = channel.confined_at
        seen = Observation(
            killed_for=self.killed_for,
            signal=signal_number,
            cpu_seconds=cpu_seconds,
            guest_seconds=None if confined_at is None else (self.exited_at or ended) - confined_at,
            oom_kills=kills,
        )
        return self._result(child.pid, status, seen, ended - started, channel)

    # -- starting and watching -----------------------------------------------------------

    def _start(self) -> Started:
        """Start the child with its four pipes and the channel's end; keep the parent's ends
        (:meth:`_begin` puts them to work)."""
        pipes: dict[str, tuple[int, int]] = {}
        try:
            for name in ("stdin", "stdout", "stderr", "request"):
                pipes[name] = os.pipe()
            parents, childs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        except BaseException:
            for fd in [fd for pair in pipes.values() for fd in pair]:
                os.close(fd)
            raise
        ours = {
            "stdin": pipes["stdin"][1], "stdout": pipes["stdout"][0],
            "stderr": pipes["stderr"][0], "request": pipes["request"][1],
        }  # fmt: skip
        theirs = [fd for pair in pipes.values() for fd in pair if fd not in ours.values()]
        self.channel = parents
        self.parser = ChannelParser(Bounds.for_limits(self.limits))
        ends = ChildEnds(
            stdin=pipes["stdin"][0], stdout=pipes["stdout"][1], stderr=pipes["stderr"][1],
            request=pipes["request"][0], result=childs.fileno(),
        )  # fmt: skip
        try:
            child = self.spawner.spawn(ends)
        except BaseException:
            for fd in [*ours.values(), *theirs]:
                os.close(fd)
            self.channel.close()
            raise
        finally:
            childs.close()
        for fd in theirs:
            os.close(fd)
        self._ours = ours
        return child

    def _begin(self) -> None:
        """Read the channel, stdout and stderr; write the request and stdin."""
        assert self.channel is not None, "started with the child"
        with contextlib.suppress(OSError):  # (a child that already ended reads nothing)
            self.channel.shutdown(socket.SHUT_WR)  # the parent never writes: EOF to read
        self.channel.setblocking(False)
        self.selector.register(self.channel, select.POLLIN)
        ours = self._ours
        output = self.request.limits.output_bytes
        for name in ("stdout", "stderr"):
            self._read(ours.pop(name), _Reader(name, output))
        self._write(ours.pop("request"), self.request.to_json())
        self._write(ours.pop("stdin"), self.stdin)

    def _read(self, fd: int, reader: _Reader) -> None:
        os.set_blocking(fd, False)
        self.readers[fd] = reader
        self.collected[reader.name] = reader.data
        self.selector.register(fd, select.POLLIN)

    def _write(self, fd: int, data: bytes) -> None:
        if not data:
            os.close(fd)
            return
        os.set_blocking(fd, False)
        self.writers[fd] = memoryview(data)
        self.selector.register(fd, select.POLLOUT)

    def _close(self, fd: int) -> None:
        self.selector.unregister(fd)
        self.readers.pop(fd, None)
        self.writers.pop(fd, None)
        os.close(fd)

    def _watch(self, child: Started, started: float) -> None:
        """Move data until the child has ended, its pipes are drained and its channel read
        (or a bound passed)."""
        assert self.channel is not None, "started with the child"
        channel_fd = self.channel.fileno()
        exit_fd = child.exit_descriptor()
        if exit_fd is not None:
            self.selector.register(exit_fd, select.POLLIN)
        deadline = None if self.deadline_seconds is None else started + self.deadline_seconds
        drain_until: float | None = None
        try:
            while True:
                now = time.monotonic()
                running = drain_until is None and self.killed_for is None
                if running and deadline is not None and now >= deadline:
                    self._kill(child, "wall")
                if self.exited_at is None and child.has_exited(exit_fd):
                    self.exited_at = now
                ended = drain_until is not None
                if not ended and (self.killed_for is not None or self.exited_at is not None):
                    drain_until = now + DRAIN_SECONDS
                    ended = True
                drained = not self.readers and self.channel_done
                if ended and (drained or now >= (drain_until or now)):
                    if self.readers:
                        self.notes.append("output still open after the child ended: cut")
                    if not self.channel_done:
                        self.notes.append("result still open after the child ended: cut")
                    return
                timeout = self._timeout(now, deadline, drain_until, exit_fd)
                for fd in self.selector.select(timeout):
                    if fd == exit_fd:
                        self.selector.unregister(exit_fd)
                        os.close(exit_fd)
                        exit_fd = -1  # exited: has_exited answers from now on
                    elif fd == channel_fd:
                        self._on_channel_readable(child)
                    elif fd in self.readers:
                        self._on_readable(child, fd)
                    elif fd in self.writers:
                        self._on_writable(fd)
        finally:
            if exit_fd is not None and exit_fd >= 0:
                self.selector.unregister(exit_fd)
                os.close(exit_fd)
            if not self.channel_done:
                self.selector.unregister(channel_fd)

    def _timeout(
        self, now: float, deadline: float | None, drain_until: float | None, exit_fd: int | None
    ) -> float | None:
        bounds = [moment - now for moment in (deadline, drain_until) if moment is not None]
        if exit_fd is None:
            bounds.append(POLL_SECONDS)
        return max(0.0, min(bounds)) if bounds else None

    def _on_channel_readable(self, child: Started) -> None:
        """What came through the channel, to the parser (what is there now, up to
        :data:`CHANNEL_READS` reads: the last frames, the snapshot and the end of the stream
        mostly come together); once it is done, the channel is read no more (a broken or
        oversized one ends the child too)."""
        assert self.channel is not None and self.parser is not None, "started with the child"
        for _ in range(CHANNEL_READS):
            try:
                # (no room for ancillary data: descriptors sent along are closed by the
                # kernel, which says so with MSG_CTRUNC)
                data, _, flags, _ = self.channel.recvmsg(CHANNEL_CHUNK)
            except BlockingIOError:
                return
            except OSError:  # the kernel failed the socket: the stream ends here
                data, flags = b"", 0
            if flags & MSG_CTRUNC:
                self.parser.carried_ancillary()
            elif data:
                self.parser.feed(data)
            else:
                self.parser.end()
            if self.parser.done:
                self.channel_done = True
                self.selector.unregister(self.channel)
                self._on_channel_done(child)
                return

    def _on_channel_done(self, child: Started) -> None:
        """The channel was read: a broken or oversized channel ends the child too."""
        assert self.parser is not None, "started with the child"
        channel = self.parser.channel
        if channel.protocol_error is not None or channel.child_error is not None:
            self._kill(child, "protocol")
        elif channel.oversized is not None:
            self._kill(child, "result")

    def _on_readable(self, child: Started, fd: int) -> None:
        reader = self.readers[fd]
        try:
            chunk = os.read(fd, CHUNK)
        except BlockingIOError:
            return
        if not chunk:
            self._close(fd)
            return
        reader.data += chunk
        if reader.cap is not None and len(reader.data) > reader.cap:
            del reader.data[reader.cap :]
            # killed before its pipe is closed: a child writing on would otherwise get EPIPE
            # and end on its own first (no SIGKILL: a flood that looked like a crash)
            self._kill(child, "output")
            self._close(fd)

    def _on_writable(self, fd: int) -> None:
        view = self.writers[fd]
        try:
            written = os.write(fd, view[:CHUNK])
        except BlockingIOError:
            return
        except BrokenPipeError:  # the child stopped reading (it ended, or never reads stdin)
            self._close(fd)
            return
        rest = view[written:]
        if rest:
            self.writers[fd] = rest
        else:
            self._close(fd)

    def _kill(self, child: Started, reason: str) -> None:
        """Kill the child's process group (once); ``reason`` says why (see Observation)."""
        if self.killed_for is None:
            self.killed_for = reason
        child.kill()

    # -- the result -----------------------------------------------------------------------

    def _result(
        self, pid: int, status: int, seen: Observation, elapsed: float, channel: Channel
    ) -> IsolatedResult:
        stderr = bytes(self.collected["stderr"])
        if channel.setup_error is not None:
            raise RunRejected(
                f"the isolated child could not start the program: {channel.setup_error}"
            )
        if channel.child_error is not None:
            raise IsolationError(
                f"the isolated child failed before running the program: {channel.child_error}"
            )
        if channel.applied is None and self.killed_for is None:
            tail = stderr.decode(errors="replace")[-2000:]
            raise IsolationError(
                f"the isolated child ended (wait status {status}) before running the "
                f"program:\n{tail}"
            )
        finished = channel.finished
        return IsolatedResult(
            status=os.waitstatus_to_exitcode(status),
            stdout=bytes(self.collected["stdout"]),
            stderr=stderr,
            files={} if channel.snapshot is None else channel.snapshot.files,
            links={} if channel.snapshot is None else channel.snapshot.links,
            limit_exceeded=exceeded_limit(seen, self.limits),
            signal=seen.signal,
            confinement=channel.applied or (),
            not_confined=channel.not_applied,
            limits=self.limits,
            exception=None if finished is None else finished.exception,
            reported_limit=None if finished is None else finished.reported_limit,
            protocol_error=channel.protocol_error,
            cpu_seconds=seen.cpu_seconds,
            wall_seconds=elapsed,
            notes=(*self.notes, *self._files_notes(channel, seen.signal)),
            pid=pid,
        )

    def _files_notes(self, channel: Channel, signal_number: int | None) -> list[str]:
        """Why no files came back, when none did."""
        if channel.snapshot is not None or channel.protocol_error is not None:
            return []
        if channel.oversized is not None:
            memory = self.request.limits.memory_bytes
            bound = "the machine's memory" if memory is None else f"{format_size(memory)}"
            slack = format_size(SNAPSHOT_SLACK)
            return [f"the result outgrew what the parent accepts ({bound} and {slack} of "
                    "archive headers): its files were not kept"]  # fmt: skip
        how = "was killed" if signal_number is not None else "ended"
        if channel.ended == "inside the snapshot":
            return [f"the snapshot was cut short (the child {how}): no files came back"]
        return [f"no files came back: the child {how} before sending them"]


def _exit_descriptor(pid: int) -> int | None:
    """A pidfd that becomes readable when ``pid`` exits (None where there is none)."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd: int = pidfd_open(pid)
    except OSError:
        return None
    return fd


def _has_exited(pid: int, exit_fd: int | None) -> bool:
    """Whether the child has exited (without reaping it: its group stays killable)."""
    if exit_fd is not None and exit_fd >= 0:
        return False  # the pidfd says so when it does
    found = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return found is not None
