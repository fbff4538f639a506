"""Deprecated: the default managed file system is built by :mod:`posixbackend.defaultfs`.

It moved below the permissions (``Permissions.sandbox()`` builds one) so that they need not
import the switch; this name is kept for one release, and each name taken from it warns.
"""

from __future__ import annotations

from posixbackend import defaultfs
from vfs.renamed import moved_module

__getattr__ = moved_module(__name__, defaultfs)
