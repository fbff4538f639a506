"""What the parent sends the child: the program, its files, arguments, environment,
permissions and limits, as plain JSON data (file contents in base64).

Only permissions an isolated child can honour cross: file access is to the child's own memory
file system (a provider object cannot cross a process boundary: the files of its memory part
go in with the others), and the child can never start processes or open sockets, so a grant
of either is left out, with a note in the result that says so.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
from collections.abc import Mapping
from typing import Any

import attrs

from posixbackend.isolation.limits import Limits
from posixbackend.isolation.provided import provided_files
from posixbackend.permissions.policy import Access, Environment, Permissions

DEFAULT_PERMISSIONS = Permissions(allow_io=Access.ALL, allow_environment_access=Environment.INHERIT)
"""What an isolated guest may do unless told otherwise: use its memory file system, and see
the environment given to run_isolated (nothing of the host's)."""


@attrs.frozen
class Program:
    """The guest program: code run as ``-c`` runs it, or a script at a guest path."""

    kind: str
    """'code' or 'script'."""
    value: str
    """The code, or the script's guest path (its contents are among the files)."""


@attrs.frozen
class Request:
    """Everything the child needs to run the guest."""

    program: Program
    argv: tuple[str, ...]
    files: Mapping[str, bytes]
    cwd: str
    env: Mapping[str, str]
    permissions: Mapping[str, Any]
    """Permissions as plain data (see :func:`grant`)."""
    limits: Limits

    def to_json(self) -> bytes:
        """The request as UTF-8 JSON."""
        data = {
            "program": {"kind": self.program.kind, "value": self.program.value},
            "argv": list(self.argv),
            "files": {path: base64.b64encode(data).decode() for path, data in self.files.items()},
            "cwd": self.cwd,
            "env": dict(self.env),
            "permissions": dict(self.permissions),
            "limits": self.limits.to_data(),
        }
        return json.dumps(data).encode()

    @classmethod
    def from_json(cls, text: bytes) -> Request:
        """The request :meth:`to_json` wrote."""
        data = json.loads(text)
        return cls(
            program=Program(**data["program"]),
            argv=tuple(data["argv"]),
            files={path: base64.b64decode(value) for path, value in data["files"].items()},
            cwd=data["cwd"],
            env=data["env"],
            permissions=data["permissions"],
            limits=Limits.from_data(data["limits"]),
        )


def guest_path(path: str, what: str) -> str:
    """``path`` as an absolute, normalised guest path; ValueError naming ``what`` if it is
    not absolute or names the root."""
    if not isinstance(path, str):
        raise TypeError(f"{what} must be a str, not {type(path).__name__}")
    if not path.startswith("/") or "\0" in path:
        raise ValueError(f"{what} must be an absolute path without NUL, not {path!r}")
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/")


def file_contents(files: Mapping[str, bytes | str] | None) -> dict[str, bytes]:
    """``files`` with normalised guest paths and bytes contents (str is UTF-8 encoded)."""
    contents: dict[str, bytes] = {}
    for path, given in (files or {}).items():
        normal = guest_path(path, "a file's guest path")
        if normal == "/":
            raise ValueError("a file's guest path cannot be the root directory")
        if isinstance(given, str):
            contents[normal] = given.encode()
        elif isinstance(given, bytes | bytearray | memoryview):
            contents[normal] = bytes(given)
        else:
            raise TypeError(f"the contents of {path!r} must be bytes or str")
    return contents


def program_of(code_or_path: str | os.PathLike[str], files: dict[str, bytes]) -> Program:
    """The guest program for ``code_or_path``: a str is code; a path names a host script,
    read now and added to ``files`` at the same absolute path in the guest."""
    if isinstance(code_or_path, str):
        return Program("code", code_or_path)
    if not isinstance(code_or_path, os.PathLike):
        raise TypeError(
            "run_isolated needs Python source (str) or a script path (os.PathLike), "
            f"not {type(code_or_path).__name__}"
        )
    host = os.path.abspath(os.fspath(code_or_path))
    with open(host, "rb") as script:
        files.setdefault(host, script.read())
    return Program("script", host)


@attrs.frozen
class Grant:
    """What the isolated child can give of a Permissions."""

    data: dict[str, Any]
    """The permissions as plain data for the request."""
    files: dict[str, bytes]
    """The files of an ``allow_io`` FileSystem, for the guest's own memory file system."""
    notes: tuple[str, ...]
    """The grants the child cannot honour and runs without, each with the gap it meets."""


def grant(permissions: Permissions | None, limits: Limits) -> Grant:
    """What ``permissions`` give an isolated guest.

    File access is to the guest's own memory file system: "all", "none", or a FileSystem
    whose memory part is copied into it (see :func:`provided_files`; ValueError for one that
    cannot be). Processes and host sockets can never be given (the child's seccomp filter
    refuses them): a grant of either runs without it, the gap is recorded, and a note says so.
    """
    granted = DEFAULT_PERMISSIONS if permissions is None else permissions
    if not isinstance(granted, Permissions):
        raise TypeError(f"permissions must be a Permissions, not {type(granted).__name__}")
    io = granted.allow_io
    files = {} if isinstance(io, Access) else provided_files(io, limits.memory_bytes)
    environment = granted.allow_environment_access
    data = {
        "allow_io": io.value if isinstance(io, Access) else Access.ALL.value,
        "allow_create_thread": granted.allow_create_thread,
        "allow_native_access": granted.allow_native_access,
        "allow_environment_access": (
            environment.value if isinstance(environment, Environment) else dict(environment)
        ),
        "time_limit": granted.time_limit,
    }
    return Grant(data, files, _withheld(granted))


def _withheld(granted: Permissions) -> tuple[str, ...]:
    """Notes for the grants the isolated child runs without (their gaps recorded as hit)."""
    processes = granted.allow_create_process or granted.process_handler is not None
    sockets = granted.allow_host_sockets is not Access.NONE
    if not (processes or sockets):
        return ()
    from posixbackend.isolation import seccomp  # its gaps; loaded only when they are met

    notes = []
    if processes:
        seccomp.NO_PROCESSES.hit()
        notes.append(
            "allow_create_process is not granted in isolated mode: the child can start no process "
            f"(gap {seccomp.NO_PROCESSES.id})"
        )
    if sockets:
        seccomp.NO_SOCKETS.hit()
        notes.append(
            "allow_host_sockets is not granted in isolated mode: the child has no network "
            f"(gap {seccomp.NO_SOCKETS.id})"
        )
    return tuple(notes)
