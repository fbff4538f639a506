"""The escape corpus: every way out a hostile guest has been seen to try, written once and run
three ways -- in-process under ``Permissions.sandbox()`` (test_escapes.py), under the launcher's
``--sandbox`` and in the isolated mode (test_escapes_isolated.py).

Each escape is Python source run as guest code. It tries to leave a trace on the host (see
:mod:`tests.permissions.judge`, which looks for them on the host, never in what the guest
says) and prints ``refused: <error>`` when the way it tried was refused -- a PermissionError
naming the permission, or the error of a file system or kernel that has nothing there.
``in_process`` says what the in-process layers (stand-ins, anchors and audit hook) do about
it: "stopped", or "escapes: <why it cannot be stopped in-process>" (the table in
posixbackend/permissions/README.md says the same); ``stopped_from`` names the Python version
from which an escape is stopped in-process when older ones cannot stop it. The launcher's
``--sandbox`` and the isolated mode contain all.
"""

from __future__ import annotations

import sys

import attrs


@attrs.frozen
class Escape:
    name: str
    code: str
    effect: str
    """What a success leaves behind (see judge.EFFECTS): "file" (MARKER exists), "process" (a
    program made MARKER), "connect" (to PORT), "read" (the SECRET's text in the output), "fd"
    (the embedder's open file or live connection touched), "hostname", "netlink" (an address
    on lo), "survival" (the embedder did not go on after the block)."""
    in_process: str
    """"stopped", or "escapes: <why>"."""
    stopped_from: tuple[int, int] | None = None
    """In-process, stopped from this Python version on (``in_process`` says why not before)."""

    @property
    def stopped_in_process(self) -> bool:
        """Whether the in-process layers stop it on the running Python."""
        if self.stopped_from is not None:
            return sys.version_info[:2] >= self.stopped_from
        return self.in_process == "stopped"

    def source(self, marker: str, port: int, secret: str = "/nonexistent") -> str:
        """The guest code, aimed at ``marker``, ``port`` and the host file ``secret``."""
        prologue = f"MARKER = {marker!r}\nPORT = {port}\nSECRET = {secret!r}\nimport os, sys\n"
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


FRESH_MODULE = """
def fresh(name):
    import importlib.util
    spec = importlib.util.find_spec(name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
"""
"""Guest code defining fresh(name): a new instance of a module, with its original functions."""

WRITE_MARKER = "os.close(os.open(MARKER, os.O_CREAT | os.O_WRONLY))"

STAND_INS_CHANGED = """
real = lambda self, /, *args, **kwargs: self._native(*args, **kwargs)
StandIn = type(os.open)
if StandIn.__module__ in ('posixbackend._standin', 'builtins'):
    # the C stand-ins (builtin functions or of the C StandIn type) are immutable; the Python
    # fallback each one calls in a block is not
    StandIn = sys.modules['posixbackend.switch.standins'].StandIn
    StandIn.__call__.__code__ = real.__code__
else:
    StandIn.__call__ = real
"""
"""Guest code making every stand-in call its real function: the Python stand-ins' class, or
the code of the Python fallback the C stand-ins (posixbackend/_standin.c) call in a block."""

SQLITE_HOST_FILE = """{setup}
import sqlite3
try:
    database = sqlite3.connect({uri}, uri=True)
    database.execute('create table t(x)')
    database.commit()
    database.close()
except sqlite3.Error as error:
    raise OSError(f'sqlite3: {{error}}') from None
"""
"""Guest code making a database file at MARKER with sqlite3 (``setup`` first): on the host only
if SQLite opened it through its own VFS, not the backend's."""

LIBRARY_STATE = "escapes: the library's own state, reached through sys.modules or "
"""The start of the reason for escapes through the library's private objects."""

FORGER = r"""
import os, pickle, sys
from posixbackend.launcher import startup
from vfs.remote import wire
case, marker, secret = sys.argv[1:4]
remote = startup._STARTED[0].layout.file_system  # the client of the parent's file system
fd = remote.connection.fd
def answer(name, *args):
    try:
        return repr(remote.connection.call(name, *args))
    except (OSError, ValueError, TypeError) as error:
        return f"{type(error).__name__} {getattr(error, 'errno', '')}".strip()
class Payload:
    def __reduce__(self):
        return eval, (f"__import__('os').system('touch {marker}')",)
def framed(body):
    return len(body).to_bytes(4, "big") + body
if case == "within":
    up = "/.." * 12
    print("read", answer("open", up + secret, os.O_RDONLY, 0))
    print("create", answer("open", up + marker, os.O_CREAT | os.O_WRONLY, 0o644))
    print("link", answer("symlink", secret, "/link"), answer("open", "/link", os.O_RDONLY, 0))
    print("nul", answer("stat", "/a\0b", True))
    print("handle", answer("h.pread", 12345, 10, 0))
else:
    frames = {
        "unknown": wire.encode(("system", "touch " + marker)),
        "huge": b"\xff\xff\xff\xff" + b"x" * 64,
        "types": wire.encode(("open", 42, None, "x")),
        "relative": wire.encode(("open", os.path.relpath(marker, "/"), 0o101, 0o644)),
        "malformed": framed(b"zzz"),
        "deep": framed(b"l\0\0\0\1" * 100 + b"N"),
        "pickle": framed(pickle.dumps(Payload())),
    }
    wire.send_all(fd, frames[case])
    try:
        wire.receive(fd)
        print("answered")
    except (EOFError, OSError):  # closed (reset when the server left bytes unread)
        print("closed")
    print("after", answer("stat", "/", True))
"""
"""A child Python of a program whose file system it is served: it finds its connection to
the parent's server and sends it forged requests (argv: the case, MARKER, SECRET)."""
FORGED_CASES = ("within", "unknown", "huge", "types", "relative", "malformed", "deep", "pickle")

REAL_POSIX = """
import types
loader = next(c for c in object.__subclasses__() if c.__name__ == 'FileLoader')
real_os = loader.get_data.__globals__['_os']  # the real posix: its calls are refused the guest
real_io = loader.get_data.__globals__['_io']  # and the real _io
"""
"""Guest code finding the real posix and _io modules (the audit hook refuses their calls to the
guest)."""

BORROWED_REPR = REAL_POSIX + """
from posixbackend.switch.standins import StandIn
code = {code}
borrowed = types.FunctionType(code, {{'__builtins__': {{'repr': real_io.open}}}})
print(borrowed(types.SimpleNamespace(_native=SECRET)).read())  # repr(self._native): open()
"""
"""Guest code running ``code`` (StandIn.__repr__'s, an entry point's: ``repr(self._native)``) in
globals of its own whose builtin ``repr`` is the real ``_io.open``."""

EQUAL_REPR = """
import __future__
real = StandIn.__repr__.__code__
source = '\\n' * (real.co_firstlineno - 2) + (
    'class StandIn:\\n    def __repr__(self):\\n        return repr(self._native)\\n')
module = compile(source, '<guest>', 'exec', __future__.annotations.compiler_flag, True)
body = next(c for c in module.co_consts if isinstance(c, types.CodeType))
copy = next(c for c in body.co_consts if isinstance(c, types.CodeType))
if copy != real or copy is real:  # the library's source changed: update the escape
    raise AssertionError(f'not an equal copy: {{copy!r}} vs {{real!r}}')
"""
"""Guest code compiling its own code object equal to StandIn.__repr__'s (Python 3.11's code
equality ignores the file name)."""

BORROWED_CLOSURE = REAL_POSIX + """
from posixbackend.emulated import _directories
maker = _directories._stat_in_directory  # an entry point; its closure is entered from C
inner = next(c for c in maker.__code__.co_consts if isinstance(c, types.CodeType))
backend = types.SimpleNamespace(  # backend._directory_of(fd, name) is real_os.open
    _directory_of=real_os.open, _fs=types.SimpleNamespace(stat_at=print), _view=print)
values = {{'backend': backend, 'fd': MARKER}}
{make}
stat_in_directory(os.O_CREAT | os.O_WRONLY, False)
"""
"""Guest code running the library's closure ``stat_in_directory`` (an entry point's) in the
library module's own globals with cells of its own, made by ``make``."""

ESCAPES = (
    # -- the import system and fresh modules -------------------------------------------------
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
        FRESH_MODULE + "real = fresh('posix')\n"
        "real.close(real.open(MARKER, real.O_CREAT | real.O_WRONLY))",
        "file",
        "stopped",
    ),
    Escape(
        "a fresh real posix module's system()",
        FRESH_MODULE + "fresh('posix').system('touch ' + MARKER)",
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
        "_io.open, the switched copy's",
        "import _io\n_io.open(MARKER, 'w').close()",
        "file",
        "stopped",
    ),
    Escape(
        "_io.open called from code run in the import system's own globals",
        """
import importlib._bootstrap_external as external
exec(f"sys.modules['_io'].open({MARKER!r}, 'w').close()", vars(external))
""",
        "file",
        "stopped",
    ),
    Escape(
        "_io.open_code of a host file (it opens what the interpreter runs)",
        "import _io\nprint(_io.open_code(SECRET).read())",
        "read",
        "stopped",
    ),
    Escape(
        "zipimport reading a host file registered as a virtual archive's path",
        """
import zipimport
try:
    zipimport.zipimporter(SECRET)
except zipimport.ZipImportError as error:
    print('refused:', error)
print(open(SECRET).read())
""",
        "read",
        "stopped",
    ),
    Escape(
        "pkgutil.get_data climbing out of a package with ..",
        """
import pkgutil
print(pkgutil.get_data('posixbackend', '../' * 40 + SECRET.lstrip('/')))
""",
        "read",
        "stopped",
    ),
    Escape(
        "a SourceFileLoader's get_data of any path",
        """
import importlib.machinery
print(importlib.machinery.SourceFileLoader('x', SECRET).get_data(SECRET))
""",
        "read",
        "stopped",
    ),
    # -- processes ------------------------------------------------------------------------
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
        "the library's own reference to the real function (StandIn._native)",
        "import _posixsubprocess\nreal = _posixsubprocess.fork_exec._native\n"
        + fork_exec_touch("real")
        + "import time; time.sleep(0.5)\n",
        "process",
        "escapes: no audit event is raised for _posixsubprocess.fork_exec, and any object the "
        "library holds (here the stand-in's real function) is reachable by introspection",
    ),
    Escape(
        "the real function held by a builtin stand-in's state (gc.get_referents of __self__)",
        """
import gc
state = os.system.__self__
real = next(o for o in gc.get_referents(state) if getattr(o, '__name__', '') == 'system')
real('touch ' + MARKER)
""",
        "process",
        "stopped",
    ),
    # -- sockets and the host's network -----------------------------------------------------
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
        "a netlink socket adding an address to lo (send() names no address)",
        """
import socket, struct
link = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
address = socket.inet_aton('127.77.77.77')
attributes = struct.pack('HH', 8, 2) + address + struct.pack('HH', 8, 1) + address
body = struct.pack('BBBBI', socket.AF_INET, 32, 0, 254, socket.if_nametoindex('lo'))
body += attributes
link.send(struct.pack('IHHII', 16 + len(body), 20, 1 | 4 | 0x200 | 0x400, 1, 0) + body)
link.recv(4096)
""",
        "netlink",
        "stopped",
    ),
    Escape(
        "socket.sethostname",
        "import socket\nsocket.sethostname('escaped-guest')",
        "hostname",
        "stopped",
    ),
    # -- the embedder's real descriptors, by number -----------------------------------------------
    Escape(
        "mmap of the embedder's descriptors by number",
        """
import errno, mmap
for fd in range(3, 40):
    try:
        mapped = mmap.mmap(fd, 0)
    except (ValueError, OSError) as error:
        if isinstance(error, PermissionError):
            raise
        continue
    mapped[:8] = b'tampered'
    mapped.flush()
# the numbers that mapped anything are the guest's own (judged on the host, not here)
raise OSError(errno.EBADF, "no descriptor of the embedder mapped")
""",
        "fd",
        "stopped",
    ),
    Escape(
        "mmap of the guest's own descriptors numbered as the embedder's",
        """
import errno, mmap
seen = {}
for n in range(12):  # emulated descriptors 3, 4, ...: the embedder's real ones have these numbers
    fd = os.open(f'/tmp/mapped-{n}', os.O_RDWR | os.O_CREAT, 0o600)
    os.write(fd, b'guest %d' % fd)
    with mmap.mmap(fd, 0) as mapped:
        seen[fd] = bytes(mapped[:32])  # the embedder's file, were it mapped, shows here
        mapped[:6] = b'tamper'
        mapped.flush()
# the guest's own files only (the embedder's are judged on the host, not here)
raise OSError(errno.EBADF, f"what the descriptors mapped: {seen}")
""",
        "fd",
        "stopped",
    ),
    Escape(
        "socket.socket(fileno=) on the embedder's live connection",
        """
import socket
for fd in range(3, 40):
    try:
        taken = socket.socket(fileno=fd)
    except OSError as error:
        if isinstance(error, PermissionError):
            raise
        continue
    try:
        taken.send(b'injected by the guest')
    except OSError:
        pass
    taken.detach()
""",
        "fd",
        "stopped",
    ),
    Escape(
        "fcntl on the embedder's descriptors by number",
        """
import errno, fcntl
answered = []
for fd in range(3, 40):
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, os.O_APPEND | os.O_NONBLOCK)
        answered.append(fd)
    except OSError as error:
        if isinstance(error, PermissionError):
            raise
# the numbers that answered may be the guest's own (judged on the host, not here)
raise OSError(errno.EBADF, f"descriptors that answered: {answered}")
""",
        "fd",
        "stopped",
    ),
    # -- the library's own state and objects ------------------------------------------------
    Escape(
        "a fresh contextvars.Context, which holds no block",
        "import contextvars\n"
        f"contextvars.Context().run(lambda: {WRITE_MARKER})",
        "file",
        "stopped",
    ),
    Escape(
        "a fresh contextvars.Context running os.system",
        "import contextvars\ncontextvars.Context().run(os.system, 'touch ' + MARKER)",
        "process",
        "stopped",
    ),
    Escape(
        "a fresh contextvars.Context connecting a socket",
        """
import contextvars, socket
contextvars.Context().run(lambda: socket.create_connection(('127.0.0.1', PORT)))
""",
        "connect",
        "stopped",
    ),
    Escape(
        "the library's context variables set to nothing",
        f"""
from posixbackend.permissions.current import POLICY
from posixbackend.switch.active import ACTIVE
ACTIVE.set(None)
POLICY.set(None)
{WRITE_MARKER}
""",
        "file",
        "stopped",
    ),
    Escape(
        "a host provider built by the guest (vfs.HostFileSystem)",
        """
from vfs import HostFileSystem
HostFileSystem().open(MARKER, os.O_CREAT | os.O_WRONLY, 0o644).close()
""",
        "file",
        "stopped",
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
        "stopped",
    ),
    Escape(
        "the stand-ins' code changed to call the real functions",
        STAND_INS_CHANGED
        + "import _posixsubprocess\n"
        + fork_exec_touch("_posixsubprocess.fork_exec")
        + "import time; time.sleep(0.5)\n",
        "process",
        "escapes: the in-process layers do not refuse a function's code being replaced (its "
        "object.__setattr__ audit event is not checked), Python raises no audit event when a "
        "class attribute is set (the pure-Python path), nor for _posixsubprocess.fork_exec",
    ),
    Escape(
        "the stand-ins' code changed, then a file opened",
        STAND_INS_CHANGED + WRITE_MARKER,
        "file",
        "stopped",
    ),
    # -- the library's code objects run in globals or with cells of the guest's ----------------
    Escape(
        "an entry point's code object run in globals of the guest's (types.FunctionType)",
        BORROWED_REPR.format(code="StandIn.__repr__.__code__"),
        "read",
        "stopped",
    ),
    Escape(
        "an entry point's code object, copied with code.replace, run in the guest's globals",
        BORROWED_REPR.format(code="StandIn.__repr__.__code__.replace(co_filename='<guest>')"),
        "read",
        "stopped",
    ),
    Escape(
        "a code object compiled equal to an entry point's, run in the guest's globals",
        BORROWED_REPR.replace("code = {code}\n", EQUAL_REPR + "code = copy\n").format(),
        "read",
        "stopped",
    ),
    Escape(
        "an entry point's closure made with cells of the guest's (types.FunctionType)",
        BORROWED_CLOSURE.format(make="""
cells = tuple(types.CellType(values[name]) for name in inner.co_freevars)
stat_in_directory = types.FunctionType(inner, maker.__globals__, 'stat', None, cells)
"""),
        "file",
        "stopped",
    ),
    Escape(
        "an entry point's closure code given to a closure of the guest's, made in the "
        "library module's globals",
        BORROWED_CLOSURE.format(make="""
made = {}  # the guest's own function, with the library module's globals (left unchanged)
exec('def make(backend, fd):\\n    return lambda name, follow: (backend, fd)',
     maker.__globals__, made)
stat_in_directory = made['make'](values['backend'], values['fd'])
stat_in_directory.__code__ = inner
"""),
        "file",
        "stopped",
    ),
    Escape(
        "an entry point's closure made by the library over objects of the guest's",
        BORROWED_CLOSURE.format(make="""
stat_in_directory = maker(values['backend'], values['fd'])  # the library makes it
"""),
        "file",
        "escapes: an entry point trusts the objects it is handed (here the closure it makes "
        "over the guest's 'backend', whose method is the real posix.open): the library's own "
        "frame, in its own globals, makes the host call",
    ),
    Escape(
        "a name the library's entry point looks up replaced in its module, then the entry "
        "point called",
        REAL_POSIX + """
from posixbackend.switch import standins
standins.repr = real_io.open  # StandIn.__repr__ runs repr(self._native) in its own globals
try:
    print(standins.StandIn.__repr__(types.SimpleNamespace(_native=SECRET)).read())
finally:
    del standins.repr  # the embedder goes on with the builtin
""",
        "read",
        LIBRARY_STATE + "introspection (here a global name the library's code looks up: "
        "its frames run the library's code in the library's globals)",
    ),
    # -- sqlite3: which VFS opens a database file ---------------------------------------------
    Escape(
        "sqlite3.connect of a URI whose first mode is memory and last rwc "
        "(SQLite applies the last)",
        SQLITE_HOST_FILE.format(uri="'file:' + MARKER + '?mode=memory&mode=rwc'", setup=""),
        "file",
        "stopped",
    ),
    Escape(
        "sqlite3.connect after urllib.parse's functions are replaced to make a file URI look "
        "in-memory and to end our URI early",
        SQLITE_HOST_FILE.format(
            uri="'file:' + MARKER + '?mode=rwc'",
            setup="""
import urllib.parse
urllib.parse.parse_qs = lambda *args, **kwargs: {'mode': ['memory']}
urllib.parse.parse_qsl = lambda *args, **kwargs: [('mode', 'memory')]
urllib.parse.quote = lambda text, *args, **kwargs: os.fsdecode(text) + '#'
urllib.parse.unquote_to_bytes = lambda text: os.fsencode(text)
""",
        ),
        "file",
        "stopped",
    ),
    Escape(
        "the library's own in-memory test of sqlite3.connect replaced",
        SQLITE_HOST_FILE.format(
            uri="'file:' + MARKER + '?mode=rwc'",
            setup="""
from posixbackend.sqlite import connect
connect.in_memory = lambda *args, **kwargs: True
""",
        ),
        "file",
        LIBRARY_STATE + "introspection (here the function that tells an in-memory database "
        "from a file)",
    ),
    Escape(
        "the library's anchor table cleared",
        f"""
import contextvars
from posixbackend.permissions import anchors
anchors.ANCHORS.clear()
contextvars.Context().run(lambda: {WRITE_MARKER})
""",
        "file",
        LIBRARY_STATE + "introspection (here the table anchoring threads to their block)",
    ),
    Escape(
        "the library's own way to run its work unrestricted, called by the guest",
        f"""
from posixbackend.switch.nativecalls import run_unrestricted
run_unrestricted(lambda: {WRITE_MARKER})
""",
        "file",
        "stopped",
    ),
    Escape(
        "the launcher's clean-up run unrestricted, called on an object of the guest's",
        f"""
import errno, shutil, types
from posixbackend.launcher.session import LauncherProcessHandler
def replaced(*args, **kwargs):
    {WRITE_MARKER}
kept, shutil.rmtree = shutil.rmtree, replaced
try:  # what the launcher runs at exit, here on a directory the guest chose
    LauncherProcessHandler._remove_scratch(types.SimpleNamespace(_scratch=MARKER))
finally:
    shutil.rmtree = kept  # the embedder goes on with the real one
raise OSError(errno.EPERM, 'the clean-up ran none of the replacements')
""",
        "file",
        "stopped",
    ),
    Escape(
        "a raw thread from a fresh _thread module",
        FRESH_MODULE
        + f"""
import time
fresh('_thread').start_new_thread(lambda: {WRITE_MARKER}, ())
time.sleep(0.5)
""",
        "file",
        "escapes: Python 3.11 raises no audit event when a thread starts, and a fresh _thread "
        "module's start_new_thread is not the stand-in (3.12's _thread.start_new_thread event "
        "stops it)",
        stopped_from=(3, 12),
    ),
    # -- deferred code and the embedding process -------------------------------------------
    Escape(
        "an audit hook of the guest's",
        f"sys.addaudithook(lambda event, args: {WRITE_MARKER} if event == 'open' else None)",
        "file",
        "stopped",
    ),
    Escape(
        "an at-exit handler, run by the embedder after the block",
        f"import atexit\natexit.register(lambda: {WRITE_MARKER})",
        "file",
        "escapes: atexit's registry is the interpreter's (a fresh atexit module reaches it) "
        "and its handlers run after every block has ended",
    ),
    Escape(
        "a standard library function monkeypatched for the embedder to call",
        f"""
import json
def dumps(*args, **kwargs):
    {WRITE_MARKER}
    return '{{}}'
json.dumps = dumps
""",
        "file",
        "escapes: Python raises no audit event when a module's attribute is set, and the "
        "embedder calls what the guest left there after the block",
    ),
    Escape(
        "forged frames to the server of the file system a child Python is served",
        f"""
import subprocess
for case in {FORGED_CASES!r}:
    done = subprocess.run([sys.executable, '-c', {FORGER!r}, case, MARKER, SECRET],
                          capture_output=True, text=True, timeout=60)
    print(case, done.returncode, done.stdout.strip().replace(chr(10), ' | '))
with open('after.txt', 'w') as after:
    after.write('the parent')
done = subprocess.run([sys.executable, '-c', 'print(open("after.txt").read())'],
                      capture_output=True, text=True, timeout=60)
print('survived:', done.stdout.strip())
""",
        "file",
        "stopped",
    ),
    Escape(
        "resource.setrlimit crippling the embedder",
        """
import resource
resource.setrlimit(resource.RLIMIT_NOFILE, (3, 3))
""",
        "survival",
        "stopped",
    ),
    Escape(
        "os._exit through a fresh posix module",
        FRESH_MODULE + "fresh('posix')._exit(0)",
        "survival",
        "escapes: no audit event is raised for _exit, and a fresh posix module's _exit is not "
        "the stand-in",
    ),
    Escape(
        "signal.raise_signal ending the embedder",
        "import signal\nsignal.raise_signal(signal.SIGTERM)",
        "survival",
        "escapes: no audit event is raised for raise_signal (nor for alarm or "
        "faulthandler._sigsegv), and a fresh _signal module reaches the real one",
    ),
    Escape(
        "the host provider's openat2 C call, called with the real working directory as root",
        """
from vfs.host import openat2
calls = openat2.C_CALLS or __import__('vfs.host._inroot').host._inroot
try:
    calls.configure(0o37777777, 0o37777777, 0)  # drop RESOLVE_IN_ROOT for every caller
except RuntimeError as error:
    print('refused:', error)
# the embedder works in /: its real working directory is the root the guest asks for
os.close(calls.open(-100, None, MARKER, os.O_CREAT | os.O_WRONLY, 0o644))
""",
        "file",
        "stopped",
    ),
    Escape(
        "a copy of _ctypes in the virtual file system, imported to call libc",
        """
import importlib.machinery, importlib.util
real = importlib.machinery.PathFinder.find_spec('_ctypes').origin
with open(real, 'rb') as source:
    data = source.read()
copy = '/tmp/escape_ext/_ctypes' + importlib.machinery.EXTENSION_SUFFIXES[0]
os.makedirs('/tmp/escape_ext', exist_ok=True)
with open(copy, 'wb') as target:
    target.write(data)
spec = importlib.util.spec_from_file_location('_ctypes', copy)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
sys.modules['_ctypes'] = module
import ctypes
ctypes.CDLL(None).creat(MARKER.encode(), 0o644)
""",
        "file",
        "stopped",
    ),
)
"""Every escape (see the module's docstring)."""
