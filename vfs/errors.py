"""OSError construction with the errno and file names Linux reports for a failed call."""

from __future__ import annotations

import errno
import posix


def os_error(code: int, filename: object = None, filename2: object = None) -> OSError:
    """Build the OSError subclass Python raises for ``code`` (FileNotFoundError for ENOENT...).

    File names are what the caller gave (str, bytes, or an int for a descriptor used as a path).
    """
    message = posix.strerror(code)
    if filename2 is None:
        if filename is None:
            return OSError(code, message)
        return OSError(code, message, filename)
    return OSError(code, message, filename, None, filename2)


def rename_error(error: OSError, filename: object, filename2: object = None) -> OSError:
    """The same error, naming ``filename`` (and ``filename2``) instead of what the host reported."""
    return os_error(error.errno if error.errno is not None else errno.EIO, filename, filename2)
