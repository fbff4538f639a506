"""Permissions: what guest code may do, granted explicitly (GraalVM's ``Context.Builder``).

An immutable attrs record passed to ``backend(..., permissions=...)`` and built by the
launcher's ``--allow-*`` options. Nothing is granted unless asked for: ``Permissions()`` is
:meth:`Permissions.none`. A block inside a block runs with :meth:`Permissions.within` of the
two, which refuses, at entry, a permission the outer block does not have.
"""

from __future__ import annotations

import enum
import fnmatch
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from posixbackend.permissions.denials import widening
from vfs import FileSystem

if TYPE_CHECKING:  # only a type here: the emulated backend imports the permissions
    from posixbackend.emulated.processhandlers import ProcessHandler


class Access(enum.Enum):
    """All or nothing, for the permissions that also take a specific grant."""

    ALL = "all"
    NONE = "none"


class Environment(enum.Enum):
    """How much of the enclosing environment the guest sees, for ``allow_environment_access``."""

    INHERIT = "inherit"
    NONE = "none"


IOGrant = Access | FileSystem
EnvironmentGrant = Environment | Mapping[str, str]
SocketGrant = Access | tuple[str, ...]


def _access(value: Any) -> Access | None:
    """An Access from its spellings ("all"/True, "none"/False), or None for anything else."""
    if isinstance(value, Access):
        return value
    if value is True or value == "all":
        return Access.ALL
    if value is False or value == "none":
        return Access.NONE
    return None


def _io_grant(value: Any) -> IOGrant:
    """``allow_io``: "all"/True, "none"/False, an Access or a FileSystem provider."""
    if isinstance(value, FileSystem):
        return value
    access = _access(value)
    if access is not None:
        return access
    raise TypeError(
        f"allow_io must be 'all', 'none' or a vfs.FileSystem, not {type(value).__name__}"
    )


def _environment_grant(value: Any) -> EnvironmentGrant:
    """``allow_environment_access``: "inherit", "none" or a str-to-str mapping (copied)."""
    if isinstance(value, Environment):
        return value
    if isinstance(value, str):
        try:
            return Environment(value)
        except ValueError:
            raise ValueError(
                f"allow_environment_access must be 'inherit', 'none' or a mapping, not {value!r}"
            ) from None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not isinstance(item, str):
                raise TypeError("allow_environment_access mappings hold str keys and str values")
        return _FrozenMapping(value)
    raise TypeError(
        "allow_environment_access must be 'inherit', 'none' or a mapping, "
        f"not {type(value).__name__}"
    )


def _socket_grant(value: Any) -> SocketGrant:
    """``allow_host_sockets``: "all"/True, "none"/False, or ``host:port`` patterns."""
    access = _access(value)
    if access is not None:
        return access
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise TypeError(
            "allow_host_sockets must be 'all', 'none' or a list of 'host:port' patterns, "
            f"not {value!r}"
        )
    patterns = tuple(value)
    for pattern in patterns:
        if not isinstance(pattern, str) or ":" not in pattern:
            raise ValueError(
                f"a host socket pattern is 'host:port' (wildcards allowed), not {pattern!r}"
            )
    return patterns


def _time_limit(value: Any) -> float | None:
    """``time_limit``: None (no limit) or a positive number of seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"time_limit must be a number of seconds, not {type(value).__name__}")
    if not value > 0 or math.isinf(value) or math.isnan(value):
        raise ValueError(f"time_limit must be a positive number of seconds, not {value!r}")
    return float(value)


class _FrozenMapping(Mapping[str, str]):
    """A copy of a mapping that cannot change (Permissions are immutable and hashable)."""

    def __init__(self, items: Mapping[str, str]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Any:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._items) == dict(other)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return repr(self._items)


@attrs.frozen
class Permissions:
    """What code in a block may do; everything not granted is denied.

    ``allow_io``: "all" (the backend's whole file system: the host's for the native backend),
    "none", or a FileSystem (the managed backend serves that one and nothing else).
    ``allow_create_process`` (with ``process_handler``, which starts programs for the managed
    backend), ``allow_create_thread``, ``allow_native_access`` (ctypes, and importing C
    extension modules not loaded yet, outside the interpreter's own standard library),
    ``allow_environment_access`` ("inherit" the enclosing environment, "none", or a mapping the
    guest sees instead), ``allow_host_sockets`` ("all", "none" or ``host:port`` patterns with
    shell wildcards, checked on connect, bind, sendto and name resolution) and ``time_limit``
    (seconds; the block raises TimeLimitExceeded when they are used up).
    """

    allow_io: IOGrant = attrs.field(default=Access.NONE, converter=_io_grant)
    allow_create_process: bool = attrs.field(default=False, converter=bool)
    process_handler: ProcessHandler | None = None
    allow_create_thread: bool = attrs.field(default=False, converter=bool)
    allow_native_access: bool = attrs.field(default=False, converter=bool)
    allow_environment_access: EnvironmentGrant = attrs.field(
        default=Environment.NONE, converter=_environment_grant
    )
    allow_host_sockets: SocketGrant = attrs.field(default=Access.NONE, converter=_socket_grant)
    time_limit: float | None = attrs.field(default=None, converter=_time_limit)

    @classmethod
    def all(cls) -> Permissions:
        """Everything granted, no time limit: what code outside any block may do."""
        return cls(
            allow_io=Access.ALL, allow_create_process=True, allow_create_thread=True,
            allow_native_access=True, allow_environment_access=Environment.INHERIT,
            allow_host_sockets=Access.ALL,
        )  # fmt: skip

    @classmethod
    def none(cls) -> Permissions:
        """Nothing granted: no files, processes, threads, native code, environment or sockets."""
        return cls()

    @classmethod
    def sandbox(cls, file_system: FileSystem | None = None) -> Permissions:
        """The managed backend's in-memory file system and nothing else.

        ``file_system`` defaults to a new default managed file system: empty memory, with the
        interpreter's own library visible read-only (so imports and tracebacks work)."""
        if file_system is None:
            from posixbackend.defaultfs import default_file_system

            file_system = default_file_system()[0]
        return cls(allow_io=file_system)

    @property
    def denies_anything(self) -> bool:
        """Whether anything at all is denied (``Permissions.all()`` denies nothing)."""
        return self != Permissions.all()

    def within(self, outer: Permissions) -> Permissions:
        """These permissions inside a block that has ``outer``: a PermissionError names the
        first permission asked for that ``outer`` does not grant; the time limit is the
        shorter one."""
        if not _io_within(self.allow_io, outer.allow_io):
            raise widening("allow_io", self.allow_io, outer.allow_io)
        for name in ("allow_create_process", "allow_create_thread", "allow_native_access"):
            if getattr(self, name) and not getattr(outer, name):
                raise widening(name, True, False)
        handler = self.process_handler
        if outer.process_handler is not None:
            if handler is not None and handler is not outer.process_handler:
                raise widening("process_handler", handler, outer.process_handler)
            handler = outer.process_handler
        if not _sockets_within(self.allow_host_sockets, outer.allow_host_sockets):
            raise widening("allow_host_sockets", self.allow_host_sockets, outer.allow_host_sockets)
        limits = [limit for limit in (self.time_limit, outer.time_limit) if limit is not None]
        return attrs.evolve(
            self, process_handler=handler, time_limit=min(limits) if limits else None
        )


def _io_within(inner: IOGrant, outer: IOGrant) -> bool:
    """all > one file system > none; two different file systems do not compare."""
    return outer is Access.ALL or inner is Access.NONE or inner is outer


def _sockets_within(inner: SocketGrant, outer: SocketGrant) -> bool:
    """all > patterns > none; an inner pattern must be one an outer pattern matches."""
    if outer is Access.ALL or inner is Access.NONE:
        return True
    if isinstance(inner, Access) or isinstance(outer, Access):
        return False
    return all(any(fnmatch.fnmatchcase(pattern, wide) for wide in outer) for pattern in inner)


def socket_address_allowed(grant: SocketGrant, host: str, port: int | str | None) -> bool:
    """Whether ``host:port`` (port None: any port) is one the grant allows."""
    if grant is Access.ALL:
        return True
    if grant is Access.NONE:
        return False
    assert isinstance(grant, tuple)
    for pattern in grant:
        host_pattern, _, port_pattern = pattern.rpartition(":")
        host_pattern = host_pattern.removeprefix("[").removesuffix("]")  # [::1]:80
        if not fnmatch.fnmatchcase(host.lower(), host_pattern.lower()):
            continue
        if port is None or fnmatch.fnmatchcase(str(port), port_pattern):
            return True
    return False
