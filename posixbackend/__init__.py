"""posixbackend: switch the operating-system interface Python code sees.

``with backend('managed'):`` makes ``os``, ``open()``, ``io``, ``pathlib``, ``shutil`` and the
rest of the standard library use the emulated ("java") POSIX backend, an
:class:`EmulatedBackend` over a ``vfs`` file system provider, in the calling thread of control.

``import posixbackend`` imports nothing else: the first public name used imports the whole
switch (the stand-ins, the emulated backend, the permissions) at once, as ``import
posixbackend.switch`` does. No block can be in force before that (entering one needs the
switch), so the switch always binds the real ``os``; a first use while another library has
replaced ``os`` in ``sys.modules`` (pyfakefs's patcher) is refused with an error saying what to
do, rather than binding the library to the fake. The isolated mode is imported on first use of
its own names.
"""

import sys

TYPE_CHECKING = False  # typing's own costs milliseconds to import; mypy knows this one
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

_HOMES: "Final" = {
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

SWITCH: "Final" = "posixbackend.switch"
"""The package whose import brings in everything switching needs (the names above but the
isolated mode's), imported on the first use of one of them."""

SWITCHING_PACKAGES: "Final" = ("emulated", "permissions", "switch")
"""The subpackages ``import posixbackend`` imported (and so made attributes) before the names
came on first use: ``posixbackend.switch.park()`` after a bare ``import posixbackend`` still
works."""

PATCHED_MODULES: "Final" = ("os", "os.path", "io", "pathlib", "shutil")
"""The modules a patcher of the file system replaces in ``sys.modules`` (pyfakefs's dynamic
patcher puts objects of its own classes there, never modules)."""


def load_switch() -> None:
    """Import the switch, once, while ``sys.modules`` holds the real ``os`` and ``io``: its
    modules bind them at import and keep them for the process's life."""
    if SWITCH in sys.modules:
        return
    replaced = [
        name
        for name in PATCHED_MODULES
        if name in sys.modules and not isinstance(sys.modules[name], type(sys))
    ]
    if replaced:
        raise ImportError(
            f"posixbackend: first used while {', '.join(replaced)} in sys.modules are "
            "another library's replacements (pyfakefs?): the switch would bind them; "
            f"import {SWITCH} before that library patches",
            name=SWITCH,
        )
    __import__(SWITCH)


def __getattr__(name: str) -> object:
    if name in SWITCHING_PACKAGES:
        load_switch()
        return sys.modules[f"{__name__}.{name}"]
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'posixbackend' has no attribute {name!r}")
    if home != "posixbackend.isolation":
        load_switch()
    __import__(home)
    value = getattr(sys.modules[home], name)
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
