"""A provider served over a stream socket: one process's file system shown to another.

:func:`serve` answers one connection's requests with a :class:`~vfs.FileSystem` on a daemon
thread; :class:`RemoteFileSystem` is the provider on the other end. The frames carry plain
values only (:mod:`vfs.remote.wire`), never code.
"""

from vfs.remote.client import RemoteFileSystem
from vfs.remote.server import FileSystemServer, serve, serve_pair

__all__ = ["FileSystemServer", "RemoteFileSystem", "serve", "serve_pair"]
