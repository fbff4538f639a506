"""Starting programs from the emulated backend.

Without a process handler every entry point is refused with a PermissionError naming the
permission, and nothing is left behind. With HostProcessHandler the REAL subprocess module
(pointed at the backend by ``subprocess_shim``), os.system, posix_spawn, the spawn family,
waitpid and kill work on emulated descriptors, compared with the same calls on the real os.
With CallableProcessHandler the same plumbing runs Python callables instead of programs.
Every test ends with no emulated descriptor, host descriptor or pump thread left over.
"""

from __future__ import annotations

import _posixsubprocess
import errno
import os
import posix
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import compat
from posixbackend.emulated import EmulatedBackend
from posixbackend.emulated import bridge as bridge_module
from posixbackend.emulated.processhandlers import (
    SYNTHETIC_PID_BASE,
    CallableProcessHandler,
    ChildChdirError,
    HostProcessHandler,
    ProcessCommand,
    ProcessHandler,
    ProgramContext,
    ProgramNotAllowedError,
)
from posixbackend.emulated.spawnargs import FORK_EXEC_PARAMETERS
from tests.posixbackend.subprocess_shim import subprocess_on
from vfs import FileSystem, HostFileSystem, MemoryFileSystem

SETTLE = 5.0
"""How long pump and program threads get to finish after a test before they count as leaked."""
PATH = os.environ.get("PATH", "/usr/bin:/bin")


# -- leak checks -----------------------------------------------------------------------------------


def host_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


LIFELONG_THREADS = ("posixbackend-time-limits",)
"""The library's threads that live as long as the process once started (the watchdog)."""


def our_threads() -> list[threading.Thread]:
    """The library's pump and program threads alive now."""
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("posixbackend-") and t.name not in LIFELONG_THREADS
    ]


def settled(check: Callable[[], bool]) -> bool:
    """Whether ``check`` holds now or within SETTLE seconds (threads finishing their work)."""
    deadline = time.monotonic() + SETTLE
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """No host descriptor and no pump or program thread outlives a test."""
    before = host_fds()
    yield
    assert settled(lambda: not our_threads()), f"threads left: {our_threads()}"
    assert settled(lambda: host_fds() <= before), f"host fds left: {host_fds() - before}"


Factory = Callable[..., EmulatedBackend]


@pytest.fixture
def make_backend(no_leaks: None) -> Iterator[Factory]:
    """Backends whose descriptor tables must be back to 0, 1, 2 and whose children must all be
    reaped when the test ends."""
    made: list[tuple[EmulatedBackend, FileSystem]] = []

    def make(fs: FileSystem | None = None, **options: Any) -> EmulatedBackend:
        fs = MemoryFileSystem() if fs is None else fs
        backend = EmulatedBackend(fs, **options)
        made.append((backend, fs))
        return backend

    yield make
    for backend, fs in made:
        assert settled(lambda b=backend: b._table.open_fds() == [0, 1, 2]), (  # type: ignore[misc]
            f"emulated fds left: {backend._table.open_fds()}"
        )
        assert not backend._children.matching(-1), "children left unreaped"
        if isinstance(fs, HostFileSystem):
            fs.close()


@pytest.fixture
def host(make_backend: Factory, tmp_path: Path) -> EmulatedBackend:
    """A backend over the host's files, in ``tmp_path``, starting host programs."""
    return make_backend(HostFileSystem(), process_handler=HostProcessHandler(), cwd=str(tmp_path))


def sp_run(*args: Any, check: bool = False, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """subprocess.run, without check unless asked (on whatever os it runs at the time)."""
    return subprocess.run(*args, check=check, **kwargs)


REAL_FORK_EXEC: Callable[..., int] = _posixsubprocess.fork_exec


def gap_hits(gap_id: str) -> int:
    entry = compat.report().get(gap_id)
    return entry.count if entry is not None else 0


# -- outcomes to compare ---------------------------------------------------------------------------


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """What a subprocess call gave, comparable across the real os and the backend."""
    try:
        result = call()
    except subprocess.CalledProcessError as error:
        return ("CalledProcessError", error.returncode, error.stdout, error.stderr)
    except OSError as error:
        return (type(error).__name__, error.errno, error.strerror, error.filename)
    if isinstance(result, subprocess.CompletedProcess):
        return ("ok", result.returncode, result.stdout, result.stderr)
    return ("ok", result)


def raised(call: Callable[[], Any]) -> tuple[str, str]:
    """The exception ``call`` raised, as its type's name and its message."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the exception is the outcome to compare
        return type(error).__name__, str(error)
    return "ok", ""


def on_both(backend: EmulatedBackend, call: Callable[[], Any]) -> tuple[Any, Any]:
    """``call``'s outcome on the real os, then with subprocess running on ``backend``."""
    real = outcome(call)
    with subprocess_on(backend):
        emulated = outcome(call)
    return real, emulated


# -- without a process handler ---------------------------------------------------------------------

REFUSED: dict[str, Callable[[EmulatedBackend], object]] = {
    "os.fork": lambda b: b.fork(),
    "os.forkpty": lambda b: b.forkpty(),
    "os.execv": lambda b: b.execv("/bin/true", ["true"]),
    "os.execve": lambda b: b.execve("/bin/true", ["true"], {}),
    "os.system": lambda b: b.system("true"),
    "os.posix_spawn": lambda b: b.posix_spawn("/bin/true", ["true"], {}),
    "os.posix_spawnp": lambda b: b.posix_spawnp("true", ["true"], {}),
    "os.spawnv": lambda b: b.spawnv(os.P_WAIT, "/bin/true", ["true"]),
    "os.spawnve": lambda b: b.spawnve(os.P_NOWAIT, "/bin/true", ["true"], {}),
    "os.spawnvp": lambda b: b.spawnvp(os.P_WAIT, "true", ["true"]),
    "os.spawnlpe": lambda b: b.spawnlpe(os.P_WAIT, "true", "true", {}),
    "subprocess.Popen": lambda b: sp_run(["cat"], input=b"x", capture_output=True, cwd="/"),
    "os.popen": lambda b: os.popen("echo hi").read(),
}


@pytest.mark.parametrize("function", list(REFUSED))
def test_every_entry_point_is_refused_without_a_handler(
    make_backend: Factory, function: str
) -> None:
    backend = make_backend()
    with subprocess_on(backend), pytest.raises(PermissionError) as caught:
        REFUSED[function](backend)
    assert caught.value.errno == errno.EPERM
    message = str(caught.value)
    # subprocess itself may choose posix_spawn (3.13 does for an absolute program, os.popen's sh)
    names = {"subprocess.Popen", "os.posix_spawn"} if function == "os.popen" else {function}
    assert any(f"{name} is not permitted" in message for name in names), message
    assert "allow_create_process" in message
    assert backend._table.open_fds() == [0, 1, 2]


def test_fork_and_exec_stay_refused_with_a_handler(host: EmulatedBackend) -> None:
    before = gap_hits("emulated.process.fork_exec")
    for call in (host.fork, host.forkpty, lambda: host.execv("/bin/true", ["true"])):
        with pytest.raises(PermissionError, match="not supported on the emulated POSIX backend"):
            call()
    assert gap_hits("emulated.process.fork_exec") == before + 3


def test_waits_and_signals_find_no_children(make_backend: Factory) -> None:
    backend = make_backend()
    for call in (lambda: backend.waitpid(-1, 0), backend.wait, lambda: backend.waitpid(1, 1)):
        with pytest.raises(ChildProcessError) as caught:
            call()
        assert caught.value.errno == errno.ECHILD
    for pid in (os.getpid(), os.getppid(), 1, 0, -1):
        with pytest.raises(PermissionError):
            backend.kill(pid, 0)
    with pytest.raises(PermissionError):
        backend.killpg(os.getpgrp(), 0)
    assert backend.getpid() == os.getpid()


FORK_EXEC_ERRORS: list[tuple[str, int, object]] = [
    ("pass_fds list", 3, [5]),
    ("pass_fds unsorted", 3, (5, 4)),
    ("pass_fds negative", 3, (-1,)),
    ("errpipe_write < 3", 13, 1),
    ("p2cread str", 6, "x"),
    ("p2cread too big", 6, 2**40),
    ("umask float", 20, 1.5),
    ("args int", 0, 5),
    ("args of ints", 0, (1,)),
    ("executables of str", 1, ["x"]),
    ("executables int", 1, 5),
    ("executables dict", 1, {b"x": 1}),
    ("executable with NUL", 1, [b"a\0b"]),
    ("env of str", 5, ["A=B"]),
    ("cwd int", 4, 5),
    ("cwd with NUL", 4, b"a\0b"),
    ("groups tuple", 18, (1,)),
    ("groups of str", 18, ["x"]),
    ("gid str", 17, "x"),
    ("uid str", 19, "x"),
]


@pytest.mark.parametrize(("case", "index", "value"), FORK_EXEC_ERRORS, ids=str)
def test_fork_exec_converts_its_arguments_as_cpython(
    make_backend: Factory, case: str, index: int, value: object
) -> None:
    backend = make_backend()
    arguments: list[object] = [
        [b"true"], [b"/no/such/program"], True, (), None, None, -1, -1, -1, -1, -1, -1,
        -1, 50, False, False, -1, None, None, None, -1, None, True,
    ][: len(FORK_EXEC_PARAMETERS)]  # fmt: skip
    arguments[index] = value
    real = raised(lambda: REAL_FORK_EXEC(*arguments))
    assert real[0] != "ok", "a case that converts would have started a program"
    assert raised(lambda: backend.fork_exec(*arguments)) == real
    short, long = arguments[:-1], [*arguments, None]
    assert raised(lambda: backend.fork_exec(*short)) == raised(lambda: REAL_FORK_EXEC(*short))
    assert raised(lambda: backend.fork_exec(*long)) == raised(lambda: REAL_FORK_EXEC(*long))


def test_fork_exec_takes_no_keywords_like_cpython(make_backend: Factory) -> None:
    backend = make_backend()
    with pytest.raises(TypeError) as real:
        REAL_FORK_EXEC(args=None)
    with pytest.raises(TypeError) as emulated:
        backend.fork_exec(args=None)
    assert str(emulated.value) == str(real.value)


# -- subprocess with host programs -----------------------------------------------------------------


def run(*args: Any, **kwargs: Any) -> Callable[[], subprocess.CompletedProcess[Any]]:
    return lambda: sp_run(*args, **kwargs)


def test_run_cat_with_input_and_captured_output(host: EmulatedBackend) -> None:
    data = bytes(range(256)) * 800  # more than a pipe holds, so the pumps must keep flowing
    real, emulated = on_both(host, run(["cat"], input=data, capture_output=True))
    assert emulated == real == ("ok", 0, data, b"")


def test_run_with_env_and_cwd(host: EmulatedBackend, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    env = {"FOO": "bar", "PATH": PATH}
    call = run(
        ["sh", "-c", "echo $FOO; pwd"], env=env, cwd=str(tmp_path / "sub"), capture_output=True
    )
    real, emulated = on_both(host, call)
    assert emulated == real == ("ok", 0, f"bar\n{tmp_path}/sub\n".encode(), b"")


def test_a_child_starts_in_the_backends_directory_with_its_environment(
    host: EmulatedBackend, tmp_path: Path
) -> None:
    host.putenv("ONLY_IN_BACKEND", "yes")
    with subprocess_on(host):
        result = sp_run(["sh", "-c", "echo $ONLY_IN_BACKEND; pwd"], capture_output=True, check=True)
    assert result.stdout == f"yes\n{tmp_path}\n".encode()


def test_stderr_into_stdout_keeps_the_order(host: EmulatedBackend) -> None:
    script = "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done"
    call = run(["sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    real, emulated = on_both(host, call)
    assert emulated == real
    assert real[2].count(b"\n") == 10


@pytest.mark.parametrize(
    "call",
    [
        run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=True, capture_output=True),
        run(["no-such-program-xyzzy"]),
        run(["/no/such/program"], capture_output=True),
        run(["true"], cwd="/no/such/directory"),
        run("echo $((6 * 7)); exit 2", shell=True, capture_output=True),
        run(["cat"], stdin=subprocess.DEVNULL, capture_output=True),
        run(["/bin/echo", "no close_fds"], capture_output=True, close_fds=False),
        run(["/bin/sh", "-c", "echo via posix_spawn >&2"], capture_output=True, close_fds=False),
    ],
    ids=[
        "check",
        "missing",
        "missing-absolute",
        "missing-cwd",
        "shell",
        "devnull",
        "close_fds=False",
        "posix_spawn-path",
    ],
)
def test_results_and_errors_match_the_real_os(
    host: EmulatedBackend, call: Callable[[], Any]
) -> None:
    real, emulated = on_both(host, call)
    assert emulated == real


def test_a_file_that_cannot_be_executed(host: EmulatedBackend, tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("echo hi\n")
    real, emulated = on_both(host, run([str(script)]))
    assert emulated == real
    assert real[:2] == ("PermissionError", errno.EACCES)


def test_popen_communicate_in_text_mode(host: EmulatedBackend) -> None:
    def call() -> tuple[str, str, int]:
        with subprocess.Popen(
            ["sh", "-c", "cat; echo done >&2"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            out, err = process.communicate("hello\nworld\n", timeout=10)
            return out, err, process.returncode

    real, emulated = on_both(host, call)
    assert emulated == real == ("ok", ("hello\nworld\n", "done\n", 0))


def test_timeout_kills_the_child(host: EmulatedBackend) -> None:
    start = time.monotonic()
    with subprocess_on(host), pytest.raises(subprocess.TimeoutExpired):
        sp_run(["sleep", "30"], timeout=0.3, capture_output=True)
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("function", ["os.fork", "os.forkpty", "os.execv", "os.execve"])
def test_fork_and_exec_are_refused_by_their_gap_where_processes_may_start(
    host: EmulatedBackend, function: str
) -> None:
    """With a process handler, fork and exec are still never emulated: the refusal names the
    gap and the ways that work, not a permission the caller already has."""
    with subprocess_on(host), pytest.raises(PermissionError) as caught:
        REFUSED[function](host)
    assert caught.value.errno == errno.EPERM
    message = str(caught.value)
    assert message.startswith(f"[Errno 1] {function} is not supported on the emulated")
    assert "emulated.process.fork_exec" in message and "allow_create_process" not in message


def test_communicate_timeout_then_kill(host: EmulatedBackend) -> None:
    with subprocess_on(host):
        process = subprocess.Popen(
            ["sh", "-c", "echo started; exec sleep 30"], stdout=subprocess.PIPE
        )
        with pytest.raises(subprocess.TimeoutExpired):
            process.communicate(timeout=0.3)
        process.kill()
        out, _ = process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert out == b"started\n"


FD_LISTING = "ls /proc/$$/fd"


def child_fds(backend: EmulatedBackend | None, **options: Any) -> set[int]:
    """The descriptors a shell started by subprocess.run has."""
    context = subprocess_on(backend) if backend is not None else _nothing()
    with context:
        result = sp_run(["/bin/sh", "-c", FD_LISTING], capture_output=True, **options)
    return {int(fd) for fd in result.stdout.split()}


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


def test_pass_fds_gives_the_child_only_those(host: EmulatedBackend) -> None:
    read_end, write_end = host.pipe()
    stray = host.dup(write_end)
    host.set_inheritable(stray, True)
    with subprocess_on(host):
        sp_run(["sh", "-c", f"echo through {write_end} >&{write_end}"], pass_fds=[write_end])
    assert child_fds(host, pass_fds=[write_end]) == {0, 1, 2, write_end}
    assert child_fds(host) == {0, 1, 2}
    assert stray in child_fds(host, close_fds=False)
    host.close(write_end)
    host.close(stray)
    assert host.read(read_end, 100) == f"through {write_end}\n".encode()
    host.close(read_end)
    real_read, real_write = os.pipe()
    try:
        assert child_fds(None, pass_fds=[real_write]) == {0, 1, 2, real_write}
    finally:
        os.close(real_read)
        os.close(real_write)


def test_preexec_fn_is_refused_as_a_logged_gap(host: EmulatedBackend) -> None:
    before = gap_hits("emulated.process.preexec_fn")
    with subprocess_on(host), pytest.raises(NotImplementedError, match="preexec_fn"):
        sp_run(["true"], preexec_fn=lambda: None, capture_output=True)
    assert gap_hits("emulated.process.preexec_fn") == before + 1
    assert isinstance(NotImplementedError(), RuntimeError)  # what 3.12 raises in subinterpreters


def test_other_credentials_are_refused(host: EmulatedBackend) -> None:
    before = gap_hits("emulated.process.credentials")
    with subprocess_on(host), pytest.raises(PermissionError, match="user="):
        sp_run(["true"], user=os.getuid(), capture_output=True)
    assert gap_hits("emulated.process.credentials") == before + 1


def test_new_session_and_killpg(host: EmulatedBackend) -> None:
    with subprocess_on(host):
        process = subprocess.Popen(["sleep", "30"], start_new_session=True)
        host.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=10) == -signal.SIGTERM
    with pytest.raises(PermissionError):
        host.killpg(process.pid, signal.SIGTERM)


def test_an_allow_list_refuses_other_programs(make_backend: Factory, tmp_path: Path) -> None:
    handler = HostProcessHandler(allowed={"echo"})
    backend = make_backend(HostFileSystem(), process_handler=handler, cwd=str(tmp_path))
    with subprocess_on(backend):
        assert sp_run(["echo", "ok"], capture_output=True).stdout == b"ok\n"
        with pytest.raises(ProgramNotAllowedError, match="'cat' is not permitted"):
            sp_run(["cat"], capture_output=True)


def test_a_confined_file_system_maps_the_directory(make_backend: Factory, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    handler = HostProcessHandler(cwd_map=lambda guest: f"{root}{guest}")
    backend = make_backend(HostFileSystem(root), process_handler=handler, cwd="/sub")
    with subprocess_on(backend):
        assert sp_run(["pwd"], capture_output=True).stdout == f"{root}/sub\n".encode()
        assert sp_run(["pwd"], capture_output=True, cwd="/").stdout == f"{root}\n".encode()
        with pytest.raises(FileNotFoundError):
            sp_run(["pwd"], cwd="/missing")


def test_a_directory_the_host_lacks_fails_as_chdir(make_backend: Factory) -> None:
    fs = MemoryFileSystem()
    fs.mkdir("/only-in-memory-xyzzy", 0o755)
    backend = make_backend(fs, process_handler=HostProcessHandler(), cwd="/only-in-memory-xyzzy")
    with subprocess_on(backend), pytest.raises(FileNotFoundError):
        sp_run(["true"])


# -- emulated files as a child's standard streams --------------------------------------------------


def test_stdin_from_a_memory_file(make_backend: Factory, tmp_path: Path) -> None:
    data = b"0123456789" * 10000
    fs = MemoryFileSystem()
    backend = make_backend(fs, process_handler=HostProcessHandler())
    fd = backend.open("/data", os.O_WRONLY | os.O_CREAT, 0o644)
    backend.write(fd, data)
    backend.close(fd)
    (tmp_path / "data").write_bytes(data)

    def call(opener: Callable[[], int], lseek: Callable[[int, int, int], int]) -> Any:
        fd = opener()
        lseek(fd, 5, os.SEEK_SET)
        result = sp_run(["cat"], stdin=fd, capture_output=True)
        return result.stdout, lseek(fd, 0, os.SEEK_CUR), fd

    real_out, real_offset, real_fd = call(lambda: os.open(tmp_path / "data", os.O_RDONLY), os.lseek)
    os.close(real_fd)
    with subprocess_on(backend):
        out, offset, fd = call(lambda: backend.open("/data", os.O_RDONLY), backend.lseek)
    backend.close(fd)
    assert (out, offset) == (real_out, real_offset) == (data[5:], len(data))


def test_stdout_into_a_memory_file_is_there_once_waited_for(make_backend: Factory) -> None:
    backend = make_backend(MemoryFileSystem(), process_handler=HostProcessHandler())
    fd = backend.open("/out", os.O_WRONLY | os.O_CREAT, 0o644)
    backend.write(fd, b"head\n")
    with subprocess_on(backend):
        sp_run(["sh", "-c", "echo one; echo two >&2"], stdout=fd, stderr=fd)
    backend.close(fd)
    fd = backend.open("/out", os.O_RDONLY)
    assert backend.read(fd, 100) == b"head\none\ntwo\n"
    backend.close(fd)
    fd = backend.open("/big", os.O_WRONLY | os.O_CREAT, 0o644)
    for _ in range(5):
        with subprocess_on(backend):
            sp_run(["head", "-c", "1000000", "/dev/zero"], stdout=fd, check=True)
        assert backend.fstat(fd).st_size == backend.lseek(fd, 0, os.SEEK_CUR)
        assert backend.fstat(fd).st_size % 1000000 == 0, "waitpid returned before the output"
    backend.close(fd)


def test_a_reap_waits_for_output_still_on_its_way_to_a_file(
    make_backend: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = make_backend(MemoryFileSystem(), process_handler=HostProcessHandler())
    write = bridge_module._write_emulated

    def slow_write(description: Any, data: bytes) -> bool:
        time.sleep(0.2)  # the child is long gone when its output reaches the file
        return write(description, data)

    monkeypatch.setattr(bridge_module, "_write_emulated", slow_write)
    fd = backend.open("/late", os.O_WRONLY | os.O_CREAT, 0o644)
    pid = backend.posix_spawn(
        "/bin/echo", ["echo", "late"], {}, file_actions=[(os.POSIX_SPAWN_DUP2, fd, 1)]
    )
    assert backend.waitpid(pid, 0) == (pid, 0)
    assert backend.fstat(fd).st_size == 5
    backend.close(fd)


def test_a_child_that_reads_nothing_lets_its_input_go(host: EmulatedBackend) -> None:
    with subprocess_on(host):
        process = subprocess.Popen(["true"], stdin=subprocess.PIPE)
        assert process.wait(timeout=10) == 0
        assert settled(lambda: not our_threads()), "the input pump outlived its reader"
        process.stdin.close()  # type: ignore[union-attr]


def test_stdout_into_a_host_file_shares_the_offset(host: EmulatedBackend, tmp_path: Path) -> None:
    def call(opener: Callable[[], int], write: Callable[[int, bytes], int]) -> int:
        fd = opener()
        write(fd, b"head\n")
        sp_run(["echo", "child"], stdout=fd)
        write(fd, b"tail\n")
        return fd

    real_fd = call(lambda: os.open(tmp_path / "real", os.O_WRONLY | os.O_CREAT, 0o644), os.write)
    os.close(real_fd)
    with subprocess_on(host):
        fd = call(lambda: host.open("emulated", os.O_WRONLY | os.O_CREAT, 0o644), host.write)
    handle = host._table.files[fd].handle
    assert handle is not None
    host.close(fd)
    assert handle.closed, "the child's hold on the description was not let go"
    assert (tmp_path / "emulated").read_bytes() == (tmp_path / "real").read_bytes()
    assert (tmp_path / "real").read_bytes() == b"head\nchild\ntail\n"


# -- os.system, posix_spawn, spawn*, waitpid and kill ----------------------------------------------


def test_system_returns_the_wait_status(host: EmulatedBackend, tmp_path: Path) -> None:
    for command in ("exit 3", "true", "kill -TERM $$"):
        assert host.system(command) == os.system(command)
    assert host.system("echo made > made.txt") == 0
    assert (tmp_path / "made.txt").read_text() == "made\n"
    with pytest.raises(ValueError, match="embedded null byte"):
        host.system("a\0b")


def read_all(read: Callable[[int, int], bytes], fd: int) -> bytes:
    chunks = []
    while chunk := read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def spawn_with_dup2(os_like: Any) -> tuple[bytes, int]:
    read_end, write_end = os_like.pipe()
    pid = os_like.posix_spawn(
        "/bin/sh",
        ["sh", "-c", "echo out; echo err >&2; exit 5"],
        {"PATH": PATH},
        file_actions=[
            (os.POSIX_SPAWN_DUP2, write_end, 1),
            (os.POSIX_SPAWN_DUP2, write_end, 2),
            (os.POSIX_SPAWN_CLOSE, read_end),
        ],
    )
    os_like.close(write_end)
    data = read_all(os_like.read, read_end)
    os_like.close(read_end)
    waited, status = os_like.waitpid(pid, 0)
    assert waited == pid
    return data, os.waitstatus_to_exitcode(status)


def test_posix_spawn_with_file_actions(host: EmulatedBackend) -> None:
    assert spawn_with_dup2(host) == spawn_with_dup2(os) == (b"out\nerr\n", 5)


def test_posix_spawn_open_action_writes_a_memory_file(make_backend: Factory) -> None:
    backend = make_backend(MemoryFileSystem(), process_handler=HostProcessHandler())
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    pid = backend.posix_spawnp(
        "sh",
        ["sh", "-c", "echo opened"],
        {},
        file_actions=[(os.POSIX_SPAWN_OPEN, 1, "/o", flags, 0o644)],
    )
    assert backend.waitpid(pid, 0) == (pid, 0)
    fd = backend.open("/o", os.O_RDONLY)
    assert backend.read(fd, 100) == b"opened\n"
    assert backend.fstat(fd).st_mode & 0o777 == 0o644
    backend.close(fd)


@pytest.mark.parametrize(
    ("path", "actions"),
    [
        ("/no/such/program", []),
        ("/bin/true", [(os.POSIX_SPAWN_DUP2, 555, 1)]),
        ("/bin/true", [(os.POSIX_SPAWN_CLOSE,)]),
        ("/bin/true", [(99, 1)]),
        ("/bin/true", [["not a tuple"]]),
    ],
)
def test_posix_spawn_errors_match(host: EmulatedBackend, path: str, actions: list[Any]) -> None:
    def call(os_like: Any) -> Any:
        return os_like.posix_spawn(path, [path], {}, file_actions=actions)

    real = raised(lambda: call(os))
    assert real[0] != "ok"
    assert raised(lambda: call(host)) == real


@pytest.mark.parametrize(
    ("argv", "env"), [([], {}), ("ab", {}), ([""], {}), (["x"], 5), ([1], {}), (["x"], {"A=": "1"})]
)
def test_posix_spawn_argument_errors_match(host: EmulatedBackend, argv: Any, env: Any) -> None:
    real = raised(lambda: os.posix_spawn("/bin/true", argv, env))
    assert real[0] != "ok"
    assert raised(lambda: host.posix_spawn("/bin/true", argv, env)) == real


def test_posix_spawn_attributes_it_cannot_set(host: EmulatedBackend) -> None:
    before = gap_hits("emulated.process.spawn_attributes")
    with pytest.raises(NotImplementedError):
        host.posix_spawn("/bin/true", ["true"], {}, setsigmask=[signal.SIGINT])
    with pytest.raises(NotImplementedError):
        host.posix_spawn("/bin/true", ["true"], {}, setsigdef=[signal.SIGINT])
    with pytest.raises(ValueError, match=r"signal number 0 out of range \[1; 64\]"):
        host.posix_spawn("/bin/true", ["true"], {}, setsigdef=[0])
    assert gap_hits("emulated.process.spawn_attributes") == before + 2


def test_waitpid_nohang_then_blocking(host: EmulatedBackend) -> None:
    pid = host.posix_spawnp("sleep", ["sleep", "0.3"], {"PATH": PATH})
    assert host.waitpid(pid, os.WNOHANG) == (0, 0)
    host.kill(pid, 0)
    assert host.waitpid(pid, 0) == (pid, 0)
    with pytest.raises(ChildProcessError):
        host.waitpid(pid, 0)
    with pytest.raises(PermissionError):
        host.kill(pid, 0)
    with pytest.raises(OSError, match="Invalid argument"):
        host.waitpid(-1, 0x1000)


def test_wait_reaps_any_child(host: EmulatedBackend) -> None:
    first = host.spawnvp(os.P_NOWAIT, "sh", ["sh", "-c", "exit 1"])
    second = host.spawnvp(os.P_NOWAIT, "sh", ["sh", "-c", "exit 2"])
    reaped = {host.wait()[0]: None, host.wait3(0)[0]: None}
    assert set(reaped) == {first, second}
    with pytest.raises(ChildProcessError):
        host.wait4(-1, 0)


def test_kill_a_child(host: EmulatedBackend) -> None:
    pid = host.posix_spawnp("sleep", ["sleep", "30"], {"PATH": PATH})
    with pytest.raises(OSError, match="Invalid argument"):
        host.kill(pid, 1000)
    host.kill(pid, signal.SIGTERM)
    waited, status = host.waitpid(pid, 0)
    assert waited == pid and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM


def test_spawn_family(host: EmulatedBackend) -> None:
    for os_like in (os, host):
        assert os_like.spawnv(os.P_WAIT, "/bin/sh", ["sh", "-c", "exit 7"]) == 7
        assert os_like.spawnv(os.P_WAIT, "/no/such/program", ["x"]) == 127
        assert os_like.spawnlp(os.P_WAIT, "sh", "sh", "-c", "kill -TERM $$") == -signal.SIGTERM
        env = {"PATH": PATH, "CODE": "9"}
        assert os_like.spawnvpe(os.P_WAIT, "sh", ["sh", "-c", "exit $CODE"], env) == 9
        assert os_like.spawnle(os.P_WAIT, "/bin/sh", "sh", "-c", "exit $CODE", env) == 9
        pid = os_like.spawnv(os.P_NOWAIT, "/bin/sh", ["sh", "-c", "exit 4"])
        assert os.waitstatus_to_exitcode(os_like.waitpid(pid, 0)[1]) == 4
        with pytest.raises(ValueError, match="argv first element cannot be empty"):
            os_like.spawnv(os.P_WAIT, "/bin/true", [])
        with pytest.raises(TypeError, match="argv must be a tuple or a list"):
            os_like.spawnv(os.P_WAIT, "/bin/true", "true")


# -- handlers on their own -------------------------------------------------------------------------


def test_host_handler_renumbers_extra_descriptors() -> None:
    read_end, write_end = os.pipe()
    try:
        child = HostProcessHandler().start(
            ProcessCommand(
                args=["sh", "-c", "echo five >&5; echo nine >&9"],
                executables=["/bin/sh"],
                env={"PATH": PATH},
                fds={5: write_end, 9: write_end},
            )
        )
        os.close(write_end)
        assert read_all(os.read, read_end) == b"five\nnine\n"
        assert child.wait(timeout=10) == 0
        assert child.poll() == 0
    finally:
        os.close(read_end)


def test_host_handler_reports_why_a_start_failed(tmp_path: Path) -> None:
    handler = HostProcessHandler()
    with pytest.raises(FileNotFoundError) as missing:
        handler.start(ProcessCommand(args=["x"], executables=["/no/such/x", "/no/such/y"]))
    assert missing.value.filename == "/no/such/x"
    with pytest.raises(ChildChdirError) as chdir:
        handler.start(ProcessCommand(args=["true"], executables=["/bin/true"], cwd="/no/dir"))
    assert (chdir.value.errno, chdir.value.filename) == (errno.ENOENT, "/no/dir")
    child = handler.start(ProcessCommand(args=["sleep", "30"], executables=["/bin/sleep"]))
    with pytest.raises(TimeoutError):
        child.wait(timeout=0.05)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == signal.SIGKILL
    child.send_signal(signal.SIGKILL)  # reaped: the pid may be another's now, nothing is sent
    assert isinstance(handler, ProcessHandler)


def test_process_command_records() -> None:
    command = ProcessCommand(args=["a", b"b"], executables=["/bin/a"], env={"K": "V"})
    assert command.args == (b"a", b"b") and command.executable == b"/bin/a"
    assert dict(command.env) == {b"K": b"V"}
    with pytest.raises(ValueError, match="extra descriptors"):
        ProcessCommand(args=[], executables=[], fds={1: 4})


# -- callables as programs -------------------------------------------------------------------------


def cat(context: ProgramContext) -> None:
    context.write(context.read_all())


def echo(context: ProgramContext) -> None:
    context.write(" ".join(context.argv[1:]) + "\n")


def env_and_cwd(context: ProgramContext) -> None:
    context.write(f"{context.env.get('FOO')}\n{context.cwd}\n")


def interleave(context: ProgramContext) -> None:
    for number in range(3):
        context.write(f"out{number}\n")
        context.write(f"err{number}\n", context.stderr)


def exit_code(context: ProgramContext) -> int:
    return int(context.argv[1])


def crash(context: ProgramContext) -> None:
    raise RuntimeError("boom")


def sleeper(context: ProgramContext) -> None:
    context.signalled.wait(float(context.argv[1]))


def fd_writer(context: ProgramContext) -> None:
    for number, fd in context.fds.items():
        context.write(f"{number}\n", fd)


def shell(context: ProgramContext) -> int:
    """A 'sh -c' that understands 'exit N' only."""
    assert context.argv[1] == "-c"
    return int(context.argv[2].split()[1])


PROGRAMS = {
    "cat": cat, "echo": echo, "env_and_cwd": env_and_cwd, "interleave": interleave,
    "exit_code": exit_code, "crash": crash, "sleeper": sleeper, "fd_writer": fd_writer,
    "sh": shell,
}  # fmt: skip


@pytest.fixture
def programs(make_backend: Factory) -> EmulatedBackend:
    """A backend over memory whose programs are the Python callables above."""
    fs = MemoryFileSystem()
    fs.mkdir("/sub", 0o755)
    return make_backend(fs, process_handler=CallableProcessHandler(PROGRAMS))


def test_callable_cat_env_cwd_and_streams(programs: EmulatedBackend) -> None:
    data = b"y" * 300000
    with subprocess_on(programs):
        assert sp_run(["cat"], input=data, capture_output=True).stdout == data
        assert sp_run(["echo", "a", "b"], capture_output=True).stdout == b"a b\n"
        result = sp_run(
            ["env_and_cwd"], env={"FOO": "bar", "PATH": PATH}, cwd="/sub", capture_output=True
        )
        assert result.stdout == b"bar\n/sub\n"
        result = sp_run(["interleave"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert result.stdout == b"out0\nerr0\nout1\nerr1\nout2\nerr2\n"


def test_callable_exit_codes_and_errors(programs: EmulatedBackend) -> None:
    with subprocess_on(programs):
        with pytest.raises(subprocess.CalledProcessError) as failed:
            sp_run(["exit_code", "3"], check=True)
        assert failed.value.returncode == 3
        result = sp_run(["crash"], capture_output=True)
        assert result.returncode == 1 and b"RuntimeError: boom" in result.stderr
        with pytest.raises(FileNotFoundError) as missing:
            sp_run(["nope"])
        assert (missing.value.errno, missing.value.filename) == (errno.ENOENT, "nope")
        with pytest.raises(FileNotFoundError):
            sp_run(["cat"], cwd="/missing")


def test_callable_timeout_and_kill(programs: EmulatedBackend) -> None:
    start = time.monotonic()
    with subprocess_on(programs), pytest.raises(subprocess.TimeoutExpired):
        sp_run(["sleeper", "30"], timeout=0.2, capture_output=True)
    assert time.monotonic() - start < 10
    pid = programs.posix_spawnp("sleeper", ["sleeper", "30"], {})
    assert pid >= SYNTHETIC_PID_BASE
    programs.kill(pid, signal.SIGWINCH)  # ignored by default: it goes on
    assert programs.waitpid(pid, os.WNOHANG) == (0, 0)
    programs.kill(pid, signal.SIGTERM)
    assert programs.waitpid(pid, 0) == (pid, signal.SIGTERM)


def test_callable_pass_fds_system_and_spawn(programs: EmulatedBackend) -> None:
    read_end, write_end = programs.pipe()
    with subprocess_on(programs):
        sp_run(["fd_writer"], pass_fds=[write_end])
    programs.close(write_end)
    assert programs.read(read_end, 100) == f"{write_end}\n".encode()
    programs.close(read_end)
    assert programs.system("exit 5") == 5 << 8
    assert programs.spawnvp(os.P_WAIT, "exit_code", ["exit_code", "6"]) == 6
    assert spawn_echo(programs) == b"spawned\n"


def spawn_echo(backend: EmulatedBackend) -> bytes:
    read_end, write_end = backend.pipe()
    pid = backend.posix_spawnp(
        "echo", ["echo", "spawned"], {}, file_actions=[(os.POSIX_SPAWN_DUP2, write_end, 1)]
    )
    backend.close(write_end)
    data = read_all(backend.read, read_end)
    backend.close(read_end)
    assert backend.waitpid(pid, 0) == (pid, 0)
    return data


def test_a_pid_is_never_both_synthetic_and_real() -> None:
    assert int(Path("/proc/sys/kernel/pid_max").read_text()) < SYNTHETIC_PID_BASE
    assert sys.version_info >= (3, 11)
    assert posix.getpid() < SYNTHETIC_PID_BASE
