"""``socket.socket(fileno=N)`` while an emulated backend serves.

The socket module is the host's, and ``fileno=N`` would wrap the process's real descriptor
N, which the emulated program does not own (its descriptor N, if it has one, is a file or a
pipe of the backend). So the switch's audit hook refuses it there with the error Linux gives
for that number as the emulated process sees it: ENOTSOCK when the backend's table holds N
(no emulated descriptor is a socket), EBADF when it does not. The standard library's own ways
of wrapping a socket it already holds (accept, dup, socketpair, ssl) stay allowed.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import types
from typing import Any

from posixbackend.permissions.checks import descriptor_makers


def check_new_socket(backend: Any, frame: types.FrameType | None) -> None:
    """Refuse a socket made from a descriptor number the program gave (see the module)."""
    if frame is None or frame.f_code is not socket.socket.__init__.__code__:
        return  # _socket.socket made directly: handled as the host's (gap switch.host_sockets)
    fileno = frame.f_locals.get("fileno")
    if fileno is None or _made_by_the_standard_library(frame.f_back):
        return
    code = errno.ENOTSOCK if _held(backend, fileno) else errno.EBADF
    raise OSError(code, os.strerror(code))


def _held(backend: Any, fileno: object) -> bool:
    """Whether the backend's table holds the descriptor ``fileno``."""
    if not isinstance(fileno, int) or fileno < 0:
        return False
    try:
        backend.fcntl_fcntl(fileno, fcntl.F_GETFD)
    except OSError:
        return False
    return True


def _made_by_the_standard_library(maker: types.FrameType | None) -> bool:
    return maker is not None and maker.f_code in descriptor_makers()
