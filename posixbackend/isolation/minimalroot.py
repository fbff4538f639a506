"""The isolated child's minimal root: a tmpfs holding its view of the host and nothing else.

The parent lays the root out once (:func:`layout`): for every path of the
:class:`~posixbackend.isolation.hostview.HostView`, the directories on the way and the
symbolic links met while resolving it, and the final directory or file to bind. In the
child's own mount namespace (mounts made private first, so nothing reaches the host), a
small tmpfs gets those at their real paths, links made again and the rest bind-mounted from
the host, all read-only, nosuid and nodev. The tmpfs is then made read-only too, becomes
the root (``pivot_root``), and the old root is detached: no host path outside the view can
be named any more (``stat``, ``readlink``, inotify, connecting to a socket file find
nothing), and no /proc or /dev is there. Every source is opened before the tmpfs is mounted
and bound through its descriptor, so the tmpfs can hide anything, the sources included.
"""

from __future__ import annotations

import ctypes
import errno
import os
import posix
import posixpath
import stat
from collections.abc import Callable, Iterable, Sequence

from posixbackend.isolation.hostview import RootEntry
from posixbackend.isolation.libc import mount, syscall, umount2
from posixbackend.isolation.seccomp import architecture

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2
ST_NOEXEC = 0x8
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
SYS_MOUNT_SETATTR = 442
STAGES = ("/tmp", "/mnt", "/var/tmp")
"""Where the new root is put together (in the child's own mount namespace only; it hides
what the host has there, which no source is read from any more)."""
ROOT_OPTIONS = "mode=0755,size=1m,nr_inodes=4096"
MAX_LINKS = 40


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def enter_minimal_root(root: Sequence[RootEntry]) -> None:
    """Make a root laid out as ``root`` (see :func:`layout`) this process's root, in its own
    mount namespace, which the caller has entered; OSError if a step fails."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    sources: dict[str, int] = {}
    try:
        for entry in root:
            if entry.kind == "bind":
                sources[entry.path] = _source(entry)
        stage = next((path for path in STAGES if _is_directory(path)), None)
        if stage is None:
            raise OSError(errno.ENOENT, f"no directory to build the root in: {', '.join(STAGES)}")
        mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, ROOT_OPTIONS)
        for entry in root:
            _make(stage, entry, sources.get(entry.path, -1))
        _read_only(stage, root, sources)
    finally:
        for fd in sources.values():
            posix.close(fd)
    posix.chdir(stage)
    syscall(architecture().numbers["pivot_root"], b".", b".")
    umount2(".", MNT_DETACH)  # the old root, stacked below the new one
    posix.chdir("/")


def _source(entry: RootEntry) -> int:
    """The host directory or file ``entry`` binds, opened now (before the new root's tmpfs
    can hide it); OSError if it is no longer what the layout found."""
    fd = posix.open(entry.path, posix.O_PATH | posix.O_NOFOLLOW | posix.O_CLOEXEC)
    mode = posix.fstat(fd).st_mode
    if not (stat.S_ISDIR(mode) if entry.directory else stat.S_ISREG(mode)):
        posix.close(fd)
        raise OSError(errno.ESTALE, f"changed since the root was laid out: {entry.path}")
    return fd


def layout(paths: Iterable[str]) -> tuple[RootEntry, ...]:
    """What a root needs to show ``paths`` as the host does, parents first (the isolated
    mode's parent lays it out once; a path the host lacks adds nothing)."""
    entries: dict[str, RootEntry] = {}
    seen: dict[str, tuple[int, str] | None] = {}
    for path in paths:
        _resolve(path, entries, seen)
    bound = [entry.path for entry in entries.values() if entry.kind == "bind" and entry.directory]
    kept = [  # what lies below a bound directory is shown through it
        entry
        for entry in entries.values()
        if not any(entry.path.startswith(directory + "/") for directory in bound)
    ]
    return tuple(sorted(kept, key=lambda entry: entry.path.count("/")))


def _resolve(
    path: str, entries: dict[str, RootEntry], seen: dict[str, tuple[int, str] | None]
) -> None:
    """Walk ``path`` on the host a component at a time, noting the directories and links on
    the way and the final directory or file to bind (``seen``: each host path's mode and
    link, looked up once for all the paths, which share most of their parents)."""
    parts = [part for part in path.split("/") if part]
    current = ""
    links = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            current = posixpath.dirname(current) if current else ""
            current = "" if current == "/" else current
            continue
        candidate = f"{current}/{part}"
        found = seen[candidate] if candidate in seen else _look_up(candidate, seen)
        if found is None:
            return
        mode, target = found
        if stat.S_ISLNK(mode):
            links += 1
            if links > MAX_LINKS:
                return
            entries.setdefault(candidate, RootEntry(candidate, "symlink", target))
            parts = [*(step for step in target.split("/") if step), *parts]
            if target.startswith("/"):
                current = ""
            continue
        if parts:
            if not stat.S_ISDIR(mode):
                return
            entries.setdefault(candidate, RootEntry(candidate, "directory"))
            current = candidate
            continue
        if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
            entries[candidate] = RootEntry(candidate, "bind", directory=stat.S_ISDIR(mode))
        return


def _look_up(path: str, seen: dict[str, tuple[int, str] | None]) -> tuple[int, str] | None:
    """The host's mode of ``path`` and, for a symbolic link, its contents (None: missing)."""
    try:
        mode = posix.lstat(path).st_mode
        found = (mode, posix.readlink(path) if stat.S_ISLNK(mode) else "")
    except OSError:
        found = None
    seen[path] = found
    return found


def _make(stage: str, entry: RootEntry, source: int) -> None:
    """Make ``entry`` in the new root being built at ``stage`` (``source``: what it binds)."""
    where = stage + entry.path
    if entry.kind == "symlink":
        _ignore_existing(lambda: posix.symlink(entry.target, where))
        return
    if entry.kind == "directory" or entry.directory:
        _ignore_existing(lambda: posix.mkdir(where, 0o755))
    else:
        flags = posix.O_CREAT | posix.O_EXCL | posix.O_WRONLY | posix.O_CLOEXEC
        _ignore_existing(lambda: posix.close(posix.open(where, flags, 0o444)))
    if entry.kind == "bind":
        _bind(source, where)


def _bind(source: int, where: str) -> None:
    """Bind the host directory or file open as ``source`` at ``where``."""
    origin = f"/proc/self/fd/{source}"
    try:
        mount(origin, where, None, MS_BIND)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
        # A directory with mounts below it: a user namespace binds it only with them (so
        # nothing a host mount covers is uncovered); they are made read-only with the rest.
        mount(origin, where, None, MS_BIND | MS_REC)


def _read_only(stage: str, entries: Iterable[RootEntry], sources: dict[str, int]) -> None:
    """Make the new root and every mount in it read-only, nosuid and nodev: with one
    recursive mount_setattr (which only adds flags, so none a user namespace locks is
    touched), else mount by mount."""
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0, 0)
    try:
        syscall(
            SYS_MOUNT_SETATTR, AT_FDCWD, os.fsencode(stage), AT_RECURSIVE,
            ctypes.byref(attr), ctypes.sizeof(attr),
        )  # fmt: skip
        return
    except OSError as error:
        if error.errno != errno.ENOSYS:
            raise
    for entry in entries:
        if entry.kind == "bind":
            # The remount keeps what a user namespace locks (noexec, the atime flags).
            kept = MS_NOEXEC if posix.fstatvfs(sources[entry.path]).f_flag & ST_NOEXEC else 0
            flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept
            mount(None, stage + entry.path, None, flags)
    mount(None, stage, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _ignore_existing(make: Callable[[], object]) -> None:
    try:
        make()
    except FileExistsError:
        pass


def _is_directory(path: str) -> bool:
    try:
        return stat.S_ISDIR(posix.stat(path).st_mode)
    except OSError:
        return False
