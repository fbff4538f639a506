"""``backend(name, ...)``: a block of code served by the native or the emulated backend."""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from posixbackend.emulated import EmulatedBackend
from posixbackend.emulated.processes import ProcessHandler
from posixbackend.switch.active import ACTIVE, get_active
from posixbackend.switch.installation import INSTALLATION
from posixbackend.switch.names import PosixModuleBackend
from posixbackend.switch.nativecalls import native_calls
from vfs import FileSystem, Identity


class BackendBlock:
    """A context manager that makes one backend serve ``os``, ``open``... inside it.

    Entering installs the stand-ins if they are not in place yet, and makes :attr:`emulated`
    (None for the native backend) serve the calling thread of control; leaving restores what
    served it before, also when the block ends with an exception. One block object may be
    entered again after it was left (the emulated backend keeps its state: cwd, descriptors).
    """

    def __init__(
        self,
        kind: PosixModuleBackend,
        emulated: EmulatedBackend | None,
        file_system: FileSystem | None = None,
    ) -> None:
        self.kind = kind
        self.emulated = emulated
        self._file_system = file_system
        self._tokens: list[contextvars.Token[Any]] = []

    @property
    def file_system(self) -> FileSystem | None:
        """The provider behind the emulated backend (None for the native one)."""
        return self._file_system

    def __enter__(self) -> BackendBlock:
        INSTALLATION.install()
        self._tokens.append(ACTIVE.set(self.emulated))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        ACTIVE.reset(self._tokens.pop())

    def __repr__(self) -> str:
        target = "" if self.emulated is None else f" {self.emulated!r}"
        return f"<posixbackend block {self.kind.value}{target}>"


def backend(
    name: str | PosixModuleBackend = PosixModuleBackend.JAVA,
    *,
    file_system: FileSystem | None = None,
    cwd: str | None = None,
    umask: int = 0o022,
    time_resolution_ns: int = 10**9,
    identity: Identity | None = None,
    environ: Mapping[bytes, bytes] | None = None,
    process_handler: ProcessHandler | None = None,
) -> BackendBlock:
    """A block served by the backend ``name`` ("native", "java", "managed" or "emulated").

    For the emulated backend, ``file_system`` defaults to :func:`default_file_system` (memory,
    with the interpreter's library visible read-only) and ``cwd`` to the process's current
    directory, which the default file system provides; the other arguments are
    :class:`~posixbackend.EmulatedBackend`'s. They mean nothing to the native backend, which
    refuses them.
    """
    kind = PosixModuleBackend(name)
    if not kind.emulated:
        given = {
            "file_system": file_system is not None, "cwd": cwd is not None,
            "umask": umask != 0o022, "time_resolution_ns": time_resolution_ns != 10**9,
            "identity": identity is not None, "environ": environ is not None,
            "process_handler": process_handler is not None,
        }  # fmt: skip
        refused = [option for option, passed in given.items() if passed]
        if refused:
            raise TypeError(f"the native backend takes no options, got {', '.join(refused)}")
        return BackendBlock(kind, None)
    if file_system is None:
        from posixbackend.switch.defaultfs import default_file_system

        file_system, default_cwd = default_file_system()
        cwd = default_cwd if cwd is None else cwd
    emulated = EmulatedBackend(
        native_calls(file_system),
        cwd="/" if cwd is None else cwd,
        umask=umask,
        time_resolution_ns=time_resolution_ns,
        identity=identity,
        environ=environ,
        process_handler=process_handler,
    )
    return BackendBlock(kind, emulated, file_system)


def current() -> PosixModuleBackend:
    """Which backend serves the calling thread of control."""
    return PosixModuleBackend.NATIVE if get_active() is None else PosixModuleBackend.JAVA


def current_emulated() -> EmulatedBackend | None:
    """The emulated backend serving the caller, or None when it is the native one."""
    active: EmulatedBackend | None = get_active()
    return active
