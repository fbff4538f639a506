"""The emulated ("java") POSIX backend.

Its names are imported on first use (PEP 562): importing one submodule does not import the
rest of the package.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # (typing's costs milliseconds to import; mypy knows this name)
if TYPE_CHECKING:
    from typing import Final

    from posixbackend.emulated.backend import EmulatedBackend

_HOMES: Final = {
    "EmulatedBackend": "posixbackend.emulated.backend",
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
    "EmulatedBackend",
]
