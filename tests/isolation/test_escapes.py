"""The classic ways out of an in-process sandbox, tried inside the isolated child: nothing is
written on the host, no process is started and no connection is made.

The guests get every in-process permission an isolated guest can have (native access,
threads). Calls that raise an audit event may still be refused by the in-process layer
first (the permissions' audit hook); those are checked as refused by either layer. Calls
made through ctypes raise no audit event, so only the kernel's confinement of the child can
refuse them: those are checked with the exact errno Landlock or seccomp gives.
"""

from __future__ import annotations

import os
import socket
import textwrap
from pathlib import Path

import pytest

from posixbackend.isolation import IsolatedResult, run_isolated
from posixbackend.permissions.policy import Permissions
from tests.isolation.helpers import assert_nothing_left, printed

OPEN = Permissions(allow_io="all", allow_native_access=True, allow_create_thread=True)
"""Every in-process permission an isolated guest can have."""

PRELUDE = """\
import ctypes, errno, os

def attempt(what, call):
    try:
        value = call()
    except PermissionError:
        print(what, "refused")
    except OSError as error:
        print(what, type(error).__name__, errno.errorcode[error.errno])
    else:
        print(what, "succeeded", value)

libc = ctypes.CDLL(None, use_errno=True)

def kernel(what, function, *arguments):
    if function(*arguments) == -1:
        print(what, errno.errorcode[ctypes.get_errno()])
    else:
        print(what, "succeeded")

def start_with(fork_exec, argv):
    r, w = os.pipe()
    arguments = (argv, [argv[0]], True, (w,), None, None, -1, -1, -1, -1, -1, -1,
                 r, w, True, False, -1, None, None, None, -1, None, False)
    try:
        return fork_exec(*arguments)
    except TypeError:  # versions without the last argument (allow_vfork)
        return fork_exec(*arguments[:-1])
"""
"""Guest prelude: attempt(label, call) for Python calls, kernel(label, libc function, *args)
for C calls the kernel alone answers, start_with(fork_exec, argv) for a _posixsubprocess
fork_exec called as subprocess calls it."""


def escape(code: str) -> IsolatedResult:
    """Run ``code`` (after the prelude) with every in-process permission granted."""
    result = run_isolated(PRELUDE + textwrap.dedent(code), OPEN)
    assert result.status == 0, result.stderr
    assert "seccomp" in result.confinement and "landlock" in result.confinement
    assert_nothing_left(result)
    return result


def test_ctypes_cannot_change_host_files(marker: Path) -> None:
    result = escape(
        f"""\
        marker = {str(marker).encode()!r}
        kernel("open", libc.open, marker, 0o101, 0o644)
        kernel("creat", libc.creat, marker, 0o644)
        kernel("mkdir", libc.mkdir, marker, 0o755)
        kernel("symlink", libc.symlink, b"/etc/passwd", marker)
        kernel("rename", libc.rename, b"/etc/hostname", marker)
        kernel("unlink", libc.unlink, b"/etc/hostname")
        kernel("truncate", libc.truncate, b"/etc/hostname", 0)
        kernel("chmod", libc.chmod, b"/tmp", 0o777)
        kernel("chown", libc.chown, b"/tmp", 1, 1)
        kernel("utimes", libc.utimes, b"/tmp", None)
        kernel("setxattr", libc.setxattr, b"/tmp", b"user.x", b"1", 1, 0)
        kernel("read /etc/shadow", libc.open, b"/etc/shadow", 0)
        kernel("list /root", libc.open, b"/root", 0o200000)  # O_DIRECTORY
        """
    )
    # The minimal root answers first: the host's paths are not there (ENOENT), what is there
    # is read-only (EROFS: the marker's /tmp, when the interpreter's view lies below it), and
    # Landlock lets nothing be listed but the interpreter's view.
    answers = dict(line.rsplit(" ", 1) for line in printed(result))
    for creation in ("open", "creat", "mkdir", "symlink", "rename", "truncate"):
        assert answers.pop(creation) in ("ENOENT", "EROFS"), creation
    assert answers == {
        "unlink": "EROFS", "chmod": "EPERM", "chown": "EPERM", "utimes": "EPERM",
        "setxattr": "EPERM", "read /etc/shadow": "ENOENT", "list /root": "EACCES",
    }  # fmt: skip


def test_ctypes_cannot_start_processes_or_leave_the_namespaces() -> None:
    result = escape(
        """\
        kernel("fork", libc.fork)
        kernel("vfork through syscall", libc.syscall, 58)
        kernel("clone3", libc.syscall, 435, None, 0)
        kernel("execve", libc.execve, b"/bin/sh", None, None)
        spawned = libc.posix_spawn(ctypes.byref(ctypes.c_int()), b"/bin/true", None, None,
                                   (ctypes.c_char_p * 2)(b"true", None), None)
        print("posix_spawn", errno.errorcode[spawned])  # it returns the error number
        kernel("unshare", libc.unshare, 0x20000)
        kernel("setns", libc.setns, 0, 0)
        kernel("mount", libc.mount, b"none", b"/tmp", b"tmpfs", 0, None)
        kernel("chroot", libc.chroot, b"/tmp")
        kernel("ptrace", libc.ptrace, 16, 1, None, None)
        kernel("raise a limit", libc.prlimit, 0, 0, ctypes.byref((ctypes.c_ulong * 2)(0, 0)),
               None)
        kernel("kill the parent", libc.kill, PARENT, 15)
        kernel("kill everyone", libc.kill, -1, 0)
        kernel("kill itself", libc.kill, libc.getpid(), 0)
        """.replace("PARENT", str(os.getpid()))
    )
    assert printed(result) == [
        "fork EPERM", "vfork through syscall EPERM", "clone3 ENOSYS", "execve EPERM",
        "posix_spawn EPERM", "unshare EPERM", "setns EPERM", "mount EPERM", "chroot EPERM",
        "ptrace EPERM", "raise a limit EPERM", "kill the parent EPERM", "kill everyone EPERM",
        "kill itself succeeded",
    ]  # fmt: skip


def test_ctypes_cannot_open_sockets(listener: socket.socket) -> None:
    result = escape(
        """\
        for family in (2, 10, 16, 17, 1):  # INET, INET6, NETLINK, PACKET, UNIX
            kernel(f"socket {family}", libc.socket, family, 1 if family in (2, 10, 1) else 3, 0)
        pair = (ctypes.c_int * 2)()
        kernel("socketpair", libc.socketpair, 1, 1, 0, pair)
        """
    )
    assert printed(result) == [
        "socket 2 EACCES", "socket 10 EACCES", "socket 16 EACCES", "socket 17 EACCES",
        "socket 1 EACCES", "socketpair succeeded",
    ]  # fmt: skip


def test_the_import_systems_real_posix_is_refused(marker: Path) -> None:
    result = escape(
        """\
        import importlib._bootstrap_external as external
        real = external._os
        attempt("open", lambda: real.open(MARKER, real.O_WRONLY | real.O_CREAT, 0o644))
        attempt("mkdir", lambda: real.mkdir(MARKER))
        attempt("rename", lambda: real.rename("/etc/hostname", MARKER))
        attempt("chmod", lambda: real.chmod("/tmp", 0o777))
        attempt("bytecode", lambda: external._write_atomic(MARKER, b"x"))
        attempt("fork", real.fork)
        attempt("kill the parent", lambda: real.kill(PARENT, 15))
        """.replace("MARKER", repr(str(marker))).replace("PARENT", str(os.getpid()))
    )
    assert printed(result) == [
        "open refused", "mkdir refused", "rename refused", "chmod refused", "bytecode refused",
        "fork refused", "kill the parent refused",
    ]  # fmt: skip


def test_walking_subclasses_to_the_real_posix_and_io_finds_nothing_writable(
    marker: Path,
) -> None:
    result = escape(
        """\
        import sys
        def walk(cls):
            yield cls
            for sub in type.__subclasses__(cls):
                yield from walk(sub)
        classes = list(walk(object))
        finder = next(c for c in classes if c.__name__ == "FileFinder")
        posix = finder.__init__.__globals__["_os"]
        print("the real posix:", posix.__name__, posix is not sys.modules["posix"])
        attempt("open", lambda: posix.open(MARKER, posix.O_WRONLY | posix.O_CREAT, 0o600))
        attempt("listdir /etc", lambda: posix.listdir("/etc"))
        fileio = next(c for c in classes if c.__name__ == "FileIO" and c.__module__ == "_io")
        attempt("_io.FileIO", lambda: fileio(MARKER, "w"))
        real_io = finder.__init__.__globals__["_io"]
        attempt("the real _io", lambda: real_io.open(MARKER, "w"))
        # sys.modules['_io'] is the switch's copy: its open is the guest's own file system's
        attempt("sys.modules['_io']", lambda: sys.modules["_io"].open(MARKER, "w").close())
        """.replace("MARKER", repr(str(marker)))
    )
    assert printed(result) == [
        "the real posix: posix True", "open refused", "listdir /etc refused",
        "_io.FileIO refused", "the real _io refused", "sys.modules['_io'] succeeded None",
    ]  # fmt: skip
    assert not marker.exists()  # the guest's file is in its memory file system, not the host's


def test_a_fork_bomb_starts_no_process() -> None:
    result = escape(
        """\
        import importlib._bootstrap_external as external, os
        real = external._os
        forks = refusals = 0
        for _ in range(1000):
            try:
                if real.fork() == 0:
                    real._exit(0)
                forks += 1
            except PermissionError:
                refusals += 1
        print("forked", forks, "times, refused", refusals)
        attempt("os.fork", os.fork)
        """
    )
    assert printed(result) == ["forked 0 times, refused 1000", "os.fork refused"]


def test_the_real_fork_exec_found_by_gc_starts_no_process(marker: Path) -> None:
    result = escape(
        """\
        import gc, os, subprocess
        real = next(f for f in gc.get_objects()
                    if type(f).__name__ == "builtin_function_or_method"
                    and f.__name__ == "fork_exec" and f.__module__ == "_posixsubprocess")
        print("not the stand-in:", real is not subprocess._fork_exec)
        argv = [b"/bin/sh", b"-c", b"touch " + MARKER.encode()]
        attempt("fork_exec", lambda: start_with(real, argv))
        attempt("subprocess", lambda: subprocess.run(argv))
        attempt("os.system", lambda: os.system(b" ".join(argv[2:])))
        """.replace("MARKER", repr(str(marker)))
    )
    assert printed(result) == [
        "not the stand-in: True", "fork_exec refused", "subprocess refused", "os.system refused",
    ]  # fmt: skip


def test_no_connection_reaches_the_parents_listener(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    result = escape(
        f"""\
        import socket
        attempt("tcp", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=2))
        attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        attempt("unix", lambda: socket.socket(socket.AF_UNIX))
        left, right = socket.socketpair()
        left.sendall(b"pair")
        print("socketpair", right.recv(4))
        """
    )
    assert printed(result) == ["tcp refused", "udp refused", "unix refused", "socketpair b'pair'"]


def test_the_guest_cannot_raise_its_limits() -> None:
    result = escape(
        """\
        import resource
        try:
            resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY,) * 2)
        except (OSError, ValueError) as error:
            print("setrlimit refused:", type(error).__name__)
        print("limits readable:", resource.getrlimit(resource.RLIMIT_NOFILE))
        """
    )
    assert printed(result) == ["setrlimit refused: ValueError", "limits readable: (64, 64)"]


def test_the_switched_posix_and_open_reach_only_the_memory_file_system(marker: Path) -> None:
    result = escape(
        """\
        import sys
        switched = sys.modules["posix"]
        flags = switched.O_WRONLY | switched.O_CREAT
        attempt("switched posix", lambda: switched.close(switched.open(MARKER, flags)))
        frame = sys._getframe()
        attempt("builtins.open", lambda: frame.f_builtins["open"](MARKER, "a").close())
        """.replace("MARKER", repr(str(marker)))
    )
    assert printed(result) == ["switched posix succeeded None", "builtins.open succeeded None"]
    assert result.files == {str(marker): b""}  # the guest's own file, in memory


@pytest.mark.parametrize("where", ["/etc/passwd", "/root/.bashrc", "/proc/self/environ"])
def test_host_files_are_not_in_the_guests_file_system(where: str) -> None:
    result = escape(f'attempt("open", lambda: open({where!r}, "rb"))')
    assert printed(result) == ["open FileNotFoundError ENOENT"]


def test_the_library_is_readable_and_read_only() -> None:
    result = escape(
        """\
        import os
        source = open(os.__file__).read()
        print("read os.py:", "def makedirs" in source)
        attempt("write os.py", lambda: open(os.__file__, "a"))
        attempt("add a module", lambda: open(os.path.dirname(os.__file__) + "/evil.py", "w"))
        """
    )
    owner = "OSError EROFS" if os.geteuid() == 0 else "refused"  # the library is root's
    assert printed(result) == [
        "read os.py: True",
        f"write os.py {owner}",
        "add a module OSError EROFS",
    ]
