"""What the merged view reports as device and inode numbers, and how a status is rewritten.

Every entry reports the overlay's own ``st_dev`` (as overlayfs does with ``xino``). A lower
entry keeps its inode number; an upper entry that was copied up from a lower directory or from
a lower file with a single link keeps the lower entry's number (its *origin*), so an inode
number survives copy-up as on overlayfs over one file system; any other upper entry reports
its upper number with the top bit set, so the two layers' numbers never collide.
"""

from __future__ import annotations

import itertools
import posix

import compat
from vfs.provider import DirEntryInfo

UPPER_ONLY = 1 << 63
"""Set in the inode number of an upper entry without a lower origin."""

INODE_NUMBERS = compat.declare(
    id="vfs.overlay.inode-numbers",
    function="os.stat",
    aspect="st_ino of files made in the overlay",
    level=compat.Level.FINE,
    explanation="files created in an overlay report their upper inode number with bit 63 set "
    "(so they never collide with lower numbers), where overlayfs over one file system reports "
    "the upper number unchanged",
)
_devices = itertools.count(1)


class Inodes:
    """The overlay's device number and the origins of copied-up entries."""

    __slots__ = ("device", "origins")

    def __init__(self) -> None:
        self.device = posix.makedev(0, 0x200 + next(_devices))
        self.origins: dict[int, int] = {}
        """Upper inode number -> the lower inode number it was copied up from."""

    def number(self, ino: int, on_upper: bool) -> int:
        """The inode number the merged view reports for a layer's inode ``ino``."""
        if not on_upper:
            return ino
        origin = self.origins.get(ino)
        if origin is None:
            INODE_NUMBERS.hit(ino=ino)
            return ino | UPPER_ONLY
        return origin

    def present(
        self, st: posix.stat_result, on_upper: bool, links: int | None = None
    ) -> posix.stat_result:
        """``st`` as the merged view shows it: own device, merged inode number, ``links``."""
        return posix.stat_result(
            (
                st.st_mode, self.number(st.st_ino, on_upper), self.device,
                st.st_nlink if links is None else links, st.st_uid, st.st_gid, st.st_size,
                st[7], st[8], st[9], st.st_atime, st.st_mtime, st.st_ctime,
                st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns,
                st.st_blksize, st.st_blocks, st.st_rdev,
            )
        )  # fmt: skip

    def entry(self, info: DirEntryInfo, on_upper: bool) -> DirEntryInfo:
        """A directory entry of one layer, with the inode number the merged view reports."""
        if not on_upper:
            return info
        return DirEntryInfo(info.name, info.type, self.number(info.inode, True))
