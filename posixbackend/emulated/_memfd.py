"""os.memfd_create: anonymous in-memory files (memfd_create(2)).

A memfd is a regular file with no name anywhere: st_nlink 0, mode 0o777 (0o666 with
MFD_NOEXEC_SEAL), owned by the backend's user, read and written like any file (read, write,
lseek, ftruncate, fstat, open() on its descriptor). As Linux keeps every memfd on one internal
tmpfs mount, the backend keeps them in one private MemoryFileSystem of its own, made at the
first call, whatever its provider is: they never appear in the backend's file system.

Not emulated: huge pages (MFD_HUGETLB, a gap) and fcntl's seals (F_ADD_SEALS). ``mmap`` of
one maps a real memfd holding its content, as for any memory file (:mod:`vfs.memory.mapped`).
"""

from __future__ import annotations

import errno
import posix
import threading
from typing import Any, Final

import compat
from posixbackend.emulated._unsigned import unsigned_int_bits_arg
from posixbackend.emulated.core import VIRTUAL_FDS, BackendCore
from posixbackend.emulated.descriptions import FileDescription
from posixbackend.emulated.spawnargs import fs_converter
from vfs import MemoryFileSystem
from vfs.errors import os_error

MFD_CLOEXEC: Final = 0x01
MFD_ALLOW_SEALING: Final = 0x02
MFD_HUGETLB: Final = 0x04
MFD_NOEXEC_SEAL: Final = 0x08
MFD_EXEC: Final = 0x10
MFD_ALL_FLAGS: Final = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC
MFD_HUGE_SIZES: Final = 0x3F << 26
"""MFD_HUGE_MASK << MFD_HUGE_SHIFT: the page size bits allowed with MFD_HUGETLB."""
MFD_NAME_MAX: Final = 249
"""NAME_MAX less the "memfd:" prefix: the longest name, in bytes."""
O_LARGEFILE: Final = 0o100000
"""What F_GETFL shows on a memfd besides O_RDWR (Python's os does not export it on x86-64)."""

HUGE_PAGES = compat.declare(
    id="emulated.memfd.hugetlb",
    function="os.memfd_create",
    aspect="MFD_HUGETLB",
    level=compat.Level.INFO,
    explanation="memory files on huge pages are not emulated: memfd_create with MFD_HUGETLB "
    "fails with EINVAL",
)

_store_lock = threading.Lock()
"""Makes a backend's memfd store once when two threads call memfd_create first together;
held only to test and set the attribute, never while a memfd is created or written."""


class MemfdFunctions(BackendCore):
    """os.memfd_create."""

    _memfd_store: MemoryFileSystem | None = None
    """Where this backend's memfds live (made at the first memfd_create)."""

    def memfd_create(self, name: Any, flags: Any = MFD_CLOEXEC) -> int:
        """os.memfd_create: a new anonymous regular file open for reading and writing,
        close-on-exec unless ``flags`` lacks MFD_CLOEXEC."""
        encoded = fs_converter(name)
        flags = unsigned_int_bits_arg(flags)
        allowed = MFD_ALL_FLAGS | (MFD_HUGE_SIZES if flags & MFD_HUGETLB else 0)
        if flags & ~allowed or (flags & MFD_EXEC and flags & MFD_NOEXEC_SEAL):
            raise os_error(errno.EINVAL)
        if len(encoded) > MFD_NAME_MAX:
            raise os_error(errno.EINVAL)
        if flags & MFD_HUGETLB:
            HUGE_PAGES.hit(name=encoded)
            raise OSError(errno.EINVAL, "memfd_create: MFD_HUGETLB is not emulated")
        mode = 0o666 if flags & MFD_NOEXEC_SEAL else 0o777
        handle = self._memfd_files().open("/", posix.O_TMPFILE | posix.O_RDWR, mode)
        description = FileDescription(handle, posix.O_RDWR | O_LARGEFILE)
        try:
            fd = self._table.install(description, cloexec=bool(flags & MFD_CLOEXEC))
        except OSError:
            handle.close()
            raise
        if self._virtual_fds_unreported:
            self._virtual_fds_unreported = False
            VIRTUAL_FDS.hit()
        return fd

    def _memfd_files(self) -> MemoryFileSystem:
        """The backend's private file system for memfds, owned by its identity."""
        with _store_lock:
            store = self._memfd_store
            if store is None:
                store = self._memfd_store = MemoryFileSystem(identity=self._identity)
            return store
