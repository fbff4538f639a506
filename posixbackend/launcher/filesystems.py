"""The file systems the launcher's ``--fs`` and ``--mount`` name, and where the program starts.

``host`` is the whole host file system (GraalPy's default: the Java backend emulates cwd, fds,
umask and times over the real files); ``host:ROOT`` shows the host directory ROOT as ``/``;
``memory`` is :func:`~posixbackend.defaultfs.default_file_system` (empty and writable,
the interpreter's library read-only); ``overlay`` is the host read-only below a memory layer,
so the program sees the disk, changes only a copy and nothing on disk changes.
"""

from __future__ import annotations

import errno
import posix
import posixpath
import stat
from typing import TYPE_CHECKING

import attrs

import compat
from posixbackend.defaultfs import default_file_system
from posixbackend.launcher.options import BackendOptions, FsKind, FsSpec, UsageError
from vfs import FileSystem, HostFileSystem, MemoryFileSystem
from vfs.host import host_is_directory
from vfs.makedirs import make_directories as make_all
from vfs.mount import MountFileSystem
from vfs.readonly import ReadOnlyFileSystem

if TYPE_CHECKING:  # imported by the runs that use them (the launcher's, before the program)
    from vfs.overlay import OverlayFileSystem
    from vfs.remote import RemoteFileSystem

CHILDREN_ON_HOST = compat.declare(
    id="launcher.children_on_host",
    function="subprocess.Popen",
    aspect="child processes under --fs=memory or overlay",
    level=compat.Level.INFO,
    explanation="child processes are host processes: programs other than Python (sh, ls, "
    "...) see the host's files (under a restricting permission, only those the kernel lets "
    "the program read), not the program's memory or overlay file system, and one started in "
    "a directory only the program's file system has runs in an empty host directory of the "
    "launcher's instead. A child Python is served the program's file system and starts in "
    "its directory; one started as this interpreter without permissions runs its script, "
    "module or code through the launcher's bootstrap (sys.orig_argv is as given, "
    "/proc/self/cmdline shows the bootstrap), while any other (another spelling of the "
    "interpreter, or under permissions) opens a script named on its command line on the "
    "host, and with -S runs on the host altogether",
)

LOCKS_NOT_SHARED = compat.declare(
    id="launcher.child_locks",
    function="fcntl.lockf",
    aspect="locks between a program and the child Pythons it serves",
    level=compat.Level.INFO,
    explanation="the emulated backend keeps record locks, flock locks and SQLite's locks per "
    "process: a child Python served the program's memory or overlay file system sees the "
    "program's files but not its locks, nor the program the child's (two processes writing "
    "one SQLite database there do not exclude each other)",
)


@attrs.frozen
class Layout:
    """What the launcher built: the provider, the starting directory, the overlay if any, and
    how a guest directory maps to a host one (for child processes)."""

    file_system: FileSystem
    cwd: str
    overlay: OverlayFileSystem | None
    host_root: str | None
    private_fds: frozenset[int] = frozenset()
    """Real descriptors the file system itself holds (an inherited connection): never the
    program's."""


def build_layout(options: BackendOptions, host_cwd: str) -> Layout:
    """The file system for ``options`` (the emulated backend's), and the directory to start in."""
    spec = options.file_system
    overlay = None
    private: frozenset[int] = frozenset()
    if spec.kind is FsKind.MEMORY:
        root, cwd = default_file_system()
        host_root = None
    elif spec.kind is FsKind.INHERIT:
        remote = inherited_file_system(spec.fd)
        root, cwd, host_root = remote, "/", None
        private = frozenset({remote.connection.fd})
    elif spec.kind is FsKind.OVERLAY:
        from vfs.overlay import OverlayFileSystem

        overlay = OverlayFileSystem(MemoryFileSystem(), ReadOnlyFileSystem(HostFileSystem()))
        root, cwd, host_root = overlay, host_cwd, "/"
    else:
        root = HostFileSystem(None if spec.root == "/" else spec.root)
        host_root = spec.root
        cwd = guest_directory_of(spec.root, host_cwd)
    if options.mounts:
        mounts = {mount.guest: _provider(mount.source, mount.read_only) for mount in options.mounts}
        on_disk = spec.kind is FsKind.HOST
        try:
            root = MountFileSystem(root, mounts, create_mount_points=not on_disk)
        except OSError as error:
            missing = on_disk and error.errno == errno.ENOENT
            hint = " (--fs=host makes no mount points on disk)" if missing else ""
            raise UsageError(f"--mount: {error.strerror}: {error.filename}{hint}") from None
    if options.cwd is not None:
        cwd = options.cwd
        if spec.kind is FsKind.MEMORY:  # the launcher's own file system: made to start in
            make_directories(root, cwd)
    _check_directory(root, cwd)
    return Layout(root, cwd, overlay, host_root, private)


_INHERITED: dict[int, RemoteFileSystem] = {}
"""The file systems inherited so far, by the descriptor number they were named by: the
session start-up activates and the one of a launcher this process then runs (a child Python
started through the bootstrap) share it."""


def inherited_file_system(fd: int) -> RemoteFileSystem:
    """The parent program's file system, served on the socket ``fd`` (``--fs=inherit:FD``),
    moved to a high, close-on-exec number: this process's own children get a connection of
    their own, and no descriptor the program is given has its number."""
    inherited = _INHERITED.get(fd)
    if inherited is not None:
        return inherited
    try:
        mode = posix.fstat(fd).st_mode
    except OSError as error:
        raise UsageError(f"--fs=inherit:{fd}: {error.strerror}") from None
    if not stat.S_ISSOCK(mode):
        raise UsageError(f"--fs=inherit:{fd}: not a socket")
    from vfs.remote import RemoteFileSystem
    from vfs.remote.wire import moved_high

    return _INHERITED.setdefault(fd, RemoteFileSystem(moved_high(fd)))


def serves_children(layout: Layout, options: BackendOptions) -> bool:
    """Whether child Python processes are served the program's file system: whenever it is
    not the host's as it is (memory, overlay, inherited, or with mounts), so a child could
    not see the program's files otherwise."""
    return layout.host_root is None or layout.overlay is not None or bool(options.mounts)


def _provider(source: FsSpec, read_only: bool) -> FileSystem:
    provider: FileSystem
    if source.kind is FsKind.MEMORY:
        provider = MemoryFileSystem()
    else:
        if not host_is_directory(source.root):
            raise UsageError(f"--mount: no such host directory: {source.root}")
        provider = HostFileSystem(source.root)
    return ReadOnlyFileSystem(provider) if read_only else provider


def make_directories(file_system: FileSystem, path: str) -> None:
    """``mkdir -p path`` in ``file_system`` (mode 0755); an error is left for the caller's
    next step on ``path`` to report."""
    try:
        make_all(file_system, path, 0o755)
    except OSError:
        return


def _check_directory(file_system: FileSystem, path: str) -> None:
    try:
        mode = file_system.stat(path).st_mode
    except OSError as error:
        raise UsageError(f"--cwd: {error.strerror}: {path}") from None
    if not stat.S_ISDIR(mode):
        raise UsageError(f"--cwd: {posix.strerror(errno.ENOTDIR)}: {path}")


def guest_directory_of(host_root: str, host_cwd: str) -> str:
    """Where a program started in ``host_cwd`` begins under ``--fs=host:ROOT``: the same
    directory seen from ROOT when it lies inside ROOT (so a child process started in a guest
    directory begins there too), else ``/``. ROOT is compared as written, symlinks unresolved."""
    root = posixpath.normpath(host_root)
    if root == "/":
        return host_cwd
    if host_cwd == root:
        return "/"
    if host_cwd.startswith(root + "/"):
        return host_cwd[len(root) :]
    return "/"


def host_directory_of(layout: Layout, guest: str) -> str:
    """The host directory a child process started in the guest directory ``guest`` runs in:
    the same path (below ROOT for ``host:ROOT``), whether the host has it or not (a directory
    made in memory, a mount point: the child then fails as for a missing directory)."""
    if layout.host_root is None or layout.overlay is not None:
        CHILDREN_ON_HOST.hit(cwd=guest)
    if layout.host_root in (None, "/"):
        return guest
    return posixpath.join(layout.host_root, guest.lstrip("/"))
