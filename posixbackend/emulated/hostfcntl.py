"""The real ``fcntl.fcntl``, for the library's own work on real descriptors.

Once the switch is installed, the fcntl module's functions are its stand-ins, which serve
the emulated backend's descriptor numbers while one serves; the library's own calls on the
process's real descriptors (duplicating a pipe end for a child, reading a host descriptor's
flags) must reach the kernel whatever serves, so they use this one.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from typing import Any, Final


def _real(function: Callable[..., Any]) -> Callable[..., Any]:
    """The function itself, or the real one a stand-in wraps."""
    wrapped: Callable[..., Any] = getattr(function, "__wrapped__", function)
    return wrapped


host_fcntl: Final[Callable[[int, int, int], int]] = _real(fcntl.fcntl)
"""fcntl.fcntl on a real descriptor, with an int argument."""

host_ioctl: Final[Callable[..., Any]] = _real(fcntl.ioctl)
"""fcntl.ioctl on a real descriptor."""
