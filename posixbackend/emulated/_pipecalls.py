"""os.pipe and os.pipe2 on the emulated backend: in-memory pipes (``pipes.py`` holds the pipe)."""

from __future__ import annotations

import errno
import posix

import compat
from posixbackend.emulated.args import int_arg
from posixbackend.emulated.core import VIRTUAL_FDS, BackendCore
from posixbackend.emulated.descriptions import PipeDescription
from posixbackend.emulated.pipes import Pipe
from vfs.errors import os_error

PIPE2_FLAGS = posix.O_NONBLOCK | posix.O_CLOEXEC
PACKET_MODE = compat.declare(
    id="emulated.pipe2.packet_mode",
    function="os.pipe2",
    aspect="O_DIRECT",
    level=compat.Level.INFO,
    explanation="packet-mode pipes (O_DIRECT) are not emulated: EINVAL",
)


class PipeFunctions(BackendCore):
    """os.pipe and os.pipe2."""

    def pipe(self) -> tuple[int, int]:
        """os.pipe: (read end, write end), both non-inheritable."""
        return self._pipe(posix.O_CLOEXEC)

    def pipe2(self, flags: int, /) -> tuple[int, int]:
        """os.pipe2: O_NONBLOCK and O_CLOEXEC as asked (inheritable without O_CLOEXEC)."""
        flags = int_arg(flags)
        if flags & posix.O_DIRECT:
            PACKET_MODE.hit()
            raise os_error(errno.EINVAL)
        if flags & ~PIPE2_FLAGS:
            raise os_error(errno.EINVAL)
        return self._pipe(flags)

    def _pipe(self, flags: int) -> tuple[int, int]:
        identity = self._identity
        pipe = Pipe(uid=identity.uid, gid=identity.gid)
        status = flags & posix.O_NONBLOCK
        cloexec = bool(flags & posix.O_CLOEXEC)
        table = self._table
        reader = table.install(
            PipeDescription(pipe.reader, posix.O_RDONLY | status), cloexec=cloexec
        )
        writer = table.install(
            PipeDescription(pipe.writer, posix.O_WRONLY | status), cloexec=cloexec
        )
        if self._virtual_fds_unreported:
            self._virtual_fds_unreported = False
            VIRTUAL_FDS.hit()
        return reader, writer
