"""Deprecated: the default managed file system is built by :mod:`posixbackend.defaultfs`.

It moved below the permissions (``Permissions.sandbox()`` builds one) so that they need not
import the switch; this name is kept for one release, and each name taken from it warns.
"""

from __future__ import annotations

import warnings

from posixbackend import defaultfs


def __getattr__(name: str) -> object:
    """Every name of :mod:`posixbackend.defaultfs`, with a DeprecationWarning."""
    value = getattr(defaultfs, name)  # AttributeError for a name it does not have
    warnings.warn(
        f"posixbackend.switch.defaultfs.{name} is now in posixbackend.defaultfs",
        DeprecationWarning,
        stacklevel=2,
    )
    return value
