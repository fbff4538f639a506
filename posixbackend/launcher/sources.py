"""The program's own files, copied from the host into a ``--fs=memory`` file system.

The import system reads the host (it never goes through the backend), so a program run on an
empty memory file system still imports; but reading its own source (tracebacks, ``inspect``,
``open(__file__)``) goes through the backend. The launcher therefore copies in the file python
starts: the script, a directory's or zip file's ``__main__``, or the module ``-m`` runs (a
package's ``__main__``), each at the same path, unless the memory file system shows one there.
"""

from __future__ import annotations

import _io
import posix
import posixpath
import stat
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from typing import BinaryIO

from posixbackend.launcher.program import startup_file
from posixbackend.launcher.target import Target, TargetKind
from vfs import FileSystem
from vfs.host import host_is_directory


def program_files(target: Target, cwd: str) -> list[str]:
    """The host files python reads to start ``target`` from the directory ``cwd`` (paths as
    the command line gives them, ``..`` unresolved: the kernel resolves them physically)."""
    if target.kind is TargetKind.INTERACTIVE:  # python -i: PYTHONSTARTUP before the prompt
        startup = startup_file() if sys.flags.inspect else None
        return [] if startup is None else [posixpath.join(cwd, startup)]
    if target.kind is TargetKind.SCRIPT:
        path = posixpath.join(cwd, target.value)
        return [posixpath.join(path, "__main__.py")] if host_is_directory(path) else [path]
    if target.kind is TargetKind.MODULE:
        search = sys.path[1:] if sys.flags.safe_path else [cwd, *sys.path[1:]]
        origin = module_origin(target.value, search)
        return [] if origin is None else [origin]
    return []


def module_origin(name: str, search: Sequence[str]) -> str | None:
    """The file ``python -m name`` runs (a package's ``__main__``), found on ``search`` the way
    the path finder finds it but without importing the parent packages; None if not found."""
    locations: list[str] | None = [entry for entry in search if isinstance(entry, str)]
    spec: ModuleSpec | None = None
    parts = name.split(".")
    for count in range(1, len(parts) + 1):
        if locations is None:  # a parent that is a module, not a package
            return None
        spec = PathFinder.find_spec(".".join(parts[:count]), locations)
        if spec is None:
            return None
        search_locations = spec.submodule_search_locations
        locations = None if search_locations is None else list(search_locations)
    if spec is not None and locations is not None:
        spec = PathFinder.find_spec(f"{name}.__main__", locations)
    if spec is None or not spec.has_location or spec.origin is None:
        return None
    return spec.origin


def copy_in(file_system: FileSystem, path: str, *, links_followed: int = 0) -> None:
    """Make ``file_system`` show the host file ``path``: every directory on the way that the
    host has (so ``sub/../x.py`` resolves as on the host), then the file's copy or, for a
    symbolic link, the same link and what it leads to; nothing is replaced that the guest
    shows already, and nothing is made for what the host lacks."""
    try:
        for directory in _directories_on_the_way(path):
            if host_is_directory(directory):
                try:
                    file_system.mkdir(directory, 0o755)
                except FileExistsError:
                    continue
        guest = posixpath.normpath(path)
        try:
            file_system.stat(guest, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            return
        mode = posix.lstat(path).st_mode
        if stat.S_ISLNK(mode) and links_followed < MAX_LINKS:
            target = posix.readlink(path)
            file_system.symlink(target, guest)
            followed = posixpath.join(posixpath.dirname(path), target)
            copy_in(file_system, followed, links_followed=links_followed + 1)
        elif stat.S_ISREG(mode):
            _copy_file(file_system, path, guest)
    except OSError:  # gone from the host, or a file or read-only directory in the way in the
        return  # guest: python's own error comes when the program runs


MAX_LINKS = 40
"""Symbolic links followed from one program file (Linux's limit before ELOOP)."""


def _directories_on_the_way(path: str) -> list[str]:
    """The directories ``path`` names before its last part, normalised (``/a/./b/../c`` gives
    ``/a``, ``/a/b``)."""
    parts: list[str] = []
    directories: list[str] = []
    for part in path.split("/")[:-1]:
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
        directories.append("/" + "/".join(parts))
    return directories


def _copy_file(file_system: FileSystem, path: str, guest: str) -> None:
    with open_host(path) as source:
        data = source.read()
    flags = posix.O_CREAT | posix.O_WRONLY | posix.O_EXCL
    with file_system.open(guest, flags, 0o644) as handle:
        handle.pwrite(data, 0)


def open_host(path: str) -> BinaryIO:
    """A host file opened for reading with the real ``posix`` (never through a stand-in)."""
    return _io.FileIO(posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC), "rb", closefd=True)
