"""Imports from the virtual file system: modules, packages, resources and bytecode of the
emulated backend's files.

While an emulated backend serves the importing thread, :class:`~posixbackend.imports._finder.
VirtualFinder` (in ``sys.meta_path`` ahead of the path finder) searches each ``sys.path``
entry through that backend, and the loaders it makes stay bound to it: ``__pycache__`` is
written there, ``importlib.resources``, ``inspect.getsource`` and tracebacks read there, also
after the block ends. Entries inside the interpreter's own library and site-packages are left
to the path finder (native speed; the default file system shows the same files there).
"""

from posixbackend.imports._finder import VirtualFinder
from posixbackend.imports._loaders import (
    VirtualExtensionLoader,
    VirtualSourcelessLoader,
    VirtualSourceLoader,
)

__all__ = [
    "VirtualExtensionLoader",
    "VirtualFinder",
    "VirtualSourceLoader",
    "VirtualSourcelessLoader",
]
