"""Extended attributes on the emulated backend: providers keep none.

Linux answers EOPNOTSUPP for the xattr calls on a file system without extended attributes
(after finding the file), and callers such as ``shutil.copystat`` expect exactly that; so do
these functions, with a gap logged when they are reached.
"""

from __future__ import annotations

import errno
from typing import Any, NoReturn

import compat
from posixbackend.emulated.args import int_arg
from posixbackend.emulated.paths import PathFunctions
from vfs.errors import os_error

NO_XATTRS = compat.declare(
    id="emulated.xattrs",
    function="os.getxattr",
    aspect="extended attributes",
    level=compat.Level.FINE,
    explanation="providers keep no extended attributes: the xattr functions fail with "
    "EOPNOTSUPP once the file is found, as on a Linux file system without them",
)


class XattrFunctions(PathFunctions):
    """os.getxattr, setxattr, removexattr and listxattr: the file is checked, then EOPNOTSUPP."""

    def getxattr(self, path: Any, attribute: Any, *, follow_symlinks: bool = True) -> NoReturn:
        """os.getxattr."""
        self._unsupported("getxattr", path, attribute, follow_symlinks)

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
        memoryview(value)  # a bytes-like value, else CPython's TypeError
        int_arg(flags)
        self._unsupported("setxattr", path, attribute, follow_symlinks)

    def removexattr(self, path: Any, attribute: Any, *, follow_symlinks: bool = True) -> NoReturn:
        """os.removexattr."""
        self._unsupported("removexattr", path, attribute, follow_symlinks)

    def listxattr(self, path: Any = None, *, follow_symlinks: bool = True) -> NoReturn:
        """os.listxattr (of the current directory when ``path`` is None)."""
        self._unsupported("listxattr", "." if path is None else path, None, follow_symlinks)

    def _unsupported(
        self, function: str, path: Any, attribute: Any, follow_symlinks: bool
    ) -> NoReturn:
        if attribute is not None and not isinstance(attribute, (str, bytes)):
            kind = type(attribute).__name__
            raise TypeError(
                f"{function}: attribute should be string, bytes or os.PathLike, not {kind}"
            )
        self.stat(path, follow_symlinks=follow_symlinks)  # ENOENT and friends first
        NO_XATTRS.hit(path=path)
        raise os_error(errno.EOPNOTSUPP, path)
