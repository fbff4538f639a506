"""The rest of the process view: ids and their changes, groups, scheduling, terminals.

The backend's identity is fixed when it is made (its provider checks permissions with it):
set*id calls that would keep it are accepted, as Linux accepts them, and calls that would
change it fail with EPERM and a gap. Questions about this process's scheduling (priority,
affinity, process group and session) are answered, and changed, for the real process, which
the emulated one runs in, as ``getpid`` is; other processes are out of reach (ESRCH), as for
``kill``. Terminal functions work on descriptors the backend shares with the host (the
standard streams); every other descriptor is not a terminal (ENOTTY).
"""

from __future__ import annotations

import errno
import os
import posix
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import attrs

import compat
from posixbackend.emulated._processcalls import SIGNALS
from posixbackend.emulated.args import fd_arg, gid_arg, int_arg, uid_arg
from posixbackend.emulated.core import BackendCore
from posixbackend.emulated.descriptions import HostDescription
from vfs.errors import os_error

SET_IDS = compat.declare(
    id="emulated.process.set_ids",
    function="os.setuid",
    aspect="changing user and group ids",
    level=compat.Level.INFO,
    explanation="the backend's identity is fixed when it is made (its file system checks "
    "permissions with it): set*id calls that would change the uid or gid fail with EPERM; "
    "keeping the same ids, and root changing its supplementary groups, work",
)

SESSIONS = compat.declare(
    id="emulated.process.sessions",
    function="os.setsid",
    aspect="process groups, sessions and terminal ownership",
    level=compat.Level.INFO,
    explanation="the emulated process cannot move the real process to another process group "
    "or session, nor take a terminal's foreground: setsid, setpgid, setpgrp and tcsetpgrp "
    "fail with EPERM",
)

T = TypeVar("T")
MAX_GROUPS = 65536
"""Linux's NGROUPS_MAX: setgroups refuses longer lists."""


class ProcessAttributeFunctions(BackendCore):
    """os's identity-changing, scheduling and terminal functions for the emulated process."""

    # -- user and group ids ----------------------------------------------------------------

    def getresuid(self) -> tuple[int, int, int]:
        """os.getresuid: real, effective and saved uid (all the backend's uid)."""
        uid = self._identity.uid
        return uid, uid, uid

    def getresgid(self) -> tuple[int, int, int]:
        """os.getresgid: real, effective and saved gid (all the backend's gid)."""
        gid = self._identity.gid
        return gid, gid, gid

    def setuid(self, uid: Any, /) -> None:
        """os.setuid: accepted when it keeps the backend's uid."""
        self._keep("os.setuid", self._identity.uid, [uid_arg(uid)], unchanged_allowed=False)

    def seteuid(self, euid: Any, /) -> None:
        """os.seteuid: accepted when it keeps the backend's uid."""
        self._keep("os.seteuid", self._identity.uid, [uid_arg(euid)], unchanged_allowed=False)

    def setreuid(self, ruid: Any, euid: Any, /) -> None:
        """os.setreuid: -1 leaves an id as it is."""
        self._keep("os.setreuid", self._identity.uid, [uid_arg(ruid), uid_arg(euid)])

    def setresuid(self, ruid: Any, euid: Any, suid: Any, /) -> None:
        """os.setresuid: -1 leaves an id as it is."""
        ids = [uid_arg(ruid), uid_arg(euid), uid_arg(suid)]
        self._keep("os.setresuid", self._identity.uid, ids)

    def setgid(self, gid: Any, /) -> None:
        """os.setgid: accepted when it keeps the backend's gid."""
        self._keep("os.setgid", self._identity.gid, [gid_arg(gid)], unchanged_allowed=False)

    def setegid(self, egid: Any, /) -> None:
        """os.setegid: accepted when it keeps the backend's gid."""
        self._keep("os.setegid", self._identity.gid, [gid_arg(egid)], unchanged_allowed=False)

    def setregid(self, rgid: Any, egid: Any, /) -> None:
        """os.setregid: -1 leaves an id as it is."""
        self._keep("os.setregid", self._identity.gid, [gid_arg(rgid), gid_arg(egid)])

    def setresgid(self, rgid: Any, egid: Any, sgid: Any, /) -> None:
        """os.setresgid: -1 leaves an id as it is."""
        ids = [gid_arg(rgid), gid_arg(egid), gid_arg(sgid)]
        self._keep("os.setresgid", self._identity.gid, ids)

    def _keep(
        self, function: str, current: int, ids: list[int], *, unchanged_allowed: bool = True
    ) -> None:
        if not unchanged_allowed and ids[0] == -1:
            raise os_error(errno.EINVAL)
        if all(value in (-1, current) for value in ids):
            return
        SET_IDS.hit(function=function, ids=tuple(ids))
        raise os_error(errno.EPERM)

    def setgroups(self, groups: Any, /) -> None:
        """os.setgroups: root may change its supplementary groups; others get EPERM."""
        if isinstance(groups, dict) or not hasattr(type(groups), "__getitem__"):
            raise TypeError("setgroups argument must be a sequence")
        if len(groups) > MAX_GROUPS:
            raise ValueError("too many groups")
        values = []
        for group in groups:
            if not isinstance(group, int):
                raise TypeError("groups must be integers")
            values.append(gid_arg(group))
        self._set_groups("os.setgroups", values)

    def initgroups(self, username: Any, gid: Any, /) -> None:
        """os.initgroups: the user's groups from the system's group database, and ``gid``."""
        name = os.fsdecode(username)  # pure: str, bytes or PathLike, else TypeError
        group = gid_arg(gid)
        self._set_groups("os.initgroups", posix.getgrouplist(name, group))

    def getgrouplist(self, user: Any, group: Any, /) -> list[int]:
        """os.getgrouplist: a lookup in the system's group database (not the process's)."""
        return posix.getgrouplist(user, group)

    def _set_groups(self, function: str, groups: Iterable[int]) -> None:
        wanted = frozenset(groups)
        if wanted == self._identity.groups:
            return
        if not self._identity.is_root:
            SET_IDS.hit(function=function)
            raise os_error(errno.EPERM)
        self._identity = attrs.evolve(self._identity, groups=wanted)

    # -- process groups and sessions -------------------------------------------------------

    def getpgrp(self) -> int:
        """os.getpgrp: the real process's group (the emulated process runs in it)."""
        return posix.getpgrp()

    def getpgid(self, pid: Any) -> int:
        """os.getpgid: this process's group, or a child's."""
        return self._own_or_child(int_arg(pid), posix.getpgid)

    def getsid(self, pid: Any, /) -> int:
        """os.getsid: this process's session, or a child's."""
        return self._own_or_child(int_arg(pid), posix.getsid)

    def setpgrp(self) -> None:
        """os.setpgrp: refused (it would move the real process)."""
        self._refuse_session("os.setpgrp")

    def setpgid(self, pid: Any, pgrp: Any, /) -> None:
        """os.setpgid: refused (it would move the real process)."""
        int_arg(pid), int_arg(pgrp)
        self._refuse_session("os.setpgid")

    def setsid(self) -> None:
        """os.setsid: refused (it would move the real process)."""
        self._refuse_session("os.setsid")

    def _refuse_session(self, function: str) -> None:
        SESSIONS.hit(function=function)
        raise os_error(errno.EPERM)

    def _own_or_child(self, pid: int, call: Callable[..., T], *args: Any) -> T:
        """``call(pid, *args)`` (a posix function) for this process (0 or its pid) or a child
        the backend started; ESRCH and the gap, naming the function, for any other process."""
        if pid in (0, posix.getpid()) or self._children.get(pid) is not None:
            return call(pid, *args)
        SIGNALS.hit(function=f"os.{call.__name__}", pid=pid)
        raise os_error(errno.ESRCH)

    # -- scheduling ------------------------------------------------------------------------

    def getpriority(self, which: Any, who: Any) -> int:
        """os.getpriority: this process's (PRIO_PROCESS 0 or its pid) or its group's/user's."""
        which, who = int_arg(which), int_arg(who)
        self._own_target(which, who)
        return posix.getpriority(which, who)

    def setpriority(self, which: Any, who: Any, priority: Any) -> None:
        """os.setpriority: for this process (as getpriority)."""
        which, who, priority = int_arg(which), int_arg(who), int_arg(priority)
        self._own_target(which, who)
        posix.setpriority(which, who, priority)

    def nice(self, increment: Any, /) -> int:
        """os.nice: this process's niceness."""
        return posix.nice(int_arg(increment))

    def _own_target(self, which: int, who: int) -> None:
        if which not in (posix.PRIO_PROCESS, posix.PRIO_PGRP, posix.PRIO_USER):
            raise os_error(errno.EINVAL)
        own = {
            posix.PRIO_PROCESS: posix.getpid(), posix.PRIO_PGRP: posix.getpgrp(),
            posix.PRIO_USER: self._identity.uid,
        }[which]  # fmt: skip
        if who not in (0, own):
            SIGNALS.hit(function="os.getpriority", who=who)
            raise os_error(errno.ESRCH)

    def sched_getaffinity(self, pid: Any, /) -> set[int]:
        """os.sched_getaffinity: the CPUs this process (or a child) may run on."""
        return self._own_or_child(int_arg(pid), posix.sched_getaffinity)

    def sched_setaffinity(self, pid: Any, mask: Any, /) -> None:
        """os.sched_setaffinity: for this process or a child."""
        self._own_or_child(int_arg(pid), posix.sched_setaffinity, mask)

    def sched_getscheduler(self, pid: Any, /) -> int:
        """os.sched_getscheduler."""
        return self._own_or_child(int_arg(pid), posix.sched_getscheduler)

    def sched_getparam(self, pid: Any, /) -> posix.sched_param:
        """os.sched_getparam."""
        return self._own_or_child(int_arg(pid), posix.sched_getparam)

    def sched_rr_get_interval(self, pid: Any, /) -> float:
        """os.sched_rr_get_interval."""
        return self._own_or_child(int_arg(pid), posix.sched_rr_get_interval)

    def sched_setscheduler(self, pid: Any, policy: Any, param: Any, /) -> None:
        """os.sched_setscheduler: for this process or a child."""
        self._own_or_child(int_arg(pid), posix.sched_setscheduler, policy, param)

    def sched_setparam(self, pid: Any, param: Any, /) -> None:
        """os.sched_setparam: for this process or a child."""
        self._own_or_child(int_arg(pid), posix.sched_setparam, param)

    # -- terminals -------------------------------------------------------------------------

    def ctermid(self) -> str:
        """os.ctermid: the name of the controlling terminal (a constant on Linux)."""
        return posix.ctermid()

    def sync(self) -> None:
        """os.sync: the backend keeps no unwritten data (providers write through)."""

    def ttyname(self, fd: Any, /) -> str:
        """os.ttyname: only host terminals shared with the backend have names."""
        return posix.ttyname(self._terminal(fd))

    def tcgetpgrp(self, fd: Any, /) -> int:
        """os.tcgetpgrp: the foreground group of a host terminal."""
        return posix.tcgetpgrp(self._terminal(fd))

    def tcsetpgrp(self, fd: Any, pgid: Any, /) -> None:
        """os.tcsetpgrp: refused on a terminal (it would change the real job control)."""
        self._terminal(fd), int_arg(pgid)
        self._refuse_session("os.tcsetpgrp")

    def get_terminal_size(self, fd: Any = 1, /) -> os.terminal_size:
        """os.get_terminal_size: of a host terminal shared with the backend."""
        return posix.get_terminal_size(self._terminal(fd))

    def _terminal(self, fd: Any) -> int:
        """The host descriptor of a terminal ``fd`` stands for; EBADF or ENOTTY otherwise."""
        description = self._description(fd_arg(fd))
        if isinstance(description, HostDescription) and posix.isatty(description.fd):
            return description.fd
        raise os_error(errno.ENOTTY)
