"""Deferred backends of a class and of its subclasses: each waits in a class of its own and
builds into exactly the class it was asked of; the arguments are checked as eagerly built
backends check them, whatever their type."""

from __future__ import annotations

import pytest

from posixbackend.emulated import EmulatedBackend
from vfs import MemoryFileSystem


class Traced(EmulatedBackend):
    """A subclass made for these tests (its waiting class is not its base's)."""


class TracedFurther(Traced):
    """A subclass of a subclass."""


@pytest.mark.parametrize(
    "order", [(EmulatedBackend, Traced, TracedFurther), (TracedFurther, Traced, EmulatedBackend)]
)
def test_each_class_builds_deferred_backends_of_its_own_class(
    order: tuple[type[EmulatedBackend], ...],
) -> None:
    for cls in order:
        emulated = cls.deferred(MemoryFileSystem())
        assert isinstance(emulated, cls)
        assert type(emulated).__base__ is cls, "waits in a direct subclass of its own class"
        assert emulated.getcwd() == "/"  # builds it
        assert type(emulated) is cls


def test_a_class_made_at_run_time_gets_a_waiting_class_of_its_own() -> None:
    made: type[Traced] = type("Made", (Traced,), {})
    emulated = made.deferred(MemoryFileSystem())
    assert type(emulated).__base__ is made
    emulated.listdir("/")
    assert type(emulated) is made


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"umask": 18.0}, "umask must be an int"),
        ({"umask": -1}, "umask must be an int"),
        ({"umask": "0o22"}, "umask must be an int"),
        ({"time_resolution_ns": 1e9}, "time_resolution_ns must be a positive int"),
        ({"time_resolution_ns": 0}, "time_resolution_ns must be a positive int"),
    ],
)
def test_impossible_options_fail_as_the_eager_backend_fails(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        EmulatedBackend(MemoryFileSystem(), **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        EmulatedBackend.deferred(MemoryFileSystem(), **options)  # type: ignore[arg-type]


def test_an_int_subclass_is_accepted_as_the_eager_backend_accepts_it() -> None:
    emulated = EmulatedBackend.deferred(MemoryFileSystem(), umask=True)
    assert emulated.umask(0o022) == 1
