"""Putting a backend in charge of the whole process: the launcher's and child processes'.

Unlike a ``with backend(...)`` block, a session is never left: the emulated backend serves the
main thread from activation until the interpreter has exited, so ``atexit`` handlers,
finalizers and threads the program leaves behind keep using it (a ``TemporaryDirectory``
cleaned up at exit must remove the emulated directory, not a host one of the same name).
"""

from __future__ import annotations

import atexit
import logging
import os
import posix
import shutil
import sys
import threading
from collections.abc import Callable
from typing import TextIO

import compat
from posixbackend.emulated import EmulatedBackend
from posixbackend.emulated.processes import ChildProcess, HostProcessHandler, ProcessCommand
from posixbackend.launcher.filesystems import Layout, build_layout, host_directory_of
from posixbackend.launcher.options import ENVIRONMENT_VARIABLE, BackendOptions
from posixbackend.launcher.program import print_thread_exception
from posixbackend.switch.active import ACTIVE
from posixbackend.switch.defaultfs import host_cwd as process_cwd
from posixbackend.switch.installation import INSTALLATION
from posixbackend.switch.nativecalls import native_calls
from vfs.host import host_is_directory

LOG_FORMAT = "[%(name)s] %(levelname)s: %(message)s"


class LauncherProcessHandler:
    """Starts host processes for the program, in the host directory its guest cwd maps to.

    Under memory and overlay file systems a guest directory may not exist on the host (a
    temporary directory the program made): the child then runs in an empty host directory the
    launcher makes once and removes at exit, rather than failing to start.
    """

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._host = HostProcessHandler(cwd_map=self._host_directory)
        self._lock = threading.Lock()
        self._scratch: str | None = None

    def _host_directory(self, guest: str) -> str:
        host = host_directory_of(self._layout, guest)
        layout = self._layout
        if (layout.host_root is None or layout.overlay is not None) and not host_is_directory(host):
            return self._scratch_directory()
        return host

    def _scratch_directory(self) -> str:
        with self._lock:
            if self._scratch is None:
                base = posix.environ.get(b"TMPDIR", b"/tmp").decode(sys.getfilesystemencoding())
                path = f"{base}/posixbackend-children-{posix.getpid()}-{posix.urandom(4).hex()}"
                posix.mkdir(path, 0o700)
                self._scratch = path
                atexit.register(_remove_natively, path)
            return self._scratch

    def start(self, command: ProcessCommand) -> ChildProcess:
        return self._host.start(command)


class Session:
    """One process's backend: built from options, activated once, with its at-exit outputs."""

    def __init__(self, options: BackendOptions, *, host_cwd: str | None = None) -> None:
        self.options = options
        self.layout: Layout | None = None
        self.emulated: EmulatedBackend | None = None
        if options.backend.emulated:
            cwd = process_cwd() if host_cwd is None else host_cwd
            self.layout = build_layout(options, cwd)
            environ = dict(posix.environ)
            environ[ENVIRONMENT_VARIABLE.encode()] = options.environment_value().encode()
            handler = None if options.processes == "none" else LauncherProcessHandler(self.layout)
            self.emulated = EmulatedBackend(
                native_calls(self.layout.file_system),
                cwd=self.layout.cwd,
                time_resolution_ns=options.time_resolution_ns or 10**9,
                environ=environ,
                process_handler=handler,
            )
            self.emulated.adopt_host_descriptors(inherited_descriptors())

    def activate(self) -> None:
        """Make this session's backend serve the calling thread from now on (never undone)."""
        if self.options.log_level is not None:
            log_to_stderr(self.options.log_level)
        if self.emulated is not None:
            INSTALLATION.install()
            ACTIVE.set(self.emulated)
            if threading.excepthook is threading.__excepthook__:
                threading.excepthook = print_thread_exception
        else:
            # A backend a parent chose through the environment (the .pth activated it at
            # start-up) gives way: this process was asked to run natively, and so are its
            # children.
            ACTIVE.set(None)
            os.environ[ENVIRONMENT_VARIABLE] = self.options.environment_value()

    def report_at_exit(self, target: str) -> None:
        """Write the compatibility report to ``target`` (a host file, or - for stderr) at exit."""
        compat.write_report_at_exit(target)

    def changes_at_exit(self, stream: Callable[[], TextIO | None]) -> None:
        """List the overlay's changes on ``stream()`` at exit (after the program's own
        at-exit handlers, which may still change files)."""
        overlay = self.layout.overlay if self.layout is not None else None
        if overlay is None:
            raise ValueError("changes are only known for an overlay file system")

        def write_changes() -> None:
            out = stream()
            if out is None:
                return
            changes = overlay.changes()
            out.write(f"posixbackend: {len(changes)} changes in the overlay (not on disk)\n")
            for change in changes:
                out.write(f"  {change}\n")
            out.flush()

        atexit.register(write_changes)


def inherited_descriptors() -> list[int]:
    """The real descriptors above 2 this process has open now (before the program ran, those
    are the ones it inherited)."""
    listing = posix.open("/proc/self/fd", posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        numbers = sorted(int(name) for name in posix.listdir(listing))
    finally:
        posix.close(listing)
    return [fd for fd in numbers if fd > 2 and fd != listing]


def _remove_natively(path: str) -> None:
    """Remove the host directory ``path`` and what children left in it (at exit)."""
    from posixbackend.switch.block import backend

    with backend("native"):
        shutil.rmtree(path, ignore_errors=True)


def log_to_stderr(level: str) -> None:
    """Show compatibility gaps hit at ``level`` or above on stderr, as GraalPy's ``--log``."""
    compat.configure(level=level)
    logger = logging.getLogger(compat.DEFAULT_LOGGER_ROOT)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JavaLevelFormatter(LOG_FORMAT))
    logger.addHandler(handler)


class JavaLevelFormatter(logging.Formatter):
    """Names a record's level as the flag does (FINE, not the DEBUG logging calls level 10)."""

    def format(self, record: logging.LogRecord) -> str:
        renamed = logging.makeLogRecord(record.__dict__)  # other handlers keep the record as is
        renamed.levelname = compat.level_name(record.levelno)
        return super().format(renamed)
