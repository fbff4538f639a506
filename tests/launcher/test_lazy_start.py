"""The lazy start: a launcher run whose emulated backend is built at the program's first use.

Differential where possible: each program runs under ``posixbackend-managed`` twice, lazily
(the default for ``-c`` on a memory file system) and eagerly (``POSIXBACKEND_EAGER_START=1``,
the backend built before the program as before), and both runs must print the same, fail the
same, end with the same status and leave the disk untouched. The hard parts (the build's
single run under racing threads, an interrupt landing in it, copies of the light stand-ins
taken before it) have tests of their own.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import pytest

from posixbackend.launcher.lazystart import EAGER_VARIABLE, PURE, SUPPORTS, LazyStart
from tests.launcher.running import Outcome, console_script, run, snapshot

MANAGED = console_script("posixbackend-managed")


def managed(
    code: str, cwd: Path, *, eager: bool, stdin: str | None = None, fs: str = "memory"
) -> Outcome:
    """``posixbackend-managed --fs=FS -c CODE``, lazily or eagerly (the variable is set in
    both runs, empty for the lazy one, so that the programs see the same environment names);
    ``-`` for CODE reads the program from ``stdin``."""
    env = {EAGER_VARIABLE: "1" if eager else ""}
    target = ["-"] if code == "-" else ["-c", code]
    return run([MANAGED, f"--fs={fs}", *target], cwd, env=env, stdin=stdin)


def both(code: str, cwd: Path, stdin: str | None = None) -> tuple[Outcome, Outcome]:
    """The lazy and the eager run of ``code``; the disk below ``cwd`` unchanged by either."""
    before = snapshot(cwd)
    lazy = managed(code, cwd, eager=False, stdin=stdin)
    eager = managed(code, cwd, eager=True, stdin=stdin)
    assert snapshot(cwd) == before
    return lazy, eager


NOT_BUILT = (
    "import sys\n"
    "loaded = [name for name in ('posixbackend.emulated', 'posixbackend.switch', 'vfs', "
    "'posixbackend.launcher.session', 'attrs', 'compat') if name in sys.modules]\n"
    "print(loaded)\n"
)


def test_a_program_that_touches_no_file_builds_nothing(tmp_path: Path) -> None:
    lazy, eager = both(NOT_BUILT, tmp_path)
    assert lazy == Outcome(0, "[]\n", "")
    assert eager.returncode == 0
    assert eager.stdout != "[]\n"  # the eager start did build them: the check can fail


DIFFERENTIAL = {
    "initial state": (
        "import json, os, stat\n"
        "env = {k: v for k, v in os.environ.items() if k != 'POSIXBACKEND_EAGER_START'}\n"
        "print(json.dumps({'umask': os.umask(0o077), 'again': os.umask(0o022),\n"
        "    'cwd': os.getcwd(), 'env': env, 'fds': [stat.S_IFMT(os.fstat(fd).st_mode)\n"
        "    for fd in (0, 1, 2)]}, sort_keys=True))\n"
    ),
    "files in memory": (
        "import os\n"
        "with open('made.txt', 'w') as f: f.write('hello')\n"
        "print(open('made.txt').read(), os.path.getsize('made.txt'), 'made.txt' in os.listdir())\n"
        "os.makedirs('a/b/c'); os.rename('made.txt', 'a/b/c/moved')\n"
        "print(sorted(os.walk('a'))[-1])\n"
    ),
    "errors": (
        "import os\n"
        "try: os.stat('missing')\n"
        "except OSError as e: print(type(e).__name__, e.errno, e.filename, e)\n"
        "open('missing')\n"
    ),
    "exit status": "import sys\nprint('out', end='')\nsys.stderr.write('err')\nsys.exit(3)\n",
    "exit message": "raise SystemExit('bye')\n",
    "unflushed output": "import sys\nsys.stdout.write('no newline')\n",
    "uncaught": "def f():\n    1 / 0\nf()\n",
    "subprocess refused or run": (
        "import subprocess, sys\n"
        "done = subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True)\n"
        "print(done.returncode, done.stdout)\n"
    ),
    "threads": (
        "import os, threading\n"
        "def work(n): open(f't{n}', 'w').close()\n"
        "ts = [threading.Thread(target=work, args=(n,)) for n in range(4)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "print(sorted(n for n in os.listdir() if n.startswith('t')))\n"
    ),
    "a raw thread first": (  # (what such a thread itself does runs natively either way)
        "import _thread, time\n"
        "done = []\n"
        "_thread.start_new_thread(done.append, (1,))\n"
        "while not done: time.sleep(0.01)\n"
        "open('raw', 'w').close()\n"
        "import os; print(os.path.exists('raw'))\n"
    ),
    "import posix and _io": (
        "open('f', 'w').close()\n"
        "import posix, _io\n"
        "print(posix.stat('f').st_size, _io.open('f').read() == '', _io.FileIO.__name__)\n"
    ),
    "classes taken out": (
        "import io, zipimport\n"
        "print(io.FileIO.__name__, issubclass(io.FileIO, io.RawIOBase),\n"
        "      zipimport.zipimporter.__name__)\n"
        "try: io.nothing\n"
        "except AttributeError as e: print(e)\n"
    ),
    "environment": (
        "import os\n"
        "os.environ['LAZY_X'] = '1'\n"
        "print(os.getenv('LAZY_X'), os.environb[b'LAZY_X'], 'LAZY_X' in os.environ)\n"
        "import subprocess, sys\n"
        "child = 'import os; print(os.environ.get(\"LAZY_X\"))'\n"
        "print(subprocess.run([sys.executable, '-c', child],\n"
        "    capture_output=True, text=True).stdout.strip())\n"
    ),
    "supports": "import os\nprint(os.stat in os.supports_fd, os.open in os.supports_dir_fd)\n",
    "identities": (
        "import builtins, io, os\n"
        "print(io.open is builtins.open, os.environ is os.environ, os.stat == os.stat)\n"
        "print(os.stat.__name__, os.makedirs.__doc__ == os.makedirs.__doc__, callable(os.walk))\n"
    ),
    "stdin": "import sys\nprint(repr(sys.stdin.read()))\n",
}


@pytest.mark.parametrize("name", list(DIFFERENTIAL))
def test_lazy_and_eager_starts_give_the_same_run(name: str, tmp_path: Path) -> None:
    lazy, eager = both(DIFFERENTIAL[name], tmp_path, stdin="given\n")
    assert lazy == eager


def test_a_program_on_standard_input_starts_lazily_too(tmp_path: Path) -> None:
    program = NOT_BUILT + "open('x', 'w').close()\nimport os\nprint(os.listdir().count('x'))\n"
    before = snapshot(tmp_path)
    lazy = managed("-", tmp_path, eager=False, stdin=program)
    eager = managed("-", tmp_path, eager=True, stdin=program)
    assert snapshot(tmp_path) == before
    assert lazy.stdout == "[]\n1\n", lazy.stderr
    assert eager.stdout.splitlines()[1:] == ["1"] and eager.stderr == lazy.stderr == ""


ON_THE_HOST = (
    "import os, sys\n"
    "print(sorted(os.listdir()), os.path.isfile('given.txt'), open('given.txt').read())\n"
    "with open('written.txt', 'w') as f: f.write('new')\n"
    "print(open('written.txt').read(), os.getcwd() == sys.argv[1] if sys.argv[1:] else '')\n"
)


@pytest.mark.parametrize("fs", ["host", "overlay"])
def test_other_file_systems_start_lazily_alike(fs: str, tmp_path: Path) -> None:
    runs = []
    for eager in (False, True):
        directory = tmp_path / str(eager)
        directory.mkdir()
        (directory / "given.txt").write_text("given")
        done = managed(ON_THE_HOST, directory, eager=eager, fs=fs)
        runs.append((done, sorted(path.name for path in directory.iterdir())))
    assert runs[0] == runs[1]
    assert runs[0][0].returncode == 0, runs[0][0].stderr
    assert runs[0][1] == (["given.txt", "written.txt"] if fs == "host" else ["given.txt"])


KIND = """
def kind(function):
    import types
    self = getattr(function, '__self__', None)
    if type(function) is types.BuiltinFunctionType and type(self) is types.ModuleType and (
            self.__name__ == 'posixbackend._standin.state'):
        return 'StandIn'  # a builtin stand-in (posixbackend/_standin.c)
    return type(function).__name__
"""
"""Guest code defining kind(function): the name of a stand-in's type, StandIn for the C
stand-ins that are builtin functions (a real builtin: builtin_function_or_method)."""


def test_copies_taken_before_the_build_serve_the_emulated_backend(tmp_path: Path) -> None:
    code = KIND + (
        "from os import stat, listdir, getcwd\n"
        "import os\n"
        "light = kind(stat)\n"
        "open('only-in-memory', 'w').close()\n"  # builds
        "print(light, kind(os.stat), stat('only-in-memory').st_size,\n"
        "      'only-in-memory' in listdir(getcwd()))\n"
    )
    lazy, eager = both(code, tmp_path)
    assert lazy.stdout == "LightCall StandIn 0 True\n", lazy.stderr
    assert eager.stdout == "StandIn StandIn 0 True\n"


INTERRUPTED_BUILD = KIND + """
import os, sys
start = os.stat._start
real_build = start._build
def interrupted_build():
    start._build = real_build
    {where}
    raise KeyboardInterrupt
start._build = interrupted_build
try:
    os.listdir('.')
except KeyboardInterrupt:
    print('interrupted', start.builds, start.built, kind(os.stat),
          'posix' in sys.modules, '_io' in sys.modules,
          'FileIO' in vars(__import__('io')), sys.stdout is sys.__stdout__)
    active = sys.modules.get('posixbackend.switch.active')
    print('serving', None if active is None else active.get_active())
open('after', 'w').write('x')
print('after', start.builds, start.built, kind(os.stat), os.listdir('.').count('after'),
      open('after').read(), kind(sys.modules['posix'].stat))
"""


@pytest.mark.parametrize("where", ["pass", "real_build()"], ids=["before", "after-everything"])
def test_an_interrupt_during_the_build_leaves_nothing_half_installed(
    where: str, tmp_path: Path
) -> None:
    before = snapshot(tmp_path)
    done = managed(INTERRUPTED_BUILD.format(where=where), tmp_path, eager=False)
    assert snapshot(tmp_path) == before
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "interrupted 1 False LightCall False False False True",
        "serving None",
        "after 2 True StandIn 1 x StandIn",
    ]


SIGNAL_DURING_BUILD = KIND + """
import os, _signal
start = os.stat._start
real_build, kill = start._build, os.kill._original
def build_then_signal():
    kill(os.getpid(), _signal.SIGINT)  # blocked during the build: delivered after it
    real_build()
start._build = build_then_signal
try:
    os.listdir('.')
    print('not interrupted')
except KeyboardInterrupt:
    print('interrupted after the build', start.builds, start.built, kind(os.stat))
print(os.listdir('.') == os.listdir(os.getcwd()), start.builds)
"""


def test_a_signal_during_the_build_is_taken_once_it_is_done(tmp_path: Path) -> None:
    done = managed(SIGNAL_DURING_BUILD, tmp_path, eager=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["interrupted after the build 1 True StandIn", "True 1"]


def test_racing_threads_build_once_and_wait_for_it() -> None:
    builds: list[int] = []
    entered = threading.Event()
    release = threading.Event()

    def build() -> None:
        builds.append(threading.get_ident())
        entered.set()
        assert start.ensure() is False  # the builder's own calls are served natively
        release.wait(10)

    start = LazyStart(build)  # never installed: nothing of this process is replaced
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(start.ensure())) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert entered.wait(10)
    assert not start.built
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == [True] * 8
    assert len(builds) == 1 and start.builds == 1 and start.built


def test_a_failed_build_is_built_again_by_the_next_caller() -> None:
    attempts: list[int] = []

    def build() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise KeyboardInterrupt

    start = LazyStart(build)
    with pytest.raises(KeyboardInterrupt):
        start.ensure()
    assert not start.built
    assert start.ensure() is True
    assert start.ensure() is True
    assert len(attempts) == 2 and start.built


def test_the_signals_are_unblocked_after_a_build() -> None:
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    seen: list[set[int | signal.Signals]] = []
    start = LazyStart(lambda: seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, [])))
    start.ensure()
    assert signal.SIGINT in seen[0] and signal.SIGTERM in seen[0]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask


def test_its_names_are_the_switchs() -> None:
    from posixbackend.switch import installation

    assert PURE == installation.PURE
    assert SUPPORTS == installation.SUPPORTS


def test_runs_that_need_their_session_first_start_eagerly(tmp_path: Path) -> None:
    """Options whose effects come before the program (permissions, a time limit, logging,
    a script copied into memory) keep the eager start."""
    for options in (
        ["--sandbox"], ["--time-limit=30"], ["--log.python.compatibility.level=FINE"],
        ["--cwd=/tmp"], ["--compat-report=-"], ["--mount=/data=memory"],
        ["--fs=overlay", "--changes"], ["--allow-create-thread=false"],
    ):  # fmt: skip
        fs = [] if any(option.startswith("--fs") for option in options) else ["--fs=memory"]
        done = run([MANAGED, *fs, *options, "-c", NOT_BUILT], tmp_path)
        assert done.returncode == 0, (options, done.stderr)
        assert json.loads(done.stdout.splitlines()[0].replace("'", '"')) != [], options


if sys.platform != "linux":  # pragma: no cover - the project runs on Linux
    pytestmark = pytest.mark.skip("Linux only")
