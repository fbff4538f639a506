"""One name of the merged tree, as the two layers show it."""

from __future__ import annotations

import posix
import stat as _stat

import attrs


@attrs.frozen(slots=True)
class Entry:
    """The entry at canonical merged path ``path``.

    ``upper`` is its lstat in the upper layer, ``lower`` its lstat in the lower layer when the
    lower entry is visible there (not whited out, not under an opaque directory), even if the
    upper one covers it: removing the upper entry must then leave a whiteout. ``lower_below``
    says whether the lower directory's contents show through (a lower directory that no upper
    non-directory and no opaque marker covers).
    """

    path: str
    upper: posix.stat_result | None
    lower: posix.stat_result | None
    lower_below: bool

    @property
    def top(self) -> posix.stat_result:
        """The status of what the merged view shows: the upper entry if any, else the lower."""
        upper = self.upper
        if upper is not None:
            return upper
        assert self.lower is not None
        return self.lower

    @property
    def kind(self) -> int:
        """The file type bits of the entry shown."""
        return _stat.S_IFMT(self.top.st_mode)

    @property
    def is_dir(self) -> bool:
        """Whether the merged entry is a directory."""
        return self.kind == _stat.S_IFDIR

    @property
    def is_symlink(self) -> bool:
        """Whether the merged entry is a symbolic link."""
        return self.kind == _stat.S_IFLNK

    @property
    def upper_is_dir(self) -> bool:
        """Whether the upper layer holds a directory here (children may live in upper)."""
        return self.upper is not None and _stat.S_ISDIR(self.upper.st_mode)

    @property
    def merged(self) -> bool:
        """A directory present in both layers whose lower contents show (overlayfs "merge")."""
        return self.lower_below and self.upper is not None
