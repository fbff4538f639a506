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

from compat.callsite import CallSite
from compat.gap import GAP_LEVELS, Gap
from compat.levels import LEVEL_NAMES, Level, level_name, parse_level, register_levels
from compat.recorder import Dedupe
from compat.registry import (
    DEFAULT_LOGGER_ROOT,
    DuplicateGapError,
    Registry,
    RegistryView,
    UnknownGapError,
)
from compat.report import SCHEMA_NAME, SCHEMA_VERSION, GapReport, Report, report_schema

__all__ = [
    "DEFAULT_LOGGER_ROOT",
    "GAP_LEVELS",
    "LEVEL_NAMES",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "CallSite",
    "Dedupe",
    "DuplicateGapError",
    "Gap",
    "GapReport",
    "Level",
    "Registry",
    "RegistryView",
    "Report",
    "UnknownGapError",
    "add_internal_module",
    "add_internal_path",
    "configure",
    "declare",
    "default_registry",
    "hit",
    "level_name",
    "parse_level",
    "register_levels",
    "registry",
    "remove_internal_module",
    "remove_internal_path",
    "report",
    "report_schema",
    "reset",
    "write_report_at_exit",
]

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
