"""Python's own options given to the launcher: accepted as python accepts them, in force for
the program as under python, and python's messages when bad.

Every option the running interpreter's ``python -h`` lists must be understood (a version that
adds one fails here until the launcher knows it). For each option that sets the interpreter
up, a probe program prints python's state as the program sees it (``sys.flags``,
``sys.warnoptions`` and the warning filters, ``sys._xoptions``, bytecode writing,
``__debug__`` and asserts, docstrings, hash-based pycs, ``sys.path``, the standard streams'
buffering, and the order a shared pipe shows stdout and stderr in), and the launcher's must
equal python's: for each option on the native backend, and in combinations mixed with the
launcher's own options on the java backend on the host and in memory (the options act on the
interpreter, the same for every backend; what the backend adds, the streams, is in both).
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from posixbackend.launcher.main import main
from posixbackend.launcher.options import UsageError, options_from_environment, parse_command
from posixbackend.launcher.pythonoptions import interpreter_options
from posixbackend.launcher.relaunch import BOOTSTRAP
from posixbackend.launcher.startup import starts_the_launcher
from posixbackend.launcher.target import Target, TargetKind
from tests.launcher.running import (
    JAVA_HOST,
    JAVA_MEMORY,
    LAUNCHER,
    MODES,
    NATIVE,
    PYTHON,
    Mode,
    Outcome,
    console_script,
    launch,
    python,
    run,
    write,
)

PROBE = """\
import builtins, json, sys, warnings, _imp

def documented():
    "a docstring"

try:
    assert False
    asserts = "removed"
except AssertionError:
    asserts = "kept"
flags = {name: getattr(sys.flags, name) for name in dir(sys.flags)
         if not name.startswith("_") and name not in ("count", "index")}
print(json.dumps({
    "flags": flags, "warnoptions": sys.warnoptions, "xoptions": sys._xoptions,
    "filters": [repr(entry) for entry in warnings.filters],
    "dont_write_bytecode": sys.dont_write_bytecode, "debug": __debug__, "asserts": asserts,
    "doc": documented.__doc__, "hash_based_pycs": _imp.check_hash_based_pycs,
    "path": sys.path, "pycache_prefix": sys.pycache_prefix,
    "int_max_str_digits": sys.get_int_max_str_digits(), "exit_builtin": hasattr(builtins, "exit"),
    "argv": sys.argv,
    "stdout": [sys.stdout.line_buffering, sys.stdout.write_through,
               type(sys.stdout.buffer).__name__, sys.stdout.encoding, sys.stdout.errors],
    "stderr": [sys.stderr.line_buffering, sys.stderr.write_through,
               type(sys.stderr.buffer).__name__, sys.stderr.encoding, sys.stderr.errors],
    "stdin": [type(sys.stdin.buffer).__name__, sys.stdin.encoding, sys.stdin.errors],
}, sort_keys=True))
print("stdout, before stderr")
print("stderr, second", file=sys.stderr)
print("stdout, third")
"""

ENVIRONMENT = {"PYTHONWARNINGS": "ignore::UserWarning", "PYTHONHASHSEED": "0"}
"""Variables -E and -I make python ignore (and -R overrides), so that they show."""
UNSET = ("PYTHONUNBUFFERED",)
"""Left out so that -u shows (and -B, for its own case)."""

STATE_CASES: dict[str, tuple[str, ...]] = {
    "b": ("-b",), "bb": ("-bb",), "B": ("-B",), "d": ("-d",), "E": ("-E",), "I": ("-I",),
    "O": ("-O",), "OO": ("-OO",), "P": ("-P",), "q": ("-q",), "R": ("-R",), "s": ("-s",),
    "S": ("-S",), "u": ("-u",), "v": ("-v",), "W": ("-W", "error::DeprecationWarning"),
    "W-joined": ("-Wd",), "X": ("-X", "dev"), "X-joined": ("-Xutf8",),
    "X-value": ("-X", "int_max_str_digits=1000"), "X-warn": ("-X", "warn_default_encoding"),
    "check-hash-based-pycs": ("--check-hash-based-pycs", "always"), "cluster": ("-uBOs",),
    "t": ("-t",),
}  # fmt: skip
"""Each option that sets the interpreter up (and -t, which python ignores), as given."""

ELSEWHERE = {
    "-c": "the programs of every test", "-m": "test_like_python", "-h": "test_help_*",
    "-V": "test_version_*", "-i": "test_inspect_*", "-x": "test_first_line_skipped_*",
    "--help-env": "test_python_help_*", "--help-xoptions": "test_python_help_*",
    "--help-all": "test_python_help_*",
}  # fmt: skip
"""The options python -h lists that are not interpreter state, and where they are tested."""


@functools.cache
def listed_options() -> tuple[str, ...]:
    """The options the running interpreter's ``python -h`` lists (its own help, so that
    3.12's and 3.13's differences are the ones checked)."""
    shown = subprocess.run(
        [PYTHON, "-h"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return tuple(re.findall(r"^(-[A-Za-z]{1,2}|--[a-z][a-z-]+)\b", shown, flags=re.MULTILINE))


def _given_with_value(option: str) -> list[str]:
    """``option`` as a command line would give it (with a value if it takes one)."""
    values = {"-W": "default", "-X": "dev", "--check-hash-based-pycs": "never", "-c": "pass",
              "-m": "json.tool"}  # fmt: skip
    return [option, values[option]] if option in values else [option]


def test_python_help_lists_what_is_tested() -> None:
    """Each option ``python -h`` lists is an interpreter-state case here or tested elsewhere."""
    listed = listed_options()
    assert {"-u", "-X", "--check-hash-based-pycs", "--help-all"} <= set(listed)
    given = [words[0] for words in STATE_CASES.values()]
    covered = {*given, *(word[:2] for word in given), *ELSEWHERE}
    assert set(listed) <= covered


def test_every_listed_option_is_accepted() -> None:
    for option in listed_options():
        command = parse_command([*_given_with_value(option), "script.py"])
        python_state = command.python
        understood = (
            command.help or command.python_help == option or python_state.version
            or python_state.skip_first_line or command.target.kind is not TargetKind.SCRIPT
            or option in python_state.interpreter or option == "-OO"
        )  # fmt: skip
        assert understood, option


def test_options_are_read_as_python_reads_them() -> None:
    """Clusters, joined and separate values, repeated letters, in the order given, among the
    launcher's own options; -x and -V are the launcher's to do."""
    command = parse_command([
        "-uBOO", "--posix-backend=java", "-Wd", "-W", "error", "--fs", "memory", "-Xdev",
        "-X", "utf8", "-bb", "-x", "--check-hash-based-pycs", "never", "-V", "--version",
        "script.py", "-u", "--fs=host",
    ])  # fmt: skip
    assert command.python.interpreter == (
        "-u", "-B", "-O", "-O", "-W", "d", "-W", "error", "-X", "dev", "-X", "utf8", "-b", "-b",
        "--check-hash-based-pycs", "never",
    )  # fmt: skip
    assert command.python.version == 2 and command.python.skip_first_line
    assert command.options.fs is not None and str(command.options.fs) == "memory"
    assert command.target == Target(
        TargetKind.SCRIPT, "script.py", ("-u", "--fs=host"), skip_first_line=True
    )


def test_targets_among_python_options() -> None:
    assert parse_command(["-uc", "code", "a"]).target == Target(TargetKind.CODE, "code", ("a",))
    assert parse_command(["-Bmjson.tool"]).target == Target(TargetKind.MODULE, "json.tool")
    assert parse_command(["-u", "--", "-c"]).target == Target(TargetKind.SCRIPT, "-c")
    assert parse_command(["--", "-", "a"]).target == Target(TargetKind.STDIN, "-", ("a",))
    assert parse_command(["-x", "-c", "code"]).target == Target(TargetKind.CODE, "code")
    assert parse_command(["-uh", "-Z"]).help


def test_expected_long_option_is_a_remark_as_in_python(tmp_path: Path) -> None:
    """``-u-`` makes python say "expected long option" and end its options there."""
    remarks: list[str] = []
    command = parse_command(["-u-", "-script.py"], notice=remarks.append)
    assert remarks == ["expected long option"]
    assert command.target == Target(TargetKind.SCRIPT, "-script.py")
    reference = python("-u-", cwd=tmp_path, stdin="print('read from stdin')")
    assert reference == Outcome(0, "read from stdin\n", "expected long option\n")
    assert launch("-u-", cwd=tmp_path, stdin="print('read from stdin')") == reference


BAD_OPTIONS = [
    ["-Z"], ["-J"], ["-W"], ["-X"], ["-uW"], ["-c"], ["-m"], ["-Bc"],
    ["--check-hash-based-pycs"], ["--check-hash-based-pycs", "maybe"],
    ["--check-hash-based-pycs=always"], ["--version=1"], ["-u-version"], ["-u-bogus"],
    ["--bogus=1"], ["-u-check-hash-based-pycs"],
]  # fmt: skip


@pytest.mark.parametrize("argv", BAD_OPTIONS, ids=" ".join)
def test_bad_python_option_gives_pythons_message(argv: list[str], tmp_path: Path) -> None:
    reference = python(*argv, cwd=tmp_path)
    assert reference.returncode == 2
    with pytest.raises(UsageError) as caught:
        parse_command(argv)
    assert str(caught.value) == reference.stderr.splitlines()[0]


def test_bad_python_option_exits_2_with_the_usage(tmp_path: Path) -> None:
    done = launch("-u", "-Z", "-c", "print('ran')", cwd=tmp_path)
    assert done == Outcome(2, "", "Unknown option: -Z\n"
        "usage: posixbackend [option] ... (file | -m mod | -c cmd | -) [arg] ...\n"
        "Try `posixbackend --help' for more information.\n")  # fmt: skip


def test_python_options_are_not_handed_to_children() -> None:
    for value in ("-u", "--version", "--check-hash-based-pycs always", "--help-env", "--"):
        with pytest.raises(UsageError, match="backend options only"):
            options_from_environment(f"--posix-backend=java {value}")


def test_interpreter_options_of_a_command_line() -> None:
    """The options an interpreter was started with, up to its program (kept when the launcher
    starts the interpreter again)."""
    assert interpreter_options(["python", "-X", "dev", "-Bm", "posixbackend", "-u"]) == [
        "-X", "dev", "-B",
    ]  # fmt: skip
    assert interpreter_options(["python", "-Wd", "-VE", "script.py", "-O"]) == ["-W", "d", "-E"]
    assert interpreter_options(["/bin/python3", "/venv/bin/posixbackend", "-u"]) == []
    assert interpreter_options(["python", "--check-hash-based-pycs", "never", "-c", "x"]) == [
        "--check-hash-based-pycs", "never",
    ]  # fmt: skip


def test_start_up_knows_the_bootstrap_exactly() -> None:
    """A launcher started again runs the bootstrap; other code given with -c is no launcher
    (it would otherwise escape a time limit handed on to it)."""
    assert starts_the_launcher(["python", "-u", "-c", BOOTSTRAP, "{}", "0", "x.py"])
    assert not starts_the_launcher(["python", "-c", BOOTSTRAP + "\nprint('more')", "{}", "0"])
    assert not starts_the_launcher(["python", "-c", "import posixbackend.launcher.relaunch"])


# -- what the program sees ----------------------------------------------------------------


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the probe program (never written to by the runs)."""
    directory = tmp_path_factory.mktemp("python-options")
    write(directory, {"probe.py": PROBE})
    return directory


def _state(
    command: Sequence[str], directory: Path, *, merged: bool = True, unset: Sequence[str] = ()
) -> Outcome:
    return run(command, directory, env=ENVIRONMENT, unset=(*UNSET, *unset), merged=merged)


@pytest.mark.parametrize("case", sorted(STATE_CASES))
def test_option_in_force_like_python(case: str, probe: Path) -> None:
    """On the native backend: the probe's output (stderr merged, showing the buffering) and
    status equal python's. Under -v stderr traces the imports, the launcher's too: there
    stdout is compared, and stderr must show the tracing."""
    options = STATE_CASES[case]
    unset = ("PYTHONDONTWRITEBYTECODE",) if "B" in "".join(options) else ()
    merged = case != "v"
    expected = _state([PYTHON, *options, "probe.py"], probe, merged=merged, unset=unset)
    got = _state([*LAUNCHER, *options, "probe.py"], probe, merged=merged, unset=unset)
    assert expected.returncode == 0, expected
    assert got.stdout == expected.stdout and got.returncode == 0
    if not merged:
        assert "import 'json'" in got.stderr and "import 'json'" in expected.stderr


COMBINATIONS = {
    "buffering-and-warnings": (
        ["-u"], ["-B", "-O", "-W", "error::DeprecationWarning", "-X", "dev",
                 "--check-hash-based-pycs", "always", "-b"],
    ),
    "isolated-no-site": (["-I", "-OO"], ["-S", "-R", "-q", "-Xutf8", "-s", "-d"]),
}  # fmt: skip
"""Python options given before and after the launcher's own."""


@pytest.mark.parametrize("mode", [JAVA_HOST, JAVA_MEMORY], ids=lambda mode: mode.name)
@pytest.mark.parametrize("combination", sorted(COMBINATIONS))
def test_options_mixed_with_the_launchers_like_python(
    combination: str, mode: Mode, probe: Path
) -> None:
    before, after = COMBINATIONS[combination]
    unset = ["PYTHONDONTWRITEBYTECODE"]  # -B shows
    expected = _state([PYTHON, *before, *after, "probe.py"], probe, unset=unset)
    got = _state([*LAUNCHER, *before, *mode.options, *after, "probe.py"], probe, unset=unset)
    assert expected.returncode == 0, expected
    assert got == expected


def test_console_script_with_python_options(tmp_path: Path) -> None:
    """``posixbackend-managed -I -c CODE``: isolated as python -I is, on the java backend, and
    the program sees the command line that was given."""
    code = "import json, sys; print(json.dumps([sys.flags.isolated, sys.path, sys.orig_argv]))"
    script = console_script("posixbackend-managed")
    expected = json.loads(python("-I", "-c", code, cwd=tmp_path).stdout)
    code += "; import posixbackend; print(posixbackend.current().value)"
    shown = run([script, "-I", "-c", code], tmp_path)
    assert shown.returncode == 0, shown.stderr
    state, backend = shown.stdout.splitlines()
    assert json.loads(state)[:2] == expected[:2] and backend == "java"
    assert json.loads(state)[2][1:] == [script, "-I", "-c", code]


def test_no_site_still_activates_a_parents_backend(tmp_path: Path) -> None:
    """Under -S no .pth file runs; the launcher started again still takes the options its
    parent handed on (here the parent's time limit, which must still end the program)."""
    started = time.monotonic()
    done = run([*LAUNCHER, "-S", "-c", "import time; time.sleep(20)"], tmp_path,
               env={"POSIXBACKEND_OPTIONS": "--time-limit=1"})  # fmt: skip
    assert done.returncode == 124 and "time limit of 1.0 s exceeded" in done.stderr
    assert time.monotonic() - started < 15


# -- version and help ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv", [["-V"], ["-VV"], ["--version"], ["-V", "--version"], ["-uV", "script.py"]],
    ids=" ".join,
)  # fmt: skip
def test_version_like_python(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = python(*argv, cwd=tmp_path)
    assert expected.returncode == 0
    assert main(argv) == 0
    assert capsys.readouterr() == (expected.stdout, expected.stderr)


def test_version_from_the_command_line(tmp_path: Path) -> None:
    assert launch("-VV", cwd=tmp_path) == python("-VV", cwd=tmp_path)


@pytest.mark.parametrize("topic", ["--help-env", "--help-xoptions", "--help-all"])
def test_python_help_like_python(topic: str, tmp_path: Path) -> None:
    """Python's own help, printed by python (--help-all names the program as python would)."""
    expected = python(topic, cwd=tmp_path)
    assert expected.returncode == 0 and expected.stdout
    assert launch(topic, cwd=tmp_path) == expected


def test_help_says_python_options_are_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-h"]) == 0
    shown = capsys.readouterr().out
    assert "Python's own options (python -h lists them) are accepted too" in shown
    for option in listed_options():
        if option not in ("-c", "-m", "-h", "-t"):
            assert re.search(rf"(^|\s){re.escape(option)}\b", shown), option


# -- -x and -i ------------------------------------------------------------------------------

SKIPPED = """\
this first line is not Python
import sys
print("ran", sys.argv[1:])
raise ValueError("on line 4")
"""


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
def test_first_line_skipped_like_python(mode: Mode, tmp_path: Path) -> None:
    write(tmp_path, {"skipped.py": SKIPPED})
    expected = python("-x", "skipped.py", "a", cwd=tmp_path)
    assert expected.returncode == 1 and 'line 4, in <module>' in expected.stderr
    assert launch("-x", *mode.options, "skipped.py", "a", cwd=tmp_path) == expected


INSPECTED = {
    "after-system-exit": (["-c", "x = 5; import sys; sys.exit(3)"], "print(x)\n"),
    "after-interrupt": (["-c", "x = 6; raise KeyboardInterrupt"], "print(x)\n"),
    "missing-script": (["missing.py"], "print('prompted')\n"),
    "stdin-named": (["-q", "-"], "import sys; print(sys.argv, repr(sys.path[0]))\nx\n"),
    "no-program": ([], "print(started)\n"),
}  # fmt: skip
"""python -i cases: the command line after -i, and what is typed at the prompt."""


@pytest.mark.parametrize("mode", [NATIVE, JAVA_MEMORY], ids=lambda mode: mode.name)
@pytest.mark.parametrize("case", sorted(INSPECTED))
def test_inspect_like_python(case: str, mode: Mode, tmp_path: Path) -> None:
    """The program runs, its ending is printed (SystemExit and KeyboardInterrupt too), then
    python's prompt reads stdin in the program's ``__main__``; without a program, the banner
    and the PYTHONSTARTUP file come first."""
    write(tmp_path, {"startup.py": "started = 'from PYTHONSTARTUP'\n"})
    argv, typed = INSPECTED[case]
    env = {"PYTHONSTARTUP": str(tmp_path / "startup.py")}
    expected = run([PYTHON, "-i", *argv], tmp_path, stdin=typed, env=env)
    got = run([*LAUNCHER, *mode.options, "-i", *argv], tmp_path, stdin=typed, env=env)
    assert expected.returncode == 0 and ">>> " in expected.stderr
    assert got == expected


@pytest.mark.parametrize("mode", [NATIVE, JAVA_MEMORY], ids=lambda mode: mode.name)
def test_inspect_without_a_prompt_like_python(mode: Mode, tmp_path: Path) -> None:
    """PYTHONINSPECT without a terminal: no prompt follows, but a SystemExit still ends
    nothing by itself: it is printed, and the status is 1."""
    code = "import sys; print('out'); sys.exit(3)"
    env = {"PYTHONINSPECT": "1"}
    expected = run([PYTHON, "-c", code], tmp_path, env=env)
    assert expected.returncode == 1 and expected.stderr.endswith("SystemExit: 3\n")
    assert run([*LAUNCHER, *mode.options, "-c", code], tmp_path, env=env) == expected


def test_inspect_does_not_outlive_a_time_limit(tmp_path: Path) -> None:
    """Under -i a SystemExit ends nothing; the launcher's time limit still ends the process
    (no prompt, its line and status 124)."""
    done = launch("--time-limit=0.5", "-i", "-c", "while True: pass", cwd=tmp_path,
                  stdin="print('prompted')\n")  # fmt: skip
    assert done == Outcome(124, "", "posixbackend: time limit of 0.5 s exceeded\n")


def test_a_program_cannot_start_the_interpreter_again(tmp_path: Path) -> None:
    """A program the launcher runs that calls the launcher with Python's options would
    replace the process, and its permissions with it: refused, and the program goes on."""
    code = "from posixbackend.launcher import main\nprint(main(['-u', '-c', 'print(1)']))"
    done = launch("--sandbox", "--allow-create-process", "-c", code, cwd=tmp_path)
    assert done == Outcome(0, "1\n", "posixbackend: Python's options start a new interpreter, "
                           "which a program the launcher runs cannot do: give them on the "
                           "launcher's own command line\n")  # fmt: skip


def test_the_restart_is_a_reported_gap(tmp_path: Path) -> None:
    """Starting the interpreter again shows where python would not (its command line): the
    compatibility report says so."""
    report = tmp_path / "report.json"
    done = launch("-u", "--posix-backend=java", f"--compat-report={report}", "-c", "pass",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    gaps = {gap["id"] for gap in json.loads(report.read_text())["gaps"]}
    assert "launcher.python_options_restart" in gaps
