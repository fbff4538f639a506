"""What changed in a file system between two moments: its trees compared entry by entry.

A tree is read through the provider itself (never ``os``), so it works inside or outside a
block. Entries are compared by kind, permission bits, owner and content (a link's target);
times are not compared (a file written with the same bytes is unchanged), so a directory is
"modified" only when its mode or owner changed (its added or removed entries are listed).
"""

from __future__ import annotations

import posix
import stat
from typing import Final

from vfs import FileSystem
from vfs.overlay.changes import Action, Change, kind_name

Entry = tuple[str, int, int, int, bytes | str | None]
"""(kind, permission bits, uid, gid, a file's content or a link's target)."""
CHUNK: Final = 1 << 20


def tree(fs: FileSystem, root: str = "/") -> dict[str, Entry]:
    """Every entry below ``root`` (itself included), by path."""
    entries: dict[str, Entry] = {}
    pending = [root]
    while pending:
        path = pending.pop()
        status = fs.stat(path, False)
        kind = kind_name(status.st_mode)  # the overlay's names: file, directory, symlink...
        content: bytes | str | None = None
        if kind == "file":
            content = _content(fs, path)
        elif kind == "symlink":
            content = fs.readlink(path)
        entries[path] = (kind, stat.S_IMODE(status.st_mode), status.st_uid, status.st_gid, content)
        if kind == "directory":
            prefix = "/" if path == "/" else path + "/"
            pending.extend(prefix + name for name in fs.listdir(path))
    return entries


def compare(before: dict[str, Entry], after: dict[str, Entry]) -> list[Change]:
    """The changes from ``before`` to ``after``, in path order."""
    found: list[Change] = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if old is None:
            assert new is not None
            found.append(Change(path, Action.CREATED, new[0]))
        elif new is None:
            found.append(Change(path, Action.DELETED, old[0]))
        else:
            found.append(Change(path, Action.MODIFIED, new[0]))
    return found


def _content(fs: FileSystem, path: str) -> bytes:
    try:  # the read leaves atime as it was where the caller may ask for that
        handle = fs.open(path, posix.O_RDONLY | getattr(posix, "O_NOATIME", 0))
    except PermissionError:
        handle = fs.open(path, posix.O_RDONLY)
    try:
        chunks = []
        offset = 0
        while chunk := handle.pread(CHUNK, offset):
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)
    finally:
        handle.close()
