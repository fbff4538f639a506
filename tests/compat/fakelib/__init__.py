"""A stand-in for library code (posixbackend, vfs) that hits gaps a few frames deep.

Tests mark this directory as internal, so hits made through it must be attributed to the test
that called in, not to these functions.
"""

from __future__ import annotations

from pathlib import Path

import compat

DIRECTORY = Path(__file__).resolve().parent


def open_file(gap: compat.Gap, path: str) -> None:
    """Like a backend's ``open``: validates, then reaches the gap two frames further down."""
    _resolve(gap, path)


def open_many(gap: compat.Gap, count: int) -> None:
    """Hit ``gap`` ``count`` times from this one library line."""
    for number in range(count):
        open_file(gap, f"/data/{number}")


def hit_by_id(registry: compat.Registry, gap_id: str) -> None:
    """Hit a gap by id through the registry, one library frame down."""
    registry.hit(gap_id)


def _resolve(gap: compat.Gap, path: str) -> None:
    _check(gap, path)


def _check(gap: compat.Gap, path: str) -> None:
    gap.hit(path=path)
