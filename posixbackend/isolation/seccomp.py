"""The child's seccomp filter: no new processes, no sockets, no reaching other processes.

A classic BPF program, installed with ``prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)`` once
no_new_privs is set, checked by the kernel on every system call of the child and of every
thread it starts (the filter cannot be removed). It refuses:

- new processes and programs: fork, vfork, execve, execveat, clone without CLONE_THREAD or
  with a namespace flag (EPERM); clone3 with ENOSYS, so the C library falls back to clone
  for threads, which keep working;
- sockets: socket() for every family (EACCES); socketpair stays (it reaches nothing);
- other processes: kill and rt_sigqueueinfo except to the child itself or its process group,
  tgkill and rt_tgsigqueueinfo except to its own threads, ptrace, process_vm_readv/writev,
  pidfd_getfd, pidfd_send_signal, kcmp, and changing another process's priority;
- the limits and the system: setrlimit, prlimit64 with a new limit, mount and the new mount
  API, namespaces (unshare, setns), modules, kexec, reboot, swap, clocks, host and domain
  names, accounting, quotas, keyrings, bpf, perf events, userfaultfd, io_uring (ENOSYS), file
  handles, fanotify, port I/O;
- metadata changes Landlock does not cover (chmod, chown, utime, extended attributes, file
  flags by ioctl or file_setattr), which on the host are the only file changes left;
- system calls newer than the ones named here (ENOSYS, as a kernel without them answers).

The architecture is checked first: a system call made through another ABI (i386's int 0x80
on x86_64, 32-bit ARM on aarch64) kills the process.
"""

from __future__ import annotations

import ctypes
import errno
import posix
import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Final

import attrs

import compat
from posixbackend.isolation.libc import MACHINE, prctl

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
PRIO_PROCESS = 0


@attrs.frozen
class Architecture:
    """One architecture's system call numbers, as seccomp sees them."""

    audit_arch: int
    numbers: Mapping[str, int]
    last_known: int
    """The highest system call number named in this module (newer ones get ENOSYS)."""


_COMMON_NEW = {
    "clone3": 435, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "pidfd_send_signal": 424, "pidfd_getfd": 438, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "process_madvise": 440,
    "mount_setattr": 442, "quotactl_fd": 443, "fchmodat2": 452, "setxattrat": 463,
    "removexattrat": 466, "open_tree_attr": 467, "file_setattr": 469,
}  # fmt: skip
"""Numbers from 424 on are the same on every architecture."""

_X86_64_NUMBERS = {
    **_COMMON_NEW,
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "clone": 56, "socket": 41,
    "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129,
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
    "fremovexattr": 199, "ioctl": 16,
}  # fmt: skip
_AARCH64_NUMBERS = {
    **_COMMON_NEW,
    "execve": 221, "execveat": 281, "clone": 220, "socket": 198, "kill": 129,
    "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240,
    "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272,
    "setpriority": 140, "sched_setparam": 118, "sched_setscheduler": 119,
    "sched_setaffinity": 122, "sched_setattr": 274, "ioprio_set": 30,
    "migrate_pages": 238, "move_pages": 239, "setrlimit": 164, "prlimit64": 261,
    "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "unshare": 97,
    "setns": 268, "init_module": 105, "finit_module": 273, "delete_module": 106,
    "kexec_load": 104, "kexec_file_load": 294, "reboot": 142, "swapon": 224,
    "swapoff": 225, "settimeofday": 170, "clock_settime": 112, "clock_adjtime": 266,
    "adjtimex": 171, "sethostname": 161, "setdomainname": 162, "acct": 89,
    "quotactl": 60, "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280,
    "perf_event_open": 241, "userfaultfd": 282, "open_by_handle_at": 265,
    "name_to_handle_at": 264, "fanotify_init": 262, "syslog": 116, "vhangup": 58,
    "lookup_dcookie": 18, "nfsservctl": 42, "mknodat": 33, "fchmod": 52,
    "fchmodat": 53, "fchown": 55, "fchownat": 54, "utimensat": 88, "setxattr": 5,
    "lsetxattr": 6, "fsetxattr": 7, "removexattr": 14, "lremovexattr": 15,
    "fremovexattr": 16, "ioctl": 29,
}  # fmt: skip

X86_64 = Architecture(audit_arch=0xC000003E, numbers=_X86_64_NUMBERS, last_known=470)
AARCH64 = Architecture(audit_arch=0xC00000B7, numbers=_AARCH64_NUMBERS, last_known=470)
ARCHITECTURES: Final = {"x86_64": X86_64, "aarch64": AARCH64}
"""The architectures the filter knows, by the kernel's machine name."""

REFUSED: Final = {
    **dict.fromkeys(
        ("fork", "vfork", "execve", "execveat", "tkill", "ptrace", "process_vm_readv",
         "process_vm_writev", "kcmp", "pidfd_getfd", "pidfd_send_signal", "ioprio_set",
         "setrlimit", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
         "open_tree", "open_tree_attr", "move_mount", "fsopen", "fsconfig", "fsmount",
         "fspick", "mount_setattr", "init_module", "finit_module", "delete_module",
         "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "settimeofday",
         "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
         "acct", "quotactl", "quotactl_fd", "keyctl", "add_key", "request_key", "bpf",
         "perf_event_open", "userfaultfd", "open_by_handle_at", "name_to_handle_at",
         "fanotify_init", "iopl", "ioperm", "syslog", "vhangup", "lookup_dcookie",
         "nfsservctl", "uselib", "mknod", "mknodat", "chmod", "fchmod", "fchmodat",
         "fchmodat2", "chown", "fchown", "lchown", "fchownat", "utime", "utimes",
         "utimensat", "futimesat", "setxattr", "lsetxattr", "fsetxattr", "removexattr",
         "lremovexattr", "fremovexattr", "setxattrat", "removexattrat", "file_setattr",
         "process_madvise"),
        refuse(errno.EPERM),
    ),
    **dict.fromkeys(
        ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register"),
        refuse(errno.ENOSYS),
    ),
    "socket": refuse(errno.EACCES),
}  # fmt: skip
"""System calls refused whatever their arguments, and the answer each gets."""

_NR = 0
_ARCH = 4


def _argument(index: int, high: bool = False) -> int:
    """Offset of a 64-bit argument's low (or high) half in struct seccomp_data (LE)."""
    return 16 + 8 * index + (4 if high else 0)


class Assembler:
    """Builds a classic BPF program with forward jumps to named labels."""

    LOAD = 0x20  # BPF_LD | BPF_W | BPF_ABS
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


def filter_program(arch: Architecture, pid: int) -> bytes:
    """The filter for a child whose process (and process group) id is ``pid``."""
    numbers = arch.numbers
    asm = Assembler()
    asm.load(_ARCH)
    native = asm.fresh()
    asm.jump(Assembler.JEQ, arch.audit_arch, true=native)
    asm.ret(KILL_PROCESS)
    asm.label(native)
    asm.load(_NR)
    known = asm.fresh()
    asm.jump(Assembler.JGT, arch.last_known, false=known)
    asm.ret(refuse(errno.ENOSYS))
    asm.label(known)
    for name, action in REFUSED.items():
        if name in numbers:
            after = asm.fresh()
            asm.jump(Assembler.JEQ, numbers[name], false=after)
            asm.ret(action)
            asm.label(after)
    me = (0, pid, -pid)
    eperm = refuse(errno.EPERM)
    blocks: dict[str, Callable[[], None]] = {
        "kill": lambda: _arguments_in(asm, [(0, me)], ALLOW, eperm),
        "rt_sigqueueinfo": lambda: _arguments_in(asm, [(0, me)], ALLOW, eperm),
        "tgkill": lambda: _arguments_in(asm, [(0, (pid,))], ALLOW, eperm),
        "rt_tgsigqueueinfo": lambda: _arguments_in(asm, [(0, (pid,))], ALLOW, eperm),
        "setpriority": lambda: _arguments_in(
            asm, [(0, (PRIO_PROCESS,)), (1, (0, pid))], ALLOW, eperm
        ),
        "sched_setparam": lambda: _arguments_in(asm, [(0, (0, pid))], ALLOW, eperm),
        "sched_setscheduler": lambda: _arguments_in(asm, [(0, (0, pid))], ALLOW, eperm),
        "sched_setaffinity": lambda: _arguments_in(asm, [(0, (0, pid))], ALLOW, eperm),
        "sched_setattr": lambda: _arguments_in(asm, [(0, (0, pid))], ALLOW, eperm),
        "migrate_pages": lambda: _arguments_in(asm, [(0, (0, pid))], ALLOW, eperm),
        "move_pages": lambda: _arguments_in(asm, [(0, (0, pid))], ALLOW, eperm),
        "ioctl": lambda: _arguments_in(asm, [(1, FILE_FLAG_IOCTLS)], eperm, ALLOW),
        "clone": lambda: _clone(asm),
        "prlimit64": lambda: _prlimit(asm),
    }
    for name, block in blocks.items():
        if name in numbers:
            after = asm.fresh()
            asm.jump(Assembler.JEQ, numbers[name], false=after)
            block()
            asm.label(after)
    asm.ret(ALLOW)
    return asm.assemble()


def _clone(asm: Assembler) -> None:
    """clone: threads only (CLONE_THREAD), and no new namespace."""
    refused, accepted = asm.fresh(), asm.fresh()
    asm.load(_argument(0))
    asm.jump(Assembler.JSET, CLONE_NAMESPACES, true=refused)
    asm.jump(Assembler.JSET, CLONE_THREAD, true=accepted)
    asm.label(refused)
    asm.ret(refuse(errno.EPERM))
    asm.label(accepted)
    asm.ret(ALLOW)


def _prlimit(asm: Assembler) -> None:
    """prlimit64: reading limits only (a NULL new limit)."""
    refused, accepted = asm.fresh(), asm.fresh()
    asm.load(_argument(2))
    asm.jump(Assembler.JEQ, 0, false=refused)
    asm.load(_argument(2, high=True))
    asm.jump(Assembler.JEQ, 0, true=accepted)
    asm.label(refused)
    asm.ret(refuse(errno.EPERM))
    asm.label(accepted)
    asm.ret(ALLOW)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def architecture() -> Architecture:
    """This machine's architecture; OSError (ENOSYS) for one the filter has no numbers for."""
    found = ARCHITECTURES.get(MACHINE)
    if found is None or ctypes.sizeof(ctypes.c_void_p) != 8:
        raise OSError(errno.ENOSYS, f"no seccomp filter for the {MACHINE} architecture")
    return found


def set_no_new_privs() -> None:
    """PR_SET_NO_NEW_PRIVS: nothing this process runs can gain privileges (set-id programs,
    file capabilities); needed by Landlock and seccomp without CAP_SYS_ADMIN."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def install_filter() -> None:
    """Install the filter on this thread (threads started later inherit it)."""
    program = filter_program(architecture(), posix.getpid())
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog))
