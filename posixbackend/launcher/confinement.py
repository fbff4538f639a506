"""``--sandbox`` as a kernel boundary: the launcher's process confines itself before the
program's first line, with what the program's permissions imply.

The launcher's process *is* the guest, so once the program is read and before it runs, every
restricting permission is also asked of the kernel: resource limits frozen (no core dumps,
no limit raised), every capability dropped, no_new_privs, Landlock (reading the interpreter's
and this library's code, the program's directory and what its file system shows; writing
only the host directories its file system shows writable; with processes, what host programs
need) and a seccomp filter (no processes, sockets, signals to others, host changes... unless
granted). An escape from the Python layer then reaches nothing. Each step the kernel refuses
is reported, not fatal (``--sandbox-report``); another thread running at that point is fatal,
as Landlock would not confine it.
"""

from __future__ import annotations

import json
import posix
import sys
from collections.abc import Iterable
from typing import Any, TextIO

import attrs

import compat
from posixbackend.isolation import capabilities, landlock, seccomp
from posixbackend.isolation.confinement import Confinement, Steps
from posixbackend.isolation.interpreterview import interpreter_view
from posixbackend.isolation.namespaces import single_threaded
from posixbackend.isolation.rlimits import freeze_resource_limits
from posixbackend.isolation.seccomp import FilterPolicy, Sockets
from posixbackend.launcher.hostaccess import (
    RESOLVER_FILES,
    HostAccess,
    UnknownProvider,
    file_system_access,
    process_access,
)
from posixbackend.permissions.policy import Access, Permissions
from vfs import FileSystem

SKIP_VARIABLE = "POSIXBACKEND_SANDBOX_SKIP"
"""Steps to leave out, comma-separated (rlimits, capabilities, no_new_privs, landlock,
seccomp, supervisor): for tests that show how a kernel without them degrades. Leaving a step
out never widens what a process already confined by its parent may do: confinement is
inherited and only ever narrows."""

KERNEL_LACKS_LANDLOCK = compat.declare(
    id="launcher.sandbox.no_landlock",
    function="builtins.open",
    aspect="--sandbox on a kernel without Landlock",
    level=compat.Level.WARNING,
    explanation="where the kernel has no Landlock (or refuses it), the program's host files "
    "are guarded in-process only: code that escapes the Python layer (ctypes, a fresh "
    "contextvars.Context) reads and writes what the launcher's user may; --sandbox-report "
    "shows 'landlock' as not applied",
)
KERNEL_LACKS_SECCOMP = compat.declare(
    id="launcher.sandbox.no_seccomp",
    function="os.fork",
    aspect="--sandbox on a kernel without seccomp",
    level=compat.Level.WARNING,
    explanation="where the kernel has no seccomp filter for this architecture, processes, "
    "sockets and host changes are refused in-process only; --sandbox-report shows 'seccomp' "
    "as not applied",
)
SIGNALS_TO_CHILDREN = compat.declare(
    id="launcher.sandbox.signals_with_processes",
    function="os.kill",
    aspect="signals under --sandbox --allow-create-process",
    level=compat.Level.INFO,
    explanation="with processes granted, signals are kept to the program and what it started "
    "by Landlock's signal scope (ABI 6); without it (see --sandbox-report) the kernel lets "
    "the program signal any process of its user",
)
WHAT_THE_PROGRAM_READS = compat.declare(
    id="launcher.sandbox.host_reads",
    function="builtins.__import__",
    aspect="host files under --sandbox",
    level=compat.Level.INFO,
    explanation="the kernel lets the program read only the interpreter's and this library's "
    "code, the shared libraries they need, its script's directory (-m: the current "
    "directory) and what its file system shows: a -c or stdin program cannot import modules "
    "of the current directory, the C library's user database (pwd, grp) and locale files "
    "are unreadable, and child processes see no other host files either; stat and readlink "
    "of any host path still answer (Landlock has no right for metadata; the isolated mode's "
    "minimal root hides it)",
)
METADATA_OF_HOST_FILES = compat.declare(
    id="launcher.sandbox.metadata_with_writable_host",
    function="os.chmod",
    aspect="--sandbox with a writable host directory",
    level=compat.Level.INFO,
    explanation="Landlock has no right for metadata: when the program's file system shows a "
    "host directory writable (--fs=host:DIR), chmod, chown and utime are allowed by the "
    "kernel (so they work there), also on other host files the launcher's user owns and the "
    "program can name; without one they fail with EPERM",
)
SOCKET_PAIRS = compat.declare(
    id="launcher.sandbox.socket_pairs",
    function="socket.socketpair",
    aspect="socketpairs under --sandbox",
    level=compat.Level.INFO,
    explanation="without host sockets a socketpair's ends only talk to each other (connect, "
    "bind, sendto with an address, sendmsg and sendmmsg fail with EACCES); with host socket "
    "patterns datagram socketpairs fail with EACCES (an end could be aimed at a host socket "
    "file); only AF_INET and AF_INET6 sockets open (AF_UNIX too with all host sockets, "
    "netlink and packet sockets never)",
)
NO_SHARED_MEMORY = compat.declare(
    id="launcher.sandbox.no_shared_memory",
    function="os.memfd_create",
    aspect="memory files and System V IPC under --sandbox",
    level=compat.Level.INFO,
    explanation="the kernel refuses memfd_create, shmget, msgget, semget and mq_open (the "
    "emulated backend's own os.memfd_create works); with all file access granted, inotify "
    "works, else it fails with EPERM",
)


PREFIX = "posixbackend: sandbox:"
"""How each line of the text report starts."""


class SandboxError(Exception):
    """The program cannot be confined as asked (the launcher then does not run it)."""


@attrs.frozen
class KernelPolicy:
    """What the kernel is asked to allow the program."""

    processes: bool
    sockets: Sockets
    tcp_ports: tuple[int, ...] | None
    """The TCP ports Landlock lets the program bind and connect to (None: any)."""
    files: bool
    """Whether Landlock restricts host files (False: all file access is granted)."""
    access: HostAccess
    """The host paths read and written, when :attr:`files`."""
    unknown_files: str | None = None
    """Why host files cannot be restricted though file access is (an unknown provider)."""

    @property
    def file_metadata(self) -> bool:
        """Whether chmod, chown, utime... are allowed (a host directory is writable)."""
        return not self.files or bool(self.access.writable)

    def to_data(self) -> dict[str, Any]:
        return {
            "processes": self.processes,
            "sockets": self.sockets.value,
            "tcp_ports": None if self.tcp_ports is None else list(self.tcp_ports),
            "files": self.files,
            "readable": list(self.access.readable),
            "writable": list(self.access.writable),
            "file_metadata": self.file_metadata,
        }


def restricts(permissions: Permissions | None) -> bool:
    """Whether ``permissions`` take anything away (then the kernel confines the program)."""
    if permissions is None:
        return False
    everything = attrs.evolve(
        Permissions.all(),
        process_handler=permissions.process_handler,
        time_limit=permissions.time_limit,
    )
    return permissions != everything


def kernel_policy(
    permissions: Permissions, program_directory: str | None, writable_files: Iterable[str] = ()
) -> KernelPolicy:
    """The kernel policy ``permissions`` imply for a program whose own directory (python's
    sys.path[0]) is ``program_directory``; ``writable_files``: host files the launcher itself
    writes after the program (its reports)."""
    processes = permissions.allow_create_process
    grant = permissions.allow_host_sockets
    sockets, ports = _sockets(grant)
    io = permissions.allow_io
    if io is Access.ALL:
        return KernelPolicy(processes, sockets, ports, files=False, access=HostAccess())
    access = code_access()
    if program_directory:
        access = access.plus([program_directory])
    unknown = None
    if isinstance(io, FileSystem):
        try:
            shown = file_system_access(io)
        except UnknownProvider as error:
            unknown = f"the program's file system has a {error} (its host files are unknown)"
        else:
            access = access.plus(shown.readable, shown.writable)
    if processes:
        extra = process_access()
        access = access.plus(extra.readable, extra.writable)
    if grant is not Access.NONE:
        access = access.plus(RESOLVER_FILES)
    access = access.plus(writable=writable_files)
    return KernelPolicy(processes, sockets, ports, files=unknown is None, access=access,
                        unknown_files=unknown)  # fmt: skip


def code_access() -> HostAccess:
    """The interpreter's and this library's code with the shared libraries they need, as this
    process imports it (sys.path past the program's own entry)."""
    entries = [entry for entry in sys.path[1:] if isinstance(entry, str)]
    view = interpreter_view(entries)
    return HostAccess(view.paths())


def _sockets(grant: Access | tuple[str, ...]) -> tuple[Sockets, tuple[int, ...] | None]:
    """The sockets a grant opens, and the TCP ports Landlock may keep it to (patterns whose
    ports are all plain numbers: their hosts are the in-process permissions' to check)."""
    if grant is Access.NONE:
        return Sockets.NONE, ()
    if grant is Access.ALL:
        return Sockets.HOST, None
    ports = [pattern.rpartition(":")[2] for pattern in grant]
    if all(port.isdigit() and int(port) < 65536 for port in ports):
        return Sockets.INTERNET, tuple(sorted({int(port) for port in ports}))
    return Sockets.INTERNET, None


def skipped_steps() -> frozenset[str]:
    """The steps :data:`SKIP_VARIABLE` leaves out."""
    value = posix.environ.get(SKIP_VARIABLE.encode(), b"").decode(errors="replace")
    return frozenset(name.strip() for name in value.split(",") if name.strip())


def confine(policy: KernelPolicy, before: Confinement | None = None) -> Confinement:
    """Apply ``policy`` to this process (SandboxError if another thread runs): what was
    applied, after ``before`` (the supervisor's step)."""
    if not single_threaded():
        raise SandboxError(
            "cannot confine the program: another thread is running (Landlock would not confine it)"
        )
    skip = skipped_steps()
    steps = Steps()

    def step(name: str, action: Any) -> bool:
        if name in skip:
            steps.missing[name] = f"left out ({SKIP_VARIABLE})"
            return False
        return steps.run(name, action)

    step("rlimits", freeze_resource_limits)
    step("capabilities", capabilities.drop_capabilities)
    step("no_new_privs", seccomp.set_no_new_privs)
    _landlock(policy, steps, skip)
    filter_policy = FilterPolicy(
        pid=posix.getpid(), processes=policy.processes, sockets=policy.sockets,
        file_metadata=policy.file_metadata, file_watches=not policy.files,
    )  # fmt: skip
    if not step("seccomp", lambda: seccomp.install_filter(filter_policy)):
        KERNEL_LACKS_SECCOMP.hit()
    done = steps.result()
    return done if before is None else before.then(done)


def _landlock(policy: KernelPolicy, steps: Steps, skip: frozenset[str]) -> None:
    if "landlock" in skip:
        steps.missing["landlock"] = f"left out ({SKIP_VARIABLE})"
        KERNEL_LACKS_LANDLOCK.hit()
        return
    rules = landlock.Rules(
        readable=policy.access.readable,
        writable=policy.access.writable,
        files=policy.files,
        network=policy.tcp_ports is not None,
        ports=policy.tcp_ports or (),
        abstract_unix_sockets=policy.sockets is not Sockets.HOST,
    )
    try:
        applied, missing = landlock.restrict(rules)
    except OSError as error:
        steps.missing["landlock"] = str(error)
        KERNEL_LACKS_LANDLOCK.hit()
        return
    steps.note(applied, missing)
    if not policy.files:
        steps.missing["landlock"] = policy.unknown_files or "all file access is granted"
    if policy.processes and "landlock_scopes" not in applied:
        SIGNALS_TO_CHILDREN.hit()


@attrs.frozen
class SandboxReport:
    """What ``--sandbox-report`` tells: the steps applied and why the others were not."""

    confinement: Confinement | None
    """None: no permission restricts the program, so nothing was asked of the kernel."""
    policy: KernelPolicy | None = None

    def text(self) -> str:
        if self.confinement is None:
            return f"{PREFIX} not confined: no permission option restricts the program\n"
        lines = [f"{PREFIX} applied: {', '.join(self.confinement.applied) or '-'}"]
        lines += [
            f"{PREFIX} not applied: {name}: {why}"
            for name, why in self.confinement.not_applied.items()
        ]
        return "\n".join(lines) + "\n"

    def data(self) -> dict[str, Any]:
        if self.confinement is None:
            return {"confined": False, "applied": [], "not_applied": {}}
        found: dict[str, Any] = {"confined": True, **self.confinement.to_data()}
        if self.policy is not None:
            found["policy"] = self.policy.to_data()
        return found

    def write(self, stream: TextIO | int | None) -> None:
        """Text to a stream (stderr), JSON to a descriptor opened before the confinement."""
        if stream is None:
            return
        if isinstance(stream, int):
            posix.write(stream, (json.dumps(self.data(), indent=2) + "\n").encode())
            return
        stream.write(self.text())
        stream.flush()


def open_report(target: str) -> int:
    """The descriptor ``--sandbox-report=FILE`` writes to (opened before the confinement,
    which may leave FILE's directory unwritable)."""
    flags = posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC
    path = target if target.startswith("/") else f"{posix.getcwd()}/{target}"
    return posix.open(path, flags, 0o644)
