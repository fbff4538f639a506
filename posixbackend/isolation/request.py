"""What the parent sends the child: the program, its files, arguments, environment,
permissions and limits, as plain JSON data (file contents in base64).

Only permissions an isolated child can honour cross: file access is all or nothing over the
child's own memory file system (a provider object cannot cross a process boundary: its
contents go in with ``files=``), and the child can never start processes or open sockets,
so a grant of either is refused here rather than silently dropped.
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
    """Permissions as plain data (see :func:`permissions_to_data`)."""
    limits: Limits

    def to_json(self) -> bytes:
        """The request as UTF-8 JSON."""
        data = {
            "program": attrs.asdict(self.program),
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


def permissions_to_data(permissions: Permissions | None) -> dict[str, Any]:
    """The permissions as plain data; ValueError for a grant the isolated child cannot give."""
    granted = DEFAULT_PERMISSIONS if permissions is None else permissions
    if not isinstance(granted, Permissions):
        raise TypeError(f"permissions must be a Permissions, not {type(granted).__name__}")
    if not isinstance(granted.allow_io, Access):
        raise ValueError(
            "isolated mode: allow_io must be 'all' or 'none': the guest's file system is the "
            "child's own memory file system (put files in it with files=), not a provider"
        )
    if granted.allow_create_process or granted.process_handler is not None:
        raise ValueError("isolated mode cannot grant allow_create_process: it starts no process")
    if granted.allow_host_sockets is not Access.NONE:
        raise ValueError("isolated mode cannot grant allow_host_sockets: it has no network")
    environment = granted.allow_environment_access
    return {
        "allow_io": granted.allow_io.value,
        "allow_create_thread": granted.allow_create_thread,
        "allow_native_access": granted.allow_native_access,
        "allow_environment_access": (
            environment.value if isinstance(environment, Environment) else dict(environment)
        ),
        "time_limit": granted.time_limit,
    }
