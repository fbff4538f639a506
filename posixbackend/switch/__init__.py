"""The switch: which backend serves ``os``, ``open``, ``io`` and ``subprocess`` right now.

Its names are imported on first use (PEP 562): importing one submodule does not import the
rest of the package.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # (typing's costs milliseconds to import; mypy knows this name)
if TYPE_CHECKING:
    from typing import Final

    from posixbackend.switch.block import BackendBlock, backend, current, current_emulated
    from posixbackend.switch.names import PosixModuleBackend, valid_names

_HOMES: Final = {
    "BackendBlock": "posixbackend.switch.block",
    "PosixModuleBackend": "posixbackend.switch.names",
    "backend": "posixbackend.switch.block",
    "current": "posixbackend.switch.block",
    "current_emulated": "posixbackend.switch.block",
    "valid_names": "posixbackend.switch.names",
}
"""Each name imported on first use, and the module it comes from."""


def install() -> None:
    """Put the stand-ins in place (``backend(...)`` does it on first entry)."""
    from posixbackend.switch.installation import INSTALLATION

    INSTALLATION.install()


def park() -> None:
    """Give every replaced name its real object back now if no block needs the stand-ins
    (they are parked at the first native call of one otherwise; see
    :mod:`posixbackend.switch.installation`)."""
    from posixbackend.switch.installation import INSTALLATION

    INSTALLATION.settle()


def uninstall() -> None:
    """Take every stand-in out again, leaving the interpreter as it was before."""
    from posixbackend.switch.installation import INSTALLATION

    INSTALLATION.uninstall()


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
    "BackendBlock",
    "PosixModuleBackend",
    "backend",
    "current",
    "current_emulated",
    "install",
    "park",
    "uninstall",
    "valid_names",
]
