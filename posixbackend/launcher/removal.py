"""Removing a host directory tree of the launcher's own, with no code a program can change.

The launcher removes the directory its children start in at exit, natively and unrestricted
(:mod:`~posixbackend.launcher.session`), and its supervisor removes it unconfined
(:mod:`~posixbackend.launcher.supervisor`): both run where the program's code must not. So the
walk calls only the real functions bound here when the module is imported, before any program
runs -- never ``shutil.rmtree``, ``functools.partial`` or an ``os`` attribute, which a program
can replace -- and goes through directory descriptors opened with ``O_NOFOLLOW``, so a symlink
a program swaps in while it runs is removed, never followed.
"""

from __future__ import annotations

import errno
import posix
from typing import Final

from posixbackend.switch._realobjects import real_object

_OPEN: Final = real_object("open")
_CLOSE: Final = real_object("close")
_SCANDIR: Final = real_object("scandir")
_UNLINK: Final = real_object("unlink")
_RMDIR: Final = real_object("rmdir")
_OS_ERROR: Final = OSError
_DIRECTORY: Final = posix.O_RDONLY | posix.O_DIRECTORY | posix.O_NOFOLLOW | posix.O_CLOEXEC
_IS_A_DIRECTORY: Final = (errno.EISDIR, errno.EPERM)
"""What unlink(2) gives for a directory (Linux: EISDIR; POSIX allows EPERM)."""


def remove_tree(path: str) -> None:
    """Remove ``path`` (absolute) and what is below it, never following a symlink: what cannot
    be removed stays, silently (the launcher cleans up on its way out)."""
    parent, _, name = path.rpartition("/")
    if not name:
        return
    try:
        parent_fd = _OPEN(parent or "/", _DIRECTORY)
    except _OS_ERROR:
        return
    try:
        _remove_entry(parent_fd, name)
    finally:
        _CLOSE(parent_fd)


def _remove_entry(parent_fd: int, name: str) -> None:
    """Remove ``name`` in the open directory ``parent_fd``: a file or symlink at once, a
    directory after what is below it (a stack of open directories, not recursion: a deep
    tree cannot make it raise)."""
    if _unlinked(parent_fd, name):
        return
    top = _opened(parent_fd, name)
    if top is None:
        return
    # Each level: its parent's descriptor, its name there, its own descriptor, names left.
    stack = [(parent_fd, name, top, _names(top))]
    while stack:
        above, own_name, fd, names = stack[-1]
        if not names:
            stack.pop()
            _CLOSE(fd)
            try:
                _RMDIR(own_name, dir_fd=above)
            except _OS_ERROR:
                pass  # not empty (something could not be removed) or gone: it stays
            continue
        entry = names.pop()
        if _unlinked(fd, entry):
            continue
        below = _opened(fd, entry)
        if below is not None:
            stack.append((fd, entry, below, _names(below)))


def _unlinked(dir_fd: int, name: str) -> bool:
    """Whether ``name`` in ``dir_fd`` is done with as a file: removed, gone, or not
    removable (False: a directory, to empty first)."""
    try:
        _UNLINK(name, dir_fd=dir_fd)
    except _OS_ERROR as error:
        return error.errno not in _IS_A_DIRECTORY
    return True


def _opened(dir_fd: int, name: str) -> int | None:
    """The directory ``name`` in ``dir_fd`` opened (None: not a directory, or it cannot be)."""
    try:
        fd: int = _OPEN(name, _DIRECTORY, dir_fd=dir_fd)
    except _OS_ERROR:
        return None
    return fd


def _names(fd: int) -> list[str]:
    """The names in the open directory ``fd`` (none if it cannot be read)."""
    try:
        with _SCANDIR(fd) as entries:
            return [entry.name for entry in entries]
    except _OS_ERROR:
        return []
