"""posixbackend: switch the operating-system interface Python code sees.

``with backend('managed'):`` makes ``os``, ``open()``, ``io``, ``pathlib``, ``shutil`` and the
rest of the standard library use the emulated ("java") POSIX backend, an
:class:`EmulatedBackend` over a ``vfs`` file system provider, in the calling thread of control.

The public names are imported on first use (PEP 562): ``import posixbackend`` costs next to
nothing, and a program pays only for the parts it touches.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing's own costs a few milliseconds to import; mypy knows this one
if TYPE_CHECKING:
    from typing import Final

    from posixbackend.emulated import EmulatedBackend
    from posixbackend.isolation import IsolatedResult, Limits, run_isolated
    from posixbackend.permissions import (
        Access,
        Environment,
        Permissions,
        current_permissions,
        is_sandboxed,
    )
    from posixbackend.permissions.timelimit import TimeLimitExceeded
    from posixbackend.switch import (
        BackendBlock,
        PosixModuleBackend,
        backend,
        current,
        current_emulated,
        install,
        uninstall,
    )

_HOMES: Final = {
    "Access": "posixbackend.permissions",
    "BackendBlock": "posixbackend.switch",
    "EmulatedBackend": "posixbackend.emulated",
    "Environment": "posixbackend.permissions",
    "IsolatedResult": "posixbackend.isolation",
    "Limits": "posixbackend.isolation",
    "Permissions": "posixbackend.permissions",
    "PosixModuleBackend": "posixbackend.switch",
    "TimeLimitExceeded": "posixbackend.permissions.timelimit",
    "backend": "posixbackend.switch",
    "current": "posixbackend.switch",
    "current_emulated": "posixbackend.switch",
    "current_permissions": "posixbackend.permissions",
    "install": "posixbackend.switch",
    "is_sandboxed": "posixbackend.permissions",
    "run_isolated": "posixbackend.isolation",
    "uninstall": "posixbackend.switch",
}
"""Each public name and the module it comes from."""


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'posixbackend' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next look-up is a plain attribute's
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


__all__ = [
    "Access",
    "BackendBlock",
    "EmulatedBackend",
    "Environment",
    "IsolatedResult",
    "Limits",
    "Permissions",
    "PosixModuleBackend",
    "TimeLimitExceeded",
    "backend",
    "current",
    "current_emulated",
    "current_permissions",
    "install",
    "is_sandboxed",
    "run_isolated",
    "uninstall",
]
