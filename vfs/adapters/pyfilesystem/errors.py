"""One table between PyFilesystem2's errors and Linux errno values, used in both directions.

Wrapped direction: an ``fs.errors.FSError`` becomes the OSError Linux would raise, naming the
path the caller gave (:func:`os_error_from`). Exposed direction: a provider's OSError becomes
the ``fs.errors`` class PyFilesystem2's own OSFS raises for it (:func:`fs_error_from`).
"""

from __future__ import annotations

import errno
from typing import cast

from vfs.adapters.pyfilesystem.library import fs_errors
from vfs.errors import os_error

ERRNO_OF: tuple[tuple[type[BaseException], int], ...] = (
    # Most specific classes first: the first class an error is an instance of decides.
    (fs_errors.ResourceNotFound, errno.ENOENT),
    (fs_errors.DirectoryExpected, errno.ENOTDIR),
    (fs_errors.FileExpected, errno.EISDIR),
    (fs_errors.DirectoryNotEmpty, errno.ENOTEMPTY),
    (fs_errors.ResourceReadOnly, errno.EROFS),
    (fs_errors.DirectoryExists, errno.EEXIST),
    (fs_errors.FileExists, errno.EEXIST),
    (fs_errors.DestinationExists, errno.EEXIST),
    (fs_errors.ResourceLocked, errno.EBUSY),
    (fs_errors.RemoveRootError, errno.EBUSY),
    (fs_errors.PermissionDenied, errno.EACCES),
    (fs_errors.InsufficientStorage, errno.ENOSPC),
    (fs_errors.Unsupported, errno.EOPNOTSUPP),
    (fs_errors.OperationTimeout, errno.ETIMEDOUT),
    (fs_errors.RemoteConnectionError, errno.ECONNRESET),
    (fs_errors.InvalidCharsInPath, errno.EINVAL),
    (fs_errors.InvalidPath, errno.EINVAL),
    (fs_errors.IllegalBackReference, errno.ENOENT),
    (fs_errors.ResourceInvalid, errno.EINVAL),
    (fs_errors.FilesystemClosed, errno.EIO),
    (fs_errors.FSError, errno.EIO),
)
"""fs.errors class -> errno, for errors that carry no errno of their own."""

_FS_ERROR_OF: dict[int, type[fs_errors.FSError]] = {
    errno.ENOENT: fs_errors.ResourceNotFound,
    errno.ENOTDIR: fs_errors.ResourceNotFound,
    errno.EISDIR: fs_errors.FileExpected,
    errno.ENOTEMPTY: fs_errors.DirectoryNotEmpty,
    errno.EROFS: fs_errors.ResourceReadOnly,
    errno.EEXIST: fs_errors.FileExists,
    errno.EBUSY: fs_errors.ResourceLocked,
    errno.EACCES: fs_errors.PermissionDenied,
    errno.EPERM: fs_errors.PermissionDenied,
    errno.ENOSPC: fs_errors.InsufficientStorage,
    errno.EDQUOT: fs_errors.InsufficientStorage,
    errno.EOPNOTSUPP: fs_errors.Unsupported,
    errno.ENOSYS: fs_errors.Unsupported,
    errno.ETIMEDOUT: fs_errors.OperationTimeout,
    errno.ECONNRESET: fs_errors.RemoteConnectionError,
    errno.ENETDOWN: fs_errors.RemoteConnectionError,
    errno.ENAMETOOLONG: fs_errors.PathError,
    errno.EINVAL: fs_errors.FileExpected,
}
"""errno -> fs.errors class for file operations, as fs.error_tools maps them for OSFS."""

_DIRECTORY_OVERRIDES: dict[int, type[fs_errors.FSError]] = {
    errno.ENOTDIR: fs_errors.DirectoryExpected,
    errno.EEXIST: fs_errors.DirectoryExists,
    errno.EINVAL: fs_errors.DirectoryExpected,
}
"""Where an operation on a directory maps an errno differently (fs.error_tools' DIR_ERRORS)."""

_RESOURCE_ERRORS = (fs_errors.ResourceError, fs_errors.PathError)


def errno_of(error: BaseException) -> int:
    """The errno an fs error stands for: the host's own when it wraps an OSError, else the table's.

    OSFS wraps the OSError it met (``error.exc``); its errno is the most faithful answer.
    """
    inner = getattr(error, "exc", None)
    if isinstance(inner, OSError) and inner.errno:
        return inner.errno
    for cls, code in ERRNO_OF:
        if isinstance(error, cls):
            return code
    return errno.EIO


def os_error_from(error: BaseException, filename: str, filename2: str | None = None) -> OSError:
    """The OSError for a PyFilesystem2 error, naming the caller's path(s)."""
    return os_error(errno_of(error), filename, filename2)


def fs_error_from(error: OSError, path: str, directory: bool = False) -> fs_errors.FSError:
    """The PyFilesystem2 error for a provider's OSError on ``path`` (OSFS's conventions)."""
    code = error.errno if error.errno is not None else errno.EIO
    cls = _DIRECTORY_OVERRIDES.get(code) if directory else None
    if cls is None:
        cls = _FS_ERROR_OF.get(code, fs_errors.OperationFailed)
    if issubclass(cls, _RESOURCE_ERRORS):
        return cls(path, exc=error)
    failed = cast(type[fs_errors.OperationFailed], cls)  # every other class in the table
    return failed(path=path, exc=error)
