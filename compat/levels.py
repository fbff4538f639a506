"""Java logging level names, registered with Python's ``logging``.

GraalPy reports compatibility gaps with ``--log.python.compatibility.level=FINE``; this module
gives Python's ``logging`` the same seven names so the same words work here. The numbers keep
Java's order and sit on Python's scale:

========  ============  =====================================================
Name      Number        Relation to Python's levels
========  ============  =====================================================
OFF       2147483647    above CRITICAL (50); Java's ``Integer.MAX_VALUE``
SEVERE    40            alias of ERROR
WARNING   30            same as WARNING
INFO      20            same as INFO
CONFIG    15            new, between INFO and DEBUG
FINE      10            alias of DEBUG
FINER     8             new, below DEBUG
FINEST    5             new, below FINER
ALL       1             new, the lowest level that is not NOTSET (0)
========  ============  =====================================================

Registering never renames a number that already has a name: SEVERE and FINE become extra names
for 40 and 10 (``logging.getLevelName(10)`` stays ``'DEBUG'``), and a number that an application
already named keeps its name. Every Java name maps to its number in ``logging``.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
from typing import Final

__all__ = ["LEVEL_NAMES", "MAX_LEVEL", "Level", "level_name", "parse_level", "register_levels"]


class Level(enum.IntEnum):
    """The Java logging levels, as numbers on Python's ``logging`` scale."""

    OFF = 2**31 - 1
    SEVERE = logging.ERROR
    WARNING = logging.WARNING
    INFO = logging.INFO
    CONFIG = 15
    FINE = logging.DEBUG
    FINER = 8
    FINEST = 5
    ALL = 1


MAX_LEVEL: Final = int(Level.OFF)
"""The highest number :func:`parse_level` accepts."""

_PYTHON_LEVELS: Final = {
    "CRITICAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARNING": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
    "NOTSET": logging.NOTSET,
}
_BY_NAME: Final[dict[str, int]] = {
    **{level.name: int(level) for level in Level},
    **_PYTHON_LEVELS,
}
LEVEL_NAMES: Final = tuple(_BY_NAME)
"""Every name :func:`parse_level` accepts (in upper case): Java's first, then Python's."""

_DECIMAL: Final = re.compile(r"[0-9]+")
_REGISTER_LOCK: Final = threading.Lock()


def register_levels() -> None:
    """Teach ``logging`` the Java names; safe to call any number of times."""
    with _REGISTER_LOCK:
        for level in Level:
            if logging.getLevelName(int(level)) == f"Level {int(level)}":
                logging.addLevelName(int(level), level.name)
            # An alias only: the number keeps the name Python (or the application) gave it.
            logging._nameToLevel[level.name] = int(level)


def parse_level(value: object) -> int:
    """Return the level number for a Java or Python name (any case) or a number.

    Anything else, including bools, floats, negative numbers and numbers above OFF, raises
    ``ValueError`` listing the valid names, so command-line and configuration values fail
    early with one kind of error.
    """
    if isinstance(value, str):
        return _parse_level_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_LEVEL:
        return int(value)
    raise ValueError(_invalid_level_message(value))


def level_name(level: int) -> str:
    """Return the Java name of a level number, or the name ``logging`` gives it."""
    try:
        return Level(level).name
    except ValueError:
        return logging.getLevelName(level)


def _parse_level_text(text: str) -> int:
    """Parse a level name or a decimal number given as text."""
    cleaned = text.strip()
    # ASCII only: str.upper() maps some other letters onto ASCII ones ('ﬁne' -> 'FINE').
    number = _BY_NAME.get(cleaned.upper()) if cleaned.isascii() else None
    if number is not None:
        return number
    if _DECIMAL.fullmatch(cleaned) and int(cleaned) <= MAX_LEVEL:
        return int(cleaned)
    raise ValueError(_invalid_level_message(text))


def _invalid_level_message(value: object) -> str:
    """Explain what a level may be; used for every rejected value."""
    return (
        f"invalid log level {value!r}: expected one of {', '.join(LEVEL_NAMES)} (any case) "
        f"or an integer from 0 to {MAX_LEVEL}"
    )
