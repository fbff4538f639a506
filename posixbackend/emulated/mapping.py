"""mmap on emulated descriptors: the real descriptor a mapping of one is made from.

``mmap.mmap`` is C code that maps whatever real descriptor it is given, so an emulated
descriptor number must never reach it (the process's real descriptor with that number is
someone else's file). The backend hands the switch's ``mmap.mmap`` stand-in a real descriptor
of the *same file* instead: a provider's :meth:`~vfs.provider.Handle.mappable` (a host file's
own descriptor, a memory file's memfd), or the real descriptor behind a host description (the
standard streams, inherited ones). The real ``mmap`` then makes a real map over it, with the
kernel's own checks and errors.
"""

from __future__ import annotations

import errno
import fcntl
import posix

import attrs

from posixbackend.emulated.core import BackendCore
from posixbackend.emulated.descriptions import FileDescription, HostDescription
from posixbackend.emulated.hostfcntl import host_fcntl
from vfs.errors import os_error
from vfs.openflags import O_ACCMODE


@attrs.frozen(slots=True)
class MapTarget:
    """A real descriptor to map in place of an emulated one.

    ``fd`` is the caller's to close once the map is made. ``access`` is the emulated
    description's access mode; ``judged`` tells whether ``fd`` has that access mode itself
    (the kernel then judges the mapping) or a wider one (the caller must refuse what the
    kernel would refuse for ``access``: see :func:`access_error`).
    """

    fd: int
    access: int
    judged: bool


class MappingFunctions(BackendCore):
    """The real descriptor behind an emulated one, for ``mmap.mmap``."""

    def mapping_target(self, fd: int) -> MapTarget:
        """A new real descriptor of the file emulated descriptor ``fd`` is open on, for a
        mapping: EBADF when ``fd`` is not open (or is an O_PATH descriptor, as mmap(2) says),
        ENODEV for what cannot be mapped (pipes, directories, providers without real
        descriptors), as the kernel answers."""
        description = self._description(fd)
        flags = description.flags
        if flags & posix.O_PATH:
            raise os_error(errno.EBADF)
        access = flags & O_ACCMODE
        if isinstance(description, HostDescription):
            real = posix.dup(description.fd)
        elif isinstance(description, FileDescription):
            real = description.handle.mappable()
        else:
            raise os_error(errno.ENODEV)
        try:
            judged = host_fcntl(real, fcntl.F_GETFL, 0) & O_ACCMODE == access
        except BaseException:
            posix.close(real)
            raise
        return MapTarget(real, access, judged)

    def mapping_access(self, fd: int) -> int:
        """The access mode of emulated descriptor ``fd`` (EBADF when it is not open)."""
        return self._description(fd).flags & O_ACCMODE


def access_error(access: int, shared_write: bool) -> OSError | None:
    """What mmap(2) answers for a descriptor of access mode ``access`` before it looks at
    the file itself: EACCES for a shared writable map of a descriptor not open for writing,
    and for any map of one not open for reading; None when neither applies."""
    if shared_write and access not in (posix.O_WRONLY, posix.O_RDWR):
        return os_error(errno.EACCES)
    if access not in (posix.O_RDONLY, posix.O_RDWR):
        return os_error(errno.EACCES)
    return None
