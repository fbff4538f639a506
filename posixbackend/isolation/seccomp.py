"""The seccomp filters: what a confined process may not ask the kernel, whatever its code.

A classic BPF program, built here from a :class:`FilterPolicy` and installed with
``seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC)`` once no_new_privs is set, so
the kernel checks it on every system call of every thread of the process and of everything
it starts (it cannot be removed). The isolated child's policy (:func:`isolated_policy`)
refuses:

- new processes and programs: fork, vfork, execve, execveat, clone without CLONE_THREAD or
  with a namespace flag (EPERM); clone3 with ENOSYS, so the C library falls back to clone
  for threads, which keep working;
- sockets: socket() for every family (EACCES); socketpair stays (it reaches nothing), but
  its ends cannot leave the process: connect, bind, sendto with an address, sendmsg and
  sendmmsg (whose address seccomp cannot read) are refused (EACCES);
- memory the limits do not count and that can outlive the process: memfd_create,
  memfd_secret, SysV shared memory, message queues and semaphores, POSIX message queues;
- file watches (inotify), and fanotify;
- other processes: kill and rt_sigqueueinfo except to the process itself or its process
  group, tgkill and rt_tgsigqueueinfo except to its own threads, ptrace,
  process_vm_readv/writev, pidfd_getfd, pidfd_send_signal, kcmp, and changing another
  process's priority;
- the limits and the system: setrlimit, prlimit64 with a new limit, mount and the new mount
  API, namespaces (unshare, setns), modules, kexec, reboot, swap, clocks, host and domain
  names, accounting, quotas, keyrings, bpf, perf events, userfaultfd, io_uring (ENOSYS), file
  handles, port I/O, faking terminal input (TIOCSTI, TIOCLINUX), changing the parent-death
  signal;
- metadata changes Landlock does not cover (chmod, chown, utime, extended attributes, file
  flags by ioctl or file_setattr), which on the host are the only file changes left;
- system calls newer than the ones named here (ENOSYS, as a kernel without them answers).

The launcher's ``--sandbox`` builds its policy from the permissions: processes and signals
to them when granted, internet or host sockets when granted, metadata changes when a host
directory is writable, file watches when file access is all.
The architecture is checked first: a system call made through another ABI (i386's int 0x80
on x86_64, 32-bit ARM on aarch64) kills the process.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import functools
import posix
import re
import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Final

import attrs

import compat
from posixbackend.isolation.libc import MACHINE, prctl, syscall

NO_PROCESSES = compat.declare(
    id="isolation.no_processes",
    function="os.fork",
    aspect="processes in isolated mode",
    level=compat.Level.INFO,
    explanation="the isolated child's seccomp filter refuses fork, vfork, execve and clone of "
    "a process with EPERM (threads are allowed): subprocess, os.system and multiprocessing "
    "cannot start anything, even through the real _posixsubprocess or ctypes",
)
NO_SOCKETS = compat.declare(
    id="isolation.no_sockets",
    function="socket.socket",
    aspect="network in isolated mode",
    level=compat.Level.INFO,
    explanation="socket() fails with EACCES for every address family, AF_UNIX included "
    "(socketpair works), and the child's network namespace has only a loopback that is down",
)
PAIRS_STAY_INSIDE = compat.declare(
    id="isolation.socketpairs_stay_inside",
    function="socket.socket.sendmsg",
    aspect="socketpair ends in isolated mode",
    level=compat.Level.INFO,
    explanation="the ends of a socketpair send and receive to each other only: connect, bind, "
    "sendto with an address, sendmsg and sendmmsg fail with EACCES (seccomp cannot see "
    "sendmsg's address, so it is refused whole; recvmsg works), so a datagram end cannot "
    "reach a socket outside the guest",
)
NO_SHARED_MEMORY = compat.declare(
    id="isolation.no_shared_memory",
    function="os.memfd_create",
    aspect="memory files and System V IPC in isolated mode",
    level=compat.Level.INFO,
    explanation="memfd_create, memfd_secret, shmget, msgget, semget and mq_open fail with "
    "EPERM: their memory would escape the memory limit and could outlive the run (the "
    "managed backend's own os.memfd_create, which keeps memory files in the guest's memory, "
    "works)",
)
NO_FILE_WATCHES = compat.declare(
    id="isolation.no_file_watches",
    function="ctypes.CDLL",
    aspect="file watches in isolated mode",
    level=compat.Level.FINE,
    explanation="inotify_init and inotify_init1 fail with EPERM (as fanotify_init does)",
)
OWN_PROCESS_ONLY = compat.declare(
    id="isolation.own_process_only",
    function="os.kill",
    aspect="signals and scheduling in isolated mode",
    level=compat.Level.FINE,
    explanation="os.kill, signal.pthread_kill, os.setpriority and sched_setaffinity reach "
    "only the child itself (EPERM for any other process, including its parent)",
)
FIXED_LIMITS = compat.declare(
    id="isolation.fixed_limits",
    function="resource.setrlimit",
    aspect="resource limits in isolated mode",
    level=compat.Level.FINE,
    explanation="resource.setrlimit and prlimit with a new limit fail with EPERM: the "
    "isolated mode's limits cannot be lowered or raised from inside",
)

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1

ALLOW: Final = 0x7FFF0000
KILL_PROCESS: Final = 0x80000000


def refuse(code: int) -> int:
    """The filter's answer that fails a system call with errno ``code``."""
    return 0x00050000 | code


CLONE_THREAD = 0x00010000
CLONE_NAMESPACES = 0x7E020000
"""CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID and NEWNET."""
FILE_FLAG_IOCTLS = (0x40086602, 0x40046602, 0x401C5820)
"""FS_IOC_SETFLAGS, FS_IOC32_SETFLAGS and FS_IOC_FSSETXATTR (chattr's flags)."""
TERMINAL_IOCTLS = (0x5412, 0x541C)
"""TIOCSTI and TIOCLINUX: typing into the terminal (the shell reads it after the program)."""
PRIO_PROCESS = 0
AF_UNIX = 1
AF_INET = 2
AF_INET6 = 10
SOCK_DGRAM = 2
SOCK_TYPE_MASK = 0xF


class Sockets(enum.Enum):
    """Which sockets a policy lets the process open."""

    NONE = "none"
    """socketpair only, its ends kept inside (no connect, bind, addressed sends)."""
    INTERNET = "internet"
    """AF_INET and AF_INET6 (the in-process permissions check the addresses), and
    socketpairs that are not datagram ones (an unconnected datagram end could reach a
    host socket file)."""
    HOST = "host"
    """AF_UNIX, AF_INET and AF_INET6, and every socketpair (never netlink or packet)."""


@attrs.frozen
class FilterPolicy:
    """What the filter lets through beyond what no confined process may ever do."""

    pid: int
    """The process's id: the one signals and scheduling changes may target."""
    processes: bool = False
    """fork, vfork, execve, clone of a process; signals to any process (Landlock's signal
    scope then keeps them to the process and what it started)."""
    own_group: bool = False
    """Signals to its own process group too (the isolated child leads a group of its own)."""
    sockets: Sockets = Sockets.NONE
    file_metadata: bool = False
    """chmod, chown, utime, extended attributes and file flags (for host directories the
    process may write; Landlock does not cover them)."""
    file_watches: bool = False
    """inotify (when every host file is the process's to read anyway)."""


def isolated_policy(pid: int) -> FilterPolicy:
    """The isolated child's policy (see the module's docstring)."""
    return FilterPolicy(pid=pid, own_group=True)


@attrs.frozen
class Architecture:
    """One architecture's system call numbers, as seccomp sees them."""

    audit_arch: int
    numbers: Mapping[str, int]
    last_known: int
    """The highest system call number named in this module (newer ones get ENOSYS)."""
    hot: tuple[int, ...] = ()
    """The most frequent system calls, none of which any policy refuses or checks: allowed
    first, so that they do not run through the whole filter."""


_COMMON_NEW = {
    "clone3": 435, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "pidfd_send_signal": 424, "pidfd_getfd": 438, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "process_madvise": 440,
    "mount_setattr": 442, "quotactl_fd": 443, "memfd_secret": 447, "fchmodat2": 452,
    "setxattrat": 463, "removexattrat": 466, "open_tree_attr": 467, "file_setattr": 469,
}  # fmt: skip
"""Numbers from 424 on are the same on every architecture."""

_X86_64_NUMBERS = {
    **_COMMON_NEW,
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "clone": 56, "socket": 41,
    "socketpair": 53, "connect": 42, "bind": 49, "sendto": 44, "sendmsg": 46,
    "sendmmsg": 307, "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129,
    "rt_tgsigqueueinfo": 297, "ptrace": 101, "process_vm_readv": 310,
    "process_vm_writev": 311, "kcmp": 312, "setpriority": 141, "sched_setparam": 142,
    "sched_setscheduler": 144, "sched_setaffinity": 203, "sched_setattr": 314,
    "ioprio_set": 251, "migrate_pages": 256, "move_pages": 279, "setrlimit": 160,
    "prlimit64": 302, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
    "unshare": 272, "setns": 308, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "kexec_load": 246, "kexec_file_load": 320, "reboot": 169,
    "swapon": 167, "swapoff": 168, "settimeofday": 164, "clock_settime": 227,
    "clock_adjtime": 305, "adjtimex": 159, "sethostname": 170, "setdomainname": 171,
    "acct": 163, "quotactl": 179, "keyctl": 250, "add_key": 248, "request_key": 249,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "open_by_handle_at": 304,
    "name_to_handle_at": 303, "fanotify_init": 300, "iopl": 172, "ioperm": 173,
    "syslog": 103, "vhangup": 153, "lookup_dcookie": 212, "nfsservctl": 180,
    "uselib": 134, "mknod": 133, "mknodat": 259, "chmod": 90, "fchmod": 91,
    "fchmodat": 268, "chown": 92, "fchown": 93, "lchown": 94, "fchownat": 260,
    "utime": 132, "utimes": 235, "utimensat": 280, "futimesat": 261, "setxattr": 188,
    "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197, "lremovexattr": 198,
    "fremovexattr": 199, "ioctl": 16, "memfd_create": 319, "shmget": 29, "msgget": 68,
    "semget": 64, "mq_open": 240, "inotify_init": 253, "inotify_init1": 294, "prctl": 157,
    "seccomp": 317,
}  # fmt: skip
_AARCH64_NUMBERS = {
    **_COMMON_NEW,
    "execve": 221, "execveat": 281, "clone": 220, "socket": 198, "socketpair": 199,
    "connect": 203, "bind": 200, "sendto": 206, "sendmsg": 211, "sendmmsg": 269,
    "kill": 129, "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138,
    "rt_tgsigqueueinfo": 240, "ptrace": 117, "process_vm_readv": 270,
    "process_vm_writev": 271, "kcmp": 272, "setpriority": 140, "sched_setparam": 118,
    "sched_setscheduler": 119, "sched_setaffinity": 122, "sched_setattr": 274,
    "ioprio_set": 30, "migrate_pages": 238, "move_pages": 239, "setrlimit": 164,
    "prlimit64": 261, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
    "unshare": 97, "setns": 268, "init_module": 105, "finit_module": 273,
    "delete_module": 106, "kexec_load": 104, "kexec_file_load": 294, "reboot": 142,
    "swapon": 224, "swapoff": 225, "settimeofday": 170, "clock_settime": 112,
    "clock_adjtime": 266, "adjtimex": 171, "sethostname": 161, "setdomainname": 162,
    "acct": 89, "quotactl": 60, "keyctl": 219, "add_key": 217, "request_key": 218,
    "bpf": 280, "perf_event_open": 241, "userfaultfd": 282, "open_by_handle_at": 265,
    "name_to_handle_at": 264, "fanotify_init": 262, "syslog": 116, "vhangup": 58,
    "lookup_dcookie": 18, "nfsservctl": 42, "mknodat": 33, "fchmod": 52,
    "fchmodat": 53, "fchown": 55, "fchownat": 54, "utimensat": 88, "setxattr": 5,
    "lsetxattr": 6, "fsetxattr": 7, "removexattr": 14, "lremovexattr": 15,
    "fremovexattr": 16, "ioctl": 29, "memfd_create": 279, "shmget": 194, "msgget": 186,
    "semget": 190, "mq_open": 180, "inotify_init1": 26, "prctl": 167, "seccomp": 277,
}  # fmt: skip

X86_64 = Architecture(
    audit_arch=0xC000003E, numbers=_X86_64_NUMBERS, last_known=470,
    # read write close fstat lseek mmap mprotect munmap brk rt_sigaction rt_sigprocmask
    # pread64 pwrite64 madvise getpid futex getdents64 openat newfstatat statx
    hot=(0, 1, 3, 5, 8, 9, 10, 11, 12, 13, 14, 17, 18, 28, 39, 202, 217, 257, 262, 332),
)  # fmt: skip
AARCH64 = Architecture(
    audit_arch=0xC00000B7, numbers=_AARCH64_NUMBERS, last_known=470,
    # the same calls (aarch64 has no fstat but fstatat, no open but openat)
    hot=(63, 64, 57, 80, 62, 222, 226, 215, 214, 134, 135, 67, 68, 233, 172, 98, 61, 56,
         79, 291),
)  # fmt: skip
ARCHITECTURES: Final = {"x86_64": X86_64, "aarch64": AARCH64}
"""The architectures the filter knows, by the kernel's machine name."""

SYSTEM_CALLS: Final = (
    "tkill", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "pidfd_send_signal", "ioprio_set", "setrlimit", "mount", "umount2", "pivot_root",
    "chroot", "unshare", "setns", "open_tree", "open_tree_attr", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "init_module", "finit_module",
    "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
    "setdomainname", "acct", "quotactl", "quotactl_fd", "keyctl", "add_key", "request_key",
    "bpf", "perf_event_open", "userfaultfd", "open_by_handle_at", "name_to_handle_at",
    "fanotify_init", "iopl", "ioperm", "syslog", "vhangup", "lookup_dcookie", "nfsservctl",
    "uselib", "mknod", "mknodat", "process_madvise", "memfd_create", "memfd_secret",
    "shmget", "msgget", "semget", "mq_open",
)  # fmt: skip
"""Refused (EPERM) by every policy: reaching other processes, the system, the limits, and
memory that escapes them."""
PROCESS_CALLS: Final = ("fork", "vfork", "execve", "execveat")
METADATA_CALLS: Final = (
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "utime", "utimes", "utimensat", "futimesat", "setxattr", "lsetxattr", "fsetxattr",
    "removexattr", "lremovexattr", "fremovexattr", "setxattrat", "removexattrat",
    "file_setattr",
)  # fmt: skip
WATCH_CALLS: Final = ("inotify_init", "inotify_init1")
NEW_INTERFACES: Final = ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register")
"""Refused with ENOSYS, as by a kernel without them: clone3's flags are in memory seccomp
cannot read (the C library then uses clone), io_uring's operations bypass the filter."""


def refused_calls(policy: FilterPolicy) -> dict[str, int]:
    """The system calls ``policy`` refuses whatever their arguments, and each one's answer."""
    names = list(SYSTEM_CALLS)
    if not policy.processes:
        names += PROCESS_CALLS
    if not policy.file_metadata:
        names += METADATA_CALLS
    if not policy.file_watches:
        names += WATCH_CALLS
    refused = dict.fromkeys(names, refuse(errno.EPERM))
    refused.update(dict.fromkeys(NEW_INTERFACES, refuse(errno.ENOSYS)))
    if policy.sockets is Sockets.NONE:
        kept_inside = ("socket", "connect", "bind", "sendmsg", "sendmmsg")
        refused.update(dict.fromkeys(kept_inside, refuse(errno.EACCES)))
    return refused


REFUSED: Final = refused_calls(isolated_policy(0))
"""The isolated child's unconditional refusals (its pid matters only to the other rules)."""

_NR = 0
_ARCH = 4


def _argument(index: int, high: bool = False) -> int:
    """Offset of a 64-bit argument's low (or high) half in struct seccomp_data (LE)."""
    return 16 + 8 * index + (4 if high else 0)


class Assembler:
    """Builds a classic BPF program with forward jumps to named labels."""

    LOAD = 0x20  # BPF_LD | BPF_W | BPF_ABS
    AND = 0x54  # BPF_ALU | BPF_AND | BPF_K
    JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
    JGT = 0x25  # BPF_JMP | BPF_JGT | BPF_K
    JSET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
    RET = 0x06  # BPF_RET | BPF_K

    def __init__(self) -> None:
        self._code: list[tuple[int, str | None, str | None, int]] = []
        self._labels: dict[str, int] = {}
        self._names = 0

    def fresh(self) -> str:
        """A new label name."""
        self._names += 1
        return f"L{self._names}"

    def label(self, name: str) -> None:
        """Put ``name`` at the next instruction."""
        self._labels[name] = len(self._code)

    def load(self, offset: int) -> None:
        """A = the 32-bit word at ``offset`` of struct seccomp_data."""
        self._code.append((self.LOAD, None, None, offset))

    def mask(self, k: int) -> None:
        """A = A & k."""
        self._code.append((self.AND, None, None, k))

    def jump(self, test: int, k: int, true: str | None = None, false: str | None = None) -> None:
        """If A ``test`` k, go to ``true``, else to ``false`` (None: the next instruction)."""
        self._code.append((test, true, false, k))

    def ret(self, action: int) -> None:
        """Answer the system call with ``action``."""
        self._code.append((self.RET, None, None, action))

    def assemble(self) -> bytes:
        """The program as an array of struct sock_filter."""
        out = bytearray()
        for position, (code, true, false, k) in enumerate(self._code):
            out += struct.pack(
                "=HBBI", code, self._offset(position, true), self._offset(position, false), k
            )
        return bytes(out)

    def _offset(self, position: int, label: str | None) -> int:
        if label is None:
            return 0
        offset = self._labels[label] - position - 1
        if not 0 <= offset <= 255:
            raise ValueError(f"BPF jump out of range: {offset}")
        return offset


def _arguments_in(
    asm: Assembler, conditions: Iterable[tuple[int, Iterable[int]]], matched: int, other: int
) -> None:
    """Answer ``matched`` if every (argument, values) condition holds for the low half of
    that argument (int arguments: the kernel reads only that half), else ``other``."""
    for index, values in conditions:
        holds = asm.fresh()
        asm.load(_argument(index))
        for value in values:
            asm.jump(Assembler.JEQ, value & 0xFFFFFFFF, true=holds)
        asm.ret(other)
        asm.label(holds)
    asm.ret(matched)


CHUNK: Final = 8
"""The most screened system calls one leaf of the filter's search compares one by one."""


def filter_program(
    arch: Architecture, policy: FilterPolicy | int, *, linear: bool = False
) -> bytes:
    """The filter of ``policy`` (an int: the isolated policy of the process with that id).

    The screened system calls are found by a binary search on the number, down to leaves
    of at most :data:`CHUNK` compared one by one: when the filter is installed, the kernel
    runs it for every system call number to find the ones it always allows (its cache: those
    never run the filter), and a chain of ~130 comparisons made that ~0.2 ms of every
    isolated child's CPU. ``linear``: the one chain of earlier versions, the same answers
    (the tests compare the two on every number, on emulated arguments)."""
    if isinstance(policy, int):
        policy = isolated_policy(policy)
    pid = policy.pid
    numbers = arch.numbers
    asm = Assembler()
    asm.load(_ARCH)
    native = asm.fresh()
    asm.jump(Assembler.JEQ, arch.audit_arch, true=native)
    asm.ret(KILL_PROCESS)
    asm.label(native)
    asm.load(_NR)
    if arch.hot:
        hot, rest = asm.fresh(), asm.fresh()
        for number in arch.hot[:-1]:
            asm.jump(Assembler.JEQ, number, true=hot)
        asm.jump(Assembler.JEQ, arch.hot[-1], true=hot, false=rest)
        asm.label(hot)
        asm.ret(ALLOW)
        asm.label(rest)
    known = asm.fresh()
    asm.jump(Assembler.JGT, arch.last_known, false=known)
    asm.ret(refuse(errno.ENOSYS))
    asm.label(known)
    eperm, eacces = refuse(errno.EPERM), refuse(errno.EACCES)
    me = (0, pid, -pid) if policy.own_group else (pid,)
    blocks: dict[str, Callable[[], None]] = {
        "setpriority": lambda: _arguments_in(
            asm, [(0, (PRIO_PROCESS,)), (1, (0, pid))], ALLOW, eperm
        ),
        "sched_setparam": lambda: _arguments_in(asm, [(0, (0, pid))], ALLOW, eperm),
        "sched_setscheduler": lambda: _arguments_in(asm, [(0, (0, pid))], ALLOW, eperm),
        "sched_setaffinity": lambda: _arguments_in(asm, [(0, (0, pid))], ALLOW, eperm),
        "sched_setattr": lambda: _arguments_in(asm, [(0, (0, pid))], ALLOW, eperm),
        "migrate_pages": lambda: _arguments_in(asm, [(0, (0, pid))], ALLOW, eperm),
        "move_pages": lambda: _arguments_in(asm, [(0, (0, pid))], ALLOW, eperm),
        "ioctl": lambda: _refused_ioctls(asm, policy),
        "prctl": lambda: _arguments_in(asm, [(0, (PR_SET_PDEATHSIG,))], eperm, ALLOW),
        "clone": lambda: _clone(asm, policy.processes),
        "prlimit64": lambda: _prlimit(asm),
    }
    if not policy.processes:  # with processes, Landlock's signal scope confines signals
        blocks.update({
            "kill": lambda: _arguments_in(asm, [(0, me)], ALLOW, eperm),
            "rt_sigqueueinfo": lambda: _arguments_in(asm, [(0, me)], ALLOW, eperm),
            "tgkill": lambda: _arguments_in(asm, [(0, (pid,))], ALLOW, eperm),
            "rt_tgsigqueueinfo": lambda: _arguments_in(asm, [(0, (pid,))], ALLOW, eperm),
        })  # fmt: skip
    if policy.sockets is Sockets.NONE:
        blocks["sendto"] = lambda: _null_argument(asm, 4, ALLOW, eacces)
    else:
        families: tuple[int, ...] = (AF_INET, AF_INET6)
        if policy.sockets is Sockets.HOST:
            families = (AF_UNIX, *families)
        blocks["socket"] = lambda: _arguments_in(asm, [(0, families)], ALLOW, eacces)
        if policy.sockets is Sockets.INTERNET:
            blocks["socketpair"] = lambda: _no_datagram_pair(asm)
    screened = {numbers[name] for name in [*refused_calls(policy), *blocks] if name in numbers}
    if screened & set(arch.hot):
        raise ValueError(f"a hot system call is screened: {sorted(screened & set(arch.hot))}")
    # What each screened number gets: an answer, or a block of instructions that decides.
    handlers: list[tuple[int, Handler]] = [
        (numbers[name], action) for name, action in refused_calls(policy).items()
        if name in numbers
    ]  # fmt: skip
    handlers += [(numbers[name], block) for name, block in blocks.items() if name in numbers]
    if len({number for number, _ in handlers}) != len(handlers):
        raise ValueError("a system call is screened twice")
    if linear:
        _compare_each(asm, handlers, shared=False)
    else:
        _search(asm, sorted(handlers, key=lambda handler: handler[0]))
    return asm.assemble()


Handler = int | Callable[[], None]
"""What a screened number gets: an answer (an action), or a block of instructions that
decides."""


def _compare_each(asm: Assembler, handlers: list[tuple[int, Handler]], shared: bool) -> None:
    """A = the number: each of ``handlers`` in turn, then ALLOW. ``shared``: a number whose
    answer is an action jumps to one return of that action after the ALLOW, shared by every
    number of ``handlers`` that has it (one instruction each instead of two: the kernel
    checks, converts and compiles every instruction when the filter is installed); else
    each has its own (the one chain of earlier versions, whose jumps would not reach)."""
    answers: dict[int, str] = {}
    """Each shared action, and the label of its return."""
    for number, handle in handlers:
        if isinstance(handle, int) and shared:
            answer = answers.get(handle)
            if answer is None:
                answer = answers[handle] = asm.fresh()
            asm.jump(Assembler.JEQ, number, true=answer)
            continue
        after = asm.fresh()
        asm.jump(Assembler.JEQ, number, false=after)
        if isinstance(handle, int):
            asm.ret(handle)
        else:
            handle()
        asm.label(after)
    asm.ret(ALLOW)
    for action, answer in answers.items():
        asm.label(answer)
        asm.ret(action)


def _search(asm: Assembler, handlers: list[tuple[int, Handler]]) -> None:
    """A = the number: a binary search over ``handlers`` (sorted by number) down to leaves of
    at most CHUNK compared in turn; every number none of them has is allowed. Every path
    keeps A (a block loads an argument only once its number matched)."""
    if len(handlers) <= CHUNK:
        _compare_each(asm, handlers, shared=True)
        return
    middle = len(handlers) // 2
    upper = asm.fresh()
    asm.jump(Assembler.JGT, handlers[middle - 1][0], true=upper)  # the lower half: <= it
    _search(asm, handlers[:middle])
    asm.label(upper)
    _search(asm, handlers[middle:])


def _refused_ioctls(asm: Assembler, policy: FilterPolicy) -> None:
    """ioctl: never typing into a terminal; no file flags unless metadata may change."""
    requests = TERMINAL_IOCTLS if policy.file_metadata else (*TERMINAL_IOCTLS, *FILE_FLAG_IOCTLS)
    _arguments_in(asm, [(1, requests)], refuse(errno.EPERM), ALLOW)


def _clone(asm: Assembler, processes: bool) -> None:
    """clone: no new namespace; threads only (CLONE_THREAD) unless processes are allowed."""
    refused, accepted = asm.fresh(), asm.fresh()
    asm.load(_argument(0))
    asm.jump(Assembler.JSET, CLONE_NAMESPACES, true=refused)
    if processes:
        asm.ret(ALLOW)
    else:
        asm.jump(Assembler.JSET, CLONE_THREAD, true=accepted)
    asm.label(refused)
    asm.ret(refuse(errno.EPERM))
    asm.label(accepted)
    asm.ret(ALLOW)


def _prlimit(asm: Assembler) -> None:
    """prlimit64: reading limits only (a NULL new limit)."""
    _null_argument(asm, 2, ALLOW, refuse(errno.EPERM))


def _null_argument(asm: Assembler, index: int, null: int, other: int) -> None:
    """Answer ``null`` if the pointer argument ``index`` is NULL, else ``other``."""
    refused, accepted = asm.fresh(), asm.fresh()
    asm.load(_argument(index))
    asm.jump(Assembler.JEQ, 0, false=refused)
    asm.load(_argument(index, high=True))
    asm.jump(Assembler.JEQ, 0, true=accepted)
    asm.label(refused)
    asm.ret(other)
    asm.label(accepted)
    asm.ret(null)


def _no_datagram_pair(asm: Assembler) -> None:
    """socketpair: any but SOCK_DGRAM (whose end an unconnected sendto could aim anywhere)."""
    refused = asm.fresh()
    asm.load(_argument(1))
    asm.mask(SOCK_TYPE_MASK)
    asm.jump(Assembler.JEQ, SOCK_DGRAM, true=refused)
    asm.ret(ALLOW)
    asm.label(refused)
    asm.ret(refuse(errno.EACCES))


class IsolatedFilters:
    """The isolated policy's filter for any process id, from one assembly: the policy's
    program differs from one process to another only in the instructions that compare an
    argument with the id (or its negation, a process group), so these are found once, by
    assembling for two ids, and a process's program is the template with its id put in
    them (microseconds, where assembling takes a pool's child about a millisecond)."""

    _PROBES = (0x5EED0001, 0x0D15EA5E)
    """Two ids no real process has (above the kernel's pid_max), to tell the id's places."""
    _INSTRUCTION = struct.Struct("=HBBI")

    def __init__(self, arch: Architecture) -> None:
        self.arch = arch
        first, second = (filter_program(arch, pid) for pid in self._PROBES)
        self.template = first
        self.places: list[tuple[int, bool]] = []
        """(byte offset of an instruction's k, whether it holds the negated id)."""
        size = self._INSTRUCTION.size
        for offset in range(0, len(first), size):
            one, two = first[offset : offset + size], second[offset : offset + size]
            if one == two:
                continue
            *head_one, k_one = self._INSTRUCTION.unpack(one)
            *head_two, k_two = self._INSTRUCTION.unpack(two)
            if head_one != head_two:
                raise ValueError("the filter's shape depends on the process id")
            if (k_one, k_two) == self._PROBES:
                self.places.append((offset + 4, False))
            elif (k_one, k_two) == tuple(-pid & 0xFFFFFFFF for pid in self._PROBES):
                self.places.append((offset + 4, True))
            else:
                raise ValueError("the filter holds a value derived from the process id")

    def program(self, pid: int) -> bytes:
        """The isolated policy's program for process ``pid``: ``filter_program(arch, pid)``."""
        out = bytearray(self.template)
        for offset, negated in self.places:
            struct.pack_into("=I", out, offset, (-pid if negated else pid) & 0xFFFFFFFF)
        return bytes(out)


@functools.cache
def isolated_filters() -> IsolatedFilters:
    """This machine's :class:`IsolatedFilters`, made on first use (a pool's zygote makes it
    before it forks); OSError (ENOSYS) for an architecture the filter does not know."""
    return IsolatedFilters(architecture())


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def program_struct(program: bytes) -> tuple[ctypes.Array[ctypes.c_char], _SockFprog]:
    """The struct sock_fprog for ``program`` and the buffer it points into (keep it alive
    while the struct is used). addressof, not ctypes.cast (a call through libffi); a pool's
    zygote makes one ahead, so that ctypes keeps the buffer's array type for its children:
    made in a child, these first uses of ctypes cost it ~0.15 ms."""
    buffer = ctypes.create_string_buffer(program, len(program))
    return buffer, _SockFprog(len(program) // 8, ctypes.addressof(buffer))


CACHING_KERNEL: Final = (5, 11)
"""The first Linux that caches, per system call number, a filter's answer when it is ALLOW
whatever the arguments (found by running the filter over every number as it is installed):
such a call never runs the filter again."""


def caches_answers(release: str) -> bool:
    """Whether the kernel of ``release`` (``os.uname().release``) caches a filter's constant
    ALLOW answers (False when the release cannot be read)."""
    found = re.match(r"(\d+)\.(\d+)", release)
    return found is not None and (int(found[1]), int(found[2])) >= CACHING_KERNEL


def architecture() -> Architecture:
    """This machine's architecture; OSError (ENOSYS) for one the filter has no numbers for.
    On a kernel that caches constant answers, without its hot calls: they never run the
    filter there, and comparing every other number with them first made the run over every
    number at installation ~40 us (a fifth) longer."""
    if _THIS_ARCHITECTURE is None:
        raise OSError(errno.ENOSYS, f"no seccomp filter for the {MACHINE} architecture")
    return _THIS_ARCHITECTURE


def _this_architecture() -> Architecture | None:
    """:func:`architecture`'s answer, found once (a pool's children only read it)."""
    found = ARCHITECTURES.get(MACHINE)
    if found is None or ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    return attrs.evolve(found, hot=()) if caches_answers(posix.uname().release) else found


_THIS_ARCHITECTURE: Final = _this_architecture()


def set_no_new_privs() -> None:
    """PR_SET_NO_NEW_PRIVS: nothing this process runs can gain privileges (set-id programs,
    file capabilities); needed by Landlock and seccomp without CAP_SYS_ADMIN."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def install_filter(policy: FilterPolicy | None = None) -> None:
    """Install the filter of ``policy`` (default: the isolated child's) on every thread of
    this process (threads started later inherit it)."""
    arch = architecture()
    install_program(filter_program(arch, policy or isolated_policy(posix.getpid())))


def install_program(program: bytes) -> None:
    """Install ``program``, a filter :func:`filter_program` assembled for this machine's
    architecture (and, for a policy naming a process, this process), as
    :func:`install_filter` does."""
    arch = architecture()
    buffer, fprog = program_struct(program)
    thread = syscall(
        arch.numbers["seccomp"], SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC,
        ctypes.byref(fprog),
    )  # fmt: skip
    del buffer  # (kept alive until here: fprog points into it)
    if thread:  # a thread that could not take the filter (it has another, diverging one)
        raise OSError(errno.ESRCH, f"seccomp: thread {thread} could not be synchronised")
