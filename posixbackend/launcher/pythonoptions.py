"""Python's own command-line options, as the launcher accepts them before the target.

``python -h`` of 3.11 to 3.13 lists the same ones: the flags ``-b -B -d -E -i -I -O -P -q -R
-s -S -u -v -V -x`` (and ``-t``, accepted and ignored; ``-J`` is reserved for Jython), ``-W
arg`` and ``-X opt``, ``-h``/``-?``/``--help``, ``--version``, ``--check-hash-based-pycs
MODE`` and ``--help-env``, ``--help-xoptions``, ``--help-all``. They are read as python's
getopt reads them (``-uB`` is -u then -B, ``-Wd`` is -W with d, a long option's value is the
next word) and a bad one gives python's message.

Most of them set the interpreter up at its start-up, which the launcher's interpreter is past:
those are kept, in order, for a new interpreter (:mod:`posixbackend.launcher.relaunch`). The
launcher does -x itself (skip the script's first line), prints the version for -V, and python's
own help for the ``--help-*`` options.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from posixbackend.launcher.plain import Plain

TYPE_CHECKING = False  # typing costs milliseconds to import; mypy knows this one
if TYPE_CHECKING:
    from typing import Final

INTERPRETER_FLAGS: Final = frozenset("bBdEiIOPqRsSuv")
"""The one-letter options that only a starting interpreter applies."""
VALUED: Final = frozenset("WX")
"""The one-letter options with a value (joined, ``-Wd``, or the next word); -c and -m too,
but those name the program and end the options."""
IGNORED: Final = frozenset("t")
"""Accepted and ignored by python itself (a leftover of Python 2's tab warnings)."""
HELP_LETTERS: Final = frozenset("h?")
CHECK_HASH_BASED_PYCS: Final = "--check-hash-based-pycs"
HASH_BASED_PYCS_MODES: Final = ("default", "always", "never")
HELP_TOPICS: Final = ("--help-env", "--help-xoptions", "--help-all")
"""Long options that print a part of python's help and exit."""
LONG_OPTIONS: Final = frozenset({CHECK_HASH_BASED_PYCS, *HELP_TOPICS})
"""The long options python's getopt knows (``--help`` and ``--version`` are whole words it
checks before, so ``-u-version`` is unknown where ``-u-help-env`` is not)."""


class PythonOptionError(Exception):
    """A Python option python itself would refuse: its message, status 2."""


class PythonOptions(Plain):
    """The Python options of one command line."""

    __slots__ = ("interpreter", "skip_first_line", "version")
    interpreter: tuple[str, ...]
    """What a new interpreter must be started with, in the order given (``-W`` and ``-X``
    each followed by its value, ``-bb`` as two ``-b``)."""
    version: int
    """How many times -V (or --version) was given: once, the short version; more, the long."""
    skip_first_line: bool
    """-x: the script's first line is not source (a ``#!`` line of another system)."""

    def __init__(
        self, interpreter: tuple[str, ...] = (), version: int = 0, skip_first_line: bool = False
    ) -> None:
        self._set(interpreter=interpreter, version=version, skip_first_line=skip_first_line)

    def version_line(self, version: str, long_version: str) -> str:
        """What ``python -V`` (``-VV``) prints, given ``platform.python_version()`` and
        ``sys.version``."""
        return f"Python {long_version if self.version > 1 else version}"


class PythonOptionReader:
    """Collects the Python options of a command line as the launcher's parser meets them."""

    def __init__(
        self,
        interpreter: list[str] | None = None,
        version: int = 0,
        skip_first_line: bool = False,
        notice: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.interpreter: list[str] = [] if interpreter is None else interpreter
        self.version = version
        self.skip_first_line = skip_first_line
        self.notice = notice
        """Where python's non-fatal remarks go (``-u-`` gives "expected long option")."""

    def options(self) -> PythonOptions:
        """What was read so far."""
        return PythonOptions(tuple(self.interpreter), self.version, self.skip_first_line)

    def flag(self, letter: str) -> None:
        """One letter without a value (PythonOptionError for an unknown one)."""
        if letter in INTERPRETER_FLAGS:
            self.interpreter.append(f"-{letter}")
        elif letter == "V":
            self.version += 1
        elif letter == "x":
            self.skip_first_line = True
        elif letter == "J":
            raise PythonOptionError("-J is reserved for Jython")
        elif letter not in IGNORED:
            raise PythonOptionError(f"Unknown option: -{letter}")

    def valued(self, letter: str, value: str) -> None:
        """``-W value`` or ``-X value``."""
        self.interpreter += [f"-{letter}", value]

    def check_hash_based_pycs(self, value: str) -> None:
        """``--check-hash-based-pycs MODE``."""
        if value not in HASH_BASED_PYCS_MODES:
            raise PythonOptionError(
                f"{CHECK_HASH_BASED_PYCS} must be one of 'default', 'always', or 'never'"
            )
        self.interpreter += [CHECK_HASH_BASED_PYCS, value]


def missing_value(option: str, *, long: bool = False) -> PythonOptionError:
    """Python's error for an option given last without its value (for a long option, named
    by the whole word that gave it, the message says "options")."""
    return PythonOptionError(f"Argument expected for the {option} option{'s' if long else ''}")


def interpreter_options(orig_argv: Sequence[str]) -> list[str]:
    """The options an interpreter was started with (``sys.orig_argv``), up to the program it
    runs, in the form :attr:`PythonOptions.interpreter` keeps (its own -x and -V dropped)."""
    reader = PythonOptionReader()
    index = 1
    while index < len(orig_argv):
        word = orig_argv[index]
        index += 1
        if word in ("--", "--version") or not word.startswith("-") or word == "-":
            break
        if word == CHECK_HASH_BASED_PYCS and index < len(orig_argv):
            reader.check_hash_based_pycs(orig_argv[index])
            index += 1
            continue
        if word.startswith("--"):
            continue  # --help and the like: the interpreter would have exited
        for position, letter in enumerate(word[1:], start=2):
            if letter in "cm-":
                return reader.interpreter
            if letter in VALUED:
                value = word[position:]
                if not value and index < len(orig_argv):
                    value = orig_argv[index]
                    index += 1
                reader.valued(letter, value)
                break
            if letter in INTERPRETER_FLAGS:
                reader.flag(letter)
    return reader.interpreter
