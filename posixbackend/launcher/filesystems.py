"""The file systems the launcher's ``--fs`` and ``--mount`` name, and where the program starts.

``host`` is the whole host file system (GraalPy's default: the Java backend emulates cwd, fds,
umask and times over the real files); ``host:ROOT`` shows the host directory ROOT as ``/``;
``memory`` is :func:`~posixbackend.switch.defaultfs.default_file_system` (empty and writable,
the interpreter's library read-only); ``overlay`` is the host read-only below a memory layer,
so the program sees the disk, changes only a copy and nothing on disk changes.
"""

from __future__ import annotations

import _io
import errno
import posix
import posixpath
import stat
from typing import BinaryIO

import attrs

import compat
from posixbackend.launcher.options import BackendOptions, FsKind, FsSpec, UsageError
from posixbackend.switch.defaultfs import default_file_system
from vfs import FileSystem, HostFileSystem, MemoryFileSystem
from vfs.mount import MountFileSystem
from vfs.overlay import OverlayFileSystem
from vfs.readonly import ReadOnlyFileSystem

CHILDREN_ON_HOST = compat.declare(
    id="launcher.children_on_host",
    function="subprocess.Popen",
    aspect="child processes under --fs=memory or overlay",
    level=compat.Level.INFO,
    explanation="child processes are host processes: they see the host's files, not the "
    "program's memory or overlay file system (a child Python gets its own, fresh one)",
)


@attrs.frozen
class Layout:
    """What the launcher built: the provider, the starting directory, the overlay if any, and
    how a guest directory maps to a host one (for child processes)."""

    file_system: FileSystem
    cwd: str
    overlay: OverlayFileSystem | None
    host_root: str | None


def build_layout(options: BackendOptions, host_cwd: str) -> Layout:
    """The file system for ``options`` (the emulated backend's), and the directory to start in."""
    spec = options.file_system
    overlay = None
    if spec.kind is FsKind.MEMORY:
        root, cwd = default_file_system()
        host_root = None
    elif spec.kind is FsKind.OVERLAY:
        overlay = OverlayFileSystem(MemoryFileSystem(), ReadOnlyFileSystem(HostFileSystem()))
        root, cwd, host_root = overlay, host_cwd, "/"
    else:
        root = HostFileSystem(None if spec.root == "/" else spec.root)
        host_root = spec.root
        cwd = host_cwd if spec.root == "/" else "/"
    if options.mounts:
        mounts = {mount.guest: _provider(mount.source, mount.read_only) for mount in options.mounts}
        try:
            root = MountFileSystem(root, mounts, create_mount_points=spec.kind is not FsKind.HOST)
        except OSError as error:
            raise UsageError(f"--mount: {error.strerror}: {error.filename}") from None
    if options.cwd is not None:
        cwd = options.cwd
    _check_directory(root, cwd)
    return Layout(root, cwd, overlay, host_root)


def _provider(source: FsSpec, read_only: bool) -> FileSystem:
    provider: FileSystem
    if source.kind is FsKind.MEMORY:
        provider = MemoryFileSystem()
    else:
        if not _host_directory(source.root):
            raise UsageError(f"--mount: no such host directory: {source.root}")
        provider = HostFileSystem(source.root)
    return ReadOnlyFileSystem(provider) if read_only else provider


def _check_directory(file_system: FileSystem, path: str) -> None:
    try:
        mode = file_system.stat(path).st_mode
    except OSError as error:
        raise UsageError(f"--cwd: {error.strerror}: {path}") from None
    if not stat.S_ISDIR(mode):
        raise UsageError(f"--cwd: {posix.strerror(errno.ENOTDIR)}: {path}")


def _host_directory(path: str) -> bool:
    try:
        return stat.S_ISDIR(posix.stat(path).st_mode)
    except OSError:
        return False


def host_directory_of(layout: Layout, guest: str) -> str:
    """The host directory a child process started in the guest directory ``guest`` runs in."""
    if layout.host_root is None or layout.overlay is not None:
        CHILDREN_ON_HOST.hit(cwd=guest)
    if layout.host_root in (None, "/"):
        return guest
    return posixpath.join(layout.host_root, guest.lstrip("/"))


def copy_in(layout: Layout, host_path: str, guest_path: str) -> None:
    """Copy the host file ``host_path`` to ``guest_path`` in a memory layout (the main script,
    so that tracebacks show its lines and it can read itself), unless the guest sees a file
    there already; missing parent directories are made."""
    file_system = layout.file_system
    try:
        file_system.stat(guest_path)
    except FileNotFoundError:
        pass
    else:
        return
    try:
        with open_host(host_path) as source:
            data = source.read()
    except OSError:  # the launcher reports the unreadable script when it runs it
        return
    directory = ""
    for part in posixpath.dirname(guest_path).strip("/").split("/"):
        directory += "/" + part
        try:
            file_system.mkdir(directory, 0o755)
        except FileExistsError:
            continue
    with file_system.open(guest_path, posix.O_CREAT | posix.O_WRONLY | posix.O_EXCL, 0o644) as h:
        h.pwrite(data, 0)


def open_host(path: str) -> BinaryIO:
    """A host file opened for reading with the real ``posix`` (never through a stand-in)."""
    return _io.FileIO(posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC), "rb", closefd=True)
