"""os.lockf: POSIX record locks, as seen from inside the emulated process.

POSIX record locks belong to a process, and a process's own locks never conflict with each
other: within the emulated process every lock request that Linux would accept succeeds at
once, and F_TEST finds no conflicting lock. So lockf checks what glibc and the kernel check,
in their order -- an unknown command is EINVAL before the descriptor is looked up; a range
that starts before offset 0 is EINVAL, one that ends past the largest offset EOVERFLOW;
F_LOCK and F_TLOCK need a descriptor open for writing (EBADF) -- and then succeeds. Other
processes do not see these locks, nor does the backend see theirs (a gap). Host descriptors
(the standard streams) take real locks.
"""

from __future__ import annotations

import errno
import posix
import sys
from typing import Any, Final

import compat
from posixbackend.emulated.args import fd_arg, int_arg, off_t_arg
from posixbackend.emulated.core import BackendCore
from posixbackend.emulated.descriptions import HostDescription, file_position, writable
from vfs.errors import os_error

F_ULOCK: Final = 0
F_LOCK: Final = 1
F_TLOCK: Final = 2
F_TEST: Final = 3
OFF_T_MAX: Final = (1 << 63) - 1

LOCKS_IN_PROCESS = compat.declare(
    id="emulated.lockf.in_process",
    function="os.lockf",
    aspect="locks between processes",
    level=compat.Level.INFO,
    explanation="record locks are kept within the emulated process, where they never "
    "conflict: other processes do not see them, and F_TEST and F_LOCK do not see theirs",
)


def check_range(start: int, length: int) -> None:
    """flock_to_posix_lock's checks of [start, start+length) (length 0: to the end of file,
    negative: the bytes before ``start``)."""
    if length > 0 and length - 1 > OFF_T_MAX - start:
        raise os_error(errno.EOVERFLOW)
    if length < 0 and start + length < 0:
        raise os_error(errno.EINVAL)


class LockFunctions(BackendCore):
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
        if command != F_ULOCK:
            LOCKS_IN_PROCESS.hit(command=command)
