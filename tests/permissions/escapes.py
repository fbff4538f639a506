"""The classic in-process escapes, written once for the in-process and the isolated tests.

Each is Python source run as guest code under ``Permissions.sandbox()``. It tries to leave a
trace on the host -- create the file MARKER, start a program that would create it, or connect
to a listener on 127.0.0.1:PORT -- and prints ``refused: <error>`` when it is refused (a
PermissionError naming the permission, or the error of the guest's own file system, which
does not have the host's paths).
``in_process`` says what the in-process layers (stand-ins and audit hook) do about it:
"stopped", or "escapes" with the reason the in-process mode cannot stop it (README's
"What the in-process sandbox stops" table says the same). The isolated mode contains all.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Escape:
    name: str
    code: str
    effect: str
    """"file" (MARKER created), "process" (a program started) or "connect" (to PORT)."""
    in_process: str
    """"stopped", or "escapes: <why>"."""

    def source(self, marker: str, port: int) -> str:
        """The guest code, aimed at ``marker`` and ``port``."""
        prologue = f"MARKER = {marker!r}\nPORT = {port}\nimport os, sys\n"
        body = f"try:\n{_indented(self.code)}\nexcept OSError as error:\n"
        return prologue + body + "    print('refused:', type(error).__name__, error)\n"


def _indented(code: str) -> str:
    return "\n".join("    " + line for line in code.strip("\n").splitlines())


TOUCH = "['/bin/sh', '-c', 'touch ' + MARKER]"


def fork_exec_touch(function: str) -> str:
    """Guest code calling ``function`` (a fork_exec) to run ``touch MARKER``, with the 23
    positional arguments _posixsubprocess.fork_exec takes on 3.11 to 3.13."""
    return f"""
args = [os.fsencode(a) for a in {TOUCH}]
{function}(args, [b'/bin/sh'], True, (), None, None, -1, -1, -1, -1, -1, -1, *os.pipe(),
    False, False, -1, None, None, None, -1, None, False)
"""

ESCAPES = (
    Escape(
        "the import system's real posix, found by walking __subclasses__",
        """
loader = next(c for c in object.__subclasses__() if c.__name__ == 'FileLoader')
real_os = loader.get_data.__globals__['_os']
real_os.close(real_os.open(MARKER, real_os.O_CREAT | real_os.O_WRONLY))
""",
        "file",
        "stopped",
    ),
    Escape(
        "a fresh instance of the real posix module made by importlib",
        """
import importlib.util
spec = importlib.util.find_spec('posix')
real = importlib.util.module_from_spec(spec)
spec.loader.exec_module(real)
real.close(real.open(MARKER, real.O_CREAT | real.O_WRONLY))
""",
        "file",
        "stopped",
    ),
    Escape(
        "a fresh real posix module's system()",
        """
import importlib.util
spec = importlib.util.find_spec('posix')
real = importlib.util.module_from_spec(spec)
spec.loader.exec_module(real)
real.system('touch ' + MARKER)
""",
        "process",
        "stopped",
    ),
    Escape(
        "sys.modules['posix']",
        """
posix = sys.modules['posix']
posix.close(posix.open(MARKER, posix.O_CREAT | posix.O_WRONLY))
""",
        "file",
        "stopped",
    ),
    Escape(
        "__import__('posix').system",
        "__import__('posix').system('touch ' + MARKER)",
        "process",
        "stopped",
    ),
    Escape(
        "_io.open, which stays the real one",
        "import _io\n_io.open(MARKER, 'w').close()",
        "file",
        "stopped",
    ),
    Escape(
        "_posixsubprocess.fork_exec called directly",
        "import _posixsubprocess\n" + fork_exec_touch("_posixsubprocess.fork_exec"),
        "process",
        "stopped",
    ),
    Escape(
        "gc.get_objects, to find the real fork_exec",
        """
import gc
real = next(o for o in gc.get_objects()
            if type(o).__name__ == 'builtin_function_or_method' and o.__name__ == 'fork_exec')
"""
        + fork_exec_touch("real"),
        "process",
        "stopped",
    ),
    Escape(
        "ctypes and libc's system()",
        """
import ctypes
ctypes.CDLL(None).system(('touch ' + MARKER).encode())
""",
        "process",
        "stopped",
    ),
    Escape(
        "the real socket module",
        """
import _socket
_socket.socket().connect(('127.0.0.1', PORT))
""",
        "connect",
        "stopped",
    ),
    Escape(
        "the library's own reference to the real function (StandIn._native)",
        "import _posixsubprocess\nreal = _posixsubprocess.fork_exec._native\n"
        + fork_exec_touch("real")
        + "import time; time.sleep(0.5)\n",
        "process",
        "escapes: no audit event is raised for _posixsubprocess.fork_exec, and any object the "
        "library holds (here the stand-in's real function) is reachable by introspection",
    ),
    Escape(
        "a host provider found in the embedding code's frames",
        """
frame = sys._getframe()
while frame is not None:
    found = [v for v in frame.f_locals.values() if type(v).__name__ == 'HostFileSystem']
    if found:
        found[0].open(MARKER, os.O_CREAT | os.O_WRONLY).close()
        break
    frame = frame.f_back
""",
        "file",
        "escapes: frames reach the objects of the code that entered the block, and a provider's "
        "own calls are trusted library code",
    ),
)
