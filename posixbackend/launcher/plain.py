"""Frozen records for the launcher's command line, without attrs.

The options are parsed before the program runs, on every launcher start; importing attrs costs
about as much as ``python -c pass`` itself and building its classes more (their methods are
compiled at import), while a run that touches no file needs nothing else of the library (see
:mod:`posixbackend.launcher.lazystart`). So the option records are plain classes: each names
its fields in ``__slots__`` and sets them in its ``__init__``; this base gives them what attrs
gave (immutability, equality and hashing by value, a repr, ``evolve``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds to import; mypy knows this one
if TYPE_CHECKING:
    from typing import Any, TypeVar

    Record = TypeVar("Record", bound="Plain")


class FrozenError(AttributeError):
    """A field of a record was assigned or deleted (records never change: evolve them)."""


class Plain:
    """Frozen plain data: the fields are the class's ``__slots__``."""

    __slots__: tuple[str, ...] = ()

    def _set(self, **fields: Any) -> None:
        """Set the fields (for ``__init__`` only)."""
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in type(self).__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenError(f"cannot assign to field {name!r} of {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise FrozenError(f"cannot delete field {name!r} of {type(self).__name__}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((self.__class__, self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in type(self).__slots__)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self._values())

    def evolve(self: Record, **changes: Any) -> Record:
        """A copy with ``changes`` to its fields (TypeError for a name that is none)."""
        unknown = set(changes) - set(type(self).__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        new = object.__new__(type(self))
        for name in type(self).__slots__:
            object.__setattr__(new, name, changes.get(name, getattr(self, name)))
        return new


def _rebuild(cls: type[Record], values: tuple[Any, ...]) -> Record:
    """Unpickling a record."""
    new = object.__new__(cls)
    for name, value in zip(cls.__slots__, values, strict=True):
        object.__setattr__(new, name, value)
    return new
