"""Test-wide settings: Hypothesis profiles (``HYPOTHESIS_PROFILE=thorough`` for long runs)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from hypothesis import settings

settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile("quick", max_examples=20, deadline=None)
settings.register_profile("measured", max_examples=75, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
if os.environ.get("COVERAGE_RUN") == "true":
    # Under `coverage run` (README's test command) the tracer makes the library's code several
    # times slower: that run takes half the examples (the stateful machines a third), so the
    # command stays within CI's budget; the other Pythons' runs in .ci/run, unmeasured, keep
    # the full counts. An explicit HYPOTHESIS_PROFILE wins. (Set in the environment, not only
    # loaded: the stateful modules size their machines by the profile's name.)
    os.environ.setdefault("HYPOTHESIS_PROFILE", "measured")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

pytest_plugins = ["pytester"]  # the pytest plugin's tests (tests/testing) run pytest itself

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # A suite started in the background by a shell without job control (`cmd &`) inherits
    # SIGINT ignored, and every child interpreter would too (an ignored signal stays ignored
    # across exec): the tests that send Ctrl-C to a child expect what a terminal gives it.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_configure(config: pytest.Config) -> None:
    """Keep coverage to the test processes: the variable that starts it in each new
    interpreter (``coverage run`` sets it, pyproject.toml's ``patch = ["subprocess"]``) reaches
    the xdist workers, and stops there: the child interpreters the tests start are not
    measured (slower, and many run isolated)."""
    distributing = bool(getattr(config.option, "numprocesses", None))
    if hasattr(config, "workerinput") or not distributing:
        os.environ.pop("COVERAGE_PROCESS_CONFIG", None)


@pytest.fixture(autouse=True)
def _sigint_handler_kept() -> Iterator[None]:
    """A test that leaves SIGINT ignored (or handled its own way) in the test process changes
    what every later child interpreter of the same worker gets from Ctrl-C: put it back and
    name the test."""
    before = signal.getsignal(signal.SIGINT)
    yield
    after = signal.getsignal(signal.SIGINT)
    if after is not before:
        signal.signal(signal.SIGINT, before)
        pytest.fail(f"the test left SIGINT's handler changed: {before!r} -> {after!r}")
