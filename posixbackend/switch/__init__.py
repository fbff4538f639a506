"""The switch: which backend serves ``os``, ``open``, ``io`` and ``subprocess`` right now.

Importing it imports everything switching needs (``posixbackend``'s public names come from
here), the time limit's ctypes function too: bound before any block, where a sandboxed guest's
ctypes would be refused.
"""

import posixbackend.permissions.timelimit  # noqa: F401  # (imported for its binding, above)
from posixbackend.switch.block import BackendBlock, backend, current
from posixbackend.switch.guard import current_emulated
from posixbackend.switch.installation import INSTALLATION
from posixbackend.switch.names import PosixModuleBackend, valid_names


def install() -> None:
    """Put the stand-ins in place (``backend(...)`` does it on first entry)."""
    INSTALLATION.install()


def park() -> None:
    """Give every replaced name its real object back now if no block needs the stand-ins
    (they are parked at the first native call of one otherwise; see
    :mod:`posixbackend.switch.installation`)."""
    INSTALLATION.settle()


def uninstall() -> None:
    """Take every stand-in out again, leaving the interpreter as it was before."""
    INSTALLATION.uninstall()


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
