"""The launcher's permission options: ``--sandbox`` and the ``--allow-*`` flags.

Without ``--sandbox`` the program may do everything and each ``--allow-X=false`` (or
``none``) takes one thing away; with ``--sandbox`` it may use its file system and nothing else,
and each ``--allow-X`` gives one thing back. The result is the :class:`Permissions` the
session runs the program under (none at all when no such option was given: no audit hook).
"""

from __future__ import annotations

from collections.abc import Mapping

from posixbackend.launcher.plain import Plain

TYPE_CHECKING = False  # typing costs milliseconds to import; mypy knows this one
if TYPE_CHECKING:  # imported where permissions are built: parsing options needs none of them
    from typing import Any

    from posixbackend.emulated.processhandlers import ProcessHandler
    from posixbackend.permissions.policy import Access, Environment, Permissions
    from vfs import FileSystem


class GrantError(ValueError):
    """A permission option with a value it does not take (the launcher's usage error)."""


BOOLEAN_FLAGS = {
    "--allow-create-process": "create_process",
    "--allow-create-thread": "create_thread",
    "--allow-native-access": "native_access",
}
"""The flags that grant or deny one thing: bare (true) or ``=true``/``=false``."""
VALUED_FLAGS = {
    "--allow-io": "io",
    "--allow-environment-access": "environment",
    "--allow-host-sockets": "host_sockets",
}
"""The flags that take a value (``--name=value`` or ``--name value``)."""


def parse_boolean(name: str, value: str | None) -> bool:
    """A boolean flag's value: true when bare, else true/false (yes/no, 1/0 also)."""
    if value is None:
        return True
    lowered = value.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise GrantError(f"{name}: expected true or false, not {value!r}")


def parse_io(value: str) -> str:
    """``--allow-io``: all, none, or fs (the emulated backend's file system only)."""
    if value not in ("all", "none", "fs"):
        raise GrantError(f"--allow-io: expected all, none or fs, not {value!r}")
    return value


def parse_environment(value: str) -> str:
    """``--allow-environment-access``: inherit, none, or NAME[=VALUE] items, comma-separated."""
    if value in ("inherit", "none"):
        return value
    for item in value.split(","):
        name = item.partition("=")[0]
        if not name or "\0" in item:
            raise GrantError(
                "--allow-environment-access: expected inherit, none or NAME[=VALUE],..., "
                f"not {value!r}"
            )
    return value


def parse_host_sockets(value: str) -> str:
    """``--allow-host-sockets``: all, none, or HOST:PORT patterns, comma-separated."""
    if value in ("all", "none"):
        return value
    for pattern in value.split(","):
        host, colon, port = pattern.rpartition(":")
        if not colon or not host or not port:
            raise GrantError(
                f"--allow-host-sockets: expected all, none or HOST:PORT,... (wildcards "
                f"allowed), not {value!r}"
            )
    return value


_PARSERS = {"io": parse_io, "environment": parse_environment, "host_sockets": parse_host_sockets}


class PermissionOptions(Plain):
    """The permission options of a command line, as given (None: not given)."""

    __slots__ = (
        "create_process",
        "create_thread",
        "environment",
        "host_sockets",
        "io",
        "native_access",
        "sandbox",
    )  # fmt: skip
    sandbox: bool
    io: str | None
    create_process: bool | None
    create_thread: bool | None
    native_access: bool | None
    environment: str | None
    host_sockets: str | None

    def __init__(  # noqa: PLR0917 - positional, as the attrs class it replaces
        self,
        sandbox: bool = False,
        io: str | None = None,
        create_process: bool | None = None,
        create_thread: bool | None = None,
        native_access: bool | None = None,
        environment: str | None = None,
        host_sockets: str | None = None,
    ) -> None:
        self._set(
            sandbox=sandbox, io=io, create_process=create_process, create_thread=create_thread,
            native_access=native_access, environment=environment, host_sockets=host_sockets,
        )  # fmt: skip

    @property
    def given(self) -> bool:
        """Whether the program runs under permissions at all."""
        return self != PermissionOptions()

    @property
    def creates_processes(self) -> bool:
        """Whether the program may start processes (by default, unless under --sandbox)."""
        return not self.sandbox if self.create_process is None else self.create_process

    def with_flag(self, name: str, value: str | None) -> PermissionOptions:
        """These options with the flag ``name`` (``--sandbox`` or an ``--allow-*``) set;
        ``value`` None when the flag was given bare."""
        if name == "--sandbox":
            if value is not None:
                raise GrantError("--sandbox takes no value")
            return self.evolve(sandbox=True)
        changes: dict[str, Any]
        if name in BOOLEAN_FLAGS:
            changes = {BOOLEAN_FLAGS[name]: parse_boolean(name, value)}
        elif value is None:
            raise GrantError(f"Argument expected for the {name} option")
        else:
            field = VALUED_FLAGS[name]
            changes = {field: _PARSERS[field](value)}
        return self.evolve(**changes)

    def arguments(self) -> list[str]:
        """These options as launcher arguments (handed on to child processes)."""
        given = ["--sandbox"] if self.sandbox else []
        for flag, field in BOOLEAN_FLAGS.items():
            value = getattr(self, field)
            if value is not None:
                given.append(f"{flag}={'true' if value else 'false'}")
        for flag, field in VALUED_FLAGS.items():
            value = getattr(self, field)
            if value is not None:
                given.append(f"{flag}={value}")
        return given

    def permissions(
        self,
        file_system: FileSystem | None,
        handler: ProcessHandler | None,
        environ: Mapping[str, str],
    ) -> Permissions | None:
        """The Permissions these options give a program whose backend serves ``file_system``
        (None: the native backend), starts processes with ``handler`` and was started with
        ``environ``; None when no permission option was given."""
        if not self.given:
            return None
        # Imported here: the launcher parses its options before it imports any backend.
        import attrs

        from posixbackend.permissions.policy import Access, Permissions

        base = Permissions.all()
        if self.sandbox:
            assert file_system is not None, "--sandbox needs the emulated backend"
            base = Permissions(allow_io=file_system)
        io: Access | FileSystem = base.allow_io
        if self.io == "fs":
            assert file_system is not None, "--allow-io=fs needs the emulated backend"
            io = file_system
        elif self.io is not None:
            io = Access(self.io)
        processes = self.creates_processes
        return attrs.evolve(
            base,
            allow_io=io,
            allow_create_process=processes,
            process_handler=handler if processes else None,
            allow_create_thread=_chosen(self.create_thread, base.allow_create_thread),
            allow_native_access=_chosen(self.native_access, base.allow_native_access),
            allow_environment_access=(
                base.allow_environment_access
                if self.environment is None
                else environment_grant(self.environment, environ)
            ),
            allow_host_sockets=(
                base.allow_host_sockets
                if self.host_sockets is None
                else socket_grant(self.host_sockets)
            ),
        )


def _chosen(given: bool | None, default: bool) -> bool:
    return default if given is None else given


def environment_grant(value: str, environ: Mapping[str, str]) -> Environment | dict[str, str]:
    """``--allow-environment-access``'s grant: NAME items take their value from ``environ``
    (left out when it has none), NAME=VALUE items set one."""
    from posixbackend.permissions.policy import Environment  # (see permissions())

    if value in ("inherit", "none"):
        return Environment(value)
    granted: dict[str, str] = {}
    for item in value.split(","):
        name, equals, given = item.partition("=")
        if equals:
            granted[name] = given
        elif name in environ:
            granted[name] = environ[name]
    return granted


def socket_grant(value: str) -> Access | tuple[str, ...]:
    """``--allow-host-sockets``'s grant."""
    from posixbackend.permissions.policy import Access  # (see permissions())

    if value in ("all", "none"):
        return Access(value)
    return tuple(value.split(","))
