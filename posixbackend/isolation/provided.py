"""The files of a FileSystem given as ``allow_io``, copied for the isolated child.

A provider object cannot cross into another process; its files can. The guest gets its own
memory file system, so what is copied is the provider's memory part: the regular files of a
MemoryFileSystem, or of the MemoryFileSystems a MountFileSystem is made of, skipping the
interpreter's library mounted read-only (the child mounts its own), as in the file system
``Permissions.sandbox()`` makes. Any other provider (a HostFileSystem, an overlay, an adapter)
is a ValueError that says why: its files are not the guest's to copy.
"""

from __future__ import annotations

import posix
import posixpath
import site
import stat
import sys
import sysconfig

import compat
from posixbackend.isolation.limits import format_size
from vfs import FileSystem, HostFileSystem, MemoryFileSystem, MountFileSystem, ReadOnlyFileSystem

PROVIDED_COPY = compat.declare(
    id="isolation.provided_copy",
    function="builtins.open",
    aspect="an allow_io FileSystem in isolated mode",
    level=compat.Level.INFO,
    explanation="the isolated guest gets a copy of the regular files of the provider's memory "
    "part (names and contents, hard links as separate files; no symbolic links, empty "
    "directories, modes, owners or times), and its writes come back in the result's files, "
    "never into the provider",
)


def provided_files(fs: FileSystem, largest: int | None) -> dict[str, bytes]:
    """The regular files of ``fs``'s memory part by path; ValueError if ``fs`` has a part
    that cannot be copied, or holds more than ``largest`` bytes (None: no bound)."""
    sources = _memory_parts(fs)
    PROVIDED_COPY.hit()
    files: dict[str, bytes] = {}
    remaining = largest
    for point, memory, hidden in sources:
        for path, size in _regular_files(memory, hidden):
            if remaining is not None:
                remaining -= size
                if remaining < 0:
                    raise ValueError(
                        f"isolated mode: the files of allow_io={fs!r} hold more than the "
                        f"memory limit ({format_size(largest or 0)})"
                    )
            files[_below(point, path)] = _read(memory, path, size)
    return files


def _memory_parts(fs: FileSystem) -> list[tuple[str, MemoryFileSystem, list[str]]]:
    """(mount point, memory provider, its paths hidden by other mounts) for each part."""
    if isinstance(fs, MemoryFileSystem):
        return [("/", fs, [])]
    if not isinstance(fs, MountFileSystem):
        raise _cannot_send(fs, fs)
    mounts = dict(fs.mounts)
    parts = []
    for point, provider in mounts.items():
        if _is_library(point, provider):
            continue
        if not isinstance(provider, MemoryFileSystem):
            raise _cannot_send(fs, provider, point)
        prefix = point.rstrip("/") + "/"
        hidden = [other[len(prefix) - 1 :] for other in mounts if other.startswith(prefix)]
        parts.append((point, provider, hidden))
    return parts


def _cannot_send(fs: FileSystem, part: FileSystem, point: str | None = None) -> ValueError:
    where = "" if point is None else f" (mounted at {point})"
    if isinstance(part, HostFileSystem):
        why = "it shows host files, which the isolated child never sees"
    else:
        why = "only a MemoryFileSystem's files can be copied into the child"
    return ValueError(
        f"isolated mode cannot give allow_io={fs!r}: its part {part!r}{where} cannot be sent "
        f"to the isolated child: {why}; pass the files with files= instead"
    )


def _is_library(point: str, provider: FileSystem) -> bool:
    """Whether ``provider`` at ``point`` is a read-only view of the host's own directory
    ``point`` holding the interpreter's library or site-packages (the child shows its own)."""
    if not isinstance(provider, ReadOnlyFileSystem):
        return False
    host = provider.inner
    if not isinstance(host, HostFileSystem) or host.root is None:
        return False
    if posixpath.normpath(host.root) != point:
        return False
    return any(point == root or point.startswith(root + "/") for root in _library_roots())


def _library_roots() -> set[str]:
    """The directories the interpreter imports from (those the default file system mounts)."""
    paths = sysconfig.get_paths()
    roots = [paths.get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    roots += site.getsitepackages()
    roots += [entry for entry in sys.path if isinstance(entry, str)]
    return {posixpath.normpath(root) for root in roots if root.startswith("/")} - {"/"}


def _regular_files(memory: MemoryFileSystem, hidden: list[str]) -> list[tuple[str, int]]:
    """(path, size) of every regular file of ``memory`` outside the ``hidden`` directories."""
    found: list[tuple[str, int]] = []
    pending = ["/"]
    while pending:
        directory = pending.pop()
        for name in sorted(memory.listdir(directory)):
            path = posixpath.join(directory, name)
            if path in hidden:
                continue
            mode = memory.stat(path, False)
            if stat.S_ISDIR(mode.st_mode):
                pending.append(path)
            elif stat.S_ISREG(mode.st_mode):
                found.append((path, mode.st_size))
    return found


def _read(memory: MemoryFileSystem, path: str, size: int) -> bytes:
    """The contents of ``path`` (at most ``size`` bytes, as counted against the bound)."""
    with memory.open(path, posix.O_RDONLY) as handle:
        return handle.pread(size, 0)


def _below(point: str, path: str) -> str:
    """The namespace path of ``path`` of the provider mounted at ``point``."""
    return path if point == "/" else point + path
