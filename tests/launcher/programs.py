"""The programs the "like python" tests run, as files to write and command lines to run them.

Each case is run by plain ``python`` and by the launcher in every mode, and everything the
process shows (status, stdout, stderr) must be the same: the programs print what python sets
up for them (sys.argv, sys.path[0], the whole ``__main__`` namespace) or end in each of the ways
a python process can end.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import attrs

from tests.launcher.running import write

PROBE = """\
import json, os, sys
main = vars(sys.modules["__main__"])
loader = main["__loader__"]
print(json.dumps({
    "argv": sys.argv,
    "path0": sys.path[0],
    "name": __name__,
    "names": list(main),
    "file": main.get("__file__"),
    "cached": main.get("__cached__"),
    "package": main["__package__"],
    "spec": None if main["__spec__"] is None else [__spec__.name, __spec__.origin],
    "loader": loader.__name__ if isinstance(loader, type) else type(loader).__name__,
    "builtins": type(main["__builtins__"]).__name__,
    "annotations": main.get("__annotations__"),
    "same_module": sys.modules["__main__"] is sys.modules[__name__],
    "cwd": os.getcwd(),
}))
"""

ENDINGS = """\
import atexit, sys, threading
atexit.register(print, "atexit ran", flush=True)

def inner(value):
    raise ValueError(f"bad value {value!r}")

def chained():
    try:
        inner(1)
    except ValueError as error:
        raise RuntimeError("while chaining") from error

how = sys.argv[1]
if how == "return":
    print("fell off the end")
elif how == "exit3":
    sys.exit(3)
elif how == "exit-message":
    sys.exit("a message for stderr")
elif how == "exit-none":
    raise SystemExit(None)
elif how == "exception":
    chained()
elif how == "keyboard":
    raise KeyboardInterrupt
elif how == "thread":
    worker = threading.Thread(target=inner, args=(2,), name="worker")
    worker.start()
    worker.join()
    print("main thread went on")
elif how == "helper":
    import helper
    helper.fail()
"""

HELPER = """\
def fail():
    return {}["missing key"]
"""

FILES = {
    "probe.py": PROBE,
    "sub/probe.py": PROBE,
    "pkg/__init__.py": "",
    "pkg/probe.py": PROBE,
    "pkg/__main__.py": PROBE,
    "pkg/failing.py": "def go():\n    raise LookupError('from a module')\n\ngo()\n",
    "app/__main__.py": PROBE,
    "failing_app/__main__.py": "import sys\nprint(sys.argv)\nraise OSError(5, 'in a directory')\n",
    "no_main/README": "a directory without __main__.py\n",
    "endings.py": ENDINGS,
    "helper.py": HELPER,
    "syntax_error.py": "x = 1\ndef broken(:\n    pass\n",
}


def make_programs(directory: Path) -> None:
    """Write every program of :data:`FILES`, a zip application and a symlink to a script."""
    write(directory, FILES)
    with zipfile.ZipFile(directory / "app.zip", "w") as archive:
        archive.writestr("__main__.py", PROBE)
    (directory / "link.py").symlink_to(directory / "sub" / "probe.py")


@attrs.frozen
class Case:
    """A command line (after ``python`` or the launcher and its options) and its stdin."""

    args: tuple[str, ...]
    stdin: str | None = None


ABSOLUTE = "{directory}"
"""Replaced by the programs' directory in a case's arguments."""

STARTS = {
    "script": Case(("probe.py", "a", "-b", "--c", "-m")),
    "script-in-subdirectory": Case(("sub/probe.py",)),
    "script-dotted-path": Case(("./sub/../probe.py", "x")),
    "script-absolute": Case((f"{ABSOLUTE}/probe.py",)),
    "script-symlink": Case(("link.py",)),
    "directory": Case(("app", "y")),
    "directory-dotted": Case(("./sub/../app",)),
    "zip-application": Case(("app.zip", "z")),
    "module": Case(("-m", "pkg.probe", "m1", "-c", "x")),
    "module-joined": Case(("-mpkg.probe",)),
    "package": Case(("-m", "pkg", "p1")),
    "code": Case(("-c", PROBE, "c1", "--fs=memory")),
    "code-joined": Case((f"-c{PROBE}",)),
    "stdin-dash": Case(("-", "s1"), PROBE),
    "stdin-implicit": Case((), PROBE),
}
"""The ways to start a program whose ``__main__`` set-up is compared."""

ENDS = {
    "return": Case(("endings.py", "return")),
    "exit-3": Case(("endings.py", "exit3")),
    "exit-message": Case(("endings.py", "exit-message")),
    "exit-none": Case(("endings.py", "exit-none")),
    "exception-chained": Case(("endings.py", "exception")),
    "keyboard-interrupt": Case(("endings.py", "keyboard")),
    "thread-exception": Case(("endings.py", "thread")),
    "exception-in-helper-module": Case(("endings.py", "helper")),
    "exception-in-module": Case(("-m", "pkg.failing")),
    "exception-in-directory": Case(("failing_app",)),
    "exception-in-code": Case(("-c", "import endings\nendings.inner(3)", "endings.py")),
    "exception-from-stdin": Case(("-",), "def f():\n    1 / 0\n\nf()\n"),
    "syntax-error": Case(("syntax_error.py",)),
    "syntax-error-in-code": Case(("-c", "def (:")),
    "module-not-found": Case(("-m", "no_such_module_here")),
    "directory-without-main": Case(("no_main",)),
    "exit-from-code": Case(("-c", "raise SystemExit(42)")),
}
"""The ways a program ends whose status and output are compared."""


def arguments(case: Case, directory: Path) -> tuple[str, ...]:
    """``case``'s arguments with :data:`ABSOLUTE` filled in."""
    return tuple(arg.replace(ABSOLUTE, str(directory)) for arg in case.args)
