"""Making a failing program small: drop runs of steps while the same divergence remains."""

from __future__ import annotations

from collections.abc import Callable

from tests.posixbackend.fuzzing.programs import Step


def shrink(program: list[Step], still_fails: Callable[[list[Step]], bool]) -> list[Step]:
    """The shortest program found by removing chunks (halves, then smaller) for which
    ``still_fails`` holds; descriptors of removed steps become EBADF (see programs.Fd)."""
    current = list(program)
    chunk = max(1, len(current) // 2)
    while chunk >= 1:
        index = 0
        removed = False
        while index < len(current):
            candidate = current[:index] + current[index + chunk :]
            if candidate and still_fails(candidate):
                current = candidate
                removed = True
            else:
                index += chunk
        if not removed:
            chunk //= 2
    return current
