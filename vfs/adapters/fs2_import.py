"""Importing PyFilesystem2 (``fs``) where ``pkg_resources`` is gone.

``fs`` 2.4.16 calls ``pkg_resources.declare_namespace`` in its package ``__init__`` files and
``pkg_resources.iter_entry_points`` to find opener plug-ins. setuptools 82 stopped shipping
``pkg_resources`` and Python 3.12+ virtual environments have no setuptools at all, so there
``import fs`` fails. :func:`import_fs` then lends ``fs`` a minimal stand-in for exactly those
two functions (namespace packages via :func:`pkgutil.extend_path`, entry points via
:mod:`importlib.metadata`) while it imports, and takes it out of ``sys.modules`` again so that
nothing else mistakes it for the real thing.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import sys
import types
import warnings
from collections.abc import Iterator
from typing import Any


def _stand_in() -> types.ModuleType:
    """A module with the two pkg_resources functions fs uses."""
    module = types.ModuleType("pkg_resources", "Stand-in lent to PyFilesystem2 by vfs.adapters.")

    def declare_namespace(name: str) -> None:
        package = sys.modules[name]
        package.__path__ = pkgutil.extend_path(package.__path__, name)

    def iter_entry_points(group: str, name: str | None = None) -> Iterator[Any]:
        for entry_point in importlib.metadata.entry_points(group=group):
            if name is None or entry_point.name == name:
                yield entry_point

    module.declare_namespace = declare_namespace  # type: ignore[attr-defined]
    module.iter_entry_points = iter_entry_points  # type: ignore[attr-defined]
    return module


def import_fs() -> types.ModuleType:
    """Import and return the ``fs`` package, with or without a real ``pkg_resources``."""
    if "fs" in sys.modules:
        return sys.modules["fs"]
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="pkg_resources is deprecated", category=UserWarning
        )
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pkg_resources")
        try:
            importlib.import_module("pkg_resources")
        except ImportError:
            pass
        else:
            return importlib.import_module("fs")
    sys.modules["pkg_resources"] = _stand_in()
    try:
        return importlib.import_module("fs")
    finally:
        del sys.modules["pkg_resources"]
