"""The escape corpus (:mod:`tests.isolation.test_escapes`) run again with every guest forked
from a pool's zygote, and the attacks a zygote adds: signalling, tracing or reading the zygote
or a sibling guest, and talking to the zygote over an inherited descriptor."""

from __future__ import annotations

import os
import signal
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from posixbackend.isolation import IsolatedResult, Pool, ResultKind
from posixbackend.permissions.policy import Permissions
from tests.isolation import test_escapes
from tests.isolation.helpers import assert_nothing_left, printed
from tests.isolation.pooling import Traces, alive
from tests.isolation.test_pool_lifecycle import started
from tests.permissions.escapes import ESCAPES, Escape
from tests.permissions.judge import Host

POOLS: dict[Permissions | None, Pool] = {}


@pytest.fixture(scope="module", autouse=True)
def _pools() -> Iterator[None]:
    yield
    for pool in POOLS.values():
        pool.shutdown(wait=True, cancel_futures=True)
    POOLS.clear()


def pooled(
    code: str, permissions: Permissions | None = None, **arguments: object
) -> IsolatedResult:
    """run_isolated's signature, served by one pool per permissions."""
    pool = POOLS.get(permissions)
    if pool is None:
        pool = POOLS[permissions] = Pool(workers=2, permissions=permissions)
    result = pool.submit(code, **arguments).result(timeout=60)  # type: ignore[arg-type]
    assert result.kind is ResultKind.GUEST, result.summary()
    return result


@pytest.fixture(autouse=True)
def _under_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_escapes, "run_isolated", pooled)


# The corpus, collected again here: its functions look run_isolated up in their own module.
for _name in dir(test_escapes):
    if (
        _name.startswith("test_")
        and _name != "test_the_real_fork_exec_found_by_gc_starts_no_process"
    ):
        globals()[_name] = getattr(test_escapes, _name)

OPEN = test_escapes.OPEN


def test_the_real_fork_exec_found_by_gc_starts_no_process(marker: Path) -> None:
    """The corpus's attack, adapted: the zygote's objects are frozen (gc.get_objects does not
    list them), so the guest walks gc.get_referents from sys.modules to the real fork_exec."""
    result = test_escapes.escape(
        """\
        import gc, os, subprocess, sys
        seen, pending, real = set(), [sys.modules], None
        while pending and real is None:
            item = pending.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            if (type(item).__name__ == "builtin_function_or_method"
                    and item.__name__ == "fork_exec" and item.__module__ == "_posixsubprocess"
                    and item is not subprocess._fork_exec):
                real = item
            pending.extend(gc.get_referents(item))
        print("found the real one:", real is not None)
        argv = [b"/bin/sh", b"-c", b"touch " + MARKER.encode()]
        attempt("fork_exec", lambda: start_with(real, argv))
        """.replace("MARKER", repr(str(marker)))
    )
    assert printed(result) == ["found the real one: True", "fork_exec refused"]


ATTACKS = test_escapes.PRELUDE + """\
import sys
zygote, sibling = os.getppid(), int(sys.argv[1])

for name, pid in (("zygote", zygote), ("sibling", sibling)):
    kernel(f"kill {name}", libc.kill, pid, 9)
    kernel(f"stop {name}", libc.kill, pid, 19)
    kernel(f"ptrace {name}", libc.ptrace, 16, pid, 0, 0)  # PTRACE_ATTACH
    kernel(f"seize {name}", libc.ptrace, 0x4206, pid, 0, 0)  # PTRACE_SEIZE
    pidfd = libc.syscall(434, pid, 0)  # pidfd_open: allowed (it only watches the process)
    kernel(f"steal a descriptor of {name}", libc.syscall, 438, pidfd, 3, 0)  # pidfd_getfd
    kernel(f"signal {name} by pidfd", libc.syscall, 424, pidfd, 9, None, 0)
    local = (ctypes.c_char * 8)()
    iov = (ctypes.c_void_p * 2)(ctypes.addressof(local), 8)
    kernel(f"read memory of {name}", libc.syscall, 310, pid, iov, 1, iov, 1, 0)
kernel("kill the zygote's group", libc.kill, -zygote, 9)
kernel("kill every process", libc.kill, -1, 9)
kernel("own group", libc.kill, 0, 0)
for fd in [3, *range(5, 1024)]:  # 4 is the guest's own result channel
    if libc.fcntl(fd, 1) != -1 and libc.send(fd, b"R" + b"\\0" * 8, 9, 0x40) != -1:
        print("sent to", fd)
"""


def test_a_guest_cannot_reach_the_zygote_or_a_sibling(traces: Traces) -> None:
    pool = traces.pool(workers=2, permissions=OPEN)
    zygote = traces.note_zygote(pool)
    sibling = pool.submit("import time; time.sleep(2); print('untouched')")
    (sibling_pid,) = started(pool, 1)
    attacker = traces.seen(pool.submit(ATTACKS, argv=[str(sibling_pid)]).result(timeout=30))
    assert attacker.status == 0, attacker.stderr
    lines = printed(attacker)
    for name in ("zygote", "sibling"):
        assert f"kill {name} EPERM" in lines and f"stop {name} EPERM" in lines
        assert f"ptrace {name} EPERM" in lines and f"seize {name} EPERM" in lines
        assert f"read memory of {name} EPERM" in lines
        assert f"steal a descriptor of {name} EPERM" in lines
        assert f"signal {name} by pidfd EPERM" in lines
    assert "kill the zygote's group EPERM" in lines and "kill every process EPERM" in lines
    assert "own group succeeded" in lines
    assert not any(line.startswith("sent to") for line in lines)  # sendmsg refused, send no peer
    assert_nothing_left(attacker)
    other = traces.seen(sibling.result(timeout=30))
    assert other.ok and printed(other) == ["untouched"]
    assert alive(zygote) and traces.note_zygote(pool) == zygote
    assert traces.seen(pool.submit("print(1)").result(timeout=30)).ok


def test_a_guest_cannot_signal_the_pools_process(traces: Traces) -> None:
    pool = traces.pool(workers=1, permissions=OPEN)
    code = textwrap.dedent(
        f"""\
        import ctypes, errno
        libc = ctypes.CDLL(None, use_errno=True)
        print(libc.kill({os.getpid()}, {int(signal.SIGKILL)}), errno.errorcode[ctypes.get_errno()])
        """
    )
    result = traces.seen(pool.submit(code).result(timeout=30))
    assert printed(result) == ["-1 EPERM"], result.stderr


SPARE_ATTACKS = test_escapes.PRELUDE + """\
import sys

for pid in map(int, sys.argv[1:]):
    if pid == libc.getpid():  # the attacker was one of the spares
        continue
    kernel("kill", libc.kill, pid, 9)
    kernel("kill group", libc.kill, -pid, 9)
    kernel("ptrace", libc.ptrace, 16, pid, 0, 0)  # PTRACE_ATTACH
    pidfd = libc.syscall(434, pid, 0)  # pidfd_open
    kernel("steal a descriptor", libc.syscall, 438, pidfd, 5, 0)  # pidfd_getfd: its socket
    kernel("signal by pidfd", libc.syscall, 424, pidfd, 9, None, 0)
    local = (ctypes.c_char * 8)()
    iov = (ctypes.c_void_p * 2)(ctypes.addressof(local), 8)
    kernel("read memory", libc.syscall, 310, pid, iov, 1, iov, 1, 0)
"""


def test_a_guest_cannot_reach_a_spare_or_the_janitor(traces: Traces) -> None:
    """The zygote's other children (spares waiting for their job on their own socket, and
    the janitor, which holds earlier guests' namespaces) are out of a guest's reach."""
    pool = traces.pool(workers=2, permissions=OPEN)
    helpers = sorted(traces.note_helpers(pool, 4))  # three spares and the janitor
    attacker = traces.seen(
        pool.submit(SPARE_ATTACKS, argv=[str(pid) for pid in helpers]).result(timeout=30)
    )
    assert attacker.status == 0, attacker.stderr
    lines = printed(attacker)
    others = [pid for pid in helpers if pid != attacker.pid]  # (it was one of the spares)
    attempts = ["kill", "kill group", "ptrace", "steal a descriptor", "signal by pidfd",
                "read memory"]  # fmt: skip
    assert len(lines) == len(attempts) * len(others), lines
    rows = [lines[i : i + len(attempts)] for i in range(0, len(lines), len(attempts))]
    verdicts = dict(zip(others, rows, strict=True))
    for pid in others:
        assert verdicts[pid] == [f"{what} EPERM" for what in attempts], (pid, verdicts[pid])
        assert alive(pid)
    after = traces.seen(pool.submit("print('after')").result(timeout=30))
    assert after.ok and printed(after) == ["after"]


RULESET_ATTACK = """\
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                         ctypes.c_long]
# landlock_add_rule(fd, RULE_PATH_BENEATH, every right below the root, 0) on every descriptor
# (the zygote makes its children's ruleset once: a guest holding it could widen the next's)
root = os.open("/", os.O_PATH)
rule = (ctypes.c_uint64 * 2)((1 << 16) - 1, root)  # allowed_access, then parent_fd (packed)
answers = set()
for fd in range(1024):
    if libc.syscall(445, fd, 1, ctypes.addressof(rule), 0) == -1:
        answers.add(errno.errorcode[ctypes.get_errno()])
    else:
        answers.add(f"added to {fd}")
print(" ".join(sorted(answers)))
"""


def test_a_guest_cannot_widen_the_landlock_ruleset_of_later_guests(traces: Traces) -> None:
    """The zygote makes its children's Landlock ruleset once and each spare enforces it and
    closes it before its job comes: no descriptor a guest holds is a ruleset, and the next
    guest is confined as the first was (listing a directory outside the view: EACCES)."""
    pool = traces.pool(workers=1, permissions=OPEN)
    attacker = traces.seen(pool.submit(RULESET_ATTACK).result(timeout=30))
    assert attacker.status == 0, attacker.stderr
    assert printed(attacker) == ["EBADF EBADFD"]  # (EBADFD: a descriptor, not a ruleset)
    probe = """\
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.open(b"/root", 0o200000)  # O_DIRECTORY: the minimal root's own, not in the view
print("list /root", "ok" if fd != -1 else errno.errorcode[ctypes.get_errno()])
"""
    for _ in range(2):  # the next spare, and one forked after the attack
        later = traces.seen(pool.submit(probe).result(timeout=30))
        assert later.status == 0, later.stderr
        assert printed(later) == ["list /root EACCES"]


@pytest.mark.parametrize("escape", ESCAPES, ids=[escape.name for escape in ESCAPES])
def test_the_permissions_escape_corpus_leaves_no_trace_from_a_pool(
    escape: Escape, tmp_path: Path
) -> None:
    """tests/permissions' escape corpus (its guests run one by one in test_escapes_isolated)
    run by a pool's guests, whose minimal root is a copy of one the zygote built once
    (roottemplate), with native access granted: only the kernel's confinement stands in the
    way."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.3)  # (as tests.servers' listener, which Host counts on)
        host = Host.prepare(tmp_path, listener)
        result = pooled(host.source(escape), OPEN)
        output = (result.stdout + result.stderr).decode(errors="replace")
        assert host.traces(escape, output, patient=escape.effect == "process") == [], result
    assert result.limit_exceeded is None, result.summary()
    assert "minimal_root" in result.confinement and "seccomp" in result.confinement


NETWORK_PROBES = test_escapes.PRELUDE + """\
import struct, sys, time

# straight to the kernel (the socket module is the managed backend's): every family a guest
# could name or reach another process with, then a socketpair's end given a name
for family, kind, name in [(1, 1, "unix"), (1, 2, "unix datagram"), (16, 3, "netlink"),
                           (2, 1, "inet"), (10, 2, "inet6"), (17, 3, "packet")]:
    kernel(f"socket {name}", libc.socket, family, kind, 0)
pair = (ctypes.c_int * 2)()
kernel("socketpair", libc.socketpair, 1, 1, 0, pair)
address = ctypes.create_string_buffer(struct.pack("=H", 1) + b"\\0posixbackend-shared-probe")
size = ctypes.sizeof(address) - 1  # (an abstract name: no trailing NUL counted)
kernel("bind abstract", libc.bind, pair[0], address, size)
kernel("connect abstract", libc.connect, pair[1], address, size)
kernel("sendto abstract", libc.sendto, pair[1], b"x", 1, 0, address, size)
for path in (b"/proc/net/unix", b"/proc/self/net/unix", b"/sys/class/net"):
    kernel(f"open {path.decode()}", libc.open, path, 0)
sys.stdout.flush()
time.sleep(float(sys.argv[1]))
"""
"""A guest's attempts on the network namespace it shares with the pool's other guests; it
then waits argv[1] seconds (its socketpair open)."""


def _entries(pid: int, table: str) -> list[str]:
    """The rows (past the header) of /proc/PID/net/TABLE, read from outside the guest."""
    with open(f"/proc/{pid}/net/{table}") as lines:
        return lines.read().splitlines()[1:]


def test_guests_sharing_a_network_namespace_can_make_reach_or_see_nothing(
    traces: Traces,
) -> None:
    """Guests whose seccomp filter refuses every socket share one empty network namespace
    (roottemplate): one guest can make no socket of any family and give no name to a
    socketpair's end, another (at the same time) can reach no name, neither can read the
    namespace's /proc/net, and seen from outside the namespace holds no named or internet
    socket and only its loopback."""
    pool = traces.pool(workers=2, permissions=OPEN)
    first = pool.submit(NETWORK_PROBES, argv=["3"])
    (first_pid,) = started(pool, 1)
    second = pool.submit(NETWORK_PROBES, argv=["1"])
    pids = started(pool, 2)
    (second_pid,) = set(pids) - {first_pid}
    namespace = os.readlink(f"/proc/{first_pid}/ns/net")
    assert os.readlink(f"/proc/{second_pid}/ns/net") == namespace  # shared
    assert namespace != os.readlink("/proc/self/ns/net")
    assert all(len(row.split()) < 8 for row in _entries(first_pid, "unix"))  # no row has a name
    for table in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "packet"):
        assert _entries(first_pid, table) == [], table
    assert [row.split(":")[0].strip() for row in _entries(first_pid, "dev")[1:]] == ["lo"]
    expected = [
        "socket unix EACCES", "socket unix datagram EACCES", "socket netlink EACCES",
        "socket inet EACCES", "socket inet6 EACCES", "socket packet EACCES",
        "socketpair succeeded", "bind abstract EACCES", "connect abstract EACCES",
        "sendto abstract EACCES", "open /proc/net/unix ENOENT",
        "open /proc/self/net/unix ENOENT", "open /sys/class/net ENOENT",
    ]  # fmt: skip
    for future in (first, second):
        result = traces.seen(future.result(timeout=30))
        assert result.status == 0, result.stderr
        assert printed(result) == expected
