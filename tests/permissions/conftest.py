"""Fixtures shared by the permission tests."""

from __future__ import annotations

from tests.servers import listener

__all__ = ["listener"]
