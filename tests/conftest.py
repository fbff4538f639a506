"""Test-wide settings: Hypothesis profiles (``HYPOTHESIS_PROFILE=thorough`` for long runs)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile("quick", max_examples=20, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

pytest_plugins = ["pytester"]  # the pytest plugin's tests (tests/testing) run pytest itself
