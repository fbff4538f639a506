"""The launcher's command line: backend choice and its spellings, console scripts, --help, bad
options (status 2 and a usage message on stderr, as python), and the options handed to children.

Parsing is checked in-process for every bad option (fast); a few runs check what the process
shows. What the program sees of the choice is checked by asking it (``posixbackend.current()``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend.launcher.options import (
    BackendOptions,
    FsKind,
    FsSpec,
    MountSpec,
    UsageError,
    options_from_environment,
    parse_command,
)
from posixbackend.launcher.target import Target, TargetKind
from posixbackend.switch.names import PosixModuleBackend
from tests.launcher.running import PYTHON, console_script, launch, python, run

SHOW_BACKEND = (
    "import json, os, posixbackend; print(json.dumps([posixbackend.current().value, "
    "os.environ.get('POSIXBACKEND_OPTIONS')]))"
)


def backend_seen(*command: str, cwd: Path) -> list[str | None]:
    """[backend name, POSIXBACKEND_OPTIONS] as a program run by ``command`` sees them."""
    done = run([*command, "-c", SHOW_BACKEND], cwd)
    assert done.returncode == 0, done.stderr
    seen: list[str | None] = json.loads(done.stdout)
    return seen


@pytest.mark.parametrize(
    ("command", "backend", "handed_on"),
    [
        ((PYTHON, "-m", "posixbackend"), "native", "--posix-backend=native"),
        ((PYTHON, "-m", "posixbackend", "--posix-backend=java"), "java", "--posix-backend=java"),
        ((PYTHON, "-m", "posixbackend", "--posix-backend", "managed"), "java",
         "--posix-backend=java"),
        ((PYTHON, "-m", "posixbackend", "--python.PosixModuleBackend=emulated", "--fs=memory"),
         "java", "--posix-backend=java --fs=memory"),
        (("posixbackend",), "native", "--posix-backend=native"),
        (("posixbackend-managed",), "java", "--posix-backend=java"),
        (("posixbackend-managed", "--python.PosixModuleBackend=native"), "native",
         "--posix-backend=native"),
    ],
    ids=["module", "java", "managed-alias-spaced", "graalpy-spelling", "script",
         "managed-script", "managed-script-native"],
)  # fmt: skip
def test_backend_choice(
    command: tuple[str, ...], backend: str, handed_on: str, tmp_path: Path
) -> None:
    if not command[0].startswith("/"):
        command = (console_script(command[0]), *command[1:])
    assert backend_seen(*command, cwd=tmp_path) == [backend, handed_on]


@pytest.mark.parametrize("script", ["posixbackend", "posixbackend-managed"])
def test_help(script: str, tmp_path: Path) -> None:
    done = run([console_script(script), "--help"], tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith(f"usage: {script} [option] ... (file | -m mod | -c cmd | -)")
    for option in (
        "--posix-backend", "--python.PosixModuleBackend", "--fs", "--mount", "--cwd",
        "--time-resolution", "--log.python.compatibility.level", "--compat-report",
        "--changes", "--processes", "POSIXBACKEND_OPTIONS",
    ):  # fmt: skip
        assert option in done.stdout, option


def test_help_stops_before_the_program(tmp_path: Path) -> None:
    done = launch("-h", "-c", "print('ran')", cwd=tmp_path)
    assert done.returncode == 0 and "ran" not in done.stdout and "usage:" in done.stdout


BAD = {
    "unknown-long": (["--bogus", "-c", "print('ran')"], "unknown option --bogus"),
    "unknown-short": (["-Z", "-c", "pass"], "Unknown option: -Z"),
    "module-missing": (["-m"], "Argument expected for the -m option"),
    "code-missing": (["-c"], "Argument expected for the -c option"),
    "value-missing": (["--fs"], "Argument expected for the --fs option"),
    "backend": (["--posix-backend=jvm", "x.py"], "--posix-backend: expected one of native, "
                "java, managed, emulated, not 'jvm'"),
    "fs": (["--posix-backend=java", "--fs=disk", "x.py"],
           "--fs: expected memory, host, host:ROOT or overlay, not 'disk'"),
    "fs-relative-root": (["--posix-backend=java", "--fs=host:rel", "x.py"],
                         "--fs: host:ROOT needs an absolute ROOT, not 'rel'"),
    "fs-on-native": (["--fs=memory", "x.py"],
                     "--fs: only for the emulated backend (--posix-backend=java)"),
    "several-on-native": (["--cwd=/", "--changes", "x.py"],
                          "--cwd, --changes: only for the emulated backend"),
    "changes-without-overlay": (["--posix-backend=java", "--changes", "x.py"],
                                "--changes needs --fs=overlay"),
    "cwd-relative": (["--posix-backend=java", "--cwd=tmp", "x.py"],
                     "--cwd: expected an absolute directory, not 'tmp'"),
    "mount-shape": (["--posix-backend=java", "--mount", "/data", "x.py"],
                    "--mount: expected GUEST=SPEC[:ro], not '/data'"),
    "mount-relative": (["--posix-backend=java", "--mount", "data=memory", "x.py"],
                       "--mount: the guest path must be absolute, not 'data'"),
    "mount-overlay": (["--posix-backend=java", "--mount", "/d=overlay", "x.py"],
                      "--mount: SPEC is memory, host, host:DIR or a host directory"),
    "time-resolution": (["--posix-backend=java", "--time-resolution=fast", "x.py"],
                        "--time-resolution: expected nanoseconds or a number with s, ms, us "
                        "or ns, not 'fast'"),
    "time-resolution-zero": (["--posix-backend=java", "--time-resolution=0.1ns", "x.py"],
                             "--time-resolution: must be at least 1ns, not '0.1ns'"),
    "log-level": (["--log.python.compatibility.level=LOUD", "x.py"],
                  "--log.python.compatibility.level: "),
    "processes": (["--posix-backend=java", "--processes=some", "x.py"],
                  "--processes: expected host or none, not 'some'"),
    "report-empty": (["--compat-report=", "x.py"], "--compat-report: expected a file name or -"),
}  # fmt: skip
"""Bad command lines and (the start of) the message each gives."""


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_option_is_a_usage_error(name: str) -> None:
    argv, message = BAD[name]
    with pytest.raises(UsageError) as caught:
        parse_command(argv)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("name", ["unknown-long", "module-missing", "fs-on-native", "fs"])
def test_bad_option_exits_2_with_usage_like_python(name: str, tmp_path: Path) -> None:
    """Status 2, the message, the usage line and a hint, all on stderr, nothing run."""
    argv, message = BAD[name]
    done = launch(*argv, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0].startswith(message)
    assert lines[1:] == [
        "usage: posixbackend [option] ... (file | -m mod | -c cmd | -) [arg] ...",
        "Try `posixbackend --help' for more information.",
    ]
    reference = python("--bogus", cwd=tmp_path)  # python's own shape: message, usage, hint
    assert reference.returncode == 2 and reference.stdout == ""
    shape = reference.stderr.splitlines()
    assert shape[1].startswith("usage: ") and shape[2].startswith("Try `python -h'")


def test_bad_mount_point_on_the_host_is_a_usage_error(tmp_path: Path) -> None:
    """On --fs=host a mount point must exist (nothing is made on disk), as for mount(8)."""
    missing = tmp_path / "not-there"
    done = launch("--posix-backend=java", f"--mount={missing}=memory", "-c", "pass", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == (
        f"--mount: No such file or directory: {missing} (--fs=host makes no mount points on disk)"
    )
    assert not missing.exists()


def test_bad_cwd_is_a_usage_error(tmp_path: Path) -> None:
    done = launch("--posix-backend=java", f"--cwd={tmp_path}/nowhere", "-c", "pass", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == f"--cwd: No such file or directory: {tmp_path}/nowhere"


def test_everything_after_the_target_belongs_to_the_program() -> None:
    command = parse_command(["--posix-backend=java", "-c", "code", "--fs=memory", "-m", "x"])
    assert command.target == Target(TargetKind.CODE, "code", ("--fs=memory", "-m", "x"))
    assert command.options.fs is None
    joined = parse_command(["-mpkg.mod", "--help"])
    assert joined.target == Target(TargetKind.MODULE, "pkg.mod", ("--help",)) and not joined.help


def test_stdin_is_the_default_target_unless_a_terminal() -> None:
    assert parse_command([]).target == Target(TargetKind.STDIN)
    assert parse_command([], stdin_is_tty=True).target == Target(TargetKind.INTERACTIVE)
    assert parse_command(["-", "a"]).target == Target(TargetKind.STDIN, "-", ("a",))


def test_time_resolution_units() -> None:
    def resolution(text: str) -> int | None:
        command = parse_command(["--posix-backend=java", f"--time-resolution={text}"])
        return command.options.time_resolution_ns

    assert resolution("1s") == 10**9 and resolution("1ms") == 10**6
    assert resolution("250us") == 250_000 and resolution("7ns") == 7 and resolution("42") == 42
    assert resolution("1.5ms") == 1_500_000


# -- the environment variable ----------------------------------------------------------------

paths = st.lists(st.sampled_from(["a", "b b", "ü", "x'y", "$HOME"]), min_size=1, max_size=3).map(
    lambda parts: "/" + "/".join(parts)
)
file_systems = st.one_of(
    st.builds(FsSpec, st.sampled_from([FsKind.MEMORY, FsKind.HOST, FsKind.OVERLAY])),
    st.builds(FsSpec, st.just(FsKind.HOST), paths),
)
mounts = st.builds(
    MountSpec,
    paths,
    st.one_of(st.just(FsSpec(FsKind.MEMORY)), st.builds(FsSpec, st.just(FsKind.HOST), paths)),
    st.booleans(),
)
java_options = st.builds(
    BackendOptions,
    backend=st.just(PosixModuleBackend.JAVA),
    fs=st.one_of(st.none(), file_systems),
    mounts=st.lists(mounts, max_size=3).map(tuple),
    time_resolution_ns=st.one_of(st.none(), st.integers(1, 10**10)),
    log_level=st.one_of(st.none(), st.sampled_from(["FINE", "info", "OFF", "25"])),
    processes=st.sampled_from(["host", "none"]),
)


@given(java_options)
def test_options_survive_the_environment(options: BackendOptions) -> None:
    """What a child reads back is what the parent had (the starting directory excepted: a
    child starts where the program started it)."""
    assert options_from_environment(options.environment_value()) == options


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("--posix-backend=java script.py", "backend options only, not 'script.py'"),
        ("--posix-backend=java -c pass", "backend options only, not '-c'"),
        ("--changes --fs=overlay", "backend options only, not '--changes'"),
        ("--compat-report=r.json", "backend options only, not '--compat-report=r.json'"),
        ("--help", "backend options only, not '--help'"),
        ("--posix-backend=java --fs", "Argument expected for the --fs option"),
        ("--fs='memory", "No closing quotation"),
        ("--posix-backend=java --fs=tape", "--fs: expected memory, host, host:ROOT or overlay"),
    ],
)
def test_bad_environment_value(value: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        options_from_environment(value)
    assert str(caught.value).startswith(message)


def test_space_separated_values_in_the_environment() -> None:
    options = options_from_environment("--posix-backend java --fs memory --mount '/a b=memory'")
    assert options == BackendOptions(
        backend=PosixModuleBackend.JAVA, fs=FsSpec(FsKind.MEMORY),
        mounts=(MountSpec("/a b", FsSpec(FsKind.MEMORY)),),
    )  # fmt: skip
