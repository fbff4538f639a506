"""An interpreter's view of the host: the host files a confined process may read, and how
the isolated child's minimal root shows them.

Computed outside the confined process (see :mod:`posixbackend.isolation.interpreterview`)
and handed to it as JSON; the child reads it and builds nothing else from the host.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import attrs


class RootEntry(NamedTuple):
    """One thing the minimal root holds: a directory on the way, a symbolic link met on the
    way (made again, with the same contents), or a host directory or file bound there.

    A named tuple rather than an attrs class: the isolated child makes a hundred of these
    from JSON as it starts, and a run must not start slower for it."""

    path: str
    kind: str
    """'directory', 'symlink' or 'bind'."""
    target: str = ""
    """A symbolic link's contents."""
    directory: bool = False
    """Whether a bound path is a directory."""


@attrs.frozen
class HostView:
    """Host paths a confined process may read: directories (with all below them) and files;
    and the layout of the minimal root that shows them, parents first (empty: not laid out).

    Paths are as the process names them (symbolic links in them unresolved)."""

    directories: tuple[str, ...]
    files: tuple[str, ...]
    root: tuple[RootEntry, ...] = ()

    def paths(self) -> tuple[str, ...]:
        """Every path of the view, directories first."""
        return (*self.directories, *self.files)

    def to_json(self) -> str:
        root = [list(entry) for entry in self.root]
        return json.dumps({"directories": self.directories, "files": self.files, "root": root})

    @classmethod
    def from_json(cls, text: str) -> HostView:
        data: Any = json.loads(text)
        root = tuple(
            RootEntry(str(path), str(kind), str(target), bool(directory))
            for path, kind, target, directory in data.get("root", ())
        )
        return cls(tuple(map(str, data["directories"])), tuple(map(str, data["files"])), root)
