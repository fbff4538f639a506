"""The launcher: ``python -m posixbackend [options] (SCRIPT | -m MODULE | -c CODE | -) [ARGS]``.

Runs a whole program with the native or the emulated backend in charge, like GraalPy's
``--python.PosixModuleBackend``; see :mod:`posixbackend.launcher.options` for the options.
The entry points (and the options' names) are imported on first use: the isolated child runs
programs with :mod:`posixbackend.launcher.program` and needs none of the launcher's process
machinery nor its command line.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing costs milliseconds to import; mypy knows this one

if TYPE_CHECKING:
    from posixbackend.launcher.main import main, managed_main
    from posixbackend.launcher.options import ENVIRONMENT_VARIABLE


def load_entry_points() -> None:
    """Import the entry points now: start-up does for a launcher's process, so that their
    modules are imported before a backend's stand-ins are (and keep the real posix)."""
    entry = importlib.import_module("posixbackend.launcher.main")
    # Importing the submodule made ``main`` the module here: the entry points take its place.
    globals().update(main=entry.main, managed_main=entry.managed_main)


def __getattr__(name: str) -> object:
    if name == "ENVIRONMENT_VARIABLE":
        from posixbackend.launcher.options import ENVIRONMENT_VARIABLE

        return ENVIRONMENT_VARIABLE
    if name not in ("main", "managed_main"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    load_entry_points()
    return globals()[name]


__all__ = ["ENVIRONMENT_VARIABLE", "main", "managed_main"]
