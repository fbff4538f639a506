"""Starting programs on the emulated backend through its process handler: fork_exec
(subprocess), os.system, os.posix_spawn[p] and the os.spawn* family. Without a handler each
is refused before anything is done.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posix
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any, Final

import compat
from posixbackend.emulated._children import ChildRecord, ChildSpec
from posixbackend.emulated._processcalls import ProcessFunctions, not_permitted
from posixbackend.emulated.args import int_arg, path_arg
from posixbackend.emulated.bridge import ChildFds, StdioBridge
from posixbackend.emulated.descriptions import (
    FileDescription,
)
from posixbackend.emulated.processhandlers import (
    ChildChdirError,
    ChildSetupError,
    FinishedChild,
    ProcessHandler,
    ProgramNotAllowedError,
    exit_status,
    synthetic_pid,
)
from posixbackend.emulated.spawnargs import (
    DEFAULT_EXEC_PATH,
    PY313,
    ForkExecCall,
    SpawnAction,
    check_argv,
    check_environment,
    convert_argv,
    environment_list,
    environment_of,
    fork_exec_signature,
    fs_converter,
    search_path,
    signal_set,
    spawn_env,
    spawn_file_actions,
    spawn_flag,
)
from vfs.errors import named_error

PREEXEC_FN = compat.declare(
    id="emulated.process.preexec_fn",
    function="subprocess.Popen",
    aspect="preexec_fn",
    level=compat.Level.INFO,
    explanation="preexec_fn cannot run: a child is started by a process handler, not forked "
    "from this interpreter (NotImplementedError, as on GraalPy)",
)


CREDENTIALS = compat.declare(
    id="emulated.process.credentials",
    function="subprocess.Popen",
    aspect="user, group and extra_groups",
    level=compat.Level.INFO,
    explanation="a child cannot be given other user or group ids (PermissionError)",
)


SPAWN_ATTRIBUTES = compat.declare(
    id="emulated.process.spawn_attributes",
    function="os.posix_spawn",
    aspect="setsigmask, setsigdef, scheduler",
    level=compat.Level.INFO,
    explanation="a child's signal mask, scheduling, and default actions for signals other "
    "than SIGPIPE and SIGXFSZ cannot be set (NotImplementedError)",
)


FAILED_EXEC_STATUS: Final = exit_status(255)
"""A fork_exec child that cannot exec its program exits with 255."""


FAILED_SPAWN_STATUS: Final = exit_status(127)
"""A shell or os.spawn* child that cannot exec exits with 127."""


SIGNALS_RESTORED: Final = frozenset(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name)
)
"""What restore_signals resets to the default (the signals Python ignores)."""


def _posix_spawner(function: str, *, search: bool, doc: str) -> Callable[..., int]:
    """The method ``os.<function>`` (posix_spawn or posix_spawnp, which differ only in
    ``search``), with os's signature written once for both."""

    def method(
        self: SpawnFunctions,
        path: Any,
        argv: Any,
        env: Any,
        /,
        *,
        file_actions: Any = (),
        setpgroup: Any = None,
        resetids: Any = False,
        setsid: Any = False,
        setsigmask: Any = (),
        setsigdef: Any = (),
        scheduler: Any = None,
    ) -> int:
        return self._posix_spawn(
            function, path, argv, env, search=search, file_actions=file_actions,
            setpgroup=setpgroup, resetids=resetids, setsid=setsid, setsigmask=setsigmask,
            setsigdef=setsigdef, scheduler=scheduler,
        )  # fmt: skip

    # argument errors name the function, as os's do
    method.__name__ = method.__qualname__ = function
    method.__doc__ = doc
    return method


class SpawnFunctions(ProcessFunctions):
    """Programs started through the backend's process handler (refused without one)."""

    def fork_exec(self, *args: Any, **kwargs: Any) -> int:
        """``_posixsubprocess.fork_exec`` (subprocess.Popen, os.popen), on emulated descriptors.

        As in CPython, what fails in the child (a descriptor, the directory, the program) is
        written to ``errpipe_write`` for subprocess to raise, and the returned pid is reaped
        with status 255; what fails in the parent raises here. The caller closes
        ``errpipe_write`` itself, as subprocess does (the child never holds it here).

        Honoured: args, executable_list (first that runs), cwd (a guest path, checked here,
        mapped to the host by the handler), env (else the backend's), the six stdio fds (-1:
        the backend's own 0, 1, 2), close_fds and pass_fds (the child gets only those),
        restore_signals, call_setsid, pgid_to_set, child_umask (else the backend's umask).
        Accepted and unused: allow_vfork. Refused (gaps): preexec_fn (NotImplementedError),
        gid, extra_groups and uid (PermissionError).
        """
        call = ForkExecCall.parse(args, kwargs)
        handler = self._handler("subprocess.Popen")
        if call.preexec_fn is not None:
            PREEXEC_FN.hit()
            raise NotImplementedError(
                "preexec_fn is not supported on the emulated POSIX backend: a process handler "
                "starts the child, no Python code can run in it"
            )
        if call.gid is not None or call.uid is not None or call.extra_groups is not None:
            CREDENTIALS.hit()
            raise PermissionError(
                errno.EPERM,
                "subprocess.Popen(user=, group=, extra_groups=) is not permitted on the "
                "emulated POSIX backend",
            )
        fds = ChildFds(self._table)
        try:
            spec = self._fork_exec_spec(call, fds)
        except ChildSetupError as error:
            fds.abandon()
            return self._failed_child(call.errpipe_write, error)
        started = self._start(handler, spec, fds)
        if isinstance(started, OSError):
            return self._failed_child(call.errpipe_write, started)
        return started.pid

    def _fork_exec_spec(self, call: ForkExecCall, fds: ChildFds) -> ChildSpec:
        """The child fork_exec describes, and its descriptors (ChildSetupError as the child
        would fail: a descriptor not open, a directory it cannot enter)."""
        redirected = {
            child_fd: fd
            for child_fd, fd in ((0, call.p2cread), (1, call.c2pwrite), (2, call.errwrite))
            if fd != -1
        }
        excluded = call.parent_ends
        extra = {fd: fd for fd in call.pass_fds if fd > 2 and fd not in excluded}
        missing = fds.copy(extra) if extra else None
        if missing is None and redirected:
            missing = fds.copy(redirected)
        if missing is not None:
            raise ChildSetupError(errno.EBADF, posix.strerror(errno.EBADF))
        fds.copy_open({fd: fd for fd in (0, 1, 2) if fd not in redirected})
        if not call.close_fds:
            fds.copy_inheritable(excluded | set(range(3)) | set(extra))
        return ChildSpec(
            args=call.args,
            executables=call.executables,
            cwd=self._child_cwd(call.cwd),
            env=dict(self._environ) if call.env is None else environment_list(call.env),
            umask=call.child_umask if call.child_umask >= 0 else self._umask,
            restore_signals=call.restore_signals,
            new_session=call.call_setsid,
            process_group=call.pgid_to_set,
        )

    def _child_cwd(self, cwd: bytes | None) -> str:
        """The guest directory a child starts in (ChildChdirError where chdir would fail)."""
        name = "" if cwd is None else os.fsdecode(cwd)
        fs = self._fs
        try:
            if cwd is None:
                return self._getcwd()
            if not name:
                raise OSError(errno.ENOENT, posix.strerror(errno.ENOENT))
            directory = fs.directory(None if name.startswith("/") else self._cwd, name)
            try:
                return fs.where(directory)
            finally:
                fs.release(directory)
        except OSError as error:
            code = error.errno or errno.ENOENT
            raise ChildChdirError(code, posix.strerror(code), name) from None

    def _failed_child(self, errpipe_write: int, error: OSError) -> int:
        """A fork_exec child that failed before its program ran: its report on the error pipe
        (``OSError:<hex errno>:<where>``, as _posixsubprocess writes it: before 3.13 "noexec"
        for any failure before exec, which subprocess blames on the directory), and its pid."""
        if isinstance(error, ChildChdirError) and PY313:
            where = b"noexec:chdir"
        elif isinstance(error, ChildSetupError):
            where = b"noexec"
        else:
            where = b""
        description = self._table.files.get(errpipe_write)
        if description is not None:
            report = b"OSError:%x:%s" % (error.errno or errno.EIO, where)
            with contextlib.suppress(OSError):  # as _Py_write_noraise: no reader, nobody waits
                description.write(report)
        return self._finished_child(FAILED_EXEC_STATUS)

    def _finished_child(self, status: int) -> int:
        """A child that ended before it started, with ``status``; its pid."""
        record = ChildRecord(FinishedChild(synthetic_pid(), status))
        self._children.add(record)
        return record.pid

    def system(self, command: Any) -> int:
        """os.system: ``/bin/sh -c command`` through the process handler, waited for; its wait
        status (127 << 8 when the shell cannot be started, as glibc's system)."""
        shell_command = fs_converter(command)
        sys.audit("os.system", shell_command)
        handler = self._handler("os.system")
        fds = ChildFds(self._table)
        fds.copy_inheritable()
        spec = self._spec((b"sh", b"-c", shell_command), (b"/bin/sh",), dict(self._environ))
        started = self._start(handler, spec, fds)
        if isinstance(started, OSError):
            return FAILED_SPAWN_STATUS
        status = started.child.wait()
        self._reap(started)
        return status

    posix_spawn = _posix_spawner(
        "posix_spawn", search=False,
        doc="os.posix_spawn through the process handler; file actions act on emulated fds.",
    )  # fmt: skip
    posix_spawnp = _posix_spawner(
        "posix_spawnp", search=True,
        doc="os.posix_spawnp: posix_spawn with the program looked for along the backend's PATH.",
    )  # fmt: skip

    def _posix_spawn(
        self,
        function: str,
        path: Any,
        argv: Any,
        env: Any,
        *,
        search: bool,
        file_actions: Any,
        setpgroup: Any,
        resetids: Any,
        setsid: Any,
        setsigmask: Any,
        setsigdef: Any,
        scheduler: Any,
    ) -> int:
        """posix_spawn[p]: CPython's conversions in its order, the audit event, the policy,
        then the file actions on the child's table and the start."""
        target = path_arg(path, function)
        spawn_flag(resetids)  # honoured as it is: a handler's child starts with its own real ids
        new_session = spawn_flag(setsid)
        check_argv(f"{function}: argv", argv)
        check_environment(function, env, none_allowed=PY313)
        args = convert_argv(f"{function}: argv", argv)
        environment = spawn_env(function, env)
        actions = spawn_file_actions(file_actions)
        group = -1 if setpgroup is None else int_arg(setpgroup)
        restore_signals = self._spawn_signals(setsigmask, setsigdef, scheduler)
        sys.audit("os.posix_spawn", target.original, argv, env)
        handler = self._handler(f"os.{function}")
        assert target.path is not None
        file = os.fsencode(target.path)
        executables = (
            search_path(file, self._environ.get(b"PATH", DEFAULT_EXEC_PATH)) if search else (file,)
        )
        fds = ChildFds(self._table)
        fds.copy_all()
        try:
            self._apply_file_actions(fds, actions)
            fds.exec()
        except OSError as error:
            fds.abandon()
            raise named_error(error, target.original) from None
        spec = self._spec(
            args,
            executables,
            dict(self._environ) if environment is None else environment,
            restore_signals=restore_signals,
            new_session=new_session,
            process_group=group,
        )
        started = self._start(handler, spec, fds)
        if isinstance(started, ChildSetupError):
            raise started
        if isinstance(started, OSError):
            code = started.errno or errno.ENOENT
            raise OSError(code, posix.strerror(code), target.original)
        return started.pid

    @staticmethod
    def _spawn_signals(setsigmask: Any, setsigdef: Any, scheduler: Any) -> bool:
        """posix_spawn's signal and scheduling attributes: whether SIGPIPE and SIGXFSZ are
        reset (restore_signals); anything else is a gap."""
        mask = signal_set(setsigmask)
        defaults = signal_set(setsigdef)
        if mask or scheduler is not None or not defaults <= SIGNALS_RESTORED:
            SPAWN_ATTRIBUTES.hit()
            raise NotImplementedError(
                "posix_spawn on the emulated POSIX backend cannot set a signal mask, scheduling,"
                " or default actions other than SIGPIPE's and SIGXFSZ's"
            )
        return bool(defaults)

    def _apply_file_actions(self, fds: ChildFds, actions: list[SpawnAction]) -> None:
        """Run posix_spawn's file actions on the child's table, as the child would."""
        for action in actions:
            if action.tag == posix.POSIX_SPAWN_OPEN:
                cloexec = bool(action.flags & posix.O_CLOEXEC)
                fds.adopt(action.fd, self._open_for_child(action), cloexec=cloexec)
            elif action.tag == posix.POSIX_SPAWN_CLOSE:
                fds.close(action.fd)
            elif action.tag == posix.POSIX_SPAWN_DUP2:
                if not fds.dup2(action.fd, action.target):
                    raise OSError(errno.EBADF, posix.strerror(errno.EBADF))
            else:
                fds.close_from(action.fd)

    def _open_for_child(self, action: SpawnAction) -> FileDescription:
        """A POSIX_SPAWN_OPEN action: a new description the child alone holds."""
        name = os.fsdecode(action.path)
        if not name:
            raise OSError(errno.ENOENT, posix.strerror(errno.ENOENT))
        at = None if name.startswith("/") else self._cwd
        mode = action.mode & ~self._umask if action.flags & posix.O_CREAT else action.mode
        return FileDescription(self._fs.open_at(at, name, action.flags, mode), action.flags)

    def spawnv(self, mode: Any, file: Any, args: Any) -> int:
        """os.spawnv through the process handler: P_NOWAIT gives the pid, otherwise the exit
        code once it ends (127 if it cannot be started, as os.spawnv's child exits)."""
        return self._spawn("os.spawnv", mode, file, args, None, search=False)

    def spawnve(self, mode: Any, file: Any, args: Any, env: Any) -> int:
        """os.spawnve (see spawnv)."""
        return self._spawn("os.spawnve", mode, file, args, env, search=False)

    def spawnvp(self, mode: Any, file: Any, args: Any) -> int:
        """os.spawnvp: the program is looked for along the backend's PATH (see spawnv)."""
        return self._spawn("os.spawnvp", mode, file, args, None, search=True)

    def spawnvpe(self, mode: Any, file: Any, args: Any, env: Any) -> int:
        """os.spawnvpe: the program is looked for along ``env``'s PATH (see spawnv)."""
        return self._spawn("os.spawnvpe", mode, file, args, env, search=True)

    def spawnl(self, mode: Any, file: Any, *args: Any) -> int:
        """os.spawnl (see spawnv)."""
        return self._spawn("os.spawnl", mode, file, args, None, search=False)

    def spawnle(self, mode: Any, file: Any, *args: Any) -> int:
        """os.spawnle: the last argument is the environment (see spawnv)."""
        return self._spawn("os.spawnle", mode, file, args[:-1], args[-1], search=False)

    def spawnlp(self, mode: Any, file: Any, *args: Any) -> int:
        """os.spawnlp (see spawnvp)."""
        return self._spawn("os.spawnlp", mode, file, args, None, search=True)

    def spawnlpe(self, mode: Any, file: Any, *args: Any) -> int:
        """os.spawnlpe: the last argument is the environment (see spawnvpe)."""
        return self._spawn("os.spawnlpe", mode, file, args[:-1], args[-1], search=True)

    def _spawn(
        self, function: str, mode: Any, file: Any, args: Any, env: Any, *, search: bool
    ) -> int:
        """os.py's ``_spawnvef``, with the handler in place of fork and exec."""
        if not isinstance(args, (tuple, list)):
            raise TypeError("argv must be a tuple or a list")
        if not args or not args[0]:
            raise ValueError("argv first element cannot be empty")
        handler = self._handler(function)
        try:  # what execv would refuse in the child, which then exits with 127
            argv = tuple(fs_converter(arg) for arg in args)
            environment = dict(self._environ) if env is None else environment_of(env.items())
            name = fs_converter(file)
            path_list = environment if env is not None else self._environ
            executables = (
                tuple(
                    os.fsencode(directory) + b"/" + name
                    for directory in os.get_exec_path(path_list)  # type: ignore[arg-type]
                )
                if search and b"/" not in name
                else (name,)
            )
        except (TypeError, ValueError, AttributeError):
            pid = self._finished_child(FAILED_SPAWN_STATUS)
        else:
            fds = ChildFds(self._table)
            fds.copy_inheritable()
            started = self._start(handler, self._spec(argv, executables, environment), fds)
            if isinstance(started, OSError):
                pid = self._finished_child(FAILED_SPAWN_STATUS)
            else:
                pid = started.pid
        if mode == os.P_NOWAIT:
            return pid
        while True:
            _, status = self.waitpid(pid, 0)
            if not os.WIFSTOPPED(status):
                return os.waitstatus_to_exitcode(status)

    def _spec(
        self,
        args: tuple[bytes, ...],
        executables: tuple[bytes, ...],
        env: Mapping[bytes, bytes],
        **options: Any,
    ) -> ChildSpec:
        """A child in the backend's directory with its umask."""
        return ChildSpec(args, executables, self._getcwd(), env, self._umask, **options)

    def _handler(self, function: str) -> ProcessHandler:
        """The process handler, or the policy's refusal for ``function``."""
        handler = self._process_handler
        if handler is None:
            not_permitted(function)
        if not isinstance(handler, ProcessHandler):
            raise TypeError(
                f"process_handler must have a start(command) method, not {type(handler).__name__}"
            )
        return handler

    def _start(
        self, handler: ProcessHandler, spec: ChildSpec, fds: ChildFds
    ) -> ChildRecord | OSError:
        """Bridge the child's descriptors and have the handler start it; the child's record,
        or the handler's OSError when the program could not be started (a child-side error).
        Errors of the parent (no host descriptor left...) and policy refusals raise."""
        table, held = fds.take()
        bridge = StdioBridge(self._table, table, held)
        try:
            command = spec.command(bridge.open())
        except BaseException:
            bridge.abandon()
            raise
        try:
            child = handler.start(command)
        except ProgramNotAllowedError:
            bridge.abandon()
            raise
        except OSError as error:  # the handler's way of saying the program did not start
            bridge.abandon()
            return error
        except BaseException:
            bridge.abandon()
            raise
        file_pumps = bridge.started()
        record = ChildRecord(child, spec.group(child.pid), bridge.syncs, file_pumps)
        self._children.add(record)
        return record


SpawnFunctions.fork_exec.__signature__ = fork_exec_signature()  # type: ignore[attr-defined]
