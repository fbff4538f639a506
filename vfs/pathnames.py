"""Splitting a path into the directory to resolve and its last component, the way namei does.

Linux treats a last component of ``.``, ``..`` or a bare ``/`` specially: calls that create or
remove a name refuse them before any lookup, each with its own errno. ``ROOT`` stands for the
last component of a path made only of slashes.
"""

from __future__ import annotations

import errno

ROOT = "/"
"""The pseudo-name of the last component of ``/``, ``//``... (LAST_ROOT in the kernel)."""

SPECIAL_NAMES = frozenset({".", "..", ROOT})

_SPECIAL_ERRNO = {
    # Creating a name: mkdir, symlink, link, mknod (filename_create: type != LAST_NORM).
    "create": {".": errno.EEXIST, "..": errno.EEXIST, ROOT: errno.EEXIST},
    "rmdir": {".": errno.EINVAL, "..": errno.ENOTEMPTY, ROOT: errno.EBUSY},
    "unlink": {".": errno.EISDIR, "..": errno.EISDIR, ROOT: errno.EISDIR},
    "rename": {".": errno.EBUSY, "..": errno.EBUSY, ROOT: errno.EBUSY},
}


def split(path: str) -> tuple[str, str, bool]:
    """Split an absolute path into (directory, last component, had trailing slash).

    ``/a/b/`` gives ``("/a", "b", True)``; ``/`` gives ``("/", ROOT, False)``. The directory
    keeps any ``.``/``..``/symlink components for the resolver to walk.
    """
    stripped = path.rstrip("/")
    if not stripped:
        return "/", ROOT, False
    cut = stripped.rfind("/")
    head = stripped[:cut].rstrip("/") or "/"
    return head, stripped[cut + 1 :], len(stripped) != len(path)


def special_errno(operation: str, name: str) -> int | None:
    """The errno Linux gives ``operation`` for a ``.``/``..``/root last component, else None."""
    if name in SPECIAL_NAMES:
        return _SPECIAL_ERRNO[operation][name]
    return None
