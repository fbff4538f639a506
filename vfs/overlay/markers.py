"""Whiteouts and opaque directories: the overlay's own record of what hides the lower layer.

Linux overlayfs keeps these in the upper layer itself (a 0/0 character device per whiteout,
the ``trusted.overlay.opaque`` xattr per opaque directory). Providers have neither mknod nor
xattrs, so the overlay keeps them here, keyed by canonical merged path (no symbolic links, no
``.``/``..``). Invariant: no marker lies strictly below a whiteout or an opaque directory, since
nothing of the lower layer shows there anyway. The owning overlay's lock guards every call.
"""

from __future__ import annotations


def below(path: str, prefix: str) -> bool:
    """Whether the canonical ``path`` lies strictly inside the directory ``prefix``."""
    if prefix == "/":
        return path != "/"
    return path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] == "/"


class Markers:
    """The set of whiteouts (deleted lower entries) and opaque directories (lower hidden)."""

    __slots__ = ("opaque", "partial", "whiteouts")

    def __init__(self) -> None:
        self.whiteouts: set[str] = set()
        self.opaque: set[str] = set()
        self.partial: set[str] = set()
        """Upper entries a copy-up made and has not published yet: the merged view, changes()
        and apply() act as if they were not there (see vfs.overlay.copyup)."""

    def copy(self) -> Markers:
        """A copy to change ahead of a step, then :meth:`adopt` in one go."""
        other = Markers()
        other.whiteouts = set(self.whiteouts)
        other.opaque = set(self.opaque)
        return other

    def adopt(self, other: Markers) -> None:
        """Take ``other``'s whiteouts and opaque directories: two stores, no call between
        them, so an asynchronous exception cannot leave half of a step's markers."""
        self.whiteouts, self.opaque = other.whiteouts, other.opaque

    def whiteout(self, path: str) -> None:
        """``path`` was removed: hide the lower entry there and forget markers beneath it."""
        self.opaque.discard(path)
        self._purge_below(path)
        self.whiteouts.add(path)

    def make_opaque(self, path: str) -> None:
        """The upper directory ``path`` hides all of the lower directory of that name."""
        self.whiteouts.discard(path)
        self._purge_below(path)
        self.opaque.add(path)

    def covered(self, path: str) -> None:
        """A non-directory now exists at ``path`` in the upper layer: its whiteout is moot."""
        self.whiteouts.discard(path)
        self.opaque.discard(path)
        self._purge_below(path)

    def _purge_below(self, prefix: str) -> None:
        for markers in (self.whiteouts, self.opaque):
            stale = [path for path in markers if below(path, prefix)]
            markers.difference_update(stale)
