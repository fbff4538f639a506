"""``mkdir -p`` on anything that has ``stat`` and ``mkdir`` (a provider, a backend)."""

from __future__ import annotations

import os
import posixpath
from typing import Protocol


class MakesDirectories(Protocol):
    """What :func:`make_directories` calls: a provider's or a backend's stat and mkdir."""

    def stat(self, path: str, /) -> os.stat_result: ...

    def mkdir(self, path: str, mode: int, /) -> None: ...


def make_directories(where: MakesDirectories, path: str, mode: int = 0o777) -> list[str]:
    """Make each missing directory of ``path`` with ``mode`` (less the umask
    where ``where`` applies one), top down; the directories made, in that order.

    The scan goes up from ``path`` to the first name that exists (one stat where all do). A
    name that exists is passed over whatever it is (a file's ENOTDIR is for the next mkdir
    below it, or the caller's next step, to report), as is a directory another thread makes
    meanwhile; any other error is raised, the directories made so far kept, as ``mkdir -p``
    leaves them."""
    missing: list[str] = []
    current = path.rstrip("/")  # a relative path ends at "", an absolute one at "/"
    while current:
        try:
            where.stat(current)
        except (FileNotFoundError, NotADirectoryError):  # below a file: mkdir names the first
            missing.append(current)
            current = posixpath.dirname(current).rstrip("/")
            continue
        break
    made: list[str] = []
    for directory in reversed(missing):
        try:
            where.mkdir(directory, mode)
        except FileExistsError:
            continue
        made.append(directory)
    return made
