"""For test authors: a managed file system per test, as a pytest fixture, a decorator or a
unittest mixin, with the set-up calls pyfakefs's users know (see posixbackend/testing/README.md).

The pytest plugin (:mod:`posixbackend.testing.plugin`) is registered through the ``pytest11``
entry point: installing the package is enough (``-p no:posixbackend`` turns it off).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from posixbackend.testing.decorator import managed_fs
    from posixbackend.testing.helper import ManagedFs
    from posixbackend.testing.testcase import ManagedFsTestCase

__all__ = ["ManagedFs", "ManagedFsTestCase", "managed_fs"]
_HOMES = {
    "ManagedFs": "posixbackend.testing.helper",
    "ManagedFsTestCase": "posixbackend.testing.testcase",
    "managed_fs": "posixbackend.testing.decorator",
}


def __getattr__(name: str) -> Any:
    """The public names, imported when first used: the pytest plugin (a module of this
    package) is loaded by every pytest run, most of which use none of them."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
