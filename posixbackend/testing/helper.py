"""The object a managed-fs test gets: its block, and the calls that set the test's files up.

The names and arguments follow pyfakefs's ``FakeFilesystem`` where that eases migration
(``create_file``, ``create_dir``, ``add_real_directory``, ``set_disk_usage``...). Every call
goes through the block's emulated backend (umask, owner and errors as the program's own calls
would get), so it works before the block starts, inside it, and while it is paused. Real data
is mounted, never copied in bulk: read-only, or copy-on-write through an overlay; either way
the real files never change.
"""

from __future__ import annotations

import errno
import io
import os
import posix
import posixpath
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple

from posixbackend.defaultfs import default_file_system, host_cwd
from posixbackend.emulated import EmulatedBackend
from posixbackend.permissions import Permissions
from posixbackend.permissions.current import get_policy
from posixbackend.switch.block import BackendBlock, backend
from posixbackend.switch.names import PosixModuleBackend
from posixbackend.switch.nativecalls import native_calls
from vfs import (
    FileSystem,
    HostFileSystem,
    Identity,
    MemoryFileSystem,
    MountFileSystem,
    ReadOnlyFileSystem,
)

if TYPE_CHECKING:  # the overlay, the snapshots and the tree comparison: imported on first use
    from posixbackend.testing import changes as changes_module
    from vfs import OverlayFileSystem
    from vfs.overlay.changes import Change

PathArg = str | os.PathLike[str]


class DiskUsage(NamedTuple):
    """``shutil.disk_usage``'s answer for the memory file system."""

    total: int
    used: int
    free: int


class _FreshFileSystem:
    """A helper's fresh default file system, made at its first use by the helper or by its
    deferred backend. The backend holds this rather than the helper, so that the two make no
    reference cycle: a test's helper is freed as its teardown ends, not left to the garbage
    collector (whose passes over a test session's large heap are what a test would pay)."""

    __slots__ = ("_identity", "_lock", "_made", "_max_bytes")

    def __init__(self, max_bytes: int | None, identity: Identity | None) -> None:
        self._max_bytes = max_bytes
        self._identity = identity
        self._lock = threading.Lock()
        self._made: FileSystem | None = None

    def made(self) -> FileSystem:
        """The file system, made now if it was not yet (once, whichever thread asks)."""
        made = self._made
        if made is None:
            with self._lock:
                made = self._made
                if made is None:
                    made, _ = default_file_system(max_bytes=self._max_bytes, max_inodes=None)
                    memory = _memory_of(made)
                    if self._identity is not None and memory is not None:
                        memory.identity = self._identity
                    self._made = made
        return made

    def served(self) -> FileSystem:
        """What the deferred backend is built on, as ``backend()`` gives a provider (see
        :func:`~posixbackend.switch.nativecalls.native_calls`)."""
        return native_calls(self.made())


class ManagedFs:
    """A managed block over a fresh memory file system (``/tmp``, the home directory and the
    current directory present and empty; the interpreter's library mounted read-only), or
    over ``file_system`` when given, with the calls that fill it.

    Use it as a context manager (or :meth:`start` / :meth:`stop`); the pytest fixtures,
    :func:`~posixbackend.testing.managed_fs` and :class:`~posixbackend.testing.ManagedFsTestCase`
    do that for you.
    """

    def __init__(
        self,
        *,
        file_system: FileSystem | None = None,
        permissions: Permissions | None = None,
        time_resolution_ns: int = 10**9,
        umask: int = 0o022,
        cwd: str | None = None,
        identity: Identity | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self._umask = umask
        self._pauses: list[BackendBlock] = []
        self._overlays: dict[str, OverlayFileSystem] = {}
        self._base: dict[str, changes_module.Entry] | None = None
        self._made: FileSystem | None = file_system
        self._identity = identity
        if file_system is None and cwd is None and permissions is None and get_policy() is None:
            # The fresh file system and the backend are made at their first use (the cwd is
            # one that file system is made with): a test that never touches its files costs
            # no more than the block.
            self._fresh = _FreshFileSystem(max_bytes, identity)
            emulated = EmulatedBackend.deferred(
                self._fresh.served, cwd=host_cwd(), umask=umask,
                time_resolution_ns=time_resolution_ns, identity=identity,
            )  # fmt: skip
            self._block: BackendBlock = BackendBlock(PosixModuleBackend.JAVA, emulated)
            self.backend: EmulatedBackend = emulated
            """The emulated backend: the program's os, for calls made outside the block."""
            return
        start = cwd
        if file_system is None:
            file_system, made_in = default_file_system(max_bytes=max_bytes, max_inodes=None)
            start = cwd or made_in
        elif max_bytes is not None:
            raise TypeError("max_bytes applies to the fresh memory file system only")
        self._made = file_system
        memory = _memory_of(file_system)
        if identity is not None and memory is not None:
            memory.identity = identity  # its permission checks are for that user
        self._block = backend(
            "managed",
            file_system=file_system,
            cwd=start,
            umask=umask,
            time_resolution_ns=time_resolution_ns,
            identity=identity,
            permissions=permissions,
        )
        made = self._block.emulated
        assert made is not None
        self.backend = made
        if not isinstance(file_system, MountFileSystem) or memory is None:
            self._base = self._tree()  # a fresh default one is rebuilt when asked for

    @property
    def file_system(self) -> FileSystem:
        """The provider the block serves (a MountFileSystem over the memory one by default)."""
        made = self._made
        if made is None:  # deferred: the same one whoever asks first (see _FreshFileSystem)
            made = self._made = self._fresh.made()
        return made

    @property
    def memory(self) -> MemoryFileSystem | None:
        """The memory file system at its root, when there is one."""
        return _memory_of(self.file_system)

    # -- the block ----------------------------------------------------------------------------

    def start(self) -> ManagedFs:
        """Enter the block: the calling thread's os, open... are the managed backend's."""
        self._block.__enter__()
        return self

    def stop(self) -> None:
        """Leave the block (resuming first if paused)."""
        while self._pauses:
            self.resume()
        self._block.__exit__(None, None, None)

    def __enter__(self) -> ManagedFs:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def pause(self) -> None:
        """Until :meth:`resume`, the calling thread is served natively (the real disk)."""
        paused = backend("native")
        paused.__enter__()
        self._pauses.append(paused)

    def resume(self) -> None:
        """End the last :meth:`pause`."""
        if not self._pauses:
            raise RuntimeError("resume() without pause()")
        self._pauses.pop().__exit__(None, None, None)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """A ``with`` block served natively."""
        self.pause()
        try:
            yield
        finally:
            self.resume()

    def restricted(self, permissions: Permissions) -> BackendBlock:
        """A block over the same backend and files under ``permissions`` (the pytest plugin
        enters it around the test function alone, so that pytest's own work between the
        test's phases is not judged by them)."""
        return BackendBlock(
            PosixModuleBackend.JAVA, self.backend, self.file_system, permissions=permissions
        )

    # -- making files ---------------------------------------------------------------------------

    def create_file(  # noqa: PLR0917 - pyfakefs's signature, for code that migrates
        self,
        file_path: PathArg,
        st_mode: int = stat.S_IFREG | 0o666,
        contents: str | bytes = "",
        st_size: int | None = None,
        create_missing_dirs: bool = True,
        apply_umask: bool = True,
        encoding: str | None = None,
        errors: str | None = None,
    ) -> Path:
        """A new regular file holding ``contents`` (text encoded with ``encoding``, UTF-8 by
        default), or ``st_size`` zero bytes; FileExistsError if the name is taken."""
        path = os.fspath(file_path)
        if stat.S_IFMT(st_mode) not in (0, stat.S_IFREG):
            raise ValueError(f"create_file makes regular files, not st_mode {st_mode:#o}")
        if st_size is not None and contents:
            raise ValueError("give contents or st_size, not both")
        data = (
            contents.encode(encoding or "utf-8", errors or "strict")
            if isinstance(contents, str)
            else bytes(contents)
        )
        if create_missing_dirs:
            self._make_parents(path)
        backend = self.backend
        fd = backend.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[backend.write(fd, view) :]
            if st_size is not None:
                backend.ftruncate(fd, st_size)
            backend.fchmod(fd, self._mode(stat.S_IMODE(st_mode), apply_umask))
        finally:
            backend.close(fd)
        return Path(path)

    def create_dir(
        self, directory_path: PathArg, perm_bits: int = 0o777, apply_umask: bool = True
    ) -> Path:
        """A new directory (its missing parents too); FileExistsError if the name is taken."""
        path = os.fspath(directory_path)
        self._make_parents(path)
        self.backend.mkdir(path, 0o700)
        self.backend.chmod(path, self._mode(perm_bits, apply_umask))
        return Path(path)

    def create_symlink(
        self, file_path: PathArg, link_target: PathArg, create_missing_dirs: bool = True
    ) -> Path:
        """A symbolic link at ``file_path`` to ``link_target`` (kept as given)."""
        path = os.fspath(file_path)
        if create_missing_dirs:
            self._make_parents(path)
        self.backend.symlink(os.fspath(link_target), path)
        return Path(path)

    def create_link(
        self, old_path: PathArg, new_path: PathArg, create_missing_dirs: bool = True
    ) -> Path:
        """A hard link ``new_path`` to the file at ``old_path``."""
        path = os.fspath(new_path)
        if create_missing_dirs:
            self._make_parents(path)
        self.backend.link(os.fspath(old_path), path)
        return Path(path)

    # -- real data ------------------------------------------------------------------------------

    def add_real_directory(
        self,
        source_path: PathArg,
        read_only: bool = True,
        target_path: PathArg | None = None,
    ) -> Path:
        """Show the real directory ``source_path`` at ``target_path`` (default: the same
        path): mounted read-only (writes fail with EROFS), or with ``read_only=False``
        copy-on-write through an overlay whose changes stay in memory. Whatever was at the
        target in the memory file system is hidden, as under a Linux mount."""
        source = _real_path(source_path)
        if not stat.S_ISDIR(posix.stat(source).st_mode):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), source)
        target = _absolute(self.backend, source if target_path is None else target_path)
        mount = self.file_system
        if not isinstance(mount, MountFileSystem):
            raise TypeError(
                "add_real_directory needs the fixture's own file system (a MountFileSystem), "
                f"not {type(mount).__name__}"
            )
        real: FileSystem = ReadOnlyFileSystem(HostFileSystem(source))
        if not read_only:
            upper = MemoryFileSystem(
                identity=Identity.current() if self.memory is None else self.memory.identity
            )
            from vfs import OverlayFileSystem  # (imported on first use: see _tree)

            real = self._overlays[target] = OverlayFileSystem(upper, real)
        mount.mount(target, real, create_mount_point=True)
        self._enter_again_below(target)
        return Path(target)

    def add_real_file(
        self,
        source_path: PathArg,
        read_only: bool = True,
        target_path: PathArg | None = None,
    ) -> Path:
        """A copy of the real file ``source_path`` (content, mode, times) at ``target_path``
        (default: the same path); ``read_only`` takes its write permission bits away (root,
        which ignores them, can still write the copy). The real file never changes."""
        source = _real_path(source_path)
        status = posix.stat(source)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "add_real_file copies regular files", source)
        data = _read_real(source)
        target = source if target_path is None else os.fspath(target_path)
        mode = stat.S_IMODE(status.st_mode) & (~0o222 if read_only else 0o7777)
        made = self.create_file(target, stat.S_IFREG | mode, data, apply_umask=False)
        self.backend.utime(target, ns=(status.st_atime_ns, status.st_mtime_ns))
        return made

    def add_real_paths(self, path_list: Iterable[PathArg], read_only: bool = True) -> None:
        """:meth:`add_real_directory` or :meth:`add_real_file` for each path, at its own path."""
        for path in path_list:
            if stat.S_ISDIR(posix.stat(_real_path(path)).st_mode):
                self.add_real_directory(path, read_only)
            else:
                self.add_real_file(path, read_only)

    # -- space ------------------------------------------------------------------------------

    def set_disk_usage(self, total_size: int | None) -> None:
        """Hold at most ``total_size`` bytes of file data (None: no cap): writes past it fail
        with ENOSPC, as on a full tmpfs."""
        self._own_memory("set_disk_usage").set_max_bytes(total_size)

    def get_disk_usage(self) -> DiskUsage:
        """Total, used and free bytes, as ``shutil.disk_usage`` reports them."""
        usage = self._own_memory("get_disk_usage").statvfs("/")
        total = usage.f_blocks * usage.f_frsize
        free = usage.f_bavail * usage.f_frsize
        return DiskUsage(total, (usage.f_blocks - usage.f_bfree) * usage.f_frsize, free)

    # -- state --------------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The memory file system as a tar archive (:func:`vfs.save_snapshot`'s), which
        :meth:`changes` then counts from; :func:`vfs.load_snapshot` loads it back."""
        from vfs import save_snapshot  # (it binds tarfile: imported on first use)

        archive = io.BytesIO()
        save_snapshot(self._own_memory("snapshot"), archive)
        self._base = self._tree()
        return archive.getvalue()

    def changes(self, since: bytes | None = None) -> list[Change]:
        """What changed since ``since`` (an archive of :meth:`snapshot`), by default since the
        last snapshot or the start: added, removed and modified entries of the memory file
        system, and of directories added with ``read_only=False`` (see
        :mod:`posixbackend.testing.changes` for what counts)."""
        from posixbackend.testing import changes as changes_module
        from vfs import load_snapshot
        from vfs.overlay.changes import Change

        if since is not None:
            base = changes_module.tree(load_snapshot(io.BytesIO(since)))
        elif self._base is not None:
            base = self._base
        else:
            fresh, _ = default_file_system(max_bytes=None, max_inodes=None)
            memory = _memory_of(fresh)
            assert memory is not None
            base = changes_module.tree(memory)
        found = changes_module.compare(base, self._tree())
        for target, overlay in self._overlays.items():
            for change in overlay.changes():
                path = target if change.path == "/" else target + change.path
                found.append(Change(path, change.action, change.kind))
        return sorted(found, key=lambda change: change.path)

    # -- helpers ----------------------------------------------------------------------------

    def _tree(self) -> dict[str, changes_module.Entry]:
        # imported here: most tests never compare trees, and the comparison brings the
        # overlay's modules with it
        from posixbackend.testing import changes as changes_module

        memory = self.memory
        return changes_module.tree(self.file_system if memory is None else memory)

    def _own_memory(self, operation: str) -> MemoryFileSystem:
        if self.memory is None:
            raise TypeError(f"{operation} needs a memory file system, not {self.file_system!r}")
        return self.memory

    def _mode(self, bits: int, apply_umask: bool) -> int:
        return bits & ~self._umask if apply_umask else bits

    def _make_parents(self, path: str) -> None:
        """mkdir -p the directory holding ``path`` (new ones get 0o777 less the umask)."""
        directory = posixpath.dirname(path.rstrip("/"))
        if not directory or directory == "/":
            return
        backend = self.backend
        try:
            if stat.S_ISDIR(backend.stat(directory).st_mode):
                return
        except FileNotFoundError:
            pass
        self._make_parents(directory)
        try:
            backend.mkdir(directory, 0o777)
        except FileExistsError:
            if not stat.S_ISDIR(backend.stat(directory).st_mode):
                raise

    def _enter_again_below(self, target: str) -> None:
        """After a mount at ``target``: a current directory at or below it is looked up again,
        in what is mounted there now (as a shell's ``cd $PWD``)."""
        cwd = self.backend.getcwd()
        if cwd == target or cwd.startswith(target.rstrip("/") + "/"):
            try:
                self.backend.chdir(cwd)
            except OSError:
                self.backend.chdir(target)


def _memory_of(file_system: FileSystem) -> MemoryFileSystem | None:
    """The memory file system at the root of ``file_system`` (itself, or a Mount's root)."""
    if isinstance(file_system, MemoryFileSystem):
        return file_system
    if isinstance(file_system, MountFileSystem):
        root = file_system.mounts["/"]
        return root if isinstance(root, MemoryFileSystem) else None
    return None


def _real_path(path: PathArg) -> str:
    """An absolute host path: relative ones from the process's real directory (never the
    managed backend's, whatever serves the caller)."""
    text = os.fspath(path)
    if not isinstance(text, str):
        raise TypeError(f"expected a str path, not {type(text).__name__}")
    return posixpath.normpath(posixpath.join(host_cwd(), text))


def _read_real(path: str) -> bytes:
    """The content of the host file ``path``, read through the real posix module (whatever
    serves the caller)."""
    fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        chunks = []
        while chunk := posix.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        posix.close(fd)


def _absolute(emulated: EmulatedBackend, path: PathArg) -> str:
    text = os.fspath(path)
    return posixpath.normpath(posixpath.join(emulated.getcwd(), text))


def managed_marker_options(marker: Any) -> dict[str, Any]:
    """The keyword arguments of a ``@pytest.mark.posixbackend(...)`` marker, checked."""
    if marker is None:
        return {}
    if marker.args:
        raise TypeError("@pytest.mark.posixbackend takes keyword arguments only")
    allowed = {
        "fs", "permissions", "time_resolution_ns", "umask", "cwd", "identity", "max_bytes",
    }  # fmt: skip
    unknown = set(marker.kwargs) - allowed
    if unknown:
        raise TypeError(
            f"@pytest.mark.posixbackend got unknown options {sorted(unknown)}; it takes "
            f"{sorted(allowed)}"
        )
    options = dict(marker.kwargs)
    if "fs" in options:
        given = options.pop("fs")
        options["file_system"] = given() if callable(given) else given
    return options
