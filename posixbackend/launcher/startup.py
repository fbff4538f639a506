"""Child Python processes: the backend a parent launcher chose, read from the environment.

The ``posixbackend-startup.pth`` file the project installs into site-packages imports this
module at interpreter start-up when :data:`~posixbackend.launcher.options.ENVIRONMENT_VARIABLE`
is set (and only then, so other programs pay nothing), and the backend it names serves the
whole process, as it served the parent. A value that cannot be parsed stops the process with
exit status 2 rather than let it run on the wrong backend.
"""

from __future__ import annotations

import posix
import sys

from posixbackend.launcher.options import ENVIRONMENT_VARIABLE, UsageError, options_from_environment
from posixbackend.launcher.session import Session

_STARTED: list[Session] = []
"""The session start-up activated (site may process the .pth file twice: a venv's lib64 is
a symbolic link to its lib, and both are site directories)."""


def activate_from_environment() -> Session | None:
    """Activate the session the environment names, once per process; the session, or None
    if none is named."""
    if _STARTED:
        return _STARTED[0]
    text = posix.environ.get(ENVIRONMENT_VARIABLE.encode())
    if not text:
        return None
    try:
        session = Session(options_from_environment(text.decode(sys.getfilesystemencoding())))
    except UsageError as error:
        sys.stderr.write(f"posixbackend: bad {ENVIRONMENT_VARIABLE}: {error}\n")
        sys.stderr.flush()
        posix._exit(2)
    _STARTED.append(session)
    session.activate()
    return session
