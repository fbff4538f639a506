"""Limits: how much the isolated guest may use before it is stopped (all overridable).

``None`` turns a limit off. The command line spells them ``cpu=5,memory=256M,wall=off``:
sizes take K, M or G (powers of 1024), times are seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

import attrs

MIB: Final = 1 << 20
_SIZE_UNITS: Final = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_OFF: Final = ("off", "none", "unlimited")


def _seconds(value: Any) -> float | None:
    """A positive finite number of seconds, or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a time limit is a number of seconds or None, not {value!r}")
    if not 0 < value < math.inf:
        raise ValueError(f"a time limit must be a positive number of seconds, not {value!r}")
    return float(value)


def _count(value: Any) -> int | None:
    """A positive int (bytes or files), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"a size or count limit is an int or None, not {value!r}")
    if value < 1:
        raise ValueError(f"a size or count limit must be positive, not {value!r}")
    return value


@attrs.frozen
class Limits:
    """What the isolated guest may use; each limit ends the run in a clear result.

    ``cpu_seconds`` (RLIMIT_CPU, counted from the guest's start, rounded up to whole seconds),
    ``wall_seconds`` (the parent kills the child's process group), ``memory_bytes`` (RLIMIT_AS:
    the child's whole address space, the interpreter included), ``open_files``
    (RLIMIT_NOFILE: descriptors are numbered below it), ``file_size_bytes`` (RLIMIT_FSIZE, and
    the same rule for files in the guest's memory file system: EFBIG) and ``output_bytes``
    (per stream: the parent keeps that much of stdout and of stderr and stops the child when
    either would grow beyond it).
    """

    cpu_seconds: float | None = attrs.field(default=10.0, converter=_seconds)
    wall_seconds: float | None = attrs.field(default=30.0, converter=_seconds)
    memory_bytes: int | None = attrs.field(default=512 * MIB, converter=_count)
    open_files: int | None = attrs.field(default=64, converter=_count)
    file_size_bytes: int | None = attrs.field(default=64 * MIB, converter=_count)
    output_bytes: int | None = attrs.field(default=1 * MIB, converter=_count)

    def describe(self, kind: str) -> str:
        """The limit ``kind`` ('cpu', 'wall', 'memory'...) as a message names it:
        ``memory limit (256 MiB)``."""
        name, field, show = _DESCRIPTIONS[kind]
        value = getattr(self, field)
        return f"{name} limit ({show(value)})" if value is not None else f"{name} limit"

    def to_data(self) -> dict[str, float | int | None]:
        """The limits as plain data (JSON)."""
        # (the fields read directly: attrs.asdict's generic walk costs more, per guest)
        return {field.name: getattr(self, field.name) for field in attrs.fields(Limits)}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Limits:
        """Limits from :meth:`to_data`."""
        return cls(**data)


def format_size(size: int) -> str:
    """``size`` bytes in the largest binary unit that divides it: '256 MiB', '1536 KiB'."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


def format_seconds(seconds: float) -> str:
    """``seconds`` as '10 s' or '0.5 s'."""
    return f"{seconds:g} s"


_DESCRIPTIONS: Final[dict[str, tuple[str, str, Callable[[Any], str]]]] = {
    "cpu": ("cpu time", "cpu_seconds", format_seconds),
    "wall": ("wall time", "wall_seconds", format_seconds),
    "memory": ("memory", "memory_bytes", format_size),
    "open_files": ("open files", "open_files", str),
    "file_size": ("file size", "file_size_bytes", format_size),
    "output": ("output", "output_bytes", lambda size: f"{format_size(size)} per stream"),
}
"""limit kind -> (its name in messages, the Limits field, how its value is shown)."""

KINDS: Final = tuple(_DESCRIPTIONS)
"""Every kind of limit a run can exceed."""

_SPELLINGS: Final = {
    "cpu": "cpu_seconds", "wall": "wall_seconds", "memory": "memory_bytes",
    "open_files": "open_files", "files": "open_files", "file_size": "file_size_bytes",
    "fsize": "file_size_bytes", "output": "output_bytes",
}  # fmt: skip
"""Names the command line accepts -> Limits fields."""


def parse_limits(text: str, base: Limits | None = None) -> Limits:
    """``cpu=5,memory=256M,wall=off``: ``base`` (default: Limits()) with those limits changed;
    ValueError naming the bad item otherwise."""
    changes: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, equals, value = item.partition("=")
        field = _SPELLINGS.get(name.strip().lower().replace("-", "_"))
        if not equals or field is None:
            known = ", ".join(sorted(_SPELLINGS))
            raise ValueError(f"expected NAME=VALUE with NAME one of {known}, not {item!r}")
        changes[field] = _parse_value(field, value.strip(), item)
    try:
        return attrs.evolve(Limits() if base is None else base, **changes)
    except (TypeError, ValueError) as error:
        raise ValueError(str(error)) from None


def _parse_value(field: str, value: str, item: str) -> float | int | None:
    """One limit's value: off, seconds, a count, or a size with K/M/G/T."""
    if value.lower() in _OFF:
        return None
    try:
        if field.endswith("_seconds"):
            return float(value.removesuffix("s"))
        if field == "open_files":
            return int(value)
        number, unit = value.rstrip("BbIi"), ""
        if number and number[-1].upper() in _SIZE_UNITS:
            number, unit = number[:-1], number[-1].upper()
        return int(float(number) * _SIZE_UNITS[unit])
    except ValueError:
        raise ValueError(f"bad value in {item!r}") from None
