"""OSError construction with the errno and file names Linux reports for a failed call."""

from __future__ import annotations

import errno
import posix


def os_error(
    code: int, filename: object = None, filename2: object = None, message: str | None = None
) -> OSError:
    """Build the OSError subclass Python raises for ``code`` (FileNotFoundError for ENOENT...).

    File names are what the caller gave (str, bytes, or an int for a descriptor used as a path);
    the message is the system's for ``code`` unless one is given.
    """
    if message is None:
        message = posix.strerror(code)
    if filename2 is None:
        if filename is None:
            return OSError(code, message)
        return OSError(code, message, filename)
    return OSError(code, message, filename, None, filename2)


def rename_error(error: OSError, filename: object, filename2: object = None) -> OSError:
    """The same error (errno and message), naming ``filename`` (and ``filename2``) instead of what
    the provider reported; an error without an errno becomes EIO."""
    if error.errno is None:
        return os_error(errno.EIO, filename, filename2)
    return os_error(error.errno, filename, filename2, error.strerror)
