"""What fsspec implementations raise, translated into the OSError Linux gives for the call.

fsspec's own errors are the builtin OSError subclasses, often built with only a path (so
``errno`` is None); implementations also raise bare ``OSError``, ``ValueError``,
``NotImplementedError`` or even ``KeyError``. Every one becomes an OSError with a real errno
and the path the provider's caller gave as its file name.
"""

from __future__ import annotations

import errno

from vfs.errors import os_error

FOREIGN_ERRORS = (OSError, ValueError, NotImplementedError, KeyError)
"""What a call into an fsspec implementation may raise for a failed operation."""

_BY_CLASS: tuple[tuple[type[OSError], int], ...] = (
    (FileNotFoundError, errno.ENOENT),
    (FileExistsError, errno.EEXIST),
    (NotADirectoryError, errno.ENOTDIR),
    (IsADirectoryError, errno.EISDIR),
    (PermissionError, errno.EACCES),
    (TimeoutError, errno.ETIMEDOUT),
    (ConnectionError, errno.EIO),
)


def errno_of(error: BaseException, unsupported: int = errno.EOPNOTSUPP) -> int:
    """The errno that best describes ``error``; ``unsupported`` for NotImplementedError.

    An OSError keeps a real errno; one built without it is known by its class; a bare OSError
    is EIO. A ValueError (a bad mode or argument to the foreign library) is EINVAL and a
    KeyError (a missing member of an archive) ENOENT.
    """
    if isinstance(error, OSError):
        code = error.errno
        if isinstance(code, int) and code > 0:
            return code
        for kind, by_class in _BY_CLASS:
            if isinstance(error, kind):
                return by_class
        return errno.EIO
    if isinstance(error, NotImplementedError):
        return unsupported
    if isinstance(error, KeyError):
        return errno.ENOENT
    return errno.EINVAL


def foreign_error(
    error: BaseException,
    filename: str | None,
    filename2: str | None = None,
    unsupported: int = errno.EOPNOTSUPP,
) -> OSError:
    """The OSError to raise in place of ``error``, naming the caller's path(s)."""
    return os_error(errno_of(error, unsupported), filename, filename2)
