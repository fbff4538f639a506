"""OSError construction with the errno and file names Linux reports for a failed call."""

from __future__ import annotations

import errno
import posix

from vfs.renamed import renamed_names


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


def named_error(error: OSError, filename: object, filename2: object = None) -> OSError:
    """The same error (errno and message), naming ``filename`` (and ``filename2``) instead of what
    the provider reported; an error without an errno becomes EIO.

    The fast form of :class:`errors_name`: ``except OSError as error: raise named_error(error,
    path) from None``. A ``try`` costs nothing until it raises, a ``with`` block ~0.3-0.5 us a
    call (an object, ``__enter__`` and ``__exit__``), 5-10% of an emulated os.chmod or mkdir:
    every per-call path of the backend and the providers uses this form."""
    if error.errno is None:
        return os_error(errno.EIO, filename, filename2)
    return os_error(error.errno, filename, filename2, error.strerror)


class errors_name:
    """A block whose OSError is raised again naming the caller's ``filename`` (and
    ``filename2``): the provider names the path it was given (an absolute, normalised one, or
    a layer's own), while Linux names the path the caller passed.

    The error raised is :func:`named_error`'s, as from ``raise ... from None`` in the block:
    no ``__cause__``, the provider's error kept as the suppressed ``__context__`` (its traceback
    has one more line, this ``__exit__``). For calls that are slow anyway (a copy-up, an
    adapter to another library); see :func:`named_error` for the per-call paths."""

    __slots__ = ("filename", "filename2")

    def __init__(self, filename: object, filename2: object = None) -> None:
        self.filename = filename
        self.filename2 = filename2

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: object
    ) -> None:
        if isinstance(error, OSError):
            raise named_error(error, self.filename, self.filename2) from None


__getattr__ = renamed_names(__name__, {"rename_error": "named_error"}, globals())
"""``rename_error``, the old name of :func:`named_error` (it read as "the error of rename()"),
for one release; the block form is :class:`errors_name`."""
