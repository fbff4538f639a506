"""OverlayFileSystem: copy-on-write over a lower provider, and the list of what it changed."""

from vfs.overlay.changes import Change, ChangeSet
from vfs.overlay.filesystem import OverlayFileSystem

__all__ = ["Change", "ChangeSet", "OverlayFileSystem"]
