"""The launcher: ``python -m posixbackend [options] (SCRIPT | -m MODULE | -c CODE | -) [ARGS]``.

Runs a whole program with the native or the emulated backend in charge, like GraalPy's
``--python.PosixModuleBackend``; see :mod:`posixbackend.launcher.options` for the options.
"""

from posixbackend.launcher.main import main, managed_main
from posixbackend.launcher.options import ENVIRONMENT_VARIABLE

__all__ = ["ENVIRONMENT_VARIABLE", "main", "managed_main"]
