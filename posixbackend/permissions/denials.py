"""The errors a denied call raises: PermissionError naming the operation and the permission.

``os.fork is not permitted: grant allow_create_process`` -- the message a GraalPy context
gives, with the errno Linux would use for a refusal of that kind (EPERM for operations,
EACCES for file access) and, for file operations, the file name as OSError carries it.
"""

from __future__ import annotations

import enum
import errno
import posix
from typing import Any


def denied(
    operation: str,
    permission: str,
    *,
    code: int = errno.EPERM,
    filename: Any = None,
    filename2: Any = None,
) -> PermissionError:
    """The PermissionError for ``operation`` refused until ``permission`` is granted."""
    message = f"{operation} is not permitted: grant {permission}"
    if filename is None:
        return PermissionError(code, message)
    return PermissionError(code, message, filename, None, filename2)


def widening(permission: str, asked: Any, granted: Any) -> PermissionError:
    """The PermissionError of a nested block asking for more than its outer block has."""
    return PermissionError(
        errno.EPERM,
        f"{posix.strerror(errno.EPERM)}: a nested block cannot widen {permission} "
        f"(asked for {_shown(asked)}, the outer block grants {_shown(granted)})",
    )


def _shown(value: Any) -> str:
    """A grant as the message shows it ('all', 'none', a provider's repr, a pattern list)."""
    return repr(value.value) if isinstance(value, enum.Enum) else repr(value)
