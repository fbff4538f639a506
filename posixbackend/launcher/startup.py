"""Child Python processes: the backend a parent launcher chose, read from the environment.

The ``posixbackend-startup.pth`` file the project installs into site-packages imports this
module at interpreter start-up when :data:`~posixbackend.launcher.options.ENVIRONMENT_VARIABLE`
is set (and only then, so other programs pay nothing), and the backend it names serves the
whole process, as it served the parent. A value that cannot be parsed stops the process with
exit status 2 rather than let it run on the wrong backend. When the process is itself a
launcher (``python -m posixbackend``, the console scripts), the named time limit is left for
it to start: it confines itself first, and no thread may exist before that.
"""

from __future__ import annotations

import posix
import posixpath
import sys
from collections.abc import Sequence

from posixbackend.launcher import load_entry_points
from posixbackend.launcher.options import ENVIRONMENT_VARIABLE, UsageError, options_from_environment
from posixbackend.launcher.relaunch import BOOTSTRAP
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
    launcher = starts_the_launcher(sys.orig_argv)
    if launcher:
        load_entry_points()
        from posixbackend.launcher.main import import_deferred

        import_deferred()  # what a launcher's run imports on demand: before the stand-ins too
    session.activate(defer_time_limit=launcher)
    return session


LAUNCHER_MODULES = frozenset({"posixbackend", "posixbackend.__main__"})
LAUNCHER_SCRIPTS = frozenset({"posixbackend", "posixbackend-managed"})
OPTIONS_WITH_VALUE = frozenset("WX")
"""The interpreter's one-letter options that take a value (-c and -m end its options)."""


def starts_the_launcher(argv: Sequence[str]) -> bool:
    """Whether the interpreter's command line (``sys.orig_argv``) runs the launcher: ``-m
    posixbackend``, one of its console scripts (a file of that name that calls it), or the
    bootstrap of a launcher started again with Python's options (exactly that code)."""
    index = 1
    while index < len(argv):
        word = argv[index]
        if word == "--":
            index += 1
            break
        if not word.startswith("-") or word == "-":
            break
        index += 1
        if word.startswith("--"):
            index += word == "--check-hash-based-pycs"  # the long option with a value
            continue
        for position, letter in enumerate(word[1:], start=2):
            rest = word[position:]
            if letter in "cm":
                value = rest or (argv[index] if index < len(argv) else "")
                if letter == "c":  # the launcher started again with Python's options
                    return value == BOOTSTRAP
                return value in LAUNCHER_MODULES
            if letter in OPTIONS_WITH_VALUE:
                index += not rest
                break
    script = argv[index] if index < len(argv) else ""
    return posixpath.basename(script) in LAUNCHER_SCRIPTS and _calls_the_launcher(script)


def _calls_the_launcher(script: str) -> bool:
    """Whether the script file calls the launcher (the console scripts import it)."""
    try:
        fd = posix.open(script, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return False
    try:
        return b"posixbackend.launcher" in posix.read(fd, 4096)
    finally:
        posix.close(fd)
