"""The C library, for the confinement steps Python has no function for (on 3.11: unshare and
setns too;
mount, umount2 and pivot_root for the isolated child's minimal root).

Every call goes through :func:`checked`, which turns C's ``-1`` and ``errno`` into the OSError
subclass ``os`` would raise, so each confinement step fails like any other system call.
"""

from __future__ import annotations

import ctypes
import os
from typing import Final

LIBC: Final = ctypes.CDLL(None, use_errno=True)
"""The C library the interpreter is linked with (its symbols, by name)."""

LIBC.syscall.restype = ctypes.c_long
LIBC.prctl.restype = ctypes.c_int
LIBC.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
LIBC.unshare.restype = ctypes.c_int
LIBC.unshare.argtypes = [ctypes.c_int]
LIBC.mount.restype = ctypes.c_int
LIBC.mount.argtypes = [
    ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p
]
LIBC.umount2.restype = ctypes.c_int
LIBC.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
LIBC.setns.restype = ctypes.c_int
LIBC.setns.argtypes = [ctypes.c_int, ctypes.c_int]

MACHINE: Final = os.uname().machine
"""The kernel's name for the processor architecture ('x86_64', 'aarch64'...)."""


def checked(result: int, what: str) -> int:
    """``result`` of a C call, or the OSError its errno names (``what`` says which call)."""
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """prctl(2)."""
    return checked(LIBC.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


def unshare(flags: int) -> None:
    """unshare(2) (``os.unshare`` exists only from Python 3.12)."""
    checked(LIBC.unshare(flags), "unshare")


def setns(fd: int, kind: int) -> None:
    """setns(2) (``os.setns`` exists only from Python 3.12)."""
    checked(LIBC.setns(fd, kind), "setns")


def mount(
    source: str | None, target: str, kind: str | None, flags: int, data: str | None = None
) -> None:
    """mount(2); the OSError names the target."""
    encoded = [None if text is None else os.fsencode(text) for text in (source, kind, data)]
    result = LIBC.mount(encoded[0], os.fsencode(target), encoded[1], flags, encoded[2])
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, f"mount {target}: {os.strerror(code)}")


def umount2(target: str, flags: int) -> None:
    """umount2(2)."""
    checked(LIBC.umount2(os.fsencode(target), flags), f"umount2 {target}")


def syscall(number: int, *args: object) -> int:
    """A system call by number, for those the C library has no wrapper for (int arguments
    are passed as C longs: syscall(2) takes its arguments as such)."""
    passed = [ctypes.c_long(arg) if isinstance(arg, int) else arg for arg in args]
    result: int = LIBC.syscall(ctypes.c_long(number), *passed)
    return checked(result, f"syscall {number}")
