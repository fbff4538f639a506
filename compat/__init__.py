"""Known compatibility gaps: declared once, logged when hit, summed up in a report.

The bottom layer of the project: it imports only the standard library and ``attrs``, never
``posixbackend`` or ``vfs``, which declare their gaps here at import time::

    ACCESS_EFFECTIVE_IDS = compat.declare(
        id="os.access.effective_ids", function="os.access", aspect="effective_ids",
        level=compat.Level.FINE, explanation="effective ids are not supported",
    )
    ACCESS_EFFECTIVE_IDS.hit(path=path)

A hit is always counted for the report and logged, de-duplicated, on the logger
``python.compatibility.<module>`` (``os.access`` -> ``python.compatibility.os``) at the gap's
level. The functions below act on one default :class:`Registry`.
"""

from __future__ import annotations

import os

# The surface is __all__; the names imported "as" themselves are not in it but stay
# importable from here as before (explicit re-exports of what the modules define).
from compat.callsite import CallSite as CallSite
from compat.gap import GAP_LEVELS as GAP_LEVELS
from compat.gap import Gap
from compat.levels import LEVEL_NAMES as LEVEL_NAMES
from compat.levels import Level
from compat.levels import level_name as level_name
from compat.levels import parse_level as parse_level
from compat.levels import register_levels as register_levels
from compat.recorder import Dedupe as Dedupe
from compat.registry import DEFAULT_LOGGER_ROOT as DEFAULT_LOGGER_ROOT
from compat.registry import DuplicateGapError as DuplicateGapError
from compat.registry import Registry as Registry
from compat.registry import RegistryView as RegistryView
from compat.registry import UnknownGapError
from compat.report import SCHEMA_NAME as SCHEMA_NAME
from compat.report import SCHEMA_VERSION as SCHEMA_VERSION
from compat.report import GapReport as GapReport
from compat.report import Report
from compat.report import report_schema as report_schema

__all__ = [
    "Gap",
    "Level",
    "Report",
    "UnknownGapError",
    "configure",
    "declare",
    "hit",
    "registry",
    "report",
    "reset",
    "write_report_at_exit",
]
"""What users call: declare a gap and hit it, look gaps up, read the report, set the level.
The other names here (the registry's class and its helpers, the level tables, the report's
schema, the call-site filters) stay importable, from here as before and from their modules
(``compat.registry``'s module, ``compat.levels``, ``compat.report``...), but are not the
package's surface."""

register_levels()

_default = Registry()


def default_registry() -> Registry:
    """Return the registry the module-level functions use."""
    return _default


def declare(*, id: str, function: str, aspect: str, level: object, explanation: str) -> Gap:
    """Declare a gap in the default registry; see :meth:`Registry.declare`."""
    return _default.declare(
        id=id, function=function, aspect=aspect, level=level, explanation=explanation
    )


def hit(gap: Gap | str, /, **details: object) -> None:
    """Record a hit of a gap (or gap id) of the default registry; ``gap.hit()`` is faster."""
    _default.hit(gap, **details)


def registry() -> RegistryView:
    """Return a read-only view of the default registry's gaps."""
    return _default.view()


def configure(*, level: object = None, dedupe: object = None) -> None:
    """Set the ``python.compatibility`` logger level and the de-duplication mode."""
    _default.configure(level=level, dedupe=dedupe)


def report() -> Report:
    """Return a snapshot report of the default registry."""
    return _default.report()


def reset() -> None:
    """Forget the default registry's counts and de-duplication state (not its gaps)."""
    _default.reset()


def write_report_at_exit(target: str | os.PathLike[str] | None, format: str | None = None) -> None:
    """Write the default report at exit to a file or to stderr ('-'); None cancels."""
    _default.write_report_at_exit(target, format)


def add_internal_path(path: str | os.PathLike[str]) -> None:
    """Skip frames of code under ``path`` when finding call sites."""
    _default.add_internal_path(path)


def remove_internal_path(path: str | os.PathLike[str]) -> None:
    """Undo :func:`add_internal_path`."""
    _default.remove_internal_path(path)


def add_internal_module(name: str) -> None:
    """Skip frames of a module or package when finding call sites."""
    _default.add_internal_module(name)


def remove_internal_module(name: str) -> None:
    """Undo :func:`add_internal_module`."""
    _default.remove_internal_module(name)
