"""Imports from the virtual file system: modules, packages, resources and bytecode of the
emulated backend's files.

While an emulated backend serves the importing thread, :class:`~posixbackend.imports.finder.
VirtualFinder` (in ``sys.meta_path`` ahead of the path finder) searches each ``sys.path``
entry through that backend, and the loaders it makes stay bound to it: ``__pycache__`` is
written there, ``importlib.resources``, ``inspect.getsource`` and tracebacks read there, also
after the block ends. Entries inside the interpreter's own library and site-packages are left
to the path finder (native speed; the default file system shows the same files there).

Its names are imported on first use (PEP 562): importing one submodule does not import the
rest of the package.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # (typing's costs milliseconds to import; mypy knows this name)
if TYPE_CHECKING:
    from typing import Final

    from posixbackend.imports.finder import VirtualFinder
    from posixbackend.imports.loaders import (
        VirtualExtensionLoader,
        VirtualSourcelessLoader,
        VirtualSourceLoader,
    )

_HOMES: Final = {
    "VirtualExtensionLoader": "posixbackend.imports.loaders",
    "VirtualFinder": "posixbackend.imports.finder",
    "VirtualSourceLoader": "posixbackend.imports.loaders",
    "VirtualSourcelessLoader": "posixbackend.imports.loaders",
}
"""Each name imported on first use, and the module it comes from."""


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
    "VirtualExtensionLoader",
    "VirtualFinder",
    "VirtualSourceLoader",
    "VirtualSourcelessLoader",
]
