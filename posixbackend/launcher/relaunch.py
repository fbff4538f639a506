"""Starting the interpreter again with Python's own options, which only a starting
interpreter applies (``sys.flags``, -W, -X, -u, -E, -S, --check-hash-based-pycs ...).

When the launcher reads ``python -m posixbackend -O x.py`` its interpreter is past its
start-up. Rather than imitate what -O would have done, the launcher replaces itself
(``execv``) by ``python [its own options] -O -c BOOTSTRAP DATA N ROOTS... ARGUMENTS``: the
new interpreter applies the options itself, and the bootstrap (a fixed string, which start-up
recognises as the launcher) runs the launcher again on the same ARGUMENTS, told not to start
again. DATA says how the launcher was started (its name, its default backend, python's
command line to show the program as ``sys.orig_argv``); the N ROOTS are the directories the
launcher's own packages were imported from, put at the end of ``sys.path`` for the bootstrap
to import them (-S, -s, -I or -E may have taken them away) and taken off again before the
program runs, so that its ``sys.path`` is what python's would be.

Start-up imports this module to recognise the bootstrap: it imports nothing of the launcher
until the bootstrap runs.
"""

from __future__ import annotations

import json
import posix
import posixpath
import sys
from collections.abc import Sequence
from typing import Final

import attrs

import compat

BOOTSTRAP: Final = (
    "import sys; sys.path.extend(sys.argv[3:3 + int(sys.argv[2])]); "
    "from posixbackend.launcher.relaunch import resume; resume()"
)
"""The program the new interpreter runs (``-c``): import the launcher and resume it."""
OWN_PACKAGES: Final = ("posixbackend", "vfs", "compat", "attrs", "attr")
"""The top-level packages the launcher imports from outside the interpreter's library."""
STARTED_AGAIN = compat.declare(
    id="launcher.python_options_restart",
    function="sys.orig_argv",
    aspect="Python's options given to the launcher",
    level=compat.Level.INFO,
    explanation="the options only a starting interpreter applies (-O, -u, -E, -S, -W, -X ...) "
    "start the interpreter again with them, in the same process (execv), running the launcher "
    "from a bootstrap: sys.orig_argv shows the command line that was given, but "
    "/proc/self/cmdline and ps show the bootstrap's, and -v, -X importtime and a debug "
    "build's -d also trace the launcher's own imports and parsing",
)


class RelaunchError(Exception):
    """The interpreter cannot be started again (no known executable, or exec failed)."""


@attrs.frozen
class Launch:
    """How the launcher was started: what a new interpreter needs to run it the same way."""

    prog: str
    """The launcher's name in its usage and help."""
    default_backend: str
    """The backend without --posix-backend (``posixbackend-managed`` has java)."""
    program_name: str
    """The name python's own messages begin with (python's ``argv[0]``)."""
    orig_argv: tuple[str, ...]
    """The command line the user gave, shown to the program as ``sys.orig_argv``."""

    def encode(self) -> str:
        """This record as the one argument DATA."""
        return json.dumps(attrs.asdict(self))

    @classmethod
    def decode(cls, text: str) -> Launch:
        """The record DATA holds."""
        fields = json.loads(text)
        return cls(
            str(fields["prog"]), str(fields["default_backend"]), str(fields["program_name"]),
            tuple(str(word) for word in fields["orig_argv"]),
        )  # fmt: skip


def package_roots() -> list[str]:
    """The directories the launcher's own packages were imported from (each once)."""
    roots: list[str] = []
    for name in OWN_PACKAGES:
        module = sys.modules.get(name)
        locations = getattr(getattr(module, "__spec__", None), "submodule_search_locations", None)
        for location in locations or ():
            root = posixpath.dirname(location)
            if root not in roots:
                roots.append(root)
    return roots


def command_line(
    launch: Launch, current: Sequence[str], added: Sequence[str], arguments: Sequence[str]
) -> list[str]:
    """The new interpreter's ``argv``: the options the current one was started with, then
    the ``added`` ones (python applies -W and the like in that order), then the bootstrap
    and the launcher's ``arguments``."""
    roots = package_roots()
    return [
        sys.executable, *current, *added, "-c", BOOTSTRAP, launch.encode(), str(len(roots)),
        *roots, *arguments,
    ]  # fmt: skip


def relaunch(argv: list[str]) -> None:
    """Replace this process by the interpreter (``sys.executable``) with ``argv``;
    RelaunchError if it cannot be done (this process then goes on)."""
    if not sys.executable:
        raise RelaunchError("cannot start the interpreter again: sys.executable is unknown")
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    try:
        posix.execv(sys.executable, argv)
    except OSError as error:
        raise RelaunchError(f"cannot start the interpreter again: {error}") from None


def resume() -> None:
    """The bootstrap's second half: run the launcher on the arguments the first one had.

    Ends with SystemExit for the launcher's exit status, or returns when the program has
    run and python's own ``-i`` is to inspect it."""
    launch = Launch.decode(sys.argv[1])
    count = int(sys.argv[2])
    arguments = sys.argv[3 + count :]
    from posixbackend.launcher.main import main
    from posixbackend.launcher.startup import activate_from_environment

    if sys.flags.no_site:  # -S: no .pth file ran, so start-up did not activate a backend
        activate_from_environment()
    roots = sys.argv[3 : 3 + count]
    for root in reversed(roots):  # the entries the bootstrap added, at the end
        if sys.path and sys.path[-1] == root:
            sys.path.pop()
    sys.orig_argv = list(launch.orig_argv)
    STARTED_AGAIN.hit(options=" ".join(sys.orig_argv[1:]))
    from posixbackend.backendnames import PosixModuleBackend

    status = main(
        arguments, prog=launch.prog, default_backend=PosixModuleBackend(launch.default_backend),
        program_name=launch.program_name, relaunched=True,
    )  # fmt: skip
    if status is not None:
        raise SystemExit(status)
