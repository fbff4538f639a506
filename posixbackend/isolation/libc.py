"""The C library, for the confinement steps Python has no function for (on 3.11: unshare too).

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


def syscall(number: int, *args: object) -> int:
    """A system call by number, for those the C library has no wrapper for (int arguments
    are passed as C longs: syscall(2) takes its arguments as such)."""
    passed = [ctypes.c_long(arg) if isinstance(arg, int) else arg for arg in args]
    result: int = LIBC.syscall(ctypes.c_long(number), *passed)
    return checked(result, f"syscall {number}")
