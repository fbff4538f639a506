"""Converting the arguments of ``_posixsubprocess.fork_exec`` and ``os.posix_spawn`` as CPython
does (messages and all) into plain records the spawning functions act on.
"""

from __future__ import annotations

import inspect
import operator
import os
import posix
import signal
import sys
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

import attrs

from posixbackend.emulated.args import C_INT, C_LONG, gid_arg, int_arg, uid_arg

_PY312: Final = sys.version_info >= (3, 12)


PY313: Final = sys.version_info >= (3, 13)


FORK_EXEC_PARAMETERS: Final = (
    "args", "executable_list", "close_fds", "pass_fds", "cwd", "env",
    "p2cread", "p2cwrite", "c2pread", "c2pwrite", "errread", "errwrite",
    "errpipe_read", "errpipe_write", "restore_signals", "call_setsid", "pgid_to_set",
    "gid", "extra_groups", "uid", "child_umask", "preexec_fn",
) + (("allow_vfork",) if sys.version_info < (3, 14) else ())  # fmt: skip
"""``_posixsubprocess.fork_exec``'s positional parameters (3.14 dropped allow_vfork)."""


MAX_GROUPS: Final = 65536
"""NGROUPS_MAX: fork_exec's limit on extra_groups."""


_SPAWN_CLOSEFROM: Final = getattr(posix, "POSIX_SPAWN_CLOSEFROM", None)


DEFAULT_EXEC_PATH: Final = b"/bin:/usr/bin"


def truth(value: object) -> bool:
    """The ``p`` converter: any object's truth value."""
    return bool(value)


def _getargs_int(value: object) -> int:
    """``PyArg_ParseTuple``'s ``i``: a C int through ``__index__``, with getargs' messages."""
    number = operator.index(value)  # type: ignore[arg-type]  # its TypeError is CPython's
    if number > C_INT.max:
        raise OverflowError("signed integer is greater than maximum")
    if number < C_INT.min:
        raise OverflowError("signed integer is less than minimum")
    return number


def _clinic_int(value: object) -> int:
    """fork_exec's int parameters: getargs' ``i`` up to 3.11, Argument Clinic's int after."""
    return int_arg(value) if _PY312 else _getargs_int(value)


def fs_converter(value: object) -> bytes:
    """``PyUnicode_FSConverter``: str, bytes or PathLike as bytes, without NUL."""
    encoded = os.fsencode(value)  # type: ignore[arg-type]  # its TypeError is CPython's
    if b"\0" in encoded:
        raise ValueError("embedded null byte")
    return encoded


def _bytes_array(value: object) -> tuple[bytes, ...]:
    """``_PySequence_BytesToCharpArray``: a sequence of bytes objects without NUL."""
    if isinstance(value, (dict, MappingProxyType)):
        raise TypeError(f"{type(value).__name__} is not a sequence")
    size = len(value)  # type: ignore[arg-type]  # len()'s TypeError is CPython's
    items = []
    for index in range(size):
        item = value[index]  # type: ignore[index]
        if not isinstance(item, bytes):
            raise TypeError(f"expected bytes, {type(item).__name__} found")
        if b"\0" in item:
            raise ValueError("embedded null byte")
        items.append(bytes(item))
    return tuple(items)


def _fast_sequence(value: object, message: str) -> list[Any]:
    """``PySequence_Fast``: the items of any iterable, ``message`` if it is not one."""
    try:
        iterator = iter(value)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(message) from None
    return list(iterator)


def _group_list(value: object) -> tuple[int, ...]:
    """fork_exec's extra_groups: a list of group ids."""
    if not isinstance(value, list):
        raise TypeError("setgroups argument must be a list")
    if len(value) > MAX_GROUPS:
        raise ValueError("too many extra_groups")
    groups = []
    for item in value:
        if not isinstance(item, int):
            raise TypeError(f"{'extra_groups' if _PY312 else 'groups'} must be integers")
        try:
            groups.append(gid_arg(item))
        except (OverflowError, TypeError):
            raise ValueError("invalid group id") from None
    return tuple(groups)


def _valid_fds_to_keep(fds: tuple[Any, ...]) -> bool:
    """``_sanity_check_python_fd_sequence``: ints in increasing order, within C int."""
    previous = -1
    for fd in fds:
        if not isinstance(fd, int) or fd < 0 or fd <= previous or fd > C_INT.max:
            return False
        previous = fd
    return True


@attrs.frozen
class ForkExecCall:
    """The arguments of one ``_posixsubprocess.fork_exec`` call, converted as CPython does."""

    args: tuple[bytes, ...]
    executables: tuple[bytes, ...]
    close_fds: bool
    pass_fds: tuple[int, ...]
    cwd: bytes | None
    env: tuple[bytes, ...] | None
    p2cread: int
    p2cwrite: int
    c2pread: int
    c2pwrite: int
    errread: int
    errwrite: int
    errpipe_read: int
    errpipe_write: int
    restore_signals: bool
    call_setsid: bool
    pgid_to_set: int
    gid: int | None
    extra_groups: tuple[int, ...] | None
    uid: int | None
    child_umask: int
    preexec_fn: object

    @classmethod
    def parse(cls, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> ForkExecCall:
        """Convert in CPython's order, with the running version's messages."""
        count = len(FORK_EXEC_PARAMETERS)
        if kwargs:
            owner = "_posixsubprocess." if _PY312 else ""
            raise TypeError(f"{owner}fork_exec() takes no keyword arguments")
        if len(args) != count:
            raise TypeError(
                f"fork_exec expected {count} arguments, got {len(args)}"
                if _PY312
                else f"fork_exec() takes exactly {count} arguments ({len(args)} given)"
            )
        close_fds = truth(args[2])
        pass_fds = args[3]
        if not isinstance(pass_fds, tuple):
            raise TypeError(f"fork_exec() argument 4 must be tuple, not {type(pass_fds).__name__}")
        fds = [_clinic_int(value) for value in args[6:14]]
        flag = truth if _PY312 else _getargs_int
        restore_signals, call_setsid = bool(flag(args[14])), bool(flag(args[15]))
        pgid_to_set = _clinic_int(args[16])
        child_umask = _clinic_int(args[20])
        if len(args) > 22:
            truth(args[22])  # allow_vfork: converted, nothing to use it for
        if close_fds and fds[7] < 3:
            raise ValueError("errpipe_write must be >= 3")
        if not _valid_fds_to_keep(pass_fds):
            raise ValueError("bad value(s) in fds_to_keep")
        executables = _bytes_array(args[1])
        argv: tuple[bytes, ...] = ()
        if args[0] is not None:
            items = _fast_sequence(args[0], "argv must be a tuple")
            argv = tuple(fs_converter(item) for item in items)
        env = None if args[5] is None else _bytes_array(args[5])
        cwd = None if args[4] is None else fs_converter(args[4])
        groups = None if args[18] is None else _group_list(args[18])
        gid = None if args[17] is None else gid_arg(args[17])
        uid = None if args[19] is None else uid_arg(args[19])
        p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite, errpipe_read, errpipe_write = fds
        return cls(
            argv, executables, close_fds, pass_fds, cwd, env,
            p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite, errpipe_read, errpipe_write,
            restore_signals, call_setsid, pgid_to_set, gid, groups, uid, child_umask, args[21],
        )  # fmt: skip

    @property
    def parent_ends(self) -> set[int]:
        """The descriptors the child closes (the parent's ends of its pipes)."""
        return {self.p2cwrite, self.c2pread, self.errread, self.errpipe_read, self.errpipe_write}


@attrs.frozen
class SpawnAction:
    """One posix_spawn file action (``os.POSIX_SPAWN_*`` tag and its operands)."""

    tag: int
    fd: int
    target: int = -1
    path: bytes = b""
    flags: int = 0
    mode: int = 0


def spawn_file_actions(value: object) -> list[SpawnAction]:
    """``parse_file_actions`` of posixmodule.c."""
    if value is None:
        return []
    actions = []
    for item in _fast_sequence(value, "file_actions must be a sequence or None"):
        if not isinstance(item, tuple) or not item:
            raise TypeError("Each file_actions element must be a non-empty tuple")
        tag = int_arg(item[0], ctype=C_LONG)
        if tag == posix.POSIX_SPAWN_OPEN:
            _arity(item, 5, "open")
            path = fs_converter(item[2])
            actions.append(
                SpawnAction(
                    tag, _getargs_int(item[1]), path=path,
                    flags=_getargs_int(item[3]), mode=_getargs_int(item[4]),
                )
            )  # fmt: skip
        elif tag == posix.POSIX_SPAWN_CLOSE:
            _arity(item, 2, "close")
            actions.append(SpawnAction(tag, _getargs_int(item[1])))
        elif tag == posix.POSIX_SPAWN_DUP2:
            _arity(item, 3, "dup2")
            actions.append(SpawnAction(tag, _getargs_int(item[1]), _getargs_int(item[2])))
        elif _SPAWN_CLOSEFROM is not None and tag == _SPAWN_CLOSEFROM:
            _arity(item, 2, "closefrom")
            actions.append(SpawnAction(tag, _getargs_int(item[1])))
        else:
            raise TypeError("Unknown file_actions identifier")
    return actions


def _arity(item: tuple[Any, ...], size: int, name: str) -> None:
    if len(item) != size:
        raise TypeError(f"A {name} file_action tuple must have {size} elements")


def signal_set(value: object) -> frozenset[int]:
    """``_Py_Sigset_Converter``: an iterable of signal numbers."""
    signals = set()
    for item in value:  # type: ignore[attr-defined]  # iter()'s TypeError is CPython's
        number = operator.index(item)  # its TypeError is CPython's
        if not 0 < number < signal.NSIG:
            raise ValueError(f"signal number {number} out of range [1; {signal.NSIG - 1}]")
        signals.add(number)
    return frozenset(signals)


def check_argv(prefix: str, argv: object) -> None:
    """The first checks of an exec or spawn argv (``prefix`` begins CPython's messages,
    "execv() arg 2" or "execve: argv"): a tuple or list, not empty."""
    if not isinstance(argv, (list, tuple)):
        raise TypeError(f"{prefix} must be a tuple or list")
    if not argv:
        raise ValueError(f"{prefix} must not be empty")


def convert_argv(prefix: str, argv: list[Any] | tuple[Any, ...]) -> tuple[bytes, ...]:
    """``parse_arglist``: each item through the FS converter; the first must not be empty."""
    converted = tuple(fs_converter(item) for item in argv)
    if not converted[0]:
        raise ValueError(f"{prefix} first element cannot be empty")
    return converted


def check_environment(function: str, env: object, *, none_allowed: bool) -> None:
    """``PyMapping_Check`` on an exec or spawn environment (None allowed where 3.13 allows it
    for posix_spawn)."""
    if env is None and none_allowed:
        return
    if env is None or not hasattr(type(env), "__getitem__"):
        extra = " or None" if none_allowed else ""
        raise TypeError(f"{function}: environment must be a mapping object{extra}")


def spawn_env(function: str, env: object) -> dict[bytes, bytes] | None:
    """posix_spawn's and execve's env (``parse_envlist``); None (3.13, posix_spawn) for the
    backend's own."""
    check_environment(function, env, none_allowed=PY313 and function != "execve")
    if env is None:
        return None
    len(env)  # type: ignore[arg-type]  # PyMapping_Size comes first, with its TypeError
    names, values = list(env.keys()), list(env.values())  # type: ignore[attr-defined]
    return environment_of(zip(names, values, strict=True))


def spawn_flag(value: object) -> bool:
    """posix_spawn's resetids and setsid: an int in 3.11 (``bool(accept={int})``), any
    object's truth from 3.12 on."""
    return truth(value) if _PY312 else int_arg(value) != 0


def environment_of(pairs: Iterable[tuple[object, object]]) -> dict[bytes, bytes]:
    """An environment from (name, value) pairs, checked as execve's callers check it; the first
    of two equal names wins, as getenv finds it."""
    env: dict[bytes, bytes] = {}
    for name, value in pairs:
        key = fs_converter(name)
        if not key or b"=" in key[1:]:
            raise ValueError("illegal environment variable name")
        env.setdefault(key, fs_converter(value))
    return env


def environment_list(entries: tuple[bytes, ...]) -> dict[bytes, bytes]:
    """fork_exec's ``b"NAME=value"`` list as a mapping (entries without '=' mean nothing)."""
    env: dict[bytes, bytes] = {}
    for entry in entries:
        key, sign, value = entry.partition(b"=")
        if sign:
            env.setdefault(key, value)
    return env


def search_path(file: bytes, path: bytes) -> tuple[bytes, ...]:
    """The candidates execvp tries for ``file`` along ``path`` (a name with '/' is itself)."""
    if b"/" in file:
        return (file,)
    return tuple((directory or b".") + b"/" + file for directory in path.split(b":"))


def fork_exec_signature() -> inspect.Signature:
    """fork_exec's signature as CPython declares it (the method takes ``*args`` to give
    CPython's own messages for a wrong count)."""
    positional = inspect.Parameter.POSITIONAL_ONLY
    names = ("self", *FORK_EXEC_PARAMETERS)
    return inspect.Signature([inspect.Parameter(name, positional) for name in names])
