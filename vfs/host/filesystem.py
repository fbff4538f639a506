"""HostFileSystem: the real file system, whole or confined to one directory.

With ``root=None`` every call goes to the host as it is. With ``root=DIR`` the guest sees DIR as
``/`` and cannot get out: not with ``..``, absolute or climbing symbolic links, nor by swapping a
component for a link while a call runs. Absolute paths are resolved inside the root by the
kernel with openat2(RESOLVE_IN_ROOT) where it exists, else one component at a time with
directory fds and O_NOFOLLOW (see :mod:`vfs.host.beneath`); the last component is then acted on
relative to its directory's fd with a call that does not follow links, and links that must be
followed are read and interpreted here, inside the root. Errors name the path as the guest
gave it.

A directory reference is a real descriptor (:class:`~vfs.host.nodes.HostNode`): an open
directory's own, or an O_PATH one held for the cwd. Unconfined, an at-call passes it to the
kernel as the ``dir_fd``; confined, a relative path is walked from it component by component,
and ``..`` never climbs above the root (nor out of a directory moved out of it).

Modes arrive final: a file or directory created here gets exactly the permission bits asked
for, whatever the process umask is.
"""

from __future__ import annotations

import errno
import os
import posix
import stat
import sys
import weakref
from collections.abc import Callable

from vfs.arguments import check_target
from vfs.errors import named_error, os_error
from vfs.host import openat2 as _openat2
from vfs.host.beneath import open_beneath
from vfs.host.handle import HostHandle, entry_info
from vfs.host.nodes import HostNode, HostNodes, directory_node
from vfs.limits import MAXSYMLINKS, check_path, check_path_at
from vfs.openflags import O_TMPFILE_BIT, check_open_flags
from vfs.pathnames import ROOT, SPECIAL_NAMES, special_errno, split
from vfs.provider import DirEntryInfo, FileSystem

O_PATH = posix.O_PATH
O_CLOEXEC = posix.O_CLOEXEC
RESOLVERS = ("auto", "openat2", "walk")
_PROC_FD = "/proc/self/fd"


def host_is_directory(path: str) -> bool:
    """Whether ``path`` is a directory on the host (through posix: os may be switched)."""
    try:
        return stat.S_ISDIR(posix.stat(path).st_mode)
    except OSError:
        return False


class HostFileSystem(FileSystem):
    """The host's files, optionally confined below ``root``.

    ``resolver`` chooses how a confined path is resolved: ``"openat2"`` (the kernel, Linux 5.6+),
    ``"walk"`` (component by component in Python) or ``"auto"`` (openat2 when it works).
    """

    def __init__(
        self, root: str | os.PathLike[str] | None = None, *, resolver: str = "auto"
    ) -> None:
        if resolver not in RESOLVERS:
            raise ValueError(f"resolver must be one of {', '.join(RESOLVERS)}, not {resolver!r}")
        shown = None if root is None else os.fsdecode(os.fspath(root))
        sys.audit("vfs.HostFileSystem", shown, resolver)  # the host's files: hooks may refuse
        self._root: str | None = None
        self._root_fd = -1
        self._opener: Callable[[str, int, int], int] | None = None
        self._stat_in_root: _openat2.Stater | None = None
        """fstat of a path opened O_PATH through the opener (one C call with openat2)."""
        self._resolver: str | None = None
        self._nodes: HostNodes | None = None
        self._held: weakref.WeakSet[HostNode] = weakref.WeakSet()
        """The references handed out (closed with the provider, should their holders not)."""
        if root is not None:
            self._root = os.fsdecode(os.fspath(root))
            self._root_fd = posix.open(self._root, O_PATH | posix.O_DIRECTORY | O_CLOEXEC)
            self._nodes = HostNodes(directory_node(self._root_fd, False), confined=True)
            self._opener = self._choose_opener(resolver)
        self._proc = host_is_directory(_PROC_FD)

    def _choose_opener(self, resolver: str) -> Callable[[str, int, int], int]:
        root = self._root_fd
        nodes = self._nodes
        assert nodes is not None

        def walk(path: str, flags: int, mode: int) -> int:
            return open_beneath(nodes, None, path, flags, mode)

        if resolver != "walk":
            calls = _openat2.in_root(root, walk)
            if calls is not None:
                self._resolver = "openat2"
                self._stat_in_root = calls[1]
                return calls[0]
            if resolver == "openat2":
                posix.close(root)
                raise OSError(errno.ENOSYS, "openat2(RESOLVE_IN_ROOT) is not available here")
        self._resolver = "walk"
        self._stat_in_root = _openat2.stater(walk)
        return walk

    @property
    def root(self) -> str | None:
        """The host directory the guest sees as ``/``, or None for the whole file system."""
        return self._root

    @property
    def resolver(self) -> str | None:
        """How confined paths are resolved: ``"openat2"`` or ``"walk"`` (None when unconfined)."""
        return self._resolver

    def close(self) -> None:
        for held in list(self._held):
            held.close()
        if self._root_fd >= 0:
            posix.close(self._root_fd)
            self._root_fd = -1

    def _slash(self) -> int:
        """An O_PATH fd of the host's ``/`` (unconfined only): a dir_fd that changes nothing
        for absolute paths but makes CPython call the *at form of a function."""
        if self._root_fd < 0:
            self._root_fd = posix.open("/", O_PATH | posix.O_DIRECTORY | O_CLOEXEC)
        return self._root_fd

    def __repr__(self) -> str:
        where = "the whole host" if self._root is None else repr(self._root)
        return f"<HostFileSystem {where}>"

    # -- directory references ----------------------------------------------------------------

    def nodes(self) -> HostNodes:
        nodes = self._nodes
        if nodes is None:
            nodes = self._nodes = HostNodes(directory_node(self._slash(), False), confined=False)
        return nodes

    def directory(self, at: object | None, path: str) -> HostNode:
        check_path_at(at, path)
        try:
            fd = self._open(at, path, O_PATH | posix.O_DIRECTORY)
            try:
                posix.stat(".", dir_fd=fd)  # chdir's search permission check
            except BaseException:
                posix.close(fd)
                raise
        except OSError as error:
            raise named_error(error, path) from None
        return self._handed_out(directory_node(fd, True))

    def hold(self, directory: object) -> HostNode:
        return self._handed_out(directory_node(posix.dup(self._node(directory).fd), True))

    def _handed_out(self, node: HostNode) -> HostNode:
        node.held = True
        self._held.add(node)
        return node

    def where(self, directory: object) -> str:
        fd = self._node(directory).fd
        if posix.fstat(fd).st_nlink == 0:
            raise os_error(errno.ENOENT)
        if not self._proc:
            raise OSError(errno.ENOSYS, "getcwd on a HostFileSystem needs procfs at /proc/self/fd")
        where = posix.readlink(f"{_PROC_FD}/{fd}")
        if self._root_fd < 0 or self._root is None:
            return where
        nodes = self._nodes
        assert nodes is not None
        root = posix.readlink(f"{_PROC_FD}/{self._root_fd}")
        if where == root:
            return "/"
        if root == "/" and nodes.inside(fd):
            return where
        if where.startswith(root + "/") and nodes.inside(fd):
            return where[len(root) :]
        raise os_error(errno.ENOENT)

    def release(self, directory: object) -> None:
        self._node(directory).close()

    @staticmethod
    def _node(at: object) -> HostNode:
        """``at`` as this provider's directory (TypeError for another provider's reference)."""
        if not isinstance(at, HostNode):
            raise TypeError(f"not a directory of a HostFileSystem: {at!r}")
        return at

    # -- resolution --------------------------------------------------------------------------

    def _dir_fd(self, at: object | None) -> int | None:
        """The dir_fd an unconfined call takes for a path relative to ``at`` (the host's ``/``
        for None, so that a relative path never meets the process's cwd)."""
        return self._slash() if at is None else self._node(at).fd

    def _open(self, at: object | None, path: str, flags: int, mode: int = 0) -> int:
        """A host fd for ``path`` relative to ``at`` (inside the root when confined)."""
        if not path:
            path = "."  # the directory itself
        opener = self._opener
        if opener is None:
            return posix.open(path, flags | O_CLOEXEC, mode, dir_fd=self._dir_fd(at))
        if at is None or path[0] == "/":
            return opener(path, flags, mode)
        nodes = self._nodes
        assert nodes is not None
        return open_beneath(nodes, self._node(at), path, flags, mode)

    def _parent(self, at: object | None, path: str, operation: str) -> tuple[int | None, str]:
        """(directory fd or None, name to pass it) for acting on the last component of ``path``.

        Unconfined, the name is the whole path and the fd ``at``'s (None for an absolute
        path: nothing is opened). Confined, ``.`` and ``..`` go to the kernel with the
        directory's fd (calls that create or remove names refuse them before any lookup, with
        the right errno and permission checks); only a bare ``/``, which has no directory
        inside the root, gets the errno ``operation`` gives it here. A confined fd is the
        caller's to close (see :meth:`_close`).
        """
        if self._opener is None:
            return (None if path[:1] == "/" else self._dir_fd(at)), path
        head, last, trailing = split_at(path)
        if last == ROOT and operation:
            raise os_error(special_errno(operation, ROOT) or errno.EINVAL, path)
        fd = self._directory(at, head)
        return fd, last + "/" if trailing else last

    def _directory(self, at: object | None, path: str) -> int:
        """An O_PATH fd for the directory ``path``, checking search permission on it as the
        kernel does before looking up a last component there (opening ``path/.`` does both)."""
        return self._open(at, path.rstrip("/") + "/.", O_PATH | posix.O_DIRECTORY)

    def _entry(self, at: object | None, path: str, follow: bool) -> tuple[int, str]:
        """(directory fd, name) of the entry ``path`` leads to, links followed inside the root.

        The entry exists, and is never a link that should have been followed, so callers act
        on it with ``follow_symlinks=False``. A trailing slash follows links and demands a
        directory; ``.``, ``..``, ``/`` and an empty path give the directory itself, as (its
        fd, "."). The fd is the caller's to close.
        """
        must_be_directory = False
        for _ in range(MAXSYMLINKS + 1):
            head, last, trailing = split_at(path)
            if trailing:
                must_be_directory = follow = True
            if last in SPECIAL_NAMES or not path:
                return self._open(at, path, O_PATH | posix.O_DIRECTORY), "."
            fd = self._directory(at, head)
            try:
                mode = posix.stat(last, dir_fd=fd, follow_symlinks=False).st_mode
                if not (follow and stat.S_ISLNK(mode)):
                    if must_be_directory and not stat.S_ISDIR(mode):
                        raise os_error(errno.ENOTDIR, path)
                    return fd, last
                target = posix.readlink(last, dir_fd=fd)
            except BaseException:
                posix.close(fd)
                raise
            posix.close(fd)
            if target.startswith("/") or head == ".":
                path = target
            else:
                path = head.rstrip("/") + "/" + target
            if must_be_directory and not path.endswith("/"):
                path += "/"
        raise os_error(errno.ELOOP, path)

    def _close(self, fd: int | None) -> None:
        """Close an fd :meth:`_parent` opened (a confined one; never a reference's)."""
        if fd is not None and self._opener is not None:
            posix.close(fd)

    # -- queries -----------------------------------------------------------------------------

    def stat(self, path: str, follow_symlinks: bool = True) -> posix.stat_result:
        check_path(path)
        stat_in_root = self._stat_in_root
        if stat_in_root is None:
            return posix.stat(path, follow_symlinks=follow_symlinks)
        if path == "/":  # the root itself (a mount's root, remembered by the Mount): held open
            try:
                return posix.fstat(self._root_fd)
            except OSError as error:  # closed
                raise named_error(error, path) from None
        try:  # the hot path (an overlay's or a mount's checks): straight to the root's opener
            return stat_in_root(path, 0 if follow_symlinks else posix.O_NOFOLLOW)
        except OSError as error:
            raise named_error(error, path) from None

    def restat(self, path: str) -> posix.stat_result:
        # A path this provider served before: stat's work without its argument checks (an
        # overlay's warm stat calls this on every hit).
        stat_in_root = self._stat_in_root
        if stat_in_root is None or path == "/":
            return self.stat(path, False)
        try:
            return stat_in_root(path, posix.O_NOFOLLOW)
        except OSError as error:
            raise named_error(error, path) from None

    def stat_at(
        self, at: object | None, path: str, follow_symlinks: bool = True
    ) -> posix.stat_result:
        check_path_at(at, path)
        if self._opener is None:
            if not path:
                return posix.fstat(self._node(at).fd)
            return posix.stat(path, dir_fd=self._dir_fd(at), follow_symlinks=follow_symlinks)
        try:
            flags = O_PATH if follow_symlinks else O_PATH | posix.O_NOFOLLOW
            fd = self._open(at, path, flags, 0)
        except OSError as error:
            raise named_error(error, path) from None
        try:
            return posix.fstat(fd)
        finally:
            posix.close(fd)

    def listdir(self, path: str) -> list[str]:
        check_path(path)
        return self.listdir_at(None, path)

    def listdir_at(self, at: object | None, path: str) -> list[str]:
        check_path_at(at, path)
        if self._opener is None and path[:1] == "/":
            return posix.listdir(path)
        try:
            fd = self._open(at, path, posix.O_RDONLY | posix.O_DIRECTORY)
            try:
                return posix.listdir(fd)
            finally:
                posix.close(fd)
        except OSError as error:
            raise named_error(error, path) from None

    def scandir(self, path: str) -> list[DirEntryInfo]:
        check_path(path)
        return self.scandir_at(None, path)

    def scandir_at(self, at: object | None, path: str) -> list[DirEntryInfo]:
        check_path_at(at, path)
        try:
            if self._opener is None and path[:1] == "/":
                with posix.scandir(path) as entries:
                    return [entry_info(entry) for entry in entries]
            fd = self._open(at, path, posix.O_RDONLY | posix.O_DIRECTORY)
            try:
                with posix.scandir(fd) as entries:
                    return [entry_info(entry) for entry in entries]
            finally:
                posix.close(fd)
        except OSError as error:
            raise named_error(error, path) from None

    def readlink(self, path: str) -> str:
        check_path(path)
        return self.readlink_at(None, path)

    def readlink_at(self, at: object | None, path: str) -> str:
        check_path_at(at, path)
        try:
            if self._opener is None:
                return posix.readlink(path or ".", dir_fd=self._dir_fd(at))
            _, last, trailing = split_at(path)
            if last in SPECIAL_NAMES or trailing or not path:
                posix.close(self._open(at, path, O_PATH))
                raise os_error(errno.EINVAL, path)
            fd, name = self._parent(at, path, "")
            try:
                return posix.readlink(name, dir_fd=fd)
            finally:
                self._close(fd)
        except OSError as error:
            raise named_error(error, path) from None

    def access(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        self.access_at(None, path, mode, follow_symlinks)

    def access_at(
        self, at: object | None, path: str, mode: int, follow_symlinks: bool = True
    ) -> None:
        check_path_at(at, path)
        if mode & ~7:
            raise os_error(errno.EINVAL, path)
        try:
            if self._opener is None:
                name, fd = path or ".", self._dir_fd(at)
                posix.stat(name, dir_fd=fd, follow_symlinks=follow_symlinks)
                allowed = posix.access(name, mode, dir_fd=fd, follow_symlinks=follow_symlinks)
            else:
                fd, name = self._entry(at, path, follow_symlinks)
                try:
                    posix.stat(name, dir_fd=fd, follow_symlinks=False)
                    allowed = posix.access(name, mode, dir_fd=fd, follow_symlinks=False)
                finally:
                    posix.close(fd)
        except OSError as error:
            raise named_error(error, path) from None
        if not allowed:
            raise os_error(errno.EACCES, path)

    def statvfs(self, path: str) -> posix.statvfs_result:
        check_path(path)
        return self.statvfs_at(None, path)

    def statvfs_at(self, at: object | None, path: str) -> posix.statvfs_result:
        check_path_at(at, path)
        try:
            if self._opener is None and path[:1] == "/":
                return posix.statvfs(path)
            fd = self._open(at, path, O_PATH)
            try:
                return posix.fstatvfs(fd)
            finally:
                posix.close(fd)
        except OSError as error:
            raise named_error(error, path) from None

    # -- opening -----------------------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o666) -> HostHandle:
        check_path(path)
        return self._open_at(None, path, flags, mode)

    def open_at(self, at: object | None, path: str, flags: int, mode: int = 0o666) -> HostHandle:
        check_path_at(at, path)
        return self._open_at(at, path, flags, mode)

    def _open_at(self, at: object | None, path: str, flags: int, mode: int) -> HostHandle:
        """open_at once the path is checked."""
        flags = check_open_flags(flags, path)
        try:
            if flags & posix.O_CREAT or flags & O_TMPFILE_BIT:
                fd = self._open_creating(at, path, flags, mode)
            else:
                fd = self._open(at, path, flags)
        except OSError as error:
            raise named_error(error, path) from None
        return HostHandle(fd, flags, path)

    def _open_creating(self, at: object | None, path: str, flags: int, mode: int) -> int:
        """open(2) with O_CREAT or O_TMPFILE, giving a created file exactly ``mode``.

        The first attempt adds O_EXCL so that a file made here can be told from one that was
        already there (whose mode must stay as it is).
        """
        if flags & posix.O_EXCL or flags & O_TMPFILE_BIT or flags & O_PATH:
            fd = self._open(at, path, flags, mode)
            if not flags & O_PATH:
                self._give_mode(fd, mode)
            return fd
        try:
            fd = self._open(at, path, flags | posix.O_EXCL, mode)
        except FileExistsError:
            pass
        else:
            self._give_mode(fd, mode)
            return fd
        try:
            fd = self._open(at, path, flags & ~posix.O_CREAT)
        except FileNotFoundError:  # a dangling link (or the name just went): create through it
            fd = self._open(at, path, flags, mode)
            self._give_mode(fd, mode)
            return fd
        except OSError:
            # Without O_CREAT the checks differ in order (EISDIR for a directory comes before
            # EACCES, a link's trailing slash before ELOOP...): ask open(2) itself, with the
            # caller's flags, for the error it gives. Should it succeed after all, something
            # raced with us and the file is left as it is.
            return self._open(at, path, flags, mode)
        reads_only = flags & 3 == posix.O_RDONLY and not flags & posix.O_TRUNC
        if reads_only and stat.S_ISDIR(posix.fstat(fd).st_mode):  # the kernel said EISDIR for
            posix.close(fd)  # the writing opens; O_CREAT makes it say so for this one too
            raise os_error(errno.EISDIR, path)
        return fd

    @staticmethod
    def _give_mode(fd: int, mode: int) -> None:
        """Undo the process umask on a file just created through ``fd``."""
        current = posix.fstat(fd).st_mode
        if (current ^ mode) & 0o777:
            posix.fchmod(fd, (current & 0o7000) | (mode & 0o777))

    # -- names -------------------------------------------------------------------------------

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        check_path(path)
        self.mkdir_at(None, path, mode)

    def mkdir_at(self, at: object | None, path: str, mode: int = 0o777) -> None:
        check_path_at(at, path)
        try:
            fd, name = self._parent(at, path, "create")
            try:
                posix.mkdir(name, mode, dir_fd=fd)
                self._give_directory_mode(fd, name.rstrip("/") or name, mode)
            finally:
                self._close(fd)
        except OSError as error:
            raise named_error(error, path) from None

    def _give_directory_mode(self, fd: int | None, name: str, mode: int) -> None:
        """Undo the process umask on a directory just created, without following links."""
        new = posix.open(name, O_PATH | posix.O_NOFOLLOW | posix.O_DIRECTORY | O_CLOEXEC, dir_fd=fd)
        try:
            current = posix.fstat(new).st_mode
            if (current ^ mode) & 0o777:
                self._fchmod_path_fd(new, (current & 0o7000) | (mode & 0o777))
        finally:
            posix.close(new)

    def _fchmod_path_fd(self, fd: int, mode: int) -> None:
        """chmod the file an O_PATH fd refers to, through procfs (a directory also by reopening).

        Python has no chmod that refuses to follow a link, so without /proc only directories
        can be changed safely; anything else fails with a clear ENOSYS.
        """
        if self._proc:
            posix.chmod(f"{_PROC_FD}/{fd}", mode)
            return
        if not stat.S_ISDIR(posix.fstat(fd).st_mode):
            raise OSError(
                errno.ENOSYS, "chmod in a confined HostFileSystem needs procfs at /proc/self/fd"
            )
        reopened = posix.open(".", posix.O_RDONLY | posix.O_DIRECTORY | O_CLOEXEC, dir_fd=fd)
        try:
            posix.fchmod(reopened, mode)
        finally:
            posix.close(reopened)

    def rmdir(self, path: str) -> None:
        check_path(path)
        self.rmdir_at(None, path)

    def rmdir_at(self, at: object | None, path: str) -> None:
        check_path_at(at, path)
        try:
            fd, name = self._parent(at, path, "rmdir")
            try:
                posix.rmdir(name, dir_fd=fd)
            finally:
                self._close(fd)
        except OSError as error:
            raise named_error(error, path) from None

    def unlink(self, path: str) -> None:
        check_path(path)
        self.unlink_at(None, path)

    def unlink_at(self, at: object | None, path: str) -> None:
        check_path_at(at, path)
        try:
            fd, name = self._parent(at, path, "unlink")
            try:
                posix.unlink(name, dir_fd=fd)
            finally:
                self._close(fd)
        except OSError as error:
            raise named_error(error, path) from None

    def rename(self, src: str, dst: str) -> None:
        check_path(src, dst)
        check_path(dst, None)
        self.rename_at(None, src, None, dst)

    def rename_at(self, src_at: object | None, src: str, dst_at: object | None, dst: str) -> None:
        check_path_at(src_at, src, dst)
        check_path_at(dst_at, dst, None)
        try:
            src_fd, src_name = self._parent(src_at, src, "")
            try:
                dst_fd, dst_name = self._parent(dst_at, dst, "")
                try:
                    # Both directories resolve before '/' is refused, as in Linux.
                    for path in (src, dst):
                        if self._opener is not None and split_at(path)[1] == ROOT:
                            raise os_error(errno.EBUSY, path)
                    posix.rename(src_name, dst_name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
                finally:
                    self._close(dst_fd)
            finally:
                self._close(src_fd)
        except OSError as error:
            raise named_error(error, src, dst) from None

    def symlink(self, target: str, path: str) -> None:
        target = check_target(target, path)
        check_path(path, None)
        self.symlink_at(target, None, path)

    def symlink_at(self, target: str, at: object | None, path: str) -> None:
        target = check_target(target, path)
        check_path_at(at, path, None)
        try:
            fd, name = self._parent(at, path, "create")
            try:
                posix.symlink(target, name, dir_fd=fd)
            finally:
                self._close(fd)
        except OSError as error:
            raise named_error(error, target, path) from None

    def link(self, src: str, dst: str, follow_symlinks: bool = True) -> None:
        check_path(src, dst)
        check_path(dst, None)
        self.link_at(None, src, None, dst, follow_symlinks)

    def link_at(
        self,
        src_at: object | None,
        src: str,
        dst_at: object | None,
        dst: str,
        follow_symlinks: bool = True,
    ) -> None:
        check_path_at(src_at, src, dst)
        check_path_at(dst_at, dst, None)
        try:
            if self._opener is None:
                # Through linkat(2) (a dir_fd makes CPython use it): os.link without one calls
                # link(2), which never follows a link whatever follow_symlinks says.
                posix.link(
                    src,
                    dst,
                    src_dir_fd=self._dir_fd(src_at),
                    dst_dir_fd=self._dir_fd(dst_at),
                    follow_symlinks=follow_symlinks,
                )
                return
            src_fd, src_name = self._entry(src_at, src, follow_symlinks)
            try:
                dst_fd, dst_name = self._parent(dst_at, dst, "create")
                try:
                    posix.link(
                        src_name,
                        dst_name,
                        src_dir_fd=src_fd,
                        dst_dir_fd=dst_fd,
                        follow_symlinks=False,
                    )
                finally:
                    self._close(dst_fd)
            finally:
                posix.close(src_fd)
        except OSError as error:
            raise named_error(error, src, dst) from None

    # -- attributes --------------------------------------------------------------------------

    def chmod(self, path: str, mode: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        self.chmod_at(None, path, mode, follow_symlinks)

    def chmod_at(
        self, at: object | None, path: str, mode: int, follow_symlinks: bool = True
    ) -> None:
        check_path_at(at, path)
        try:
            if self._opener is None and path[:1] == "/":
                if not follow_symlinks and stat.S_ISLNK(posix.lstat(path).st_mode):
                    raise os_error(errno.EOPNOTSUPP, path)
                posix.chmod(path, mode)
                return
            fd = self._open(at, path, O_PATH if follow_symlinks else O_PATH | posix.O_NOFOLLOW)
            try:
                if stat.S_ISLNK(posix.fstat(fd).st_mode):
                    raise os_error(errno.EOPNOTSUPP, path)
                self._fchmod_path_fd(fd, mode)
            finally:
                posix.close(fd)
        except OSError as error:
            raise named_error(error, path) from None

    def chown(self, path: str, uid: int, gid: int, follow_symlinks: bool = True) -> None:
        check_path(path)
        self.chown_at(None, path, uid, gid, follow_symlinks)

    def chown_at(
        self, at: object | None, path: str, uid: int, gid: int, follow_symlinks: bool = True
    ) -> None:
        check_path_at(at, path)
        try:
            if self._opener is None:
                posix.chown(
                    path or ".", uid, gid, dir_fd=self._dir_fd(at), follow_symlinks=follow_symlinks
                )
                return
            fd, name = self._entry(at, path, follow_symlinks)
            try:
                posix.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
            finally:
                posix.close(fd)
        except OSError as error:
            raise named_error(error, path) from None

    def utime(
        self, path: str, ns: tuple[int, int] | None = None, follow_symlinks: bool = True
    ) -> None:
        check_path(path)
        self.utime_at(None, path, ns, follow_symlinks)

    def utime_at(
        self,
        at: object | None,
        path: str,
        ns: tuple[int, int] | None = None,
        follow_symlinks: bool = True,
    ) -> None:
        check_path_at(at, path)
        try:
            if self._opener is None:
                fd, name, follow, owned = self._dir_fd(at), path or ".", follow_symlinks, False
            else:
                fd, name = self._entry(at, path, follow_symlinks)
                follow, owned = False, True
            try:
                if ns is None:
                    posix.utime(name, dir_fd=fd, follow_symlinks=follow)
                else:
                    posix.utime(name, ns=ns, dir_fd=fd, follow_symlinks=follow)
            finally:
                if owned and fd is not None:
                    posix.close(fd)
        except OSError as error:
            raise named_error(error, path) from None

    def truncate(self, path: str, length: int) -> None:
        check_path(path)
        self.truncate_at(None, path, length)

    def truncate_at(self, at: object | None, path: str, length: int) -> None:
        check_path_at(at, path)
        if length < 0:
            raise os_error(errno.EINVAL, path)
        try:
            if self._opener is None and path[:1] == "/":
                posix.truncate(path, length)
                return
            if self._opener is None:
                fd, name, owned = self._dir_fd(at), path or ".", False
            else:
                fd, name = self._entry(at, path, True)
                owned = True
            try:
                kind = stat.S_IFMT(
                    posix.stat(name, dir_fd=fd, follow_symlinks=owned is False).st_mode
                )
                if kind == stat.S_IFDIR:
                    raise os_error(errno.EISDIR, path)
                if kind != stat.S_IFREG:
                    raise os_error(errno.EINVAL, path)
                nofollow = posix.O_NOFOLLOW if owned else 0
                file = posix.open(name, posix.O_WRONLY | nofollow | O_CLOEXEC, dir_fd=fd)
                try:
                    posix.ftruncate(file, length)
                finally:
                    posix.close(file)
            finally:
                if owned and fd is not None:
                    posix.close(fd)
        except OSError as error:
            raise named_error(error, path) from None


def split_at(path: str) -> tuple[str, str, bool]:
    """:func:`vfs.pathnames.split` for a path that may be relative: ``name`` alone is in
    ``.``, the directory it is relative to."""
    if path[:1] == "/" or "/" in path.rstrip("/"):
        return split(path)
    stripped = path.rstrip("/")
    return ".", stripped, len(stripped) != len(path)
