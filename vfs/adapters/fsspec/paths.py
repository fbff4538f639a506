"""Provider paths resolved by their names alone, for stores that have no symbolic links.

Without links, ``..`` can be resolved by dropping the previous component, as long as that
component is a directory: Linux fails ``/file/..`` with ENOTDIR and ``/missing/..`` with
ENOENT. A :class:`Location` therefore keeps the prefixes that must be checked as directories
before the normalised path can be trusted.
"""

from __future__ import annotations

import attrs

from vfs.limits import check_path, name_too_long


@attrs.frozen(slots=True)
class Location:
    """A provider path reduced to components below the root, with what must be checked."""

    given: str
    parts: tuple[str, ...]
    must_be_dir: bool
    """The path ends in ``/``, ``.`` or ``..``: only a directory may answer it."""
    checks: tuple[tuple[str, ...], ...]
    """Prefixes walked through by ``.`` or ``..``, which must be existing directories."""
    too_long: int | None = None
    """Index in ``parts`` of the first component longer than NAME_MAX (ENAMETOOLONG once
    the lookup reaches it)."""


def locate(path: str) -> Location:
    """Resolve ``path`` by name (its checks are left to the lookup that uses it)."""
    check_path(path)
    too_long: int | None = None
    parts: list[str] = []
    checks: list[tuple[str, ...]] = []
    last = ""
    for component in path.split("/"):
        if not component:
            continue
        last = component
        if component in (".", ".."):
            checks.append(tuple(parts))
            if component == ".." and parts:
                parts.pop()
            continue
        if too_long is None and name_too_long(component):
            too_long = len(parts)
        parts.append(component)
    must_be_dir = path.endswith("/") or last in (".", "..")
    return Location(path, tuple(parts), must_be_dir, tuple(dict.fromkeys(checks)), too_long)
