"""posixbackend: switch the operating-system interface Python code sees.

``with backend('managed'):`` makes ``os``, ``open()``, ``io``, ``pathlib``, ``shutil`` and the
rest of the standard library use the emulated ("java") POSIX backend, an
:class:`EmulatedBackend` over a ``vfs`` file system provider, in the calling thread of control.

What switching needs is imported here, eagerly, while ``os`` is still the real one: a first
import inside a block, or under a patcher that replaces modules for code imported later (as
pyfakefs does), would bind the library's modules to the wrong ``os``. Heavier optional parts
(the isolated mode, the launcher, the conformance runner, the pytest helpers, the overlay
provider, SQLite's VFS) are imported on first use.
"""

from posixbackend.emulated import EmulatedBackend
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

_ISOLATION = ("IsolatedResult", "Limits", "run_isolated")
"""Names of the isolated mode, imported on first use (it is not needed to switch backends)."""


def __getattr__(name: str) -> object:
    if name in _ISOLATION:
        from posixbackend import isolation

        return getattr(isolation, name)
    raise AttributeError(f"module 'posixbackend' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_ISOLATION})


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
