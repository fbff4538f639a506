"""Opening a path inside a root directory one component at a time (no openat2 needed).

The same semantics as openat2's RESOLVE_IN_ROOT: the root acts as ``/`` for absolute links and
``..`` cannot climb above it. Every component is opened relative to the directory before it
with O_PATH|O_NOFOLLOW and links are read and interpreted here, never by the kernel, so a
component swapped for a symbolic link mid-walk is still resolved inside the root.
"""

from __future__ import annotations

import errno
import posix
import stat

from vfs.errors import os_error
from vfs.limits import MAXSYMLINKS

O_PATH = posix.O_PATH
_STEP = O_PATH | posix.O_NOFOLLOW | posix.O_CLOEXEC
_O_TMPFILE = getattr(posix, "O_TMPFILE", 0)
_RETRIES = 8


def open_beneath(root: int, path: str, flags: int, mode: int = 0) -> int:
    """Open ``path`` (absolute or relative, interpreted inside ``root``) with ``flags``."""
    for _ in range(_RETRIES):
        try:
            return _Walk(root).open(path, flags, mode)
        except _Swapped:
            continue
    raise os_error(errno.EAGAIN)


class _Swapped(Exception):
    """A name changed kind between two steps of the walk; the walk starts again."""


class _Walk:
    """One resolution: a stack of directory fds from the root down, and a link budget."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.stack: list[int] = []
        self.hops = 0

    @property
    def here(self) -> int:
        return self.stack[-1] if self.stack else self.root

    def open(self, path: str, flags: int, mode: int) -> int:
        try:
            return self._open(path, flags, mode)
        finally:
            for fd in self.stack:
                posix.close(fd)

    def _open(self, path: str, flags: int, mode: int) -> int:
        pending = _components(path)
        trailing = path.endswith("/") and bool(pending)
        follow_last = not flags & posix.O_NOFOLLOW or trailing
        creating = bool(flags & posix.O_CREAT)
        while True:
            if not pending:  # the path, or a link's content, is just '/'
                return self._open_root(flags, mode)
            name = pending.pop()
            if pending:
                self._step(name, pending)
                continue
            if name in (".", ".."):
                self._dots(name)
                return self._open_here(".", flags, mode)
            if creating and trailing:
                posix.stat(".", dir_fd=self.here)  # search permission is checked first
                raise os_error(errno.EISDIR)
            target = self._link_at_end(name, flags, follow_last)
            if target is None:
                return self._open_here(name, flags | (posix.O_DIRECTORY if trailing else 0), mode)
            self._enter_link(target, pending)
            trailing = trailing or target.endswith("/")  # judged on the content's last name

    def _step(self, name: str, pending: list[str]) -> None:
        """Walk through an intermediate component (which must lead to a directory)."""
        if name in (".", ".."):
            self._dots(name)
            return
        fd = posix.open(name, _STEP, dir_fd=self.here)
        kind = stat.S_IFMT(posix.fstat(fd).st_mode)
        if kind == stat.S_IFDIR:
            self.stack.append(fd)
            return
        try:
            if kind != stat.S_IFLNK:
                raise os_error(errno.ENOTDIR)
            target = posix.readlink("", dir_fd=fd)
        finally:
            posix.close(fd)
        self._enter_link(target, pending)

    def _dots(self, name: str) -> None:
        """``.`` stays, ``..`` goes up one directory but never above the root."""
        posix.stat(".", dir_fd=self.here)  # the kernel's search permission check
        if name == ".." and self.stack:
            posix.close(self.stack.pop())

    def _enter_link(self, target: str, pending: list[str]) -> None:
        """Continue the walk through a link's content, relative to the root if absolute."""
        self.hops += 1
        if self.hops > MAXSYMLINKS:
            raise os_error(errno.ELOOP)
        if target.startswith("/"):
            while self.stack:
                posix.close(self.stack.pop())
        pending.extend(_components(target))

    def _link_at_end(self, name: str, flags: int, follow: bool) -> str | None:
        """The content of the last component if it is a link to follow, else None."""
        if not follow or (flags & posix.O_CREAT and flags & posix.O_EXCL):
            return None
        try:
            fd = posix.open(name, _STEP, dir_fd=self.here)
        except FileNotFoundError:
            return None  # for O_CREAT: created by the final open
        try:
            if not stat.S_ISLNK(posix.fstat(fd).st_mode):
                return None
            return posix.readlink("", dir_fd=fd)
        finally:
            posix.close(fd)

    def _open_root(self, flags: int, mode: int) -> int:
        """Open the root itself. Linux looks nothing up for a bare '/' (so asks for no search
        permission), which reopening the root's fd through procfs reproduces."""
        flags = (flags | posix.O_CLOEXEC) & ~posix.O_NOFOLLOW
        try:
            return posix.open(f"/proc/self/fd/{self.root}", flags, mode)
        except FileNotFoundError:  # no procfs: a lookup of '.', which needs search permission
            return posix.open(".", flags, mode, dir_fd=self.root)

    def _open_here(self, name: str, flags: int, mode: int) -> int:
        """The final open, never following a link (one that appeared meanwhile restarts)."""
        final = flags | posix.O_NOFOLLOW | posix.O_CLOEXEC
        try:
            fd = posix.open(name, final, mode, dir_fd=self.here)
        except OSError as error:
            if error.errno == errno.ELOOP and not flags & posix.O_NOFOLLOW and name != ".":
                raise _Swapped from None
            raise
        if (
            flags & O_PATH
            and not flags & posix.O_NOFOLLOW
            and stat.S_ISLNK(posix.fstat(fd).st_mode)
        ):
            posix.close(fd)
            raise _Swapped
        return fd


def _components(path: str) -> list[str]:
    """The non-empty components of ``path``, last first (a stack to pop from)."""
    parts = [part for part in path.split("/") if part]
    parts.reverse()
    return parts
