"""CPython's unsigned integer argument converters, with their messages (CPython 3.11).

``args.py`` holds the signed ones. These serve the few ``os`` functions that take C unsigned
types: os.eventfd's ``initval`` and os.splice's ``flags`` (``unsigned int``), os.memfd_create's
``flags`` (``unsigned int`` taken bitwise: any integer, cut to 32 bits), os.eventfd_write's
``value`` (``unsigned long long``). Unlike the signed converters, the checking ones accept
only real ints (no ``__index__``), as ``PyLong_AsUnsignedLong`` does.
"""

from __future__ import annotations

import operator
from typing import Final, SupportsIndex, cast

UINT_MAX: Final = (1 << 32) - 1
ULONG_MAX: Final = (1 << 64) - 1
ULLONG_MAX: Final = ULONG_MAX


def _checked_int(value: object) -> int:
    """An int that is not negative (``_PyLong_Unsigned*_Converter``'s first steps)."""
    if not isinstance(value, int):
        raise TypeError("an integer is required")
    if value < 0:
        raise ValueError("value must be positive")
    return int(value)


def unsigned_int_arg(value: object) -> int:
    """``unsigned int`` (``_PyLong_UnsignedInt_Converter``): 0 to UINT_MAX, an int only."""
    number = _checked_int(value)
    if number > ULONG_MAX:
        raise OverflowError("Python int too large to convert to C unsigned long")
    if number > UINT_MAX:
        raise OverflowError("Python int too large for C unsigned int")
    return number


def unsigned_int_bits_arg(value: object) -> int:
    """``unsigned int(bitwise=True)`` (``PyLong_AsUnsignedLongMask``): any integer through
    ``__index__``, cut to its low 32 bits (so -1 is 0xFFFFFFFF)."""
    return operator.index(cast(SupportsIndex, value)) & UINT_MAX


def unsigned_long_long_arg(value: object) -> int:
    """``unsigned long long`` (``_PyLong_UnsignedLongLong_Converter``): 0 to ULLONG_MAX."""
    number = _checked_int(value)
    if number > ULLONG_MAX:
        raise OverflowError("int too big to convert")
    return number
