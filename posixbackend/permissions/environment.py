"""An environment of the guest's own, for code not granted the enclosing one."""

from __future__ import annotations

from typing import Any

from posixbackend.emulated.environ import set_variable, unset_variable


class PrivateEnvironment:
    """A bytes-to-bytes environment with putenv and unsetenv (as posix's) acting on it."""

    def __init__(self, environ: dict[bytes, bytes]) -> None:
        self.environ = environ

    def putenv(self, name: Any, value: Any, /) -> None:
        """os.putenv, on this environment."""
        set_variable(self.environ, name, value)

    def unsetenv(self, name: Any, /) -> None:
        """os.unsetenv, on this environment."""
        unset_variable(self.environ, name)
