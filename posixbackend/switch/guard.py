"""Backends under a policy: the stand-ins' calls pass a permission check first.

A block with restricting permissions makes a guard serve its thread of control instead of the
bare backend. The guard answers the stand-ins by attribute name, as a backend does: a name
whose operation the permissions refuse (see :mod:`posixbackend.permissions.operations`) gives
a function that raises the denial before anything is done; any other name gives the backend's
own object, looked up once and kept (an allowed call costs what it costs unguarded).
:class:`NativeGuard` guards the real ``os``; :class:`EmulatedGuard` an EmulatedBackend.
"""

from __future__ import annotations

import os
import posix
from collections.abc import Callable
from typing import Any, Final, NoReturn

import compat
from posixbackend.emulated import EmulatedBackend
from posixbackend.emulated.environ import bytes_environ, str_environ
from posixbackend.permissions.denials import denied
from posixbackend.permissions.entrypoints import entry_points
from posixbackend.permissions.environment import PrivateEnvironment
from posixbackend.permissions.operations import OPERATIONS, Operation
from posixbackend.permissions.policy import Access, Permissions
from posixbackend.switch._realobjects import real_object
from posixbackend.switch.active import get_active

OWN_ENVIRONMENT_SYSTEM = compat.declare(
    id="permissions.own_environment_system",
    function="os.system",
    aspect="a native guest's own environment",
    level=compat.Level.FINE,
    explanation="on the native backend without environment access, os.system runs /bin/sh "
    "through posix_spawn with the guest's environment (system(3) would read the process's): "
    "the caller does not ignore SIGINT and SIGQUIT while the command runs",
)


UNCACHED: Final = frozenset({"close"})
"""Names looked up on every call: a backend may change what serves them (its close leaves
the C fast path once it holds record locks, which closing must release)."""


def _refusal(operation: Operation) -> Callable[..., NoReturn]:
    """The function a refused name gives: it raises the denial, naming the file if any."""

    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        names = [_file_name(arg) for arg in args[: operation.paths]]
        if operation.paths and not names:
            given = [kwargs[key] for key in ("path", "src", "file") if key in kwargs]
            names = [_file_name(given[0])] if given else []
        raise denied(
            operation.label,
            operation.permission,
            code=operation.code,
            filename=names[0] if names else None,
            filename2=names[1] if len(names) > 1 else None,
        )

    refuse.__name__ = refuse.__qualname__ = operation.label.rpartition(".")[2]
    return refuse


def _file_name(value: Any) -> Any:
    """The file name an OSError would carry for an argument (PathLike made str or bytes)."""
    if isinstance(value, str | bytes | int):
        return value
    fspath = getattr(type(value), "__fspath__", None)
    return fspath(value) if fspath is not None else None


def _granted(permissions: Permissions, permission: str) -> bool:
    """Whether ``permission`` (a field name) lets the operations it guards through."""
    grant = getattr(permissions, permission)
    return grant is not Access.NONE and grant is not False


class Guard:
    """What both guards share: the permissions, and the lookup of refused names."""

    name = "guard"

    def __init__(self, permissions: Permissions) -> None:
        self.permissions = permissions

    @property
    def emulated(self) -> EmulatedBackend | None:
        """The emulated backend behind the guard (None for the native one)."""
        return None

    def _served(self, name: str) -> Any:
        """The object the backend itself has under ``name``."""
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        operation = OPERATIONS.get(name)
        if operation is not None and not _granted(self.permissions, operation.permission):
            value: Any = _refusal(operation)
        else:
            value = self._served(name)
        if name not in UNCACHED:
            self.__dict__[name] = value
        return value


class EmulatedGuard(Guard):
    """An emulated backend under a policy."""

    def __init__(self, emulated: EmulatedBackend, permissions: Permissions) -> None:
        super().__init__(permissions)
        self._emulated = emulated

    @property
    def emulated(self) -> EmulatedBackend:
        return self._emulated

    def _served(self, name: str) -> Any:
        return getattr(self._emulated, name)

    def __repr__(self) -> str:
        return f"<guarded {self._emulated!r}>"


class NativeGuard(Guard):
    """The real ``os`` under a policy; without environment access, an environment of its own.

    That environment is what the guest's ``os.environ``, ``putenv``... see, and what programs
    it starts get when it names none (subprocess, os.system, os.execv)."""

    name = "native"

    def __init__(
        self, permissions: Permissions, environment: PrivateEnvironment | None = None
    ) -> None:
        super().__init__(permissions)
        self._environment = environment

    @property
    def environment(self) -> PrivateEnvironment | None:
        """The guest's own environment (None: it sees the process's)."""
        return self._environment

    def _served(self, name: str) -> Any:
        environment = self._environment
        if environment is not None:
            if name == "os_environ":
                return str_environ(environment)
            if name == "os_environb":
                return bytes_environ(environment)
            if name in ("putenv", "unsetenv"):
                return getattr(environment, name)
            if name in ("system", "execv", "fork_exec"):
                return getattr(self, f"_{name}_in_environment")
        return real_object(name)

    def _system_in_environment(self, command: Any) -> int:
        """os.system with the guest's own environment (the real one reads the process's)."""
        OWN_ENVIRONMENT_SYSTEM.hit()
        pid = posix.posix_spawn("/bin/sh", ["sh", "-c", os.fsdecode(command)], self._environ_copy())
        return posix.waitpid(pid, 0)[1]

    def _execv_in_environment(self, path: Any, argv: Any, /) -> NoReturn:
        """os.execv with the guest's own environment."""
        posix.execve(path, argv, self._environ_copy())

    def _fork_exec_in_environment(self, *args: Any) -> int:
        """``_posixsubprocess.fork_exec`` with the guest's environment when none is given."""
        if len(args) > 5 and args[5] is None:
            args = (*args[:5], self._environ_list(), *args[6:])
        pid: int = real_object("fork_exec")(*args)
        return pid

    def _environ_list(self) -> list[bytes]:
        assert self._environment is not None
        return [key + b"=" + value for key, value in self._environment.environ.items()]

    def _environ_copy(self) -> dict[bytes, bytes]:
        assert self._environment is not None
        return dict(self._environment.environ)

    def __repr__(self) -> str:
        return f"<guarded native backend {self.permissions!r}>"


def current_emulated() -> EmulatedBackend | None:
    """The emulated backend serving the caller (behind its guard if it has one), or None
    when it is the native one."""
    active = get_active()
    if isinstance(active, Guard):
        return active.emulated
    return active if isinstance(active, EmulatedBackend) else None


entry_points(current_emulated)
