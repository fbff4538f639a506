"""Old names kept for one release: a module's ``__getattr__`` that warns and gives the new
(a renamed name, or every name of a moved module)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any


def renamed_names(
    module: str, renamed: Mapping[str, str], namespace: Mapping[str, Any]
) -> Callable[[str], object]:
    """A ``__getattr__`` for ``module``: each old name of ``renamed`` gives the object now
    called by the new one (looked up in ``namespace``, the module's globals) with a
    DeprecationWarning; any other missing name is the usual AttributeError."""

    def __getattr__(name: str) -> object:
        new = renamed.get(name)
        if new is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(f"{module}.{name} is now {new}", DeprecationWarning, stacklevel=2)
        return namespace[new]

    return __getattr__


def moved_module(module: str, home: ModuleType) -> Callable[[str], object]:
    """A ``__getattr__`` for the old ``module`` whose names now live in ``home``: each name
    taken from it is ``home``'s, with a DeprecationWarning (importing it alone does not warn,
    so tools that walk a package stay quiet); a name ``home`` lacks is an AttributeError."""

    def __getattr__(name: str) -> object:
        value = getattr(home, name)
        warnings.warn(
            f"{module}.{name} is now in {home.__name__}", DeprecationWarning, stacklevel=2
        )
        return value

    return __getattr__
