"""A module the pool tests preload into a zygote (tests/isolation/test_pool_preload.py): state
a guest can change, and os functions taken by name before the zygote's stand-ins existed."""

from __future__ import annotations

from os import listdir, stat

SEEN: list[str] = []
"""What guests appended (each must find it empty)."""

__all__ = ["SEEN", "listdir", "stat"]
