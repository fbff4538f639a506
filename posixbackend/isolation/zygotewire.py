"""The messages between a pool and its zygote: fixed-size records on a SOCK_SEQPACKET pair.

The pool asks, the zygote answers, one exchange at a time. ``spawn`` carries the guest's five
descriptors (stdin, stdout, stderr, request, result) as SCM_RIGHTS and nothing else of the
guest's (its request goes to the forked child through its own pipe, after the fork); the
answer is ``spawned`` with the child's pid, or ``spawn_failed`` with the errno. ``reap``
names a pid the pool has seen exit; the answer is ``reaped`` with its wait status and CPU
times, or ``unknown`` for a pid that is not the zygote's child. The zygote says ``ready`` once
it has warmed up, or ``broken`` with its error's text if it could not. The zygote never runs
guest code, so both sides trust these records; they are still parsed strictly. The modules a
zygote preloads are named on its command line, checked by :func:`preload_names` on both sides.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Final

SPAWN: Final = b"S"
REAP: Final = b"R"
READY: Final = b"Y"
BROKEN: Final = b"B"
SPAWNED: Final = b"P"
SPAWN_FAILED: Final = b"F"
REAPED: Final = b"W"
UNKNOWN: Final = b"U"

PID = struct.Struct("=q")
"""A pid (the payload of reap, spawned and unknown), or an errno (spawn_failed)."""
REAP_RESULT = struct.Struct("=qidd")
"""pid, wait status, user and system CPU seconds (the payload of reaped)."""
FDS_PER_SPAWN: Final = 5
"""stdin, stdout, stderr, request, result: in this order."""
MAX_MESSAGE: Final = 4096
"""The longest record (a broken zygote's error text is cut to fit)."""


def pid_message(kind: bytes, pid: int) -> bytes:
    """``kind`` followed by ``pid`` (or an errno)."""
    return kind + PID.pack(pid)


def read_pid(message: bytes, kind: bytes) -> int:
    """The pid of a ``kind`` record; ValueError for any other record."""
    if message[:1] != kind or len(message) != 1 + PID.size:
        raise ValueError(f"expected a {kind!r} record, got {message[:40]!r}")
    (pid,) = PID.unpack(message[1:])
    return int(pid)


def preload_names(given: Iterable[str]) -> tuple[str, ...]:
    """``given`` as a tuple of absolute module names (``"json"``, ``"xml.dom.minidom"``),
    each once, in their order: TypeError for a str (a list of names is meant) or a name that
    is no str, ValueError for one that is no dotted run of identifiers. A name is all the
    zygote is ever given: it imports the module by it, and runs nothing else."""
    if isinstance(given, (str, bytes)):
        raise TypeError(f"preload takes a list of module names, not {type(given).__name__}")
    names: dict[str, None] = {}
    for name in given:
        if not isinstance(name, str):
            raise TypeError(f"a module name to preload must be a str, not {type(name).__name__}")
        if not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"not a module name to preload: {name!r}")
        names[name] = None
    return tuple(names)
