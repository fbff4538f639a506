"""One path walk for every provider: namei over a small node-level protocol.

Linux resolves a path one component at a time from a starting directory (the root, the cwd or
a ``dir_fd``), and so does :class:`Walk`, over :class:`Nodes`, the few questions a tree of
nodes answers (look a name up in a directory, a node's kind, a link's content, a directory's
parent, whether it may be searched). The memory provider's inodes, the host's O_PATH
descriptors, the overlay's merged entries, the mount's (mount, inner node) pairs and a
path-only provider's canonical paths all implement it, so the rules for symbolic links,
``.``, ``..``, trailing slashes, ELOOP, ENAMETOOLONG, EACCES and ENOTDIR live here only.

A provider that only takes absolute paths holds directories by canonical path
(:class:`HeldPaths`), moved along by the renames made through it.
"""

from vfs.walk.held import HeldPath, HeldPaths
from vfs.walk.namei import Walk
from vfs.walk.nodes import Nodes
from vfs.walk.paths import PathNode, PathNodes

__all__ = ["HeldPath", "HeldPaths", "Nodes", "PathNode", "PathNodes", "Walk"]
