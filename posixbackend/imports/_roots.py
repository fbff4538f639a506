"""The interpreter's own library directories, whose modules always load from the real disk.

The default file system mounts them read-only at their real paths, so the same files are
there either way; reading them natively keeps the standard library's imports at native speed
and working in blocks whose file system lacks them.
"""

from __future__ import annotations

import posixpath
import site
import sys
import sysconfig
import threading
from typing import Final

_lock: Final = threading.Lock()
_roots: list[tuple[str, ...]] = []


def native_roots() -> tuple[str, ...]:
    """The directories below which imports stay native (computed once)."""
    if not _roots:
        with _lock:
            if not _roots:
                _roots.append(_compute())
    return _roots[0]


def _compute() -> tuple[str, ...]:
    found: set[str] = set()
    for scheme_vars in ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
        paths = sysconfig.get_paths(vars=scheme_vars)
        found.update(paths.get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib"))
    found.update(site.getsitepackages())
    version = f"{sys.version_info.major}{sys.version_info.minor}"
    for prefix in {sys.prefix, sys.base_prefix}:
        found.add(posixpath.join(prefix, sys.platlibdir, f"python{version}.zip"))
    if site.ENABLE_USER_SITE:
        found.add(site.getusersitepackages())
    return tuple(sorted(posixpath.normpath(root) for root in found if root))


def is_native(path: str) -> bool:
    """Whether ``path`` (absolute) lies in one of the interpreter's library directories."""
    return any(path == root or path.startswith(root + "/") for root in native_roots())
