"""Capacity accounting: bytes of file data and number of inodes, with optional limits.

A write that would pass a limit fails before anything changes, with ENOSPC (a full device) or,
if asked, EDQUOT (a user's quota).
"""

from __future__ import annotations

import errno

from vfs.errors import os_error

QUOTA_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
UNLIMITED_BLOCKS = 1 << 28
"""f_blocks reported without a byte limit: 1 TiB in 4 KiB blocks."""
UNLIMITED_FILES = 1 << 24
"""f_files reported without an inode limit."""


class Space:
    """Bytes and inodes in use against optional limits; callers hold the file system lock."""

    __slots__ = ("error", "max_bytes", "max_files", "used_bytes", "used_files")

    def __init__(
        self, max_bytes: int | None, max_files: int | None, error: int = errno.ENOSPC
    ) -> None:
        if error not in QUOTA_ERRNOS:
            raise ValueError("quota_errno must be errno.ENOSPC or errno.EDQUOT")
        for name, limit in (("max_bytes", max_bytes), ("max_files", max_files)):
            if limit is not None and (not isinstance(limit, int) or limit < 0):
                raise ValueError(f"{name} must be a non-negative int or None, not {limit!r}")
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.error = error
        self.used_bytes = 0
        self.used_files = 0

    def grow(self, delta: int, filename: str | None = None) -> None:
        """Reserve ``delta`` more bytes of file data, or raise without reserving any."""
        limit = self.max_bytes
        if limit is not None and self.used_bytes + delta > limit:
            raise os_error(self.error, filename)
        self.used_bytes += delta

    def shrink(self, delta: int) -> None:
        """Give back ``delta`` bytes."""
        self.used_bytes -= delta

    def add_file(self, filename: str | None = None, filename2: str | None = None) -> None:
        """Reserve one inode, or raise."""
        limit = self.max_files
        if limit is not None and self.used_files >= limit:
            raise os_error(self.error, filename, filename2)
        self.used_files += 1

    def remove_file(self) -> None:
        """Give back one inode."""
        self.used_files -= 1

    def totals(self) -> tuple[int, int, int, int]:
        """(total blocks, free blocks, total inodes, free inodes) for statvfs."""
        blocks = UNLIMITED_BLOCKS if self.max_bytes is None else self.max_bytes // 4096
        used_blocks = (self.used_bytes + 4095) // 4096
        files = UNLIMITED_FILES if self.max_files is None else self.max_files
        return blocks, max(blocks - used_blocks, 0), files, max(files - self.used_files, 0)
