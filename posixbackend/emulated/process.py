"""What the emulated backend tells about its process, and what it lets it start.

Identity (getuid...) comes from the backend's identity; the environment is the backend's own
mapping (putenv/unsetenv act on it, not on the process's). Creating processes goes through one
policy: without a process handler every way of starting a program fails with a PermissionError
that names what would allow it; fork and exec cannot be emulated at all (a gap).
"""

from __future__ import annotations

import errno
import os
import posix
from typing import Any, NoReturn

import compat
from posixbackend.emulated.core import BackendCore

NOT_PERMITTED = (
    "{function} is not permitted: grant allow_create_process (give the backend a process handler)"
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


def not_permitted(function: str) -> NoReturn:
    """Raise the process policy's refusal for ``function`` (an ``os.*`` name)."""
    raise PermissionError(errno.EPERM, NOT_PERMITTED.format(function=function))


class ProcessFunctions(BackendCore):
    """Identity, environment, and the doors to other processes."""

    # -- who and where -------------------------------------------------------------------------

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
        return os.cpu_count()

    def urandom(self, size: int, /) -> bytes:
        """os.urandom."""
        return posix.urandom(size)

    def times(self) -> os.times_result:
        """os.times."""
        return posix.times()

    # -- the environment -----------------------------------------------------------------------

    @property
    def environ(self) -> dict[bytes, bytes]:
        """The backend's environment (like ``posix.environ``: bytes to bytes)."""
        return self._environ

    def putenv(self, name: Any, value: Any, /) -> None:
        """os.putenv, on the backend's environment."""
        key = _environment_bytes(name)
        if not key or b"=" in key:
            raise ValueError("illegal environment variable name")
        self._environ[key] = _environment_bytes(value)

    def unsetenv(self, name: Any, /) -> None:
        """os.unsetenv, on the backend's environment."""
        key = _environment_bytes(name)
        if not key or b"=" in key:
            raise ValueError("illegal environment variable name")
        self._environ.pop(key, None)

    # -- other processes -----------------------------------------------------------------------

    def fork(self) -> NoReturn:
        """os.fork: never possible on the emulated backend."""
        FORK_EXEC.hit(function="os.fork")
        not_permitted("os.fork")

    def forkpty(self) -> NoReturn:
        """os.forkpty: never possible on the emulated backend."""
        FORK_EXEC.hit(function="os.forkpty")
        not_permitted("os.forkpty")

    def execv(self, path: Any, argv: Any, /) -> NoReturn:
        """os.execv: never possible (the emulated process cannot be replaced)."""
        FORK_EXEC.hit(function="os.execv")
        not_permitted("os.execv")

    def execve(self, path: Any, argv: Any, env: Any) -> NoReturn:
        """os.execve: never possible (the emulated process cannot be replaced)."""
        FORK_EXEC.hit(function="os.execve")
        not_permitted("os.execve")

    def kill(self, pid: int, signal: int, /) -> None:
        """os.kill: only the backend's own children (it has none without a process handler)."""
        SIGNALS.hit(pid=pid)
        raise PermissionError(errno.EPERM, f"os.kill: process {pid} is not a child of this backend")

    def killpg(self, pgid: int, signal: int, /) -> None:
        """os.killpg: no process group belongs to the backend."""
        SIGNALS.hit(pid=pgid)
        raise PermissionError(errno.EPERM, f"os.killpg: group {pgid} is not this backend's")

    def waitpid(self, pid: int, options: int, /) -> tuple[int, int]:
        """os.waitpid: ECHILD, the backend has no children to wait for."""
        raise ChildProcessError(errno.ECHILD, posix.strerror(errno.ECHILD))

    def wait(self) -> tuple[int, int]:
        """os.wait: ECHILD."""
        raise ChildProcessError(errno.ECHILD, posix.strerror(errno.ECHILD))

    def system(self, command: Any) -> int:
        """os.system: starting a shell needs a process handler."""
        not_permitted("os.system")

    def posix_spawn(self, path: Any, argv: Any, env: Any, /, **options: Any) -> int:
        """os.posix_spawn: needs a process handler."""
        not_permitted("os.posix_spawn")

    def posix_spawnp(self, path: Any, argv: Any, env: Any, /, **options: Any) -> int:
        """os.posix_spawnp: needs a process handler."""
        not_permitted("os.posix_spawnp")

    def fork_exec(self, *args: Any) -> int:
        """``_posixsubprocess.fork_exec``, which subprocess.Popen calls: needs a handler."""
        not_permitted("subprocess.Popen")


def _environment_bytes(value: object) -> bytes:
    """A name or value for putenv/unsetenv as bytes, with CPython's errors."""
    if isinstance(value, str):
        encoded = os.fsencode(value)
    elif isinstance(value, bytes):
        encoded = value
    else:
        raise TypeError(f"expected str, bytes or os.PathLike object, not {type(value).__name__}")
    if b"\x00" in encoded:
        raise ValueError("embedded null byte")
    return encoded
