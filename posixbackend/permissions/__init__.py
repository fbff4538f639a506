"""Permissions: what code in a block may do, the denials, the audit hook and time limits.

:class:`Permissions` is the policy (GraalVM's ``Context.Builder`` knobs); blocks narrow it as
they nest; stand-ins and the audit hook (:mod:`posixbackend.permissions.hook`) enforce it.

Its names are imported on first use (PEP 562): importing one submodule does not import the
rest of the package.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # (typing's costs milliseconds to import; mypy knows this name)
if TYPE_CHECKING:
    from typing import Final

    from posixbackend.permissions.current import current_permissions
    from posixbackend.permissions.hook import install_hook, is_sandboxed
    from posixbackend.permissions.policy import Access, Environment, Permissions

_HOMES: Final = {
    "Access": "posixbackend.permissions.policy",
    "Environment": "posixbackend.permissions.policy",
    "Permissions": "posixbackend.permissions.policy",
    "current_permissions": "posixbackend.permissions.current",
    "install_hook": "posixbackend.permissions.hook",
    "is_sandboxed": "posixbackend.permissions.hook",
}
"""Each name imported on first use, and the module it comes from."""


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next look-up is a plain attribute's
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


__all__ = [
    "Access",
    "Environment",
    "Permissions",
    "current_permissions",
    "install_hook",
    "is_sandboxed",
]
