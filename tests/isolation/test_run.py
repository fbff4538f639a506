"""run_isolated for programs that behave: output, status, argv, stdin, environment, files in
and out, exceptions, and what the result says about the confinement."""

from __future__ import annotations

import signal
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from posixbackend import backend
from posixbackend.isolation import (
    IsolatedResult,
    IsolationError,
    Limits,
    landlock,
    run_isolated,
    seccomp,
)
from posixbackend.isolation.libc import MACHINE
from posixbackend.permissions.policy import Permissions
from tests.isolation.helpers import assert_nothing_left, printed


def test_a_program_prints_and_exits_with_status_0() -> None:
    result = run_isolated("print('hello'); import sys; print('oops', file=sys.stderr)")
    assert (result.status, result.stdout, result.stderr) == (0, b"hello\n", b"oops\n")
    assert result.ok and result.limit_exceeded is None and result.signal is None
    assert result.summary() == str(result) == "exited with status 0"
    assert_nothing_left(result)


def test_argv_stdin_environment_and_cwd_reach_the_guest() -> None:
    code = """\
        import os, sys, json
        print(json.dumps([sys.argv, sys.stdin.read(), dict(os.environ), os.getcwd()]))
    """
    result = run_isolated(
        textwrap.dedent(code), argv=["one", "two words"], stdin=b"input\n",
        env={"GREETING": "hi"}, cwd="/work/here",
    )  # fmt: skip
    assert result.status == 0, result.stderr
    assert printed(result) == [
        '[["-c", "one", "two words"], "input\\n", {"GREETING": "hi"}, "/work/here"]'
    ]


def test_the_host_environment_is_not_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSIXBACKEND_SECRET", "leaked")
    result = run_isolated("import os; print(sorted(os.environ))")
    assert printed(result) == ["[]"]


def test_files_go_in_and_come_back_out_as_a_snapshot() -> None:
    code = """\
        import os
        data = open('/data/in.bin', 'rb').read()
        os.makedirs('/out/deep/er')
        with open('/out/deep/er/twice.bin', 'wb') as out:
            out.write(data * 2)
        os.remove('/data/gone.txt')
        with open('/tmp/appended.txt', 'a') as out:
            out.write('more')
        os.link('/out/deep/er/twice.bin', '/tmp/hard')
        os.symlink('/data/in.bin', '/tmp/soft')
    """
    binary = bytes(range(256))
    result = run_isolated(
        textwrap.dedent(code),
        files={"/data/in.bin": binary, "/data/gone.txt": "bye", "/tmp/appended.txt": "some"},
    )
    assert result.status == 0, result.stderr
    assert result.files == {
        "/data/in.bin": binary,
        "/out/deep/er/twice.bin": binary * 2,
        "/tmp/appended.txt": b"somemore",
        "/tmp/hard": binary * 2,
    }


def test_a_host_script_runs_as_main_from_the_same_path(tmp_path: Path) -> None:
    script = tmp_path / "prog.py"
    script.write_text("import sys\nprint(__name__, __file__ == sys.argv[0], sys.argv[1:])\n")
    result = run_isolated(script, argv=["x"])
    assert printed(result) == ["__main__ True ['x']"]
    assert result.files == {str(script): script.read_bytes()}


def test_a_traceback_shows_the_scripts_source_lines(tmp_path: Path) -> None:
    script = tmp_path / "fails.py"
    script.write_text("def f():\n    return 1 / 0  # the failing line\nf()\n")
    result = run_isolated(script)
    assert result.status == 1
    assert result.exception == "ZeroDivisionError"
    assert b"return 1 / 0  # the failing line" in result.stderr
    assert result.stderr.endswith(b"ZeroDivisionError: division by zero\n")
    assert result.summary() == "exited with status 1 (uncaught ZeroDivisionError)"


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [
        ("raise SystemExit", 0, b""),
        ("raise SystemExit(3)", 3, b""),
        ("import sys; sys.exit('bad input')", 1, b"bad input\n"),
        ("import os; os._exit(7)", 7, b""),
    ],
)
def test_exit_statuses_are_pythons(code: str, status: int, stderr: bytes) -> None:
    result = run_isolated(code)
    assert (result.status, result.stderr, result.limit_exceeded) == (status, stderr, None)


def test_keyboard_interrupt_ends_the_child_by_sigint_as_cpython_does() -> None:
    result = run_isolated("raise KeyboardInterrupt")
    assert (result.status, result.signal) == (-signal.SIGINT, signal.SIGINT)
    assert result.stderr.endswith(b"KeyboardInterrupt\n")
    assert result.summary() == "killed by SIGINT"


def test_atexit_handlers_and_threads_finish_before_the_snapshot() -> None:
    code = """\
        import atexit, threading, time
        def late():
            time.sleep(0.2)
            open('/tmp/thread.txt', 'w').write('thread')
        threading.Thread(target=late).start()
        atexit.register(lambda: open('/tmp/atexit.txt', 'w').write('atexit'))
    """
    granted = Permissions(allow_io="all", allow_create_thread=True)
    result = run_isolated(textwrap.dedent(code), granted)
    assert result.status == 0, result.stderr
    assert result.files == {"/tmp/thread.txt": b"thread", "/tmp/atexit.txt": b"atexit"}


def test_the_guests_imports_come_from_the_interpreters_library() -> None:
    result = run_isolated("import json, decimal, sqlite3, attrs; print(json.dumps([1]))")
    assert (result.status, printed(result)) == (0, ["[1]"]), result.stderr


def test_everything_this_kernel_offers_is_applied() -> None:
    result = run_isolated("pass")
    expected = {"rlimits", "capabilities", "no_new_privs"}
    if _kernel_has_landlock():
        expected.add("landlock")
    if seccomp.ARCHITECTURES.get(MACHINE) is not None:
        expected.add("seccomp")
    assert expected <= set(result.confinement), result.not_confined
    assert not set(result.confinement) & set(result.not_confined)
    if "user_namespace" not in result.confinement:
        assert "user_namespace" in result.not_confined  # refused, and the result says why


def _kernel_has_landlock() -> bool:
    try:
        landlock.abi_version()
    except OSError:
        return False
    return True


def test_runs_from_inside_a_managed_block_use_the_real_os() -> None:
    with backend("managed"):
        result = run_isolated("print(6 * 7)")
    assert printed(result) == ["42"]


def test_runs_in_several_threads_at_once_stay_apart() -> None:
    results: dict[int, IsolatedResult] = {}

    def run(number: int) -> None:
        results[number] = run_isolated(
            f"open('/tmp/n', 'w').write('{number}'); print({number})", limits=Limits()
        )

    threads = [threading.Thread(target=run, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for number, result in results.items():
        assert (printed(result), result.files) == ([str(number)], {"/tmp/n": str(number).encode()})


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"files": {"relative.txt": b""}}, ValueError, "absolute path"),
        ({"files": {"/": b""}}, ValueError, "root directory"),
        ({"files": {"/x": 1}}, TypeError, "bytes or str"),
        ({"cwd": "tmp"}, ValueError, "absolute path"),
        ({"env": {"A": 1}}, TypeError, "str"),
        ({"stdin": "text"}, TypeError, "bytes"),
        ({"limits": {"cpu_seconds": 1}}, TypeError, "Limits"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(
    arguments: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        run_isolated("pass", **arguments)  # type: ignore[arg-type]


def test_code_must_be_source_or_a_path() -> None:
    with pytest.raises(TypeError, match="source"):
        run_isolated(b"print(1)")  # type: ignore[arg-type]


def test_a_missing_script_is_the_callers_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        run_isolated(tmp_path / "missing.py")


def test_a_memory_limit_below_the_interpreters_own_needs_is_refused_clearly() -> None:
    with pytest.raises(IsolationError, match=r"memory limit \(1 MiB\) is below"):
        run_isolated("pass", limits=Limits(memory_bytes=1 << 20))


def test_the_interpreter_runs_with_isolated_flags() -> None:
    result = run_isolated("import sys; print(sys.flags.isolated, sys.flags.no_site)")
    assert printed(result) == ["1 1"]
    assert sys.flags.isolated == 0  # the parent's are untouched


def test_the_guests_permissions_apply_inside_the_child() -> None:
    code = "import threading; threading.Thread(target=print).start()"
    result = run_isolated(code)
    assert result.exception == "PermissionError"
    assert b"grant allow_create_thread" in result.stderr


def test_without_file_access_the_guest_opens_nothing() -> None:
    result = run_isolated("open('/tmp/x', 'w')", Permissions(allow_io="none"), files={"/in": "x"})
    assert (result.status, result.exception) == (1, "PermissionError")
    assert b"grant allow_io" in result.stderr
    assert result.files == {"/in": b"x"}


def test_env_is_the_environment_the_permissions_give_access_to() -> None:
    code = "import os; print(dict(os.environ))"
    hidden = run_isolated(code, Permissions(allow_io="all"), env={"A": "1"})
    given = run_isolated(code, Permissions(allow_io="all", allow_environment_access={"B": "2"}))
    assert (printed(hidden), printed(given)) == (["{}"], ["{'B': '2'}"])
