"""Every capability dropped: effective, permitted, inheritable, ambient and bounding sets.

In a user namespace the child holds all capabilities over that namespace (its network
namespace, files owned by its mapped ids); without one, a root child holds them over the
host. Dropping them all leaves a process that owns what its uid owns and nothing more.
"""

from __future__ import annotations

import ctypes
import errno
from typing import Final

from posixbackend.isolation.libc import LIBC, checked, prctl

PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAP_LAST_CAP_BOUND = 64
"""More capability numbers than any kernel has: dropping stops at the first it does not know."""


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_CapSets = _CapData * 2
"""capset's two words of sets (made at import: ctypes makes a new array type on first use,
which would be each of a pool's children's ~50 us)."""
_NO_CAPABILITIES: Final = (_CapHeader(LINUX_CAPABILITY_VERSION_3, 0), _CapSets())
"""capset's arguments for this process (pid 0), every set empty: made once (a pool's zygote
makes them for its children; the kernel only reads them, as the version is one it knows)."""
LIBC.capset.restype = ctypes.c_int
"""(Looked up at import: CDLL makes a function object at an attribute's first look-up and
keeps it, which would be each of a pool's children's, with ~10 copied pages.)"""


def drop_capabilities() -> None:
    """Empty every capability set of this thread (the bounding set first: that needs
    CAP_SETPCAP, which the last step takes away; a process without it has no capability
    to lose, and the bounding set only matters to execve, which the child never reaches)."""
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    # The bounding set has no call that empties it (entering a user namespace fills it
    # again, so a zygote cannot drop it once for its children): one prctl per capability,
    # ~41, made with the bare C function (no wrapper per call; the error path is checked's).
    drop = LIBC.prctl
    for capability in range(CAP_LAST_CAP_BOUND):
        if drop(PR_CAPBSET_DROP, capability, 0, 0, 0) == 0:
            continue
        code = ctypes.get_errno()
        if code == errno.EINVAL and capability:  # past the kernel's last one
            break
        if code == errno.EPERM:  # not privileged: the set cannot be changed
            break
        checked(-1, f"prctl({PR_CAPBSET_DROP})")  # raises the OSError errno names
    header, data = _NO_CAPABILITIES
    checked(LIBC.capset(ctypes.byref(header), data), "capset")
