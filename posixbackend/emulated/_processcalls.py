"""What the emulated backend tells about its process, and what it lets it start.

Identity (getuid...) comes from the backend's identity; the environment is the backend's own
mapping (putenv/unsetenv act on it, not on the process's). Creating processes goes through one
policy: without a process handler (``processhandlers.py``) every way of starting a program --
``_posixsubprocess.fork_exec`` (subprocess, os.popen), os.system, os.posix_spawn[p], the
os.spawn* family -- fails with a PermissionError that names what would allow it, and nothing
is done first. fork, forkpty and exec* cannot be emulated at all (a gap), handler or not;
exec*'s arguments are still checked first, with CPython's errors, as a real exec would.

With a handler, programs are started by ``_spawning.py`` (fork_exec, system, posix_spawn,
spawn*): a child's descriptors reach it through ``bridge.py`` (host descriptors, or host pipes
with pump threads for in-memory pipes and files), and its pid joins the backend's child table
(``_children.py``), which waitpid, wait, kill and killpg here reach, with Linux wait statuses.
"""

from __future__ import annotations

import errno
import os
import posix
import resource
import sys
import time
from typing import Any, Final, NoReturn

import compat
from posixbackend.emulated._children import ChildRecord
from posixbackend.emulated.args import int_arg, path_arg
from posixbackend.emulated.bridge import POLL_INTERVAL
from posixbackend.emulated.core import BackendCore
from posixbackend.emulated.environ import set_variable, unset_variable
from posixbackend.emulated.processhandlers import (
    check_signal,
)
from posixbackend.emulated.spawnargs import (
    check_argv,
    check_environment,
    convert_argv,
    spawn_env,
)

NOT_PERMITTED = (
    "{function} is not permitted: grant allow_create_process (give the backend a process handler)"
)
NOT_EMULATED = (
    "{function} is not supported on the emulated POSIX backend: its process cannot be forked or "
    "replaced; start programs through subprocess, os.system or os.posix_spawn (compat gap "
    "emulated.process.fork_exec)"
)


FORK_EXEC = compat.declare(
    id="emulated.process.fork_exec",
    function="os.fork",
    aspect="fork and exec",
    level=compat.Level.INFO,
    explanation="the emulated process cannot be forked or replaced by exec; programs can only "
    "be started through a process handler (subprocess, os.system, os.posix_spawn)",
)


SIGNALS = compat.declare(
    id="emulated.process.signals",
    function="os.kill",
    aspect="other processes",
    level=compat.Level.INFO,
    explanation="signals and waits only reach processes the backend started itself",
)


WAIT_DETAILS = compat.declare(
    id="emulated.process.wait_details",
    function="os.waitpid",
    aspect="WUNTRACED, WCONTINUED, resource usage",
    level=compat.Level.FINE,
    explanation="stopped and continued children are not reported, and wait3/wait4 report "
    "zero resource usage",
)


_WAIT_OPTIONS: Final = (
    posix.WNOHANG | posix.WUNTRACED | posix.WCONTINUED | 0x20000000 | 0x40000000 | 0x80000000
)
"""The waitpid options Linux accepts (with __WNOTHREAD, __WALL, __WCLONE)."""


def not_permitted(function: str) -> NoReturn:
    """Raise the process policy's refusal for ``function`` (an ``os.*`` name)."""
    raise PermissionError(errno.EPERM, NOT_PERMITTED.format(function=function))


class ProcessFunctions(BackendCore):
    """Identity, environment, and the doors to other processes."""

    def getpid(self) -> int:
        """os.getpid: the real process id (the backend has no process of its own)."""
        return posix.getpid()

    def getppid(self) -> int:
        """os.getppid."""
        return posix.getppid()

    def getuid(self) -> int:
        """os.getuid: the backend's identity."""
        return self._identity.uid

    def geteuid(self) -> int:
        """os.geteuid."""
        return self._identity.uid

    def getgid(self) -> int:
        """os.getgid."""
        return self._identity.gid

    def getegid(self) -> int:
        """os.getegid."""
        return self._identity.gid

    def getgroups(self) -> list[int]:
        """os.getgroups: the identity's supplementary groups."""
        return sorted(self._identity.groups)

    def getlogin(self) -> str:
        """os.getlogin: the real answer (there is no emulated terminal session)."""
        return posix.getlogin()

    def uname(self) -> os.uname_result:
        """os.uname."""
        return posix.uname()

    def cpu_count(self) -> int | None:
        """os.cpu_count."""
        return posix.cpu_count()

    def urandom(self, size: int, /) -> bytes:
        """os.urandom."""
        return posix.urandom(size)

    def times(self) -> os.times_result:
        """os.times."""
        return posix.times()

    @property
    def environ(self) -> dict[bytes, bytes]:
        """The backend's environment (like ``posix.environ``: bytes to bytes)."""
        return self._environ

    def putenv(self, name: Any, value: Any, /) -> None:
        """os.putenv, on the backend's environment."""
        set_variable(self._environ, name, value)

    def unsetenv(self, name: Any, /) -> None:
        """os.unsetenv, on the backend's environment."""
        unset_variable(self._environ, name)

    def _never_emulated(self, function: str) -> NoReturn:
        """Refuse fork or exec: the policy's refusal without a process handler, else the
        gap's (processes may start, but never by forking or replacing this one)."""
        FORK_EXEC.hit(function=function)
        if self._process_handler is None:
            not_permitted(function)
        raise PermissionError(errno.EPERM, NOT_EMULATED.format(function=function))

    def fork(self) -> NoReturn:
        """os.fork: never possible on the emulated backend."""
        self._never_emulated("os.fork")

    def forkpty(self) -> NoReturn:
        """os.forkpty: never possible on the emulated backend."""
        self._never_emulated("os.forkpty")

    def execv(self, path: Any, argv: Any, /) -> NoReturn:
        """os.execv: never possible (the emulated process cannot be replaced); its arguments
        are checked first, with CPython's errors, and the audit event raised, as before a
        real exec. os.execl, execlp and execvp reach this one."""
        target = path_arg(path, "execv")
        check_argv("execv() arg 2", argv)
        convert_argv("execv() arg 2", argv)
        sys.audit("os.exec", target.original, argv, None)
        self._never_emulated("os.execv")

    def execve(self, path: Any, argv: Any, env: Any) -> NoReturn:
        """os.execve (a path or an fd): checked as execv, with the environment, then refused.
        os.execle, execlpe and execvpe reach this one."""
        target = path_arg(path, "execve", allow_fd=True)
        check_argv("execve: argv", argv)
        check_environment("execve", env, none_allowed=False)
        convert_argv("execve: argv", argv)
        spawn_env("execve", env)
        sys.audit("os.exec", target.original, argv, env)
        self._never_emulated("os.execve")

    def waitpid(self, pid: int, options: int, /) -> tuple[int, int]:
        """os.waitpid on the backend's children (ECHILD for any other process); WNOHANG gives
        (0, 0) while they run. Stops and continues are not reported (a gap)."""
        pid = int_arg(pid)
        options = int_arg(options)
        if options & ~_WAIT_OPTIONS:
            raise OSError(errno.EINVAL, posix.strerror(errno.EINVAL))
        if options & (posix.WUNTRACED | posix.WCONTINUED):
            WAIT_DETAILS.hit(options=options)
        children = self._children.matching(pid)
        if not children:
            raise ChildProcessError(errno.ECHILD, posix.strerror(errno.ECHILD))
        if options & posix.WNOHANG:
            return self._reap_any(children) or (0, 0)
        if len(children) == 1:
            status = children[0].child.wait()
            if self._reap(children[0]):
                return children[0].pid, status
            raise ChildProcessError(errno.ECHILD, posix.strerror(errno.ECHILD))
        return self._wait_any(pid)

    def _reap_any(self, children: list[ChildRecord]) -> tuple[int, int] | None:
        """The first of ``children`` that has ended, reaped; None if all run."""
        for record in children:
            status = record.child.poll()
            if status is not None and self._reap(record):
                return record.pid, status
        return None

    def _wait_any(self, pid: int) -> tuple[int, int]:
        """Block until one of the children ``pid`` names ends (polling, with backoff)."""
        delay = 0.0005
        while True:
            children = self._children.matching(pid)
            if not children:
                raise ChildProcessError(errno.ECHILD, posix.strerror(errno.ECHILD))
            reaped = self._reap_any(children)
            if reaped is not None:
                return reaped
            time.sleep(delay)
            delay = min(delay * 2, POLL_INTERVAL)

    def _reap(self, record: ChildRecord) -> bool:
        """Take an ended child out of the table (False if another thread did first)."""
        if not self._children.remove(record):
            return False
        record.reaped()
        return True

    def wait(self) -> tuple[int, int]:
        """os.wait: any of the backend's children."""
        return self.waitpid(-1, 0)

    def wait3(self, options: int) -> tuple[int, int, resource.struct_rusage]:
        """os.wait3: as waitpid(-1, options), with zero resource usage (a gap)."""
        pid, status = self.waitpid(-1, options)
        WAIT_DETAILS.hit(function="os.wait3")
        return pid, status, _zero_rusage()

    def wait4(self, pid: int, options: int) -> tuple[int, int, resource.struct_rusage]:
        """os.wait4: as waitpid, with zero resource usage (a gap)."""
        child, status = self.waitpid(pid, options)
        WAIT_DETAILS.hit(function="os.wait4")
        return child, status, _zero_rusage()

    def kill(self, pid: int, signal: int, /) -> None:
        """os.kill: only the backend's own children (kill(-g) is killpg(g))."""
        pid = int_arg(pid)
        sig = int_arg(signal)
        sys.audit("os.kill", pid, sig)
        if pid < -1:
            self.killpg(-pid, sig)
            return
        record = self._children.get(pid) if pid > 0 else None
        if record is None:
            SIGNALS.hit(pid=pid)
            raise PermissionError(
                errno.EPERM, f"os.kill: process {pid} is not a child of this backend"
            )
        check_signal(sig)
        record.child.send_signal(sig)

    def killpg(self, pgid: int, signal: int, /) -> None:
        """os.killpg: a group one of the backend's children leads (start_new_session,
        process_group=0, setpgroup=0); each of its children there gets the signal."""
        pgid = int_arg(pgid)
        sig = int_arg(signal)
        sys.audit("os.killpg", pgid, sig)
        members = self._children.matching(-pgid) if pgid > 1 else []
        if not any(record.pid == pgid for record in members):
            SIGNALS.hit(pid=pgid)
            raise PermissionError(errno.EPERM, f"os.killpg: group {pgid} is not this backend's")
        check_signal(sig)
        for record in members:
            record.child.send_signal(sig)


def _zero_rusage() -> resource.struct_rusage:
    """What wait3/wait4 report as a child's resource usage (made per call: a struct_rusage
    kept in a module global upsets CPython 3.11's shutdown, SystemError in tp_clear)."""
    return resource.struct_rusage((0.0, 0.0) + (0,) * 14)
