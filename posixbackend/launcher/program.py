"""Running the program the way ``python`` does: ``sys.argv``, ``sys.path[0]``, ``__main__``.

The program runs in a fresh ``__main__`` module, its source read through the active backend
(so ``--fs=memory`` runs the copy in memory). An uncaught exception is printed through
``sys.excepthook`` without the launcher's own frames and gives exit status 1; SystemExit is
left to the interpreter; KeyboardInterrupt ends the process by SIGINT, as CPython does.
Under ``--time-limit`` a program that used its time up ends with one line and status 124.
"""

from __future__ import annotations

import atexit
import builtins
import importlib
import importlib.machinery
import importlib.util
import io
import marshal
import os
import posix
import signal
import sys
import types
from collections.abc import Callable

from posixbackend.launcher.target import Target, TargetKind

# Only what every interpreter has loaded by now: a launcher that builds its backend lazily
# (:mod:`.lazystart`) runs the program before any other import, which would build it; the
# other modules a run may need are imported where they are used (runpy for -m, traceback
# for an uncaught exception, code for the prompt).

TYPE_CHECKING = False  # typing costs milliseconds to import; mypy knows this one
if TYPE_CHECKING:
    import threading

    from posixbackend.launcher.session import ProcessTimeLimit


_LINECACHE: types.ModuleType | None = (
    importlib.import_module("linecache") if sys.version_info >= (3, 13) else None
)
"""linecache from 3.13, where -c's lines show in tracebacks (loaded now: see above)."""


class CannotOpen(Exception):
    """The script cannot be read: python reports it and exits with status 2."""


def fresh_main() -> types.ModuleType:
    """A new ``__main__`` in sys.modules holding what the interpreter's starts with: no spec,
    the built-in importer as loader, empty annotations and the builtins module."""
    module = types.ModuleType("__main__")
    module.__dict__.update(
        __package__=None, __loader__=importlib.machinery.BuiltinImporter, __spec__=None,
        __annotations__={}, __builtins__=builtins,
    )  # fmt: skip
    sys.modules["__main__"] = module
    return module


def set_path_zero(entry: str | None) -> None:
    """Put the program's own directory first on sys.path, in place of the launcher's."""
    if sys.flags.safe_path or entry is None:
        return
    if sys.path:
        sys.path[0] = entry
    else:
        sys.path.append(entry)


def prepare(target: Target) -> Callable[[], None]:
    """Set sys.argv and sys.path[0] for ``target``; return what runs it."""
    kind = target.kind
    if kind is TargetKind.SCRIPT:
        return _prepare_script(target)
    if kind is TargetKind.MODULE:
        sys.argv = ["-m", *target.args]  # runpy puts the module's file in argv[0]
        set_path_zero(os.getcwd())
        return lambda: _run_module(target.value)
    if kind is TargetKind.CODE:
        sys.argv = ["-c", *target.args]
        set_path_zero("")
        return lambda: _run_source(target.value, "<string>")
    if kind is TargetKind.STDIN:
        sys.argv = [target.value, *target.args]  # "" when stdin was not named with "-"
        set_path_zero("")
        return lambda: _run_source(sys.stdin.read(), "<stdin>", file="<stdin>")
    sys.argv = [target.value, *target.args]  # "" unless named "-"
    set_path_zero("")
    return _before_python_prompts if sys.flags.inspect else _interact


def _prepare_script(target: Target) -> Callable[[], None]:
    path = target.value
    sys.argv = [path, *target.args]
    absolute = as_python_makes_absolute(path)
    if os.path.isdir(absolute) or _is_zip(absolute):
        set_path_zero(absolute)
        return _run_main_of
    set_path_zero(os.path.dirname(os.path.realpath(absolute)))
    data = read_program(absolute)  # now: the program may not be allowed to read it
    if target.skip_first_line:
        data = without_first_line(data)
    return lambda: _run_file(absolute, data)


def without_first_line(data: bytes) -> bytes:
    """Python's -x: the source from the end of the first line on, its newline kept so that
    line numbers stay those of the file (nothing when there is no newline)."""
    end = data.find(b"\n")
    return b"" if end < 0 else data[end:]


def as_python_makes_absolute(path: str) -> str:
    """``path`` joined to the current directory unless absolute, not normalised: python gives
    ``python ./x.py`` the ``__file__`` ``/cwd/./x.py``."""
    return path if os.path.isabs(path) else os.path.join(os.getcwd(), path)


def _is_zip(path: str) -> bool:
    import zipfile

    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def read_program(path: str) -> bytes:
    """The bytes of the script at ``path``; CannotOpen if it is unreadable."""
    try:
        with io.open_code(path) as stream:
            return stream.read()
    except OSError as error:
        message = f"can't open file {path!r}: [Errno {error.errno}] {error.strerror}"
        raise CannotOpen(message) from None


def compile_program(data: bytes, path: str) -> types.CodeType:
    """The code of a script read from ``path`` (source or compiled)."""
    magic = importlib.util.MAGIC_NUMBER
    if data.startswith(magic):
        compiled = marshal.loads(data[16:])
        if not isinstance(compiled, types.CodeType):
            raise CannotOpen(f"can't run {path!r}: not a compiled module")
        return compiled
    return compile(data, path, "exec", dont_inherit=True)


def _run_file(path: str, data: bytes) -> None:
    compiled = compile_program(data, path)
    module = fresh_main()
    module.__dict__.update(
        __loader__=importlib.machinery.SourceFileLoader("__main__", path),
        __file__=path, __cached__=None,
    )  # fmt: skip
    exec(compiled, module.__dict__)


def _run_main_of() -> None:
    import runpy

    fresh_main()
    runpy._run_module_as_main("__main__", alter_argv=False)  # type: ignore[attr-defined]


def _run_module(name: str) -> None:
    import runpy

    fresh_main()
    runpy._run_module_as_main(name, alter_argv=True)  # type: ignore[attr-defined]


def _run_source(source: str, filename: str, *, file: str | None = None) -> None:
    compiled = compile(source, filename, "exec", dont_inherit=True)
    module = fresh_main()
    if file is not None:  # python gives a program read from stdin these two, not -c's
        module.__dict__.update(__file__=file, __cached__=None)
    elif _LINECACHE is not None and hasattr(_LINECACHE, "_register_code"):
        _register_source(compiled, source, filename)
    exec(compiled, module.__dict__)


def _register_source(compiled: types.CodeType, source: str, filename: str) -> None:
    """Give tracebacks the lines of a -c program, as python 3.13 does: under its code object
    (where later 3.13 releases look) and under its file name (where 3.13.0's traceback does)."""
    register: Callable[[types.CodeType, str, str], None]
    assert _LINECACHE is not None, "3.13's"
    register = getattr(_LINECACHE, "_register_code")  # noqa: B009 - 3.13's, not in 3.11's stubs
    register(compiled, source, filename)
    lines = [line + "\n" for line in source.splitlines()]
    _LINECACHE.cache[filename] = (len(source), None, lines, filename)


def _interact() -> None:
    import code

    code.interact(local=fresh_main().__dict__, exitmsg="")


COPYRIGHT = 'Type "help", "copyright", "credits" or "license" for more information.'


def _before_python_prompts() -> None:
    """Python's -i without a program: what python does before its prompt (which it shows
    itself once the launcher returns): the banner on stderr (not with -q, nor with -v, whose
    interpreter printed it already) and the ``PYTHONSTARTUP`` file, run in ``__main__``."""
    module = fresh_main()
    if not sys.flags.quiet and not sys.flags.verbose and sys.stderr is not None:
        print(f"Python {sys.version} on {sys.platform}", file=sys.stderr)
        if not sys.flags.no_site:
            print(COPYRIGHT, file=sys.stderr)
        sys.stderr.flush()
    startup = startup_file()
    if startup is not None:
        _run_startup_file(startup, module)


def startup_file() -> str | None:
    """The file python runs before its first prompt: ``PYTHONSTARTUP`` (ignored under -E)."""
    if sys.flags.ignore_environment:
        return None
    return os.environ.get("PYTHONSTARTUP") or None


def _run_startup_file(path: str, module: types.ModuleType) -> None:
    """Run ``PYTHONSTARTUP`` as python does: an error is printed, and the prompt comes all the
    same; ``__file__`` names the file while it runs."""
    sys.audit("cpython.run_startup", path)
    try:
        with open(path, "rb") as stream:
            source = stream.read()
    except OSError as error:
        print("Could not open PYTHONSTARTUP", file=sys.stderr)
        report_exception(error, None)
        return
    namespace = module.__dict__
    named = "__file__" not in namespace
    if named:
        namespace.update(__file__=path, __cached__=None)
    try:
        exec(compile(source, path, "exec", dont_inherit=True), namespace)
    except BaseException as error:  # noqa: BLE001 - python prints whatever the file raised
        report_exception(error, without_launcher_frames(error.__traceback__))
    finally:
        if named:
            namespace.pop("__file__", None)
            namespace.pop("__cached__", None)


_RUNNERS = frozenset(
    function.__code__
    for function in (
        _run_file, _run_main_of, _run_module, _run_source, _interact, _run_startup_file,
    )
)
"""The launcher frames that call the program (or runpy, for -m and directories)."""


def without_launcher_frames(traceback: types.TracebackType | None) -> types.TracebackType | None:
    """``traceback`` from the frame below the launcher's runner: the program's frames, and
    runpy's for ``-m`` and directories as python shows them (an error of the launcher itself,
    before the program started, keeps its whole traceback)."""
    entry = traceback
    while entry is not None and entry.tb_frame.f_code not in _RUNNERS:
        entry = entry.tb_next
    if entry is None:
        return traceback
    entry = entry.tb_next
    while entry is not None and entry.tb_frame.f_code.co_filename == __file__:
        entry = entry.tb_next  # the runner's helpers: compile_program's SyntaxError
    return entry


def report_exception(error: BaseException, traceback: types.TracebackType | None) -> None:
    """Print an uncaught exception through sys.excepthook; the default hook is replaced by the
    same printing in Python, whose source lines are read through the active backend (the C
    hook hands the descriptor of the file it opened to C code, which a virtual one fails)."""
    if sys.excepthook is sys.__excepthook__:
        print_exception(type(error), error, traceback)
    else:
        sys.excepthook(type(error), error, traceback)


def print_exception(
    kind: type[BaseException], error: BaseException, traceback: types.TracebackType | None
) -> None:
    """What CPython's default excepthook prints, printed by :mod:`traceback`; like it, nothing
    when standard error cannot be written (the program closed its descriptor 2)."""
    if sys.stderr is None:
        return
    import traceback as tracebacks

    try:
        tracebacks.print_exception(kind, error, traceback, file=sys.stderr)
        sys.stderr.flush()
    except (OSError, ValueError):  # CPython ignores its write and flush errors here too
        return


def print_thread_exception(args: threading.ExceptHookArgs) -> None:
    """What threading's default excepthook prints, printed by :mod:`traceback`."""
    if args.exc_type is SystemExit or sys.stderr is None:
        return
    import threading
    import traceback as tracebacks

    name = args.thread.name if args.thread is not None else threading.get_ident()
    print(f"Exception in thread {name}:", file=sys.stderr, flush=True)
    tracebacks.print_exception(
        args.exc_type, args.exc_value, args.exc_traceback, file=sys.stderr
    )
    sys.stderr.flush()


class Interrupted:
    """Ends the process by SIGINT after every at-exit handler ran, as CPython does when a
    KeyboardInterrupt went unhandled (the parent's shell then sees status 130)."""

    def __init__(self) -> None:
        self.pending = False
        atexit.register(self._at_exit)  # registered first: runs last

    def _at_exit(self) -> None:
        if not self.pending:
            return
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        posix.kill(posix.getpid(), signal.SIGINT)


def run(
    target: Target,
    interrupted: Interrupted,
    start: Callable[[], None] | None = None,
    running_limit: Callable[[], ProcessTimeLimit | None] = lambda: None,
    *,
    inspect: bool = False,
) -> int:
    """Run ``target`` like python; the exit status (SystemExit is re-raised for python).

    CannotOpen (the script is missing or unreadable) is left to the caller. ``start`` is
    called once the program is read, before any of its code runs: it confines the process,
    starts the ``--time-limit`` on this thread and puts the permissions in force (its own
    SystemExit, when it cannot, always ends the run). ``running_limit()`` gives that limit
    (None: none), which is stopped as soon as the program's code is done; a program that
    used it up ends with its message and status 124 however it ended (its
    TimeLimitExceeded, if that escaped, without a traceback).

    ``inspect``: python's -i (or PYTHONINSPECT) is in force, under which python ends no
    process on the program's SystemExit: it is printed as any exception (status 1), and a
    KeyboardInterrupt ends nothing either."""
    exceeded = False
    started = False
    limit: ProcessTimeLimit | None = None
    try:
        try:
            program = prepare(target)
            if start is not None:
                start()
            started = True
            program()
        finally:
            limit = running_limit()
            while limit is not None:  # again if an exception pending at the call landed there
                try:
                    exceeded = limit.program_returned()
                    break
                except _time_limit_exceeded():
                    continue
    except CannotOpen:
        raise
    except SystemExit as error:
        if exceeded and limit is not None:
            return limit.exceeded()
        if not (inspect and started):
            raise
        report_exception(error, _without_launcher_frames(error))
        return 1
    except BaseException as error:  # noqa: BLE001 - python reports every uncaught exception
        if not (exceeded and isinstance(error, _time_limit_exceeded())):
            report_exception(error, _without_launcher_frames(error))
        if exceeded and limit is not None:
            return limit.exceeded()
        if isinstance(error, KeyboardInterrupt) and not inspect:
            interrupted.pending = True
            return 128 + signal.SIGINT
        return 1
    return limit.exceeded() if exceeded and limit is not None else 0


class _NeverRaised(Exception):
    """Stands for TimeLimitExceeded where no time limit can have been started."""


def _time_limit_exceeded() -> type[BaseException]:
    """TimeLimitExceeded if its module is loaded (no time limit started otherwise): the
    permissions are imported by the sessions that use them, not by every run."""
    module = sys.modules.get("posixbackend.permissions.timelimit")
    found: type[BaseException] = _NeverRaised if module is None else module.TimeLimitExceeded
    return found


def _without_launcher_frames(error: BaseException) -> types.TracebackType | None:
    """Take the launcher's frames off ``error``'s traceback; the traceback left."""
    traceback = without_launcher_frames(error.__traceback__)
    error.__traceback__ = traceback
    return traceback
