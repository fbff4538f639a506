"""The declaration of one known gap: what differs from CPython on a real system, and why."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import attrs

from compat.levels import Level, parse_level

if TYPE_CHECKING:
    from compat.recorder import Recorder

__all__ = ["GAP_LEVELS", "Gap"]

GAP_LEVELS: Final = (
    Level.SEVERE,
    Level.WARNING,
    Level.INFO,
    Level.CONFIG,
    Level.FINE,
    Level.FINER,
    Level.FINEST,
)
"""The levels a gap may have: Java's seven, without OFF and ALL."""

_ID: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_DOTTED_NAME: Final = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", re.ASCII)


def _check_id(_gap: object, _attribute: object, value: str) -> None:
    """Ids are single words of letters, digits, '_', '.' and '-'."""
    if not _ID.fullmatch(value):
        raise ValueError(
            f"invalid gap id {value!r}: use letters, digits, '_', '.' and '-' "
            "(e.g. 'os.access.effective_ids')"
        )


def _check_function(_gap: object, _attribute: object, value: str) -> None:
    """Functions are dotted names with a module part, which names the gap's logger."""
    if not _DOTTED_NAME.fullmatch(value):
        raise ValueError(
            f"invalid gap function {value!r}: give a dotted name with its module, "
            "such as 'os.access' or 'builtins.open'"
        )


def _check_one_line(_gap: object, attribute: attrs.Attribute[str], value: str) -> None:
    """Aspects and explanations are non-empty single lines, so tables and logs stay tidy."""
    if not value.strip() or "\n" in value or "\r" in value:
        raise ValueError(f"gap {attribute.name} must be one non-empty line, got {value!r}")


def _gap_level(value: object) -> Level:
    """Accept anything :func:`parse_level` does, provided it is one of :data:`GAP_LEVELS`."""
    number = parse_level(value)
    if number not in GAP_LEVELS:
        names = ", ".join(level.name for level in GAP_LEVELS)
        raise ValueError(f"invalid gap level {value!r}: expected one of {names}")
    return Level(number)


_TEXT: Final = attrs.validators.instance_of(str)


@attrs.frozen
class Gap:
    """A known difference from CPython, declared once with :func:`compat.declare`.

    ``function`` is the dotted name of the affected function; everything before its last dot
    names the logger (``os.access`` logs on ``python.compatibility.os``). Call :meth:`hit`
    where the gap is met.
    """

    id: str = attrs.field(validator=[_TEXT, _check_id])
    function: str = attrs.field(validator=[_TEXT, _check_function])
    aspect: str = attrs.field(validator=[_TEXT, _check_one_line])
    level: Level = attrs.field(converter=_gap_level)
    explanation: str = attrs.field(validator=[_TEXT, _check_one_line])
    _recorder: Recorder = attrs.field(eq=False, repr=False, alias="recorder")

    @property
    def module(self) -> str:
        """The module part of :attr:`function`: the last part of the gap's logger name."""
        return self.function.rpartition(".")[0]

    @property
    def resets(self) -> int:
        """How many times the record of hits was reset (examples given before are gone)."""
        return self._recorder.generation

    def hit(self, /, **details: object) -> None:
        """Record that the calling code met this gap; ``details`` (path, fd...) are examples."""
        self._recorder.record(self, details)

    def describe(self) -> str:
        """Return the one-line text used in log messages and the text report."""
        return f"{self.function} ({self.aspect}): {self.explanation}"
