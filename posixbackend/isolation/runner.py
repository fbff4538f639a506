"""run_isolated: the guest in a confined child interpreter, watched by this process.

The parent starts ``sys.executable -I -S -B`` (isolated mode: no PYTHON* variables, no user
site, no .pth files run, no bytecode written) with an empty environment, in a session and
process group of its own, with the directories holding this library and its dependencies
appended to the child's sys.path (that works for a regular install and an editable one alike).
The request goes in through one pipe, the guest's stdin through another; stdout, stderr and
the result pipe are read at once with a selector, so no full pipe can stall either side.
The parent kills the child's whole process group on the wall-time limit or when an output
stream outgrows its limit, and always reaps it: it never waits on the guest without a bound.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import posixpath
import selectors
import signal
import site
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from posixbackend.isolation.frames import ResultStream, read_result_stream
from posixbackend.isolation.hostview import isolated_view
from posixbackend.isolation.limits import Limits
from posixbackend.isolation.request import (
    Request,
    file_contents,
    guest_path,
    permissions_to_data,
    program_of,
)
from posixbackend.isolation.result import IsolatedResult
from posixbackend.permissions.policy import Permissions
from posixbackend.switch.block import backend, current_emulated
from vfs.snapshot import SnapshotError
from vfs.snapshot import guest_path as member_path

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
SNAPSHOT_SLACK = 16 << 20
"""The result pipe may carry this much beyond the memory limit (archive headers)."""
CHUNK = 1 << 16


class IsolationError(RuntimeError):
    """The isolated child could not run the program at all (not the program's own failure)."""


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
    permissions; ``limits`` (default :class:`Limits`) bound what it may use. Never raises for
    the guest's failures or limits (see :class:`IsolatedResult`); IsolationError if the child
    could not run it at all.
    """
    limits = Limits() if limits is None else limits
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a Limits, not {type(limits).__name__}")
    contents = file_contents(files)
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
        permissions=permissions_to_data(permissions),
        limits=limits,
    )
    time_limit = request.permissions["time_limit"]
    with _natively():
        return _Supervision(request, bytes(stdin), time_limit).run()


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


@attrs.define
class _Reader:
    """One pipe the parent reads, and what came through it."""

    name: str
    cap: int | None
    data: bytearray = attrs.Factory(bytearray)


class _Supervision:
    """One child: started, fed, read, limited in time and output, and reaped."""

    def __init__(self, request: Request, stdin: bytes, time_limit: float | None) -> None:
        self.request = request
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
        self.notes: list[str] = []
        self.selector = selectors.DefaultSelector()
        self.readers: dict[int, _Reader] = {}
        """The pipes still read, by the parent's descriptor."""
        self.collected: dict[str, bytearray] = {}
        """What came through each pipe read (stdout, stderr, result), by name."""
        self.writers: dict[int, memoryview] = {}

    def run(self) -> IsolatedResult:
        started = time.monotonic()
        child = self._start()
        try:
            self._watch(child, started)
        finally:
            for fd in [*self.readers, *self.writers]:
                self._close(fd)
            self.selector.close()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)  # anything left in its group
            try:
                _, status, usage = os.wait4(child.pid, 0)
            except ChildProcessError:
                raise IsolationError(
                    "the isolated child was reaped by someone else (is SIGCHLD ignored?)"
                ) from None
            child.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - started
        return self._result(child.pid, status, usage, elapsed)

    # -- starting and watching -----------------------------------------------------------

    def _start(self) -> subprocess.Popen[bytes]:
        """Start the child with its five pipes; keep the parent's ends."""
        pipes = {name: os.pipe() for name in ("stdin", "stdout", "stderr", "request", "result")}
        ours = {
            "stdin": pipes["stdin"][1], "stdout": pipes["stdout"][0],
            "stderr": pipes["stderr"][0], "request": pipes["request"][1],
            "result": pipes["result"][0],
        }  # fmt: skip
        theirs = [fd for pair in pipes.values() for fd in pair if fd not in ours.values()]
        request_fd, result_fd = pipes["request"][0], pipes["result"][1]
        try:
            child = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", "-c", BOOTSTRAP, str(request_fd),
                 str(result_fd), isolated_view().to_json(), *import_roots()],
                stdin=pipes["stdin"][0], stdout=pipes["stdout"][1], stderr=pipes["stderr"][1],
                pass_fds=(request_fd, result_fd), env={}, cwd="/", start_new_session=True,
            )  # fmt: skip
        except BaseException:
            for fd in [*ours.values(), *theirs]:
                os.close(fd)
            raise
        for fd in theirs:
            os.close(fd)
        output = self.request.limits.output_bytes
        memory = self.request.limits.memory_bytes
        snapshot_cap = None if memory is None else memory + SNAPSHOT_SLACK
        for name, cap in (("stdout", output), ("stderr", output), ("result", snapshot_cap)):
            self._read(ours[name], _Reader(name, cap))
        self._write(ours["request"], self.request.to_json())
        self._write(ours["stdin"], self.stdin)
        return child

    def _read(self, fd: int, reader: _Reader) -> None:
        os.set_blocking(fd, False)
        self.readers[fd] = reader
        self.collected[reader.name] = reader.data
        self.selector.register(fd, selectors.EVENT_READ)

    def _write(self, fd: int, data: bytes) -> None:
        if not data:
            os.close(fd)
            return
        os.set_blocking(fd, False)
        self.writers[fd] = memoryview(data)
        self.selector.register(fd, selectors.EVENT_WRITE)

    def _close(self, fd: int) -> None:
        self.selector.unregister(fd)
        self.readers.pop(fd, None)
        self.writers.pop(fd, None)
        os.close(fd)

    def _watch(self, child: subprocess.Popen[bytes], started: float) -> None:
        """Move data until the child has ended and its pipes are drained (or a bound passed)."""
        exit_fd = _exit_descriptor(child.pid)
        if exit_fd is not None:
            self.selector.register(exit_fd, selectors.EVENT_READ)
        deadline = None if self.deadline_seconds is None else started + self.deadline_seconds
        drain_until: float | None = None
        try:
            while True:
                now = time.monotonic()
                running = drain_until is None and self.killed_for is None
                if running and deadline is not None and now >= deadline:
                    self._kill(child.pid, "wall")
                ended = drain_until is not None
                if not ended and (self.killed_for is not None or _has_exited(child.pid, exit_fd)):
                    drain_until = now + DRAIN_SECONDS
                    ended = True
                if ended and (not self.readers or now >= (drain_until or now)):
                    if self.readers:
                        self.notes.append("output still open after the child ended: cut")
                    return
                timeout = self._timeout(now, deadline, drain_until, exit_fd)
                for key, _ in self.selector.select(timeout):
                    if key.fd == exit_fd:
                        self.selector.unregister(exit_fd)
                        os.close(exit_fd)
                        exit_fd = -1  # exited: _has_exited answers from now on
                    elif key.fd in self.readers:
                        self._on_readable(child.pid, key.fd)
                    elif key.fd in self.writers:
                        self._on_writable(key.fd)
        finally:
            if exit_fd is not None and exit_fd >= 0:
                self.selector.unregister(exit_fd)
                os.close(exit_fd)

    def _timeout(
        self, now: float, deadline: float | None, drain_until: float | None, exit_fd: int | None
    ) -> float | None:
        bounds = [moment - now for moment in (deadline, drain_until) if moment is not None]
        if exit_fd is None:
            bounds.append(POLL_SECONDS)
        return max(0.0, min(bounds)) if bounds else None

    def _on_readable(self, pid: int, fd: int) -> None:
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
            self._close(fd)
            if reader.name == "result":
                self.notes.append("the result outgrew the memory limit: discarded")
                reader.data.clear()
                self._kill(pid, None)
            else:
                self._kill(pid, "output")

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

    def _kill(self, pid: int, reason: str | None) -> None:
        """Kill the child's process group (once); ``reason`` is the limit that did it."""
        if self.killed_for is None:
            self.killed_for = reason or "killed"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)

    # -- the result -----------------------------------------------------------------------

    def _result(self, pid: int, status: int, usage: Any, elapsed: float) -> IsolatedResult:
        stream = read_result_stream(bytes(self.collected["result"]))
        if stream.problem is not None:
            self.notes.append(stream.problem)
        stderr = bytes(self.collected["stderr"])
        setup = stream.frames.get("setup_error")
        if setup is not None:
            message = setup.get("message")
            raise IsolationError(f"the isolated child could not start the program: {message}")
        confined = stream.frames.get("confined")
        if confined is None and self.killed_for is None:
            tail = stderr.decode(errors="replace")[-2000:]
            raise IsolationError(
                f"the isolated child ended (wait status {status}) before running the "
                f"program:\n{tail}"
            )
        finished = stream.frames.get("finished") or {}
        signal_number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        cpu = usage.ru_utime + usage.ru_stime
        files = self._files(stream, signal_number)
        return IsolatedResult(
            status=os.waitstatus_to_exitcode(status),
            stdout=bytes(self.collected["stdout"]),
            stderr=stderr,
            files=files,
            limit_exceeded=self._limit(signal_number, cpu, finished),
            signal=signal_number,
            confinement=tuple(str(name) for name in (confined or {}).get("applied", ())),
            not_confined={
                str(name): str(why) for name, why in (confined or {}).get("not_applied", {}).items()
            },
            limits=self.limits,
            exception=_text_or_none(finished.get("exception")),
            cpu_seconds=cpu,
            wall_seconds=elapsed,
            notes=tuple(self.notes),
            pid=pid,
        )

    def _limit(self, signal_number: int | None, cpu: float, finished: dict[str, Any]) -> str | None:
        """Which limit ended the run: what the parent did, then what the signal or the
        guest's last exception says."""
        if self.killed_for in ("wall", "output"):
            return self.killed_for
        limits = self.request.limits
        if signal_number == signal.SIGXCPU:
            return "cpu"
        if signal_number == signal.SIGXFSZ:
            return "file_size"
        if signal_number == signal.SIGKILL and self.killed_for is None:
            if limits.cpu_seconds is not None and cpu >= limits.cpu_seconds:
                return "cpu"  # the hard CPU limit, after a SIGXCPU the guest ignored
            if limits.memory_bytes is not None:
                return "memory"  # the kernel's out-of-memory killer
        if signal_number is None:
            limit = finished.get("limit")
            if limit in ("memory", "file_size", "open_files", "wall"):
                return str(limit)
        return None

    def _files(self, stream: ResultStream, signal_number: int | None) -> dict[str, bytes]:
        """The regular files of the snapshot the child sent, by guest path."""
        if stream.snapshot is None:
            if stream.problem is None:
                how = "was killed" if signal_number is not None else "ended"
                self.notes.append(f"no files came back: the child {how} before sending them")
            return {}
        try:
            return _regular_files(stream.snapshot)
        except (tarfile.TarError, SnapshotError, EOFError) as error:
            self.notes.append(f"the snapshot could not be read: {error}")
            return {}


def _regular_files(archive: bytes) -> dict[str, bytes]:
    """Every regular file of a tar archive (hard links as their target's contents)."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        for member in tar:
            if member.isreg():
                data = tar.extractfile(member)
                assert data is not None, "a regular member has data"
                files[member_path(member.name)] = data.read()
            elif member.islnk():
                target = files.get(member_path(member.linkname))
                if target is not None:
                    files[member_path(member.name)] = target
    return files


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


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
