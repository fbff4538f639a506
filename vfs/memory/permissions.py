"""Linux's discretionary access checks, by mode bits, for one identity.

Root passes read and write checks always, and execute checks on directories or on files with
at least one execute bit (CAP_DAC_OVERRIDE); everyone else is judged by the owner, group or
other bits, the first class that matches.
"""

from __future__ import annotations

from vfs.identity import Identity
from vfs.memory.nodes import S_IFDIR, S_IFMT, Directory, Inode

R_OK, W_OK, X_OK = 4, 2, 1
S_ISUID, S_ISGID, S_ISVTX, S_IXGRP = 0o4000, 0o2000, 0o1000, 0o010


def permitted(node: Inode, who: Identity, want: int) -> bool:
    """Whether ``who`` may read (4), write (2) and/or execute or search (1) ``node``."""
    mode = node.mode
    if who.uid == 0:
        return not (want & X_OK) or (mode & S_IFMT) == S_IFDIR or bool(mode & 0o111)
    if who.uid == node.uid:
        bits = mode >> 6
    elif who.gid == node.gid or node.gid in who.groups:
        bits = mode >> 3
    else:
        bits = mode
    return bits & want == want


def owns(node: Inode, who: Identity) -> bool:
    """Whether ``who`` may act as the owner of ``node`` (the owner, or root: CAP_FOWNER)."""
    return who.uid in (0, node.uid)


def sticky_forbids(directory: Directory, node: Inode, who: Identity) -> bool:
    """Whether the sticky bit on ``directory`` stops ``who`` removing or renaming ``node``."""
    return bool(directory.mode & S_ISVTX) and who.uid not in (0, node.uid, directory.uid)


def may_keep_setgid(gid: int, who: Identity) -> bool:
    """Whether a mode change by ``who`` may keep S_ISGID on a file of group ``gid``."""
    return who.uid == 0 or who.in_group(gid)


def privileges_dropped(mode: int) -> int:
    """``mode`` without the bits a write or chown by an unprivileged user clears.

    S_ISUID always goes; S_ISGID only with group execute (otherwise it marks mandatory locking).
    """
    mode &= ~S_ISUID
    if mode & S_IXGRP:
        mode &= ~S_ISGID
    return mode
