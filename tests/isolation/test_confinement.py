"""The confinement steps one by one, each in a throwaway interpreter (they cannot be undone):
the seccomp filter's answers, Landlock's read-only rule, and the fallback when the kernel
refuses a step."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posixbackend.isolation import landlock, seccomp
from posixbackend.isolation.libc import MACHINE

pytestmark = pytest.mark.skipif(
    seccomp.ARCHITECTURES.get(MACHINE) is None,
    reason="no seccomp filter for this architecture",
)

PRELUDE = """\
import ctypes, errno, json, os, resource, signal, socket, threading
answers = {}

def attempt(what, call):
    try:
        call()
    except OSError as error:
        answers[what] = errno.errorcode[error.errno]
    except ValueError as error:
        answers[what] = "ValueError"
    else:
        answers[what] = "ok"

libc = ctypes.CDLL(None, use_errno=True)

def raw(number, *arguments):
    def call():
        if libc.syscall(number, *arguments) == -1:
            raise OSError(ctypes.get_errno(), "")
    return call
"""


def confined(body: str) -> dict[str, str]:
    """Run ``body`` (after the prelude) in a fresh interpreter; its answers."""
    program = PRELUDE + textwrap.dedent(body) + "\nprint(json.dumps(answers))\n"
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    answers: dict[str, str] = json.loads(done.stdout.splitlines()[-1])
    return answers


def test_the_seccomp_filter_refuses_processes_sockets_and_others_but_not_threads() -> None:
    answers = confined(
        """\
        from posixbackend.isolation import seccomp
        parent = os.getppid()
        seccomp.set_no_new_privs()
        seccomp.install_filter()
        attempt("fork", os.fork)
        attempt("clone3", raw(435, None, 0))
        attempt("posix_spawn", lambda: os.posix_spawn("/bin/true", ["true"], {}))
        thread = threading.Thread(target=len, args=("",))
        attempt("thread", lambda: thread.start() or thread.join())
        attempt("socket", socket.socket)
        attempt("unix socket", lambda: socket.socket(socket.AF_UNIX))
        attempt("socketpair", socket.socketpair)
        attempt("kill parent", lambda: os.kill(parent, 0))
        attempt("kill self", lambda: os.kill(os.getpid(), 0))
        attempt("kill own group", lambda: os.kill(0, 0))
        attempt("signal a thread", lambda: signal.pthread_kill(threading.get_ident(), 0))
        attempt("setrlimit", lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)))
        attempt("getrlimit", lambda: resource.getrlimit(resource.RLIMIT_NOFILE))
        attempt("setpriority of another", lambda: os.setpriority(os.PRIO_PROCESS, parent, 1))
        attempt("setpriority of all mine", lambda: os.setpriority(os.PRIO_USER, 0, 1))
        attempt("setpriority of itself", lambda: os.setpriority(os.PRIO_PROCESS, 0, 1))
        attempt("affinity of another", lambda: os.sched_setaffinity(parent, {0}))
        attempt("affinity of itself", lambda: os.sched_setaffinity(0, os.sched_getaffinity(0)))
        attempt("chmod", lambda: os.chmod("/tmp", 0o1777))
        attempt("utime", lambda: os.utime("/tmp"))
        attempt("unshare", raw(seccomp.architecture().numbers["unshare"], 0))
        attempt("io_uring", raw(425, 1, None))
        attempt("a system call newer than the filter", raw(999))
        """
    )
    assert answers == {
        "fork": "EPERM", "clone3": "ENOSYS", "posix_spawn": "EPERM", "thread": "ok",
        "socket": "EACCES", "unix socket": "EACCES", "socketpair": "ok",
        "kill parent": "EPERM", "kill self": "ok", "kill own group": "ok",
        "signal a thread": "ok", "setrlimit": "ValueError", "getrlimit": "ok",
        "setpriority of another": "EPERM", "setpriority of all mine": "EPERM",
        "setpriority of itself": "ok", "affinity of another": "EPERM",
        "affinity of itself": "ok", "chmod": "EPERM", "utime": "EPERM", "unshare": "EPERM",
        "io_uring": "ENOSYS", "a system call newer than the filter": "ENOSYS",
    }  # fmt: skip


def test_the_filter_is_a_valid_program_on_every_known_architecture() -> None:
    for name, arch in seccomp.ARCHITECTURES.items():
        program = seccomp.filter_program(arch, 4242)
        assert len(program) % 8 == 0 and 0 < len(program) // 8 <= 4096, name
        assert set(seccomp.REFUSED) - set(arch.numbers) <= {
            "fork", "vfork", "chmod", "chown", "lchown", "utime", "utimes", "futimesat",
            "iopl", "ioperm", "uselib", "mknod", "inotify_init",
        }, name  # fmt: skip  # the calls aarch64 never had


@settings(max_examples=50, deadline=None)
@given(pid=st.integers(min_value=1, max_value=(1 << 22)))
def test_the_isolated_filters_template_is_the_assembled_filter(pid: int) -> None:
    """A pool's child takes its filter from a template with its pid put in (assembled once,
    in the zygote): byte for byte the filter assembled for that pid, on every architecture."""
    for arch in seccomp.ARCHITECTURES.values():
        filters = _filters(arch.audit_arch)
        assert filters.places  # the pid is in the filter: kill, tgkill, setpriority...
        assert filters.program(pid) == seccomp.filter_program(arch, pid)


@functools.cache
def _filters(audit_arch: int) -> seccomp.IsolatedFilters:
    arch = next(a for a in seccomp.ARCHITECTURES.values() if a.audit_arch == audit_arch)
    return seccomp.IsolatedFilters(arch)


def test_landlock_leaves_only_the_given_directories_readable(tmp_path: Path) -> None:
    try:
        landlock.abi_version()
    except OSError as error:
        pytest.skip(f"no Landlock here: {error}")
    answers = confined(
        f"""\
        import sys
        from posixbackend.isolation import landlock, seccomp
        readable = {str(tmp_path)!r}
        open(readable + "/kept.txt", "w").write("kept")
        seccomp.set_no_new_privs()
        print(landlock.restrict_to_reading([readable, sys.prefix, sys.base_prefix,
                                            *[p for p in sys.path if p]]))
        attempt("read below", lambda: open(readable + "/kept.txt").read())
        attempt("list below", lambda: os.listdir(readable))
        attempt("write below", lambda: open(readable + "/new.txt", "w"))
        attempt("remove below", lambda: os.remove(readable + "/kept.txt"))
        attempt("read elsewhere", lambda: open("/etc/hostname"))
        attempt("stat elsewhere", lambda: os.stat("/etc/hostname"))
        """
    )
    assert answers == {
        "read below": "ok", "list below": "ok", "write below": "EACCES",
        "remove below": "EACCES", "read elsewhere": "EACCES", "stat elsewhere": "ok",
    }  # fmt: skip


def test_steps_the_kernel_refuses_are_reported_not_fatal() -> None:
    answers = confined(
        """\
        from posixbackend.isolation import confinement, landlock, namespaces, seccomp
        from posixbackend.isolation.hostview import HostView
        from posixbackend.isolation.limits import Limits
        def refused(*arguments):
            raise OSError(errno.ENOSYS, "Function not implemented")
        def denied(*arguments):
            raise OSError(errno.EPERM, "Operation not permitted")
        landlock.abi_version = refused
        namespaces.unshare = denied
        seccomp.install_filter = refused
        view = HostView((), ())
        done = confinement.confine(Limits(memory_bytes=None), view, confinement.isolate(view))
        answers["applied"] = " ".join(done.applied)
        answers.update(done.not_applied)
        attempt("fork, without the filter", lambda: os.waitpid(os.fork() or os._exit(0), 0))
        """
    )
    with_user = "unshare(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWNS): Operation not permitted"
    both = f"{with_user}; unshare(CLONE_NEWNET|CLONE_NEWNS): Operation not permitted"
    assert answers == {
        "applied": "capabilities no_new_privs rlimits",
        "landlock": "[Errno 38] Function not implemented",
        "seccomp": "[Errno 38] Function not implemented",
        "user_namespace": with_user,
        "network_namespace": both,
        "mount_namespace": both,
        "minimal_root": "no mount namespace",
        "fork, without the filter": "ok",
    }


def test_without_namespaces_landlock_alone_keeps_to_the_view(tmp_path: Path) -> None:
    """The fallback where the kernel refuses the namespaces (as for a user without
    unprivileged user namespaces): no minimal root, and Landlock reads exactly the view --
    not /usr/lib wholesale -- while stat of other paths still works (the declared gap)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    answers = confined(
        f"""\
        from posixbackend.isolation import confinement, namespaces
        from posixbackend.isolation.interpreterview import isolated_view
        from posixbackend.isolation.limits import Limits
        def denied(*arguments):
            raise OSError(errno.EPERM, "Operation not permitted")
        namespaces.unshare = denied
        view = isolated_view()
        library = next(path for path in view.files if path.endswith("/libc.so.6"))
        done = confinement.confine(Limits(memory_bytes=None), view, confinement.isolate(view))
        answers["minimal_root"] = done.not_applied["minimal_root"]
        answers["landlock"] = str("landlock" in done.applied)
        attempt("read the secret", lambda: open({str(secret)!r}).read())
        attempt("stat the secret", lambda: os.stat({str(secret)!r}))
        attempt("list /usr/lib", lambda: os.listdir("/usr/lib"))
        attempt("read a library of the view", lambda: open(library, "rb").read(4))
        attempt("import ssl", lambda: __import__("ssl"))
        """
    )
    assert answers == {
        "minimal_root": "no mount namespace", "landlock": "True",
        "read the secret": "EACCES", "stat the secret": "ok", "list /usr/lib": "EACCES",
        "read a library of the view": "ok", "import ssl": "ok",
    }  # fmt: skip


def test_the_launchers_policies_open_what_their_permissions_grant(tmp_path: Path) -> None:
    """The filter of a sandboxed launcher granted processes, all host sockets and a writable
    host directory: those work, and what every policy refuses stays refused."""
    target = tmp_path / "file"
    target.write_text("")
    answers = confined(
        f"""\
        from posixbackend.isolation import seccomp
        from posixbackend.isolation.seccomp import FilterPolicy, Sockets
        seccomp.set_no_new_privs()
        seccomp.install_filter(FilterPolicy(
            os.getpid(), processes=True, sockets=Sockets.HOST, file_metadata=True))
        attempt("unix", lambda: socket.socket(socket.AF_UNIX).close())
        attempt("packet", lambda: socket.socket(17, socket.SOCK_RAW))
        attempt("datagram pair", lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM))
        attempt("fork", lambda: os.waitpid(os.fork() or os._exit(0), 0))
        attempt("clone a namespace", raw(seccomp.architecture().numbers["clone"], 0x20000000))
        attempt("chmod", lambda: os.chmod({str(target)!r}, 0o600))
        attempt("signal the parent", lambda: os.kill(os.getppid(), 0))
        attempt("memfd", lambda: os.memfd_create("x"))
        attempt("sethostname", lambda: socket.sethostname("x"))
        attempt("type into the terminal", raw(seccomp.architecture().numbers["ioctl"], 0, 0x5412))
        attempt("no parent-death signal", raw(seccomp.architecture().numbers["prctl"], 1, 0))
        """
    )
    assert answers == {
        "unix": "ok", "packet": "EACCES", "datagram pair": "ok", "fork": "ok",
        "clone a namespace": "EPERM", "chmod": "ok", "signal the parent": "ok",
        "memfd": "EPERM", "sethostname": "EPERM", "type into the terminal": "EPERM",
        "no parent-death signal": "EPERM",
    }  # fmt: skip


def test_the_internet_policy_keeps_to_internet_sockets(tmp_path: Path) -> None:
    answers = confined(
        """\
        from posixbackend.isolation import seccomp
        from posixbackend.isolation.seccomp import FilterPolicy, Sockets
        seccomp.set_no_new_privs()
        seccomp.install_filter(FilterPolicy(os.getpid(), sockets=Sockets.INTERNET))
        attempt("inet", lambda: socket.socket(socket.AF_INET6).close())
        attempt("unix", lambda: socket.socket(socket.AF_UNIX))
        attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW))
        attempt("stream pair", lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM))
        attempt("datagram pair", lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM))
        attempt("fork", os.fork)
        attempt("chmod", lambda: os.chmod("/tmp", 0o1777))
        attempt("signal the parent", lambda: os.kill(os.getppid(), 0))
        """
    )
    assert answers == {
        "inet": "ok", "unix": "EACCES", "netlink": "EACCES", "stream pair": "ok",
        "datagram pair": "EACCES", "fork": "EPERM", "chmod": "EPERM",
        "signal the parent": "EPERM",
    }  # fmt: skip


@pytest.mark.parametrize("processes", [False, True])
@pytest.mark.parametrize("sockets", list(seccomp.Sockets))
def test_every_policy_builds_a_valid_filter(processes: bool, sockets: seccomp.Sockets) -> None:
    """Every combination of the knobs assembles (jumps in range, no frequent call screened:
    the builder refuses a filter that would let one skip its rules)."""
    for arch in seccomp.ARCHITECTURES.values():
        for metadata in (False, True):
            policy = seccomp.FilterPolicy(
                4242, processes=processes, sockets=sockets, file_metadata=metadata,
                file_watches=metadata,
            )  # fmt: skip
            program = seccomp.filter_program(arch, policy)
            assert 0 < len(program) // 8 <= 4096
