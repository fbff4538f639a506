"""The isolated child: read the request, build the guest's world, confine itself, run the guest.

Started by the parent as ``python -I -S -B -c BOOTSTRAP REQUEST_FD RESULT_FD VIEW ROOTS...``
(see :mod:`posixbackend.isolation.runner`). The child first enters its namespaces and its
minimal root (the host view the parent computed), so that the guest's file system, built
next, holds no descriptor into the host's tree; everything the run needs is imported and
built before the rest of the confinement, which happens while the child is still
single-threaded; then the guest runs under the managed backend as ``python`` would run it,
and the child reports how it ended and sends a snapshot of the guest's memory file system
back before exiting with the guest's status. A pool's spare child (:class:`Ahead`) takes
every step that depends on no job before its job comes, Landlock included, and builds the
guest's file system under them; only the job's resource limits and the seccomp filter
(assembled ahead) follow.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import gc
import mmap
import posix
import signal
import stat
import sys
import tarfile
import threading
from collections.abc import Callable, Mapping
from typing import IO, Any, Final, NoReturn

import attrs

from posixbackend.isolation import landlock, seccomp
from posixbackend.isolation.confinement import Confinement, confine, finish, isolate, restrict
from posixbackend.isolation.frames import FrameWriter
from posixbackend.isolation.guestfs import GuestFileSystem, guest_file_system
from posixbackend.isolation.hostview import HostView
from posixbackend.isolation.limits import Limits, format_size
from posixbackend.isolation.request import Request
from posixbackend.isolation.rlimits import address_space_bytes
from posixbackend.isolation.roottemplate import RootTemplate
from posixbackend.launcher.program import (
    CannotOpen,
    prepare,
    report_exception,
    without_launcher_frames,
)
from posixbackend.launcher.target import Target, TargetKind
from posixbackend.permissions.policy import Access, Environment, Permissions
from posixbackend.switch.block import BackendBlock, backend
from vfs.memory import MemoryFileSystem
from vfs.snapshot import save_snapshot

RESERVE_BYTES = 8 << 20
"""Memory held while the guest runs and freed when it ends, so that reporting how it ended
(a traceback, the snapshot) works even after a memory bomb used every byte it could. It is
address space (an anonymous mapping no page of which is ever touched: RLIMIT_AS counts it,
and it costs no page faults), which is what the memory limit counts."""
SETUP_STATUS = 126
"""The child's exit status when it could not prepare the run (the parent then raises)."""
TIME_LIMIT_MODULE = "posixbackend.permissions.timelimit"
INTERPRETER_HEADROOM = 16 << 20
"""Address space the guest needs beyond what the interpreter uses at the start."""
HELD_NAMESPACES = ("mnt", "net")
"""The namespaces whose teardown a spare's zygote takes off the guest's exit (see
:mod:`posixbackend.isolation.zygote`)."""
KEEP_FROM_FD = 5
"""Descriptors a spare keeps until its job comes are moved to here or above (0-4 are the
guest's)."""


@attrs.frozen
class Outcome:
    """How the guest ended."""

    status: int
    exception: str | None = None
    """The type name of the exception that ended it, if one did."""
    limit: str | None = None
    """The limit that exception came from ('memory', 'file_size', 'open_files', 'wall')."""


def main(request_fd: int, result_fd: int, view_json: str, ahead: Ahead | None = None) -> NoReturn:
    """The child's whole life (the bootstrap calls this; ``view_json``: the host view the
    parent computed, with its root's layout). ``ahead``: the namespaces and the minimal root
    a pool's spare child entered before its job came (None: enter them now)."""
    out = FrameWriter(result_fd)
    request = Request.from_json(read_all(request_fd))
    posix.close(request_fd)
    try:
        if ahead is None:
            view = HostView.from_json(view_json)
            check_memory_limit(request.limits, address_space_bytes())  # /proc: before the root
            isolated = isolate(view)
        else:
            view = ahead.view
            check_memory_limit(request.limits, ahead.address_space_bytes())
            isolated = ahead.isolated()
        run = GuestRun(request)
    except (OSError, ValueError) as error:  # the request cannot be set up: say why, stop
        out.frame("setup_error", message=str(error))
        posix._exit(SETUP_STATUS)
    if ahead is None:
        confinement = confine(request.limits, view, isolated)
    else:  # the rest was applied ahead
        confinement = isolated.then(finish(request.limits, ahead.program))
    out.frame("confined", **confinement.to_data())
    outcome = run.run()
    # (fields named, not attrs.asdict: its generic walk copies ~20 of the zygote's pages)
    finished: dict[str, Any] = {
        "status": outcome.status,
        "exception": outcome.exception,
        "limit": outcome.limit,
    }
    if _holds_no_file(run.files.memory):  # (most guests) the frame and the snapshot in one write
        out.frame_then("finished", EMPTY_SNAPSHOT, **finished)
    else:
        out.frame("finished", **finished)
        try:
            save_whole_snapshot(run.files.memory, out)  # type: ignore[arg-type]  # (a writer: what tarfile uses)
        except MemoryError:  # the parent notes a snapshot that never ended
            posix._exit(outcome.status)
        out.end()
    if outcome.exception == "KeyboardInterrupt":  # as CPython: end by the signal itself
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        posix.kill(posix.getpid(), signal.SIGINT)
    posix._exit(outcome.status)


def save_guest_files(memory: MemoryFileSystem, out: IO[bytes]) -> None:
    """The snapshot of the guest's files, as the parent reads it (archive.py): holes written
    out (it takes no sparse member), no directory that leads to no file or link (it keeps
    only those), no owner names (it ignores them; looking them up in the minimal root, which
    has no user database, costs ~150 failed path look-ups: the C library searches for its
    configuration, then for modules in every library directory). A guest that left no file
    or link (most of them) gets :data:`EMPTY_SNAPSHOT`, what the parent reads the same way,
    without tarfile (in a pool's child, its first use copied ~110 of the zygote's pages)."""
    if _holds_no_file(memory):
        out.write(EMPTY_SNAPSHOT)
        return
    save_whole_snapshot(memory, out)


def save_whole_snapshot(memory: MemoryFileSystem, out: IO[bytes]) -> None:
    """:func:`save_guest_files`'s archive written by tarfile, whatever the tree holds."""
    save_snapshot(memory, out, sparse=False, empty_directories=False, owner_names=False)


def _empty_snapshot() -> bytes:
    """The archive of a tree of directories alone, as the parent reads it: the root's
    member (whose attributes the parent ignores) and the two end blocks."""
    root = tarfile.TarInfo(".")
    root.type = tarfile.DIRTYPE
    root.mode = 0o755
    return root.tobuf(tarfile.USTAR_FORMAT) + bytes(2 * tarfile.BLOCKSIZE)


EMPTY_SNAPSHOT: Final = _empty_snapshot()


def _holds_no_file(memory: MemoryFileSystem) -> bool:
    """Whether ``memory`` holds nothing but directories (its snapshot is then its root alone:
    the parent keeps files and links only). False when unsure: a directory that cannot be
    listed (the guest took its permissions away) may hide one, and a walk that ran out of
    memory (after a memory bomb: the finished frame must still go, then the snapshot is tried
    as before)."""
    pending = ["/"]
    try:
        while pending:
            path = pending.pop()
            for entry in memory.scandir(path):
                if entry.type != stat.S_IFDIR:
                    return False
                pending.append(f"{path.rstrip('/')}/{entry.name}")
    except (OSError, MemoryError):
        return False
    return True


class Ahead:
    """What a pool's spare child does before its job exists (none of it depends on the job:
    the host view is the zygote's): it enters its namespaces and its minimal root, drops its
    capabilities, sets no_new_privs, applies Landlock (:func:`~posixbackend.isolation.
    confinement.restrict`) and assembles its seccomp filter; the job's resource limits and
    the filter's installation wait for the job (setrlimit is among the calls the filter
    refuses). It keeps a descriptor on its own ``/proc/self/statm`` (the minimal root has no
    /proc) for the memory limit's check, closed by :meth:`address_space_bytes` before the
    guest's world is built; an error entering the root is kept and raised when the job
    comes, so that the job is told why, as run_isolated's child tells it."""

    def __init__(
        self,
        view: HostView,
        ruleset: landlock.Ruleset | None = None,
        template: RootTemplate | None = None,
    ) -> None:
        """``view``: the zygote's host view (parsed once, there). ``ruleset``: the view's
        Landlock ruleset, made by the zygote (closed here, enforced if the namespaces and the
        root were entered; None: made here). ``template``: the view's minimal root, built
        once by the zygote, copied here (closed here; None: the root is built here)."""
        try:
            self._prepare(view, ruleset, template)
        finally:
            if ruleset is not None:
                ruleset.close()  # (a guest never holds it: it could add rules to it)
            if template is not None:
                template.close()  # (nor the template's namespaces)

    def _prepare(
        self, view: HostView, ruleset: landlock.Ruleset | None, template: RootTemplate | None
    ) -> None:
        self.view = view
        statm = posix.open("/proc/self/statm", posix.O_RDONLY | posix.O_CLOEXEC)
        self.statm = fcntl.fcntl(statm, fcntl.F_DUPFD_CLOEXEC, KEEP_FROM_FD)  # above 0-4
        posix.close(statm)
        own = posix.open("/proc/self/ns", posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        self._isolated: Confinement | None = None
        self._error: OSError | ValueError | None = None
        self.program: bytes | None = None
        """The seccomp filter for this process (None: assembled when the job comes, which
        then notes why it cannot be)."""
        try:
            isolated = isolate(self.view, template)
            held: tuple[str, ...] = HELD_NAMESPACES
            if template is not None and template.network is not None:
                held = ("mnt",)  # the network namespace is the pool's, shared: not this one's
            self.namespaces = [
                posix.open(name, posix.O_RDONLY | posix.O_CLOEXEC, dir_fd=own) for name in held
            ]
            """Descriptors on the namespaces entered (for the zygote to hold: see
            :mod:`posixbackend.isolation.zygote`); closed before the job's world is built."""
        except (OSError, ValueError) as error:
            self._error = error
            self.namespaces = []
        else:
            self._isolated = isolated.then(restrict(self.view, ruleset))
            with contextlib.suppress(OSError):  # (an architecture the filter does not know)
                self.program = seccomp.isolated_filters().program(posix.getpid())
        finally:
            posix.close(own)

    def address_space_bytes(self) -> int:
        """The address space this process uses now (VmSize); closes the descriptor."""
        try:
            pages = int(posix.pread(self.statm, 64, 0).split()[0])
        finally:
            posix.close(self.statm)
        return pages * mmap.PAGESIZE

    def isolated(self) -> Confinement:
        """The steps applied ahead; the error that stopped them, if one did."""
        if self._error is not None:
            raise self._error
        assert self._isolated is not None, "isolate either returned or raised"
        return self._isolated


def read_all(fd: int) -> bytes:
    """Everything the parent writes to ``fd`` until it closes it."""
    chunks = []
    while chunk := posix.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


class GuestRun:
    """The guest's file system and program, built in the minimal root before the rest of the
    confinement; the backend is made after it, so that its descriptor table takes the open
    files limit then in force."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.limits = request.limits
        self.files: GuestFileSystem = guest_file_system(
            request.cwd, request.files, self.limits.file_size_bytes, self.limits.memory_bytes
        )
        self.permissions = _permissions(request.permissions, self.files)
        program = request.program
        kind = TargetKind.CODE if program.kind == "code" else TargetKind.SCRIPT
        self.target = Target(kind, program.value, request.argv)

    def block(self) -> BackendBlock:
        """The managed backend the guest runs under, with its permissions: file access is
        to the guest's file system or nothing; ``env`` is the environment it inherits."""
        request = self.request
        permissions = self.permissions
        inherits = permissions.allow_environment_access is Environment.INHERIT
        environ = {key.encode(): value.encode() for key, value in request.env.items()}
        return backend(
            "managed",
            file_system=None if permissions.allow_io is Access.NONE else self.files.namespace,
            cwd=request.cwd,
            environ=environ if inherits else None,
            permissions=permissions,
            # built at its first use (never, for a guest that makes no call: its descriptor
            # table, streams and fast paths cost ~80 copied pages and ~0.3 ms): its file
            # system was made with its cwd
            deferred=True,
        )

    def run(self) -> Outcome:
        """Run the guest to its end, as ``python`` would (threads joined, atexit handlers
        run, output flushed), inside the managed backend. A time limit that ended the program
        also ends the run: its threads and atexit handlers are not waited for."""
        reserve = [mmap.mmap(-1, RESERVE_BYTES)]  # unmapped when the list lets it go
        outcome = Outcome(1, "TimeLimitExceeded", "wall")
        try:
            with self.block():
                outcome = self._program(reserve.clear)
                if outcome.limit != "wall":
                    # (made directly: attrs.evolve's generic copy costs a child ~25 pages)
                    status = _finish_like_python(outcome.status)
                    outcome = Outcome(status, outcome.exception, outcome.limit)
        except BaseException as error:
            if not _is_time_limit(error):
                raise
            # it ran out after the program
            outcome = Outcome(outcome.status, outcome.exception, "wall")
        reserve.clear()
        main = sys.modules.get("__main__")
        if main is not None:
            main.__dict__.clear()  # the guest's globals (a memory bomb's list) go now
        gc.collect()
        return outcome

    def _program(self, free_reserve: Callable[[], None]) -> Outcome:
        try:
            prepare(self.target)()
        except SystemExit as exit:
            free_reserve()
            return Outcome(exit_status(exit.code))
        except CannotOpen as error:
            free_reserve()
            print(f"posixbackend: {error}", file=sys.stderr)
            return Outcome(2, "CannotOpen")
        except BaseException as error:  # noqa: BLE001 - python reports every uncaught exception
            free_reserve()
            traceback = without_launcher_frames(error.__traceback__)
            error.__traceback__ = traceback
            report_exception(error, traceback)
            name = type(error).__name__
            if isinstance(error, KeyboardInterrupt):
                return Outcome(128 + signal.SIGINT, name)
            return Outcome(1, name, self._limit_of(error))
        free_reserve()
        return Outcome(0)

    def _limit_of(self, error: BaseException) -> str | None:
        """The limit an uncaught exception (or one it was raised from) came from, if any."""
        seen: BaseException | None = error
        for _ in range(16):
            if seen is None:
                return None
            if isinstance(seen, MemoryError) and self.limits.memory_bytes is not None:
                return "memory"
            if isinstance(seen, OSError):
                sizes = self.files.sizes
                if seen.errno == errno.EFBIG and sizes is not None and sizes.exceeded:
                    return "file_size"
                if seen.errno == errno.EMFILE and self.limits.open_files is not None:
                    return "open_files"
            if _is_time_limit(seen):
                return "wall"
            seen = seen.__cause__ or seen.__context__
        return None


def _is_time_limit(error: BaseException) -> bool:
    """Whether ``error`` is the permissions' TimeLimitExceeded (known by its qualified name:
    as the backend block does, the child imports the time limit machinery only where a limit
    is set)."""
    kind = type(error)
    return (kind.__module__, kind.__qualname__) == (TIME_LIMIT_MODULE, "TimeLimitExceeded")


def exit_status(code: Any) -> int:
    """The exit status of ``SystemExit(code)``, as CPython's handle_system_exit makes it: None
    is 0, an int is itself, anything else is printed to stderr and gives 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _finish_like_python(status: int) -> int:
    """What the interpreter does after the main module: wait for non-daemon threads, run the
    atexit handlers, flush stdout and stderr (120 if stdout cannot be flushed, as CPython)."""
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        try:
            stream.flush()
        except (OSError, ValueError):
            if stream is sys.stdout and status == 0:
                status = 120
    return status


def check_memory_limit(limits: Limits, used_bytes: int) -> None:
    """ValueError when the memory limit leaves the guest no room beside the interpreter
    (``used_bytes``: the address space it uses now)."""
    if limits.memory_bytes is None:
        return
    needed = used_bytes + RESERVE_BYTES + INTERPRETER_HEADROOM
    if limits.memory_bytes < needed:
        raise ValueError(
            f"the memory limit ({format_size(limits.memory_bytes)}) is below what the "
            f"isolated interpreter needs to run anything ({needed >> 20} MiB)"
        )


def _permissions(data: Mapping[str, Any], files: GuestFileSystem) -> Permissions:
    """The guest's Permissions from plain data: file access means its own file system."""
    io = files.namespace if data["allow_io"] == Access.ALL.value else Access.NONE
    return Permissions(
        allow_io=io,
        allow_create_thread=data["allow_create_thread"],
        allow_native_access=data["allow_native_access"],
        allow_environment_access=data["allow_environment_access"],
        time_limit=data["time_limit"],
    )
