"""Bad arguments get exactly what real os gives: exception class, errno, message, file name.

Every function is called with a battery of wrong values in each of its argument positions,
natively (in a chrooted worker) and on the emulated backend, and the outcomes compared.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from posixbackend.emulated import EmulatedBackend
from tests.posixbackend.harness import OsRecorder, assert_same, run_on_both
from vfs import Identity, MemoryFileSystem

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the native side chroots: needs root")

BAD_FDS: list[Any] = [
    -1,
    -100,
    999,
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**63,
    2**70,
    "0",
    1.0,
    None,
    b"0",
]
BAD_INTS: list[Any] = [-1, 2**31, 2**63, 2**70, "1", 1.5, None]
BAD_SIZES: list[Any] = [-1, 2**63, 2**70, "1", 1.5, None]
"""Like BAD_INTS without 2**31, which is a valid size (and a 2 GiB file or read)."""
BAD_PATHS: list[Any] = [
    None,
    1.5,
    ["/"],
    "",
    "/nul\x00",
    b"/nul\x00",
    "relative-missing",
    b"/bytes-missing",
    "/missing/child",
    -1,
    2**40,
]
"""(True would be fd 1, whose file depends on who runs the tests.)"""
GOOD_FILE = "/f"
FD = 900
"""Our file's descriptor on both sides (low numbers belong to the native worker's plumbing)."""

CALLS: dict[str, list[Any]] = {  # each entry: (positional args, keyword args)
    "read": [((fd, 1), {}) for fd in BAD_FDS] + [((FD, n), {}) for n in BAD_SIZES],
    "write": [((fd, b"x"), {}) for fd in BAD_FDS] + [((FD, bad), {}) for bad in ("s", 1, None)],
    "close": [((fd,), {}) for fd in BAD_FDS],
    "lseek": [((fd, 0, 0), {}) for fd in BAD_FDS] + [((FD, 0, w), {}) for w in (-1, 5, 99, "0")],
    "fstat": [((fd,), {}) for fd in BAD_FDS],
    "dup": [((fd,), {}) for fd in BAD_FDS],
    "dup2": [((FD, fd), {}) for fd in BAD_FDS if fd not in (2**31 - 1,)],
    "ftruncate": [((fd, 0), {}) for fd in BAD_FDS] + [((FD, n), {}) for n in BAD_SIZES],
    "pread": [((FD, n, 0), {}) for n in BAD_SIZES] + [((FD, 1, n), {}) for n in BAD_INTS],
    "isatty": [((fd,), {}) for fd in BAD_FDS],
    "get_inheritable": [((fd,), {}) for fd in BAD_FDS],
    "fsync": [((fd,), {}) for fd in BAD_FDS],
    "pipe2": [((flags,), {}) for flags in (-1, 1, 2**31, "0", None)],
    "stat": [((path,), {}) for path in BAD_PATHS]
    + [((GOOD_FILE,), {"dir_fd": bad}) for bad in ("x", 1.5, 999, -7)]
    + [((FD,), {"dir_fd": FD}), ((FD,), {"follow_symlinks": False})],
    "lstat": [((path,), {}) for path in BAD_PATHS],
    "open": [((path, os.O_RDONLY), {}) for path in BAD_PATHS]
    + [((GOOD_FILE, flags), {}) for flags in BAD_INTS]
    + [((GOOD_FILE, os.O_RDONLY, mode), {}) for mode in BAD_INTS],
    "mkdir": [((path,), {}) for path in BAD_PATHS] + [(("/new",), {"mode": "x"})],
    "listdir": [((path,), {}) for path in BAD_PATHS] + [((fd,), {}) for fd in (999, 2**40)],
    "chmod": [((path, 0o644), {}) for path in BAD_PATHS] + [((GOOD_FILE, m), {}) for m in BAD_INTS],
    "chown": [((GOOD_FILE, uid, -1), {}) for uid in (-2, 2**32, 2**64, "0", 1.5, None)],
    "utime": [
        ((GOOD_FILE, (1, 2)), {"ns": (1, 2)}),
        ((GOOD_FILE, (1,)), {}),
        ((GOOD_FILE, [1, 2]), {}),
        ((GOOD_FILE,), {"ns": (1.5, 2)}),
        ((GOOD_FILE,), {"ns": None}),
        ((GOOD_FILE, (float("nan"), 1)), {}),
        ((GOOD_FILE, (1e300, 1)), {}),
        (("/missing",), {}),
    ],
    "access": [((path, os.F_OK), {}) for path in BAD_PATHS]
    + [((GOOD_FILE, m), {}) for m in BAD_INTS],
    "rename": [((path, "/x"), {}) for path in BAD_PATHS[:6]]
    + [((GOOD_FILE, p), {}) for p in BAD_PATHS[:6]],
    "symlink": [((target, "/l"), {}) for target in (None, 1, "", "x" * 5000, "a\x00")],
    "truncate": [((GOOD_FILE, n), {}) for n in BAD_SIZES] + [((path, 0), {}) for path in BAD_PATHS],
    "readlink": [((path,), {}) for path in BAD_PATHS],
    "putenv": [((k, "v"), {}) for k in ("", "A=B", "A\x00", 1, None)]
    + [(("K", v), {}) for v in ("\x00", 1)],
    "umask": [((mask,), {}) for mask in ("0", None, 1.5)],
}


def battery(d: OsRecorder) -> None:
    fd = d.raw("open", (GOOD_FILE, os.O_RDWR | os.O_CREAT, 0o644), {})
    d.raw("dup2", (fd, FD), {})
    d.raw("close", (fd,), {})
    for name, calls in CALLS.items():
        for args, kwargs in calls:
            if name in ("close", "dup2", "ftruncate") and d.raw("fstat", (FD,), {}) is None:
                d.raw("dup2", (d.raw("open", (GOOD_FILE, os.O_RDWR), {}), FD), {})
            getattr(d, name)(*args, **kwargs)


def test_bad_arguments_match_native() -> None:
    def make(root: str) -> EmulatedBackend:
        return EmulatedBackend(MemoryFileSystem(identity=Identity.root()))

    native, emulated = run_on_both(battery, make)
    assert_same(native, emulated)
