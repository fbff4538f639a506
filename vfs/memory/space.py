"""Capacity accounting, as tmpfs does it: pages of file data and inodes, with optional limits.

``max_bytes`` is tmpfs's ``size=`` (rounded up to whole 4 KiB pages) and ``max_inodes`` its
``nr_inodes=``: the root directory takes one inode, every other file, directory and symbolic
link one more, and every hard link beyond a file's first name one more (tmpfs counts links,
since each pins memory). Data is counted in the pages allocated: a sparse file's holes cost
nothing, a long symbolic link (128 bytes or more) takes a page. Past a limit calls fail with
ENOSPC (a full device) or, if asked, EDQUOT (a user's quota); a write stops at the first page
that does not fit, as on tmpfs.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from vfs.errors import os_error
from vfs.memory.extents import PAGE_SIZE, page_count

if TYPE_CHECKING:
    from vfs.memory.mapped import MappedContent

QUOTA_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
UNLIMITED_BLOCKS = 1 << 28
"""f_blocks reported without a byte limit: 1 TiB in 4 KiB blocks."""
UNLIMITED_FILES = 1 << 24
"""f_files reported without an inode limit."""


def tmpfs_defaults(memory: int | None = None) -> tuple[int, int]:
    """(max_bytes, max_inodes) as a tmpfs mounted without ``size=`` and ``nr_inodes=`` gets
    them: half of ``memory`` for data and half as many inodes as it has pages, ``memory``
    being the machine's physical memory unless given. Whole pages, rounded down as
    mm/shmem.c does: an odd page count has no half page to give."""
    if memory is None:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    pages = memory // PAGE_SIZE // 2
    return pages * PAGE_SIZE, max(pages, 2)


class Space:
    """Pages and inodes in use against optional limits; callers hold the file system lock.

    ``used_pages`` is changed directly by whoever changes an allocation (see
    :class:`~vfs.memory.extents.Extents`), in the same steps; ask :meth:`room` first. The
    files in ``mapped`` (memfds, :mod:`vfs.memory.mapped`) may have allocated pages through a
    mapping since they were counted: :meth:`room` and :meth:`totals` count those first.
    """

    __slots__ = ("error", "mapped", "max_inodes", "max_pages", "used_inodes", "used_pages")
    # read by offset in posixbackend's C code
    __accelerated_slots__ = ("max_inodes", "max_pages", "used_inodes", "used_pages")

    def __init__(
        self, max_bytes: int | None, max_inodes: int | None, error: int = errno.ENOSPC
    ) -> None:
        if error not in QUOTA_ERRNOS:
            raise ValueError("quota_errno must be errno.ENOSPC or errno.EDQUOT")
        for name, limit, least in (("max_bytes", max_bytes, 0), ("max_inodes", max_inodes, 1)):
            if limit is not None and (type(limit) is not int or limit < least):
                raise ValueError(
                    f"{name} must be an int of at least {least} or None, not {limit!r}"
                )
        self.max_pages = None if max_bytes is None else page_count(max_bytes)
        self.max_inodes = max_inodes
        self.error = error
        self.used_pages = 0
        self.used_inodes = 1
        """The root directory's."""
        self.mapped: dict[MappedContent, None] = {}
        """The mapped files' contents, in the order they were mapped."""

    def room(self) -> int | None:
        """How many more pages may be allocated (None: no limit)."""
        limit = self.max_pages
        if limit is None:
            return None
        self.recount_mapped()
        return max(limit - self.used_pages, 0)

    def recount_mapped(self) -> None:
        """Count what mappings allocated in mapped files since they were last counted."""
        for mapped in list(self.mapped):
            mapped.recount()

    def full(self, filename: str | None = None) -> OSError:
        """The error of a call that needed more room than there is."""
        return os_error(self.error, filename)

    def reserve(self, pages: int, filename: str | None = None) -> None:
        """Count ``pages`` more as allocated, or raise without counting any."""
        limit = self.max_pages
        if limit is not None and self.used_pages + pages > limit:
            raise os_error(self.error, filename)
        self.used_pages += pages

    def check_inode(self, filename: str | None = None, filename2: str | None = None) -> None:
        """Raise unless one more inode may be taken."""
        limit = self.max_inodes
        if limit is not None and self.used_inodes >= limit:
            raise os_error(self.error, filename, filename2)

    def add_inode(self, filename: str | None = None, filename2: str | None = None) -> None:
        """Take one inode (a new file, or a new hard link), or raise."""
        limit = self.max_inodes
        if limit is not None and self.used_inodes >= limit:
            raise os_error(self.error, filename, filename2)
        self.used_inodes += 1

    def remove_inode(self) -> None:
        """Give back one inode."""
        self.used_inodes -= 1

    def totals(self) -> tuple[int, int, int, int]:
        """(total blocks, free blocks, total inodes, free inodes) for statvfs, in pages."""
        self.recount_mapped()
        blocks = UNLIMITED_BLOCKS if self.max_pages is None else self.max_pages
        files = UNLIMITED_FILES if self.max_inodes is None else self.max_inodes
        return (
            blocks,
            max(blocks - self.used_pages, 0),
            files,
            max(files - self.used_inodes, 0),
        )


__all__ = ["PAGE_SIZE", "Space", "tmpfs_defaults"]
