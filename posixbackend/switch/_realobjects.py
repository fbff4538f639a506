"""The real object behind each stand-in, by the serving-backend name the stand-in calls.

One table for both sides: the installation takes from it what each stand-in replaces, and the
guarded native backend what it calls when a stand-in hands it a call.
"""

from __future__ import annotations

import _io
import _posixsubprocess
import fcntl
import os
import select
from collections.abc import Callable, Mapping
from types import BuiltinFunctionType, MappingProxyType
from typing import Any, Final

FCNTL_CALLS: Final = ("fcntl", "flock", "lockf", "ioctl")
"""The fcntl module's functions that have stand-ins (named ``fcntl_`` + the function)."""

HOMES: Final[Mapping[str, tuple[Any, str]]] = MappingProxyType(
    {
        "io_open": (_io, "open"),
        "open_code": (_io, "open_code"),
        "FileIO": (_io, "FileIO"),
        "select_select": (select, "select"),
        "select_poll": (select, "poll"),
        "select_epoll": (select, "epoll"),
        "fork_exec": (_posixsubprocess, "fork_exec"),
        "os_environ": (os, "environ"),
        "os_environb": (os, "environb"),
        **{"fcntl_" + name: (fcntl, name) for name in FCNTL_CALLS},
    }
)
"""(module, attribute) of each stand-in's real object, by its serving-backend name; a name
not here is an ``os`` function's own. ``_io`` is the real module object (the switch replaces
only its entry in ``sys.modules``), so its attributes are always the real ones."""


_stand_in_parts: Callable[[object], tuple[Any, str, str] | None] | None
try:  # the C stand-ins' module: nothing of the library's, so no import cycle
    from posixbackend._standin import stand_in_parts as _stand_in_parts
except ImportError:  # not built: no builtin stand-ins either
    _stand_in_parts = None

STAND_IN_MODULES: Final = frozenset({"posixbackend.switch.standins", "posixbackend._standin"})
"""Where the stand-ins' types are defined: the Python ones and the C one."""


def real_object(name: str) -> Any:
    """The real object a stand-in of the serving-backend name ``name`` takes the place of
    (read through the stand-in when one is installed there now)."""
    home, attribute = HOMES.get(name, (os, name))
    value = getattr(home, attribute)
    if _stand_in_parts is not None and type(value) is BuiltinFunctionType:
        parts = _stand_in_parts(value)  # a builtin stand-in (posixbackend/_standin.c)?
        if parts is not None:
            return parts[0]
        return value
    native = getattr(value, "_native", None)
    if native is not None and type(value).__module__ in STAND_IN_MODULES:
        return native
    return value
