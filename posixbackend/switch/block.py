"""``backend(name, ...)``: a block of code served by the native or the emulated backend."""

from __future__ import annotations

import contextvars
import os
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final

import compat
from posixbackend.emulated import EmulatedBackend
from posixbackend.emulated.core import deferred_backend
from posixbackend.emulated.processhandlers import ProcessHandler
from posixbackend.permissions import anchors
from posixbackend.permissions.anchors import ANCHORS
from posixbackend.permissions.current import POLICY, get_policy
from posixbackend.permissions.denials import widening
from posixbackend.permissions.entrypoints import entry_points
from posixbackend.permissions.environment import PrivateEnvironment
from posixbackend.permissions.policy import Access, Environment, Permissions
from posixbackend.switch import installation, standins
from posixbackend.switch.active import ACTIVE, get_active
from posixbackend.switch.guard import EmulatedGuard, NativeGuard, current_emulated
from posixbackend.switch.installation import INSTALLATION
from posixbackend.switch.libraries import HOOK as C_LIBRARIES
from posixbackend.switch.names import PosixModuleBackend
from posixbackend.switch.nativecalls import native_calls
from posixbackend.switch.rerun import until_done
from vfs import FileSystem, Identity, MemoryFileSystem

EXIT_INTERRUPTED = compat.declare(
    id="switch.block_exit_interrupted",
    function="posixbackend.backend",
    aspect="an asynchronous exception at the first instruction of a block's Python __exit__",
    level=compat.Level.FINE,
    explanation="a KeyboardInterrupt or time limit delivered as the Python __exit__ of a block "
    "starts (a block with permissions, a time limit or an anchored thread, or any block "
    "without the C extension), before any of its code runs, propagates with the block still "
    "entered, whole: its backend and permissions stay in force in that context and the "
    "stand-ins stay counted in use. Anywhere later the exit finishes leaving first, and the "
    "entry is all or nothing (the common block's C __enter__/__exit__ have no such point). "
    "Further interrupts landing while the Python methods finish leaving (or undo an entry) "
    "make them finish all the same; without the C extension posixbackend._standin (or with "
    "POSIXBACKEND_PURE_PYTHON set) they finish after one, and a second landing as they do "
    "can leave part of the block in force",
)

_Steps = tuple[
    Any, contextvars.Token[Any] | None, Any, contextvars.Token[Permissions | None] | None, Any,
    anchors.Anchor | None,
]  # fmt: skip
"""What an entry cut short had done, for BackendBlock._abandon: ACTIVE's value before and its
token, POLICY's value before and its token, the time limit started, the anchor pushed."""
_Entry = tuple[contextvars.Token[Any], contextvars.Token[Permissions | None] | None, Any,
               anchors.Anchor | None]  # fmt: skip
"""What one entry into a block changed, for its exit to undo: the tokens of ACTIVE and POLICY
(None for POLICY when it held None and the entry left it so: the common block saves two of
its four context-variable steps, and its exit still finds POLICY as it was), the time limit
started (or None), and the block's hold on its thread (None unless its
permissions restrict, or an outer block's did: a fresh context in the block is then still
served and restricted by it). A tuple: every block makes one."""


class BackendBlock:
    """A context manager that makes one backend serve ``os``, ``open``... inside it.

    Entering puts the stand-ins in place if they are not there (the last block to leave
    parks them again, see :mod:`posixbackend.switch.installation`), and makes :attr:`emulated`
    (None for the native backend) serve the calling thread of control under the block's
    :attr:`permissions` narrowed by the enclosing block's (a PermissionError names the first
    permission asked for that the enclosing block does not grant); leaving restores what
    served it before, also when the block ends with an exception. One block object may be
    entered again after it was left (the emulated backend keeps its state: cwd, descriptors).
    """

    # Slots that the C __enter__ and __exit__ read at their offsets (see _standin.c); a
    # __dict__ still takes any other attribute, as before
    __slots__ = (
        "__dict__",
        "__weakref__",
        "_entries",
        "_environment",
        "_file_system",
        "emulated",
        "kind",
        "permissions",
    )  # fmt: skip

    def __init__(
        self,
        kind: PosixModuleBackend,
        emulated: EmulatedBackend | None,
        file_system: FileSystem | None = None,
        permissions: Permissions | None = None,
        environment: PrivateEnvironment | None = None,
    ) -> None:
        self.kind = kind
        self.emulated = emulated
        self.permissions = permissions
        """The permissions asked for by this block (None: the enclosing block's)."""
        self._file_system = file_system
        self._environment = environment
        self._entries: list[_Entry] = []

    @property
    def file_system(self) -> FileSystem | None:
        """The provider behind the emulated backend (None for the native one)."""
        return self._file_system

    def _enter_python(self) -> BackendBlock:
        """``__enter__`` in Python: the method itself without posixbackend._standin, and the
        C method's fallback for every block but the common one (see _standin.c).

        All or nothing: an exception (an interrupt landing anywhere in it included) leaves
        nothing of the block in force. What a step returns is lost when an interrupt lands
        right after its call, before the assignment: so ACTIVE and POLICY are read first, and
        put back as they were when their tokens are missing (see :meth:`_abandon`)."""
        counted = [_COUNTED]  # the count enter() makes, until the entry holds it (_abandon)
        INSTALLATION.enter()  # all or nothing: when it raises, the block is not counted
        active_before: Any = _UNREAD
        policy_before: Any = _UNREAD
        active_token: contextvars.Token[Any] | None = None
        policy_token: contextvars.Token[Permissions | None] | None = None
        time_limit: Any = None
        anchor: anchors.Anchor | None = None
        entry: _Entry | None = None
        try:
            policy_before = POLICY.get()
            active_before = ACTIVE.get()
            if self.permissions is None and not ANCHORS and policy_before is None:
                # the common block (no permissions here or around it): what the other branch
                # does for it, without its steps for permissions
                emulated = self.emulated
                if emulated is not None and not C_LIBRARIES.installed:
                    C_LIBRARIES.install()  # sqlite3 must not reach the host's files instead
                active_token = ACTIVE.set(emulated)
                # POLICY holds None and is left so (None in the entry: see _leave)
                entry = (active_token, None, None, None)
            else:
                policy = _effective(self.permissions, get_policy())
                serving = self._serving(policy)
                restricting = policy is not None and policy.denies_anything
                if restricting:
                    INSTALLATION.keep()  # see posixbackend.switch.installation: never parked
                limit = None if self.permissions is None else self.permissions.time_limit
                if restricting or limit is not None:
                    from posixbackend.permissions.hook import install_hook

                    install_hook()
                if limit is not None:
                    from posixbackend.permissions.timelimit import TimeLimit

                    time_limit = TimeLimit.start(limit)
                if self.emulated is not None:
                    C_LIBRARIES.install()  # sqlite3 must not reach the host's files instead
                if restricting or anchors.anchor_of_caller() is not None:
                    anchor = anchors.push(serving, policy)  # (a Python call: no point after it)
                active_token = ACTIVE.set(serving)
                policy_token = POLICY.set(policy)
                entry = (active_token, policy_token, time_limit, anchor)
            self._entries.append(entry)
            return self
        except BaseException:
            # (a tuple, built with no call: nothing between the handler's start and the call)
            steps = (active_before, active_token, policy_before, policy_token, time_limit, anchor)
            until_done(self._abandon, entry, counted, steps)
            raise

    def _abandon(self, entry: _Entry | None, counted: list[object], steps: _Steps) -> None:
        """Undo what an entry cut short did (its ``steps``' results, as far as it had them).
        Each step is done at most once however often it runs (see :func:`until_done`): the
        block's count is ``counted``'s until the entry is appended, then the entry's."""
        if entry is not None and any(each is entry for each in self._entries):
            counted.clear()  # appended: left as any entry is (the count goes with it)
            self._leave(entry, True)
            return
        active_before, active_token, policy_before, policy_token, time_limit, anchor = steps
        if time_limit is not None:
            _stop(time_limit)
        if anchor is not None:
            anchors.pop(anchor)  # (no-op when it is not on the thread)
        _put_back(POLICY, policy_token, policy_before)
        _put_back(ACTIVE, active_token, active_before)
        INSTALLATION.leave(counted, _COUNTED)  # (once: the marker goes with the count)

    def _exit_python(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """``__exit__`` in Python (as :meth:`_enter_python`). Once it runs it leaves the block
        whole: an interrupt landing in it makes it finish first, then goes on (one landing
        at its very first instruction, before it runs, leaves the block entered, whole)."""
        entry = self._entries[-1]  # (IndexError: never entered; nothing changed)
        try:
            fired = self._leave(entry)
        except BaseException:
            until_done(self._leave, entry, True)  # what the interrupted run left, done now
            raise
        if fired and exc_type is None:
            from posixbackend.permissions.timelimit import TimeLimitExceeded

            assert self.permissions is not None and self.permissions.time_limit is not None
            raise TimeLimitExceeded(self.permissions.time_limit)

    def _leave(self, entry: _Entry, again: bool = False) -> bool:
        """Undo ``entry`` (this block's last): whether its time limit fired. Each step is
        done at most once however often it runs (a run that an interrupt cut short is run
        again, ``again``: the error of a token of another context, which the first run
        raised, is not raised again), the count last, with the entry's removal."""
        active, policy, time_limit, anchor = entry
        fired = False if time_limit is None else _stop(time_limit)
        try:
            if anchor is not None:
                anchors.pop(anchor)  # (no-op when it is gone already)
            if policy is not None:
                _reset(POLICY, policy)
            elif POLICY.get() is not None:  # an entry that found None and left it: None again
                POLICY.set(None)  # (if something in the block set it and left it set)
            try:  # (_reset written out: every block leaves here)
                ACTIVE.reset(active)
            except RuntimeError:  # the token was used: by a run an interrupt cut short
                pass
        except ValueError:  # a token of another context: the block is left all the same
            if not again:
                raise
        finally:
            INSTALLATION.leave(self._entries, entry)
        return fired

    # Replaced by the C methods below when posixbackend._standin is built and on
    __enter__ = _enter_python
    __exit__ = _exit_python

    def _serving(self, policy: Permissions | None) -> Any:
        """What serves the block under ``policy``: the backend, or a guard around it."""
        if policy is None:
            return self.emulated
        if self.emulated is None:
            if isinstance(policy.allow_io, FileSystem):
                raise widening("allow_io", Access.ALL, policy.allow_io)
            needs_guard = (
                policy.allow_io is Access.NONE
                or not policy.allow_create_process
                or self._environment is not None
            )
            return NativeGuard(policy, self._environment) if needs_guard else None
        grant = policy.allow_io
        if isinstance(grant, FileSystem) and grant is not self._file_system:
            raise widening("allow_io", self._file_system, grant)
        guarded = grant is Access.NONE or not policy.allow_create_process
        return EmulatedGuard(self.emulated, policy) if guarded else self.emulated

    def __repr__(self) -> str:
        target = "" if self.emulated is None else f" {self.emulated!r}"
        return f"<posixbackend block {self.kind.value}{target}>"


def _c_methods() -> tuple[Any, Any] | None:
    """posixbackend._standin's ``__enter__`` and ``__exit__`` of BackendBlock (the common
    block in C: ~60% fewer instructions, and no point between its steps where an
    asynchronous exception could land), or None: the C stand-ins are off or not built."""
    if standins.FAST_STAND_IN is None:
        return None
    from posixbackend import _standin

    try:
        _standin.configure_blocks(
            POLICY, INSTALLATION, vars(INSTALLATION), INSTALLATION._lock, C_LIBRARIES,
            vars(installation), vars(sys), BackendBlock,
        )  # fmt: skip
    except RuntimeError:  # configured by an earlier instance of this module (as standins')
        return None
    return _standin.as_method(_standin.block_enter), _standin.as_method(_standin.block_exit)


C_METHODS: Final = _c_methods()
"""The C ``__enter__`` and ``__exit__`` in use, or None (the Python ones serve)."""
if C_METHODS is not None:
    BackendBlock.__enter__, BackendBlock.__exit__ = C_METHODS


def _effective(own: Permissions | None, outer: Permissions | None) -> Permissions | None:
    """The permissions a block runs under: its own within the enclosing block's."""
    if own is None:
        return outer
    return own if outer is None else own.within(outer)


_UNREAD: Final[Any] = object()
"""A context variable's value not read yet (see BackendBlock._enter_python)."""
_COUNTED: Final = object()
"""The marker of a block's count while no entry holds it (see BackendBlock._abandon)."""


def _reset(variable: contextvars.ContextVar[Any], token: contextvars.Token[Any]) -> None:
    """``variable.reset(token)``, done once however often it is asked (see _leave)."""
    try:
        variable.reset(token)
    except RuntimeError:  # the token was used: by a run of _leave an interrupt cut short
        pass


def _put_back(
    variable: contextvars.ContextVar[Any], token: contextvars.Token[Any] | None, before: Any
) -> None:
    """``variable`` as it was before an entry set it: by its token, or (the token lost to an
    interrupt right after the set) by what it held, when it was read."""
    if token is not None:
        _reset(variable, token)
    elif before is not _UNREAD and variable.get() is not before:
        variable.set(before)


def _stop(time_limit: Any) -> bool:
    """Stop ``time_limit`` (idempotent): whether it fired."""
    from posixbackend.permissions.timelimit import TimeLimitExceeded as Late

    while True:  # one arriving while stopping must not leave the limit running
        try:
            return bool(time_limit.stop())
        except Late:
            continue


_NEVER_PYTHON_OS: Final = FileSystem.uses_python_os
"""FileSystem's own ``uses_python_os`` (the property that says False)."""

_KINDS: dict[object, PosixModuleBackend] = {
    "native": PosixModuleBackend.NATIVE, "java": PosixModuleBackend.JAVA,
    "managed": PosixModuleBackend.JAVA, "emulated": PosixModuleBackend.JAVA,
}  # fmt: skip
"""The usual spellings, looked up without the enum's search."""
_JAVA: Final = PosixModuleBackend.JAVA
"""(An enum member from the class costs a look-up through its metaclass each block.)"""


def backend(
    name: str | PosixModuleBackend = PosixModuleBackend.JAVA,
    *,
    file_system: FileSystem | None = None,
    cwd: str | None = None,
    umask: int = 0o022,
    time_resolution_ns: int = 10**9,
    identity: Identity | None = None,
    environ: Mapping[bytes, bytes] | None = None,
    process_handler: ProcessHandler | None = None,
    permissions: Permissions | None = None,
    deferred: bool = False,
) -> BackendBlock:
    """A block served by the backend ``name`` ("native", "java", "managed" or "emulated").

    For the emulated backend, ``file_system`` defaults to :func:`default_file_system` (memory,
    with the interpreter's library visible read-only) and ``cwd`` to the process's current
    directory, which the default file system provides; the other arguments are
    :class:`~posixbackend.EmulatedBackend`'s. They mean nothing to the native backend, which
    refuses them. ``permissions`` (see :class:`~posixbackend.Permissions`) restrict what code
    in the block may do; inside a block that has permissions, a block without them gets the
    enclosing ones, and its file system defaults to the one ``allow_io`` grants.

    An emulated backend with a ``cwd`` other than ``/`` is built at once, so that a missing
    ``cwd`` fails here; ``deferred=True`` builds it at its first use even then (a block
    whose code makes no call costs nothing more: an isolated guest's), when the caller knows
    ``file_system`` has ``cwd`` (a missing one fails that first call).
    """
    kind = _KINDS.get(name) if name.__class__ is str else None
    if kind is None:
        kind = PosixModuleBackend(name)
    if permissions is None:
        policy = get_policy() if ANCHORS else POLICY.get()  # (get_policy() written out)
    elif not isinstance(permissions, Permissions):
        raise TypeError(f"permissions must be a Permissions, not {type(permissions).__name__}")
    else:
        policy = _effective(permissions, get_policy())
    if kind is not _JAVA:  # (kind.emulated)
        given = {
            "file_system": file_system is not None, "cwd": cwd is not None,
            "umask": umask != 0o022, "time_resolution_ns": time_resolution_ns != 10**9,
            "identity": identity is not None, "environ": environ is not None,
            "process_handler": process_handler is not None, "deferred": deferred,
        }  # fmt: skip
        refused = [option for option, passed in given.items() if passed]
        if refused:
            raise TypeError(f"the native backend takes no options, got {', '.join(refused)}")
        if permissions is not None and isinstance(permissions.allow_io, FileSystem):
            raise ValueError(
                "allow_io=<a FileSystem> needs the managed backend: the native backend serves "
                "the host's file system (grant 'all' or 'none')"
            )
        return BackendBlock(kind, None, permissions=permissions,
                            environment=private_environment(policy))  # fmt: skip
    if policy is not None:
        file_system, cwd = _granted_file_system(policy, permissions, file_system, cwd)
        process_handler = _granted_handler(policy, permissions, process_handler)
        environ = _granted_environ(policy, permissions, environ)
    if file_system is None:
        from posixbackend.defaultfs import default_file_system

        file_system, default_cwd = default_file_system()
        cwd = default_cwd if cwd is None else cwd
    # (a provider whose class keeps FileSystem's uses_python_os says False without the call)
    if file_system.__class__.uses_python_os is not _NEVER_PYTHON_OS and file_system.uses_python_os:
        served: FileSystem = native_calls(file_system)
    else:
        served = file_system
    if cwd is None or cwd == "/" or deferred:  # nothing to check now: built at first use
        emulated = deferred_backend(  # (EmulatedBackend.deferred, positional: ~250 ns less)
            EmulatedBackend, served, cwd or "/", umask, time_resolution_ns, identity, environ,
            process_handler,
        )  # fmt: skip
    else:
        emulated = EmulatedBackend(
            served,
            cwd=cwd,
            umask=umask,
            time_resolution_ns=time_resolution_ns,
            identity=identity,
            environ=environ,
            process_handler=process_handler,
        )
    return BackendBlock(kind, emulated, file_system, permissions)


def _conflict(
    permissions: Permissions | None, permission: str, asked: Any, granted: Any
) -> Exception:
    """The error of an argument the permissions do not grant: the block's own permissions
    contradict it (ValueError), or the enclosing block's do not allow it (PermissionError)."""
    if permissions is not None and getattr(permissions, permission) is granted:
        return ValueError(f"{asked} contradicts the block's own {permission}={granted!r}")
    return widening(permission, asked, granted)


def _granted_file_system(
    policy: Permissions, own: Permissions | None, file_system: FileSystem | None, cwd: str | None
) -> tuple[FileSystem | None, str | None]:
    """The file system and cwd a managed block gets under ``policy``'s ``allow_io``."""
    grant = policy.allow_io
    if grant is Access.ALL:
        return file_system, cwd
    if grant is Access.NONE:
        if file_system is not None:
            raise _conflict(own, "allow_io", f"file_system={file_system!r}", grant)
        return MemoryFileSystem(), "/"
    if file_system is not None and file_system is not grant:
        raise _conflict(own, "allow_io", f"file_system={file_system!r}", grant)
    if cwd is None:
        serving = current_emulated()
        cwd = serving.getcwd() if serving is not None and serving.file_system is grant else "/"
    return grant, cwd


def _granted_handler(
    policy: Permissions, own: Permissions | None, handler: ProcessHandler | None
) -> ProcessHandler | None:
    """The process handler a managed block gets: none unless processes are granted."""
    if not policy.allow_create_process:
        if handler is not None:
            raise _conflict(own, "allow_create_process", "process_handler", False)
        return None
    if handler is not None and policy.process_handler not in (None, handler):
        raise ValueError("process_handler differs from the permissions' process_handler")
    return handler if handler is not None else policy.process_handler


def _granted_environ(
    policy: Permissions, own: Permissions | None, environ: Mapping[bytes, bytes] | None
) -> Mapping[bytes, bytes] | None:
    """The environment a managed block starts with under ``allow_environment_access``."""
    grant = policy.allow_environment_access
    if grant is Environment.INHERIT:
        if environ is None and get_active() is not None:
            return dict(os.environb)  # the enclosing block's environment, as it sees it
        return environ
    if environ is not None:
        raise _conflict(own, "allow_environment_access", "environ", grant)
    if grant is Environment.NONE:
        return {}
    assert isinstance(grant, Mapping)
    return _encoded(grant)


def private_environment(policy: Permissions | None) -> PrivateEnvironment | None:
    """The environment of its own a native guest gets under ``policy`` (None: the
    process's, or the enclosing guest's own one)."""
    if policy is None:
        return None
    grant = policy.allow_environment_access
    if grant is Environment.INHERIT:
        active = get_active()
        if active is None or (isinstance(active, NativeGuard) and active.environment is None):
            return None
        if isinstance(active, NativeGuard):
            return active.environment
        return PrivateEnvironment(dict(os.environb))
    if grant is Environment.NONE:
        return PrivateEnvironment({})
    assert isinstance(grant, Mapping)
    return PrivateEnvironment(_encoded(grant))


def _encoded(variables: Mapping[str, str]) -> dict[bytes, bytes]:
    """A str environment as posix.environ holds one (file system encoding)."""
    return {os.fsencode(key): os.fsencode(value) for key, value in variables.items()}


def current() -> PosixModuleBackend:
    """Which backend serves the calling thread of control."""
    return PosixModuleBackend.NATIVE if current_emulated() is None else PosixModuleBackend.JAVA


entry_points(BackendBlock, backend, current, private_environment)
