"""os.lockf: POSIX record locks from the file offset, as glibc makes them with fcntl(2).

The locks are the ones :mod:`posixbackend.emulated.fcntlcalls` keeps (so ``fcntl.lockf`` and
``F_SETLK`` see them): a process's own locks never conflict with each other, another emulated
process's do. lockf checks what glibc and the kernel check, in their order -- an unknown
command is EINVAL before the descriptor is looked up; a range that starts before offset 0 is
EINVAL, one that ends past the largest offset EOVERFLOW; F_LOCK and F_TLOCK need a descriptor
open for writing (EBADF); F_TEST is EACCES when another process holds a lock there. Host
descriptors (the standard streams) take real locks.
"""

from __future__ import annotations

import errno
import os
import posix
import sys
from typing import Any, Final

from posixbackend.emulated._filelocks import F_RDLCK, F_UNLCK, F_WRLCK, LOCKS
from posixbackend.emulated.args import fd_arg, int_arg, off_t_arg
from posixbackend.emulated.descriptions import HostDescription, file_position, writable
from posixbackend.emulated.fcntlcalls import (
    HOST_PROCESSES,
    FcntlFunctions,
    file_key,
    lock_range,
)
from vfs.errors import os_error

F_ULOCK: Final = 0
F_LOCK: Final = 1
F_TLOCK: Final = 2
F_TEST: Final = 3
OFF_T_MAX: Final = (1 << 63) - 1


def check_range(start: int, length: int) -> None:
    """flock_to_posix_lock's checks of [start, start+length) (length 0: to the end of file,
    negative: the bytes before ``start``)."""
    if length > 0 and length - 1 > OFF_T_MAX - start:
        raise os_error(errno.EOVERFLOW)
    if length < 0 and start + length < 0:
        raise os_error(errno.EINVAL)


class LockFunctions(FcntlFunctions):
    """os.lockf."""

    def lockf(self, fd: Any, command: Any, length: Any, /) -> None:
        """os.lockf: lock, test or unlock ``length`` bytes from the file offset."""
        fd, command, length = fd_arg(fd), int_arg(command), off_t_arg(length)
        sys.audit("os.lockf", fd, command, length)
        if command not in (F_ULOCK, F_LOCK, F_TLOCK, F_TEST):
            raise os_error(errno.EINVAL)
        description = self._description(fd)
        if isinstance(description, HostDescription):
            posix.lockf(description.fd, command, length)
            return
        check_range(file_position(description), length)
        if command in (F_LOCK, F_TLOCK) and not writable(description):
            raise os_error(errno.EBADF)
        kind = {F_ULOCK: F_UNLCK, F_TEST: F_RDLCK}.get(command, F_WRLCK)
        key = file_key(description)
        low, high = lock_range(description, os.SEEK_CUR, 0, length)
        if command == F_TEST:
            if LOCKS.get_record(key, self, kind, low, high) is not None:
                raise os_error(errno.EACCES)
            return
        if kind != F_UNLCK:
            self._close_through_python()
        pid = posix.getpid()
        wait = command == F_LOCK
        LOCKS.set_record(key, self, kind, (low, high), pid=pid, wait=wait, process=True)
        if kind != F_UNLCK:
            HOST_PROCESSES.hit(command=command)
