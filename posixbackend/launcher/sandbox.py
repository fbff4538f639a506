"""One launcher run's kernel side: its supervisor, its confinement, and their report.

Before any thread exists and before the program is read, :meth:`Sandbox.prepare` makes what
the confined program cannot make later (the report files, the directory children may start
in) and forks the supervisor when a time limit asks for one, or that directory (which the
confined program cannot remove) is to be removed at the end. Once the
program is read, :meth:`Sandbox.start` confines the process, reports what the kernel
applied, then starts the time limit and the permissions: no thread of the process exists
before the confinement, so none escapes it. The kernel machinery (posixbackend.isolation) is
imported only by a run that uses it, always before the program's first line.
"""

from __future__ import annotations

import posix
import posixpath
import stat
import sys
from typing import TYPE_CHECKING, TextIO

from posixbackend.launcher.options import Command
from posixbackend.launcher.session import GRACE, Session
from posixbackend.launcher.target import TargetKind

if TYPE_CHECKING:
    from posixbackend.isolation.confinement import Confinement
    from posixbackend.launcher.confinement import KernelPolicy, SandboxReport


class Sandbox:
    """The supervisor and the kernel confinement of one launcher run."""

    def __init__(self, command: Command, session: Session, prog: str) -> None:
        self.command = command
        self.session = session
        self.prog = prog
        self.confines = _restricts(session)
        self.before: Confinement | None = None
        """The supervisor's step, once known (None: not tried)."""
        self.program_directory = _program_directory(command)
        self._writable_files: list[str] = []
        self._cleanup: list[str] = []
        self._report_fd: int | None = None

    def prepare(self) -> None:
        """Make what the confined program cannot make later, then fork the supervisor if a
        time limit is to be enforced, or something the confined program cannot remove is to
        be cleaned up (only the guest returns from here)."""
        if self.confines:
            self._prepare_files()
        limit = self.session.options.time_limit
        if limit is None and not self._cleanup:
            return
        from posixbackend.isolation.confinement import Confinement
        from posixbackend.isolation.namespaces import single_threaded
        from posixbackend.launcher.confinement import SKIP_VARIABLE, skipped_steps
        from posixbackend.launcher.supervisor import supervise

        if "supervisor" in skipped_steps():
            self.before = Confinement((), {"supervisor": f"left out ({SKIP_VARIABLE})"})
            return
        if not single_threaded():
            self.before = Confinement((), {"supervisor": "another thread is running"})
            return
        message = f"posixbackend: time limit of {limit!r} s exceeded"
        try:
            link = supervise(limit, GRACE, message, self._cleanup)
        except OSError as error:  # permissions this process got from its parent refuse it
            self.before = Confinement((), {"supervisor": str(error)})
            return
        self.session.announce = link.message_printed
        self.before = Confinement(("supervisor",), {})

    def start(self) -> None:
        """The program is read: confine this process as its permissions say, report it, and
        start the time limit and the permissions (SystemExit if it cannot be confined)."""
        report: SandboxReport | None = None
        if self.confines or self.command.sandbox_report is not None:
            from posixbackend.launcher.confinement import (
                SandboxError,
                SandboxReport,
                confine,
                kernel_policy,
            )
        if self.confines:
            permissions = self.session.permissions
            assert permissions is not None, "a confinement comes from permissions"
            policy: KernelPolicy = kernel_policy(
                permissions, self.program_directory, self._writable_files
            )
            try:
                report = SandboxReport(confine(policy, self.before), policy)
            except SandboxError as error:
                print(f"{self.prog}: {error}", file=sys.stderr)
                raise SystemExit(1) from None
        elif self.command.sandbox_report is not None:
            report = SandboxReport(None)
        if report is not None:
            self._report(report)
        self.session.begin_program()

    def _prepare_files(self) -> None:
        from posixbackend.launcher.confinement import open_report

        target = self.command.compat_report
        if target is not None and target != "-":
            path = _host_path(target)
            fd = posix.open(path, posix.O_WRONLY | posix.O_CREAT | posix.O_CLOEXEC, 0o644)
            posix.close(fd)  # written at exit: it must exist for Landlock to name it now
            self._writable_files.append(path)
        handler = self.session.handler
        if handler is not None:
            scratch = handler.prepare()
            if scratch is not None:
                self._writable_files.append(scratch)
                self._cleanup.append(scratch)
        report = self.command.sandbox_report
        if report is not None and report != "-":
            self._report_fd = open_report(report)

    def _report(self, report: SandboxReport) -> None:
        requested = self.command.sandbox_report
        if requested is None:
            return
        if self._report_fd is None and requested != "-":  # not confined: opened now
            from posixbackend.launcher.confinement import open_report

            self._report_fd = open_report(requested)
        if self._report_fd is not None:
            try:
                report.write(self._report_fd)
            finally:
                posix.close(self._report_fd)
                self._report_fd = None
            return
        stream: TextIO | None = sys.stderr
        report.write(stream)


def _restricts(session: Session) -> bool:
    """Whether the session's permissions take anything away (the kernel then confines)."""
    if session.permissions is None:
        return False  # everything allowed: the confinement's modules are never needed
    from posixbackend.launcher.confinement import restricts

    return restricts(session.permissions)


def _program_directory(command: Command) -> str | None:
    """The host directory (or zip file) python puts first on sys.path for the program,
    which the confined program must be able to read: a script's directory (real path), a
    directory or zip file run itself, the current directory for -m; None for -c, stdin and
    the interactive prompt (whose '' entry names the current directory, left unreadable)."""
    target = command.target
    if target.kind is TargetKind.MODULE:
        return posix.getcwd()
    if target.kind is not TargetKind.SCRIPT:
        return None
    path = _host_path(target.value)
    try:
        fd = posix.open(path, posix.O_PATH | posix.O_CLOEXEC)
    except OSError:
        return None  # python reports it, and no program runs
    try:
        real = posix.readlink(f"/proc/self/fd/{fd}")
        mode = posix.fstat(fd).st_mode
    finally:
        posix.close(fd)
    if stat.S_ISDIR(mode) or _is_zip(real):
        return real
    return posixpath.dirname(real)


def _host_path(path: str) -> str:
    """``path`` made absolute against the process's real working directory."""
    return path if path.startswith("/") else posixpath.join(posix.getcwd(), path)


def _is_zip(path: str) -> bool:
    """Whether the host file ``path`` ends with a zip archive's end record (as zipfile
    checks, read with the real posix)."""
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return False
    try:
        size = posix.fstat(fd).st_size
        tail = posix.pread(fd, min(size, 65558), max(0, size - 65558))
    finally:
        posix.close(fd)
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or len(tail) - end < 22:
        return False
    comment = int.from_bytes(tail[end + 20 : end + 22], "little")
    return end + 22 + comment == len(tail)
