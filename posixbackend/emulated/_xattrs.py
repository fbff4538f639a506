"""Extended attributes on the emulated backend: providers keep none.

Linux answers EOPNOTSUPP for the xattr calls on a file system without extended attributes
(after finding the file), and callers such as ``shutil.copystat`` expect exactly that; so do
these functions, with a gap logged when they are reached.
"""

from __future__ import annotations

import errno
from typing import Any, NoReturn

import compat
from posixbackend.emulated.args import PathArg, check_fd_and_follow_symlinks, int_arg, path_arg
from posixbackend.emulated.paths import PathFunctions, plain_absolute
from vfs.errors import named_error, os_error

NO_XATTRS = compat.declare(
    id="emulated.xattrs",
    function="os.getxattr",
    aspect="extended attributes",
    level=compat.Level.FINE,
    explanation="providers keep no extended attributes: the xattr functions fail with "
    "EOPNOTSUPP once the file is found, as on a Linux file system without them",
)


class XattrFunctions(PathFunctions):
    """os.getxattr, setxattr, removexattr and listxattr: the arguments converted as CPython
    converts them (path, attribute, value, flags; then fd with follow_symlinks), the file
    checked, then EOPNOTSUPP naming the path as the converter gave it."""

    def getxattr(self, path: Any, attribute: Any, *, follow_symlinks: bool = True) -> NoReturn:
        """os.getxattr."""
        target = path_arg(path, "getxattr", allow_fd=True)
        path_arg(attribute, "getxattr", argument="attribute")
        self._unsupported("getxattr", target, follow_symlinks)

    def setxattr(
        self,
        path: Any,
        attribute: Any,
        value: Any,
        flags: int = 0,
        *,
        follow_symlinks: bool = True,
    ) -> NoReturn:
        """os.setxattr."""
        target = path_arg(path, "setxattr", allow_fd=True)
        path_arg(attribute, "setxattr", argument="attribute")
        try:
            memoryview(value)  # a bytes-like value (Argument Clinic's Py_buffer)
        except TypeError:
            kind = type(value).__name__
            raise TypeError(f"a bytes-like object is required, not '{kind}'") from None
        int_arg(flags)
        self._unsupported("setxattr", target, follow_symlinks)

    def removexattr(self, path: Any, attribute: Any, *, follow_symlinks: bool = True) -> NoReturn:
        """os.removexattr."""
        target = path_arg(path, "removexattr", allow_fd=True)
        path_arg(attribute, "removexattr", argument="attribute")
        self._unsupported("removexattr", target, follow_symlinks)

    def listxattr(self, path: Any = None, *, follow_symlinks: bool = True) -> NoReturn:
        """os.listxattr (of the current directory when ``path`` is None)."""
        if follow_symlinks is True and plain_absolute(path):
            # shutil.copystat's call, once per file copied: the path as it stands (nothing for
            # the converter to do), the stat's errors, then the refusal
            try:
                self.stat(path)
            except OSError as error:
                raise named_error(error, path) from None
            NO_XATTRS.hit(path=path)
            raise os_error(errno.EOPNOTSUPP, path)
        target = path_arg(path, "listxattr", allow_fd=True, nullable=True)
        self._unsupported("listxattr", target, follow_symlinks)

    def _unsupported(self, function: str, target: PathArg, follow_symlinks: bool) -> NoReturn:
        check_fd_and_follow_symlinks(function, target, follow_symlinks)
        name = target.original  # what CPython names: the converted path, the fd, or None
        try:  # ENOENT and friends first
            self.stat("." if name is None else name, follow_symlinks=follow_symlinks)
        except OSError as error:
            raise named_error(error, name) from None
        NO_XATTRS.hit(path=name)
        raise os_error(errno.EOPNOTSUPP, name)
