"""PyFilesystem2's modules, imported only after :func:`import_fs` made ``fs`` importable.

``fs`` 2.4.16 needs ``pkg_resources`` while its package imports; every module of this adapter
takes PyFilesystem2 from here, so none can import it first in a venv without setuptools.
"""

from __future__ import annotations

from vfs.adapters.fs2_import import import_fs

import_fs()

from fs import errors as fs_errors  # noqa: E402 - only once import_fs has run
from fs import path as fs_path  # noqa: E402
from fs.base import FS  # noqa: E402
from fs.enums import ResourceType  # noqa: E402
from fs.info import Info  # noqa: E402
from fs.mode import Mode  # noqa: E402
from fs.permissions import Permissions  # noqa: E402
from fs.subfs import SubFS  # noqa: E402

__all__ = ["FS", "Info", "Mode", "Permissions", "ResourceType", "SubFS", "fs_errors", "fs_path"]
