"""Passing the active backend and permissions on to threads and pool jobs started in a block.

A new thread starts with an empty context, so without this a thread started in a managed
block would run natively: an escape hatch. ``Thread.start`` records the starter's backend and
permissions and the thread sets them before ``run``; ``ThreadPoolExecutor.submit`` runs each
job under those of the code that submitted it (a pool's threads outlive the block they
started in). asyncio tasks and ``asyncio.to_thread`` copy the whole context themselves.
A thread started by an anchored thread (one a restricting block holds, see
:mod:`posixbackend.permissions.anchors`) is anchored to the same block before its first line;
a pool job submitted from one runs anchored, and its worker thread is free between jobs.
Under permissions without ``allow_create_thread``, starting a thread (``Thread.start``,
``_thread.start_new_thread``) and submitting to a pool are refused before anything is done
(unless the library's own code does it). Library threads that must run unrestricted whatever
started them (the time-limit watchdog) start inside ``anchors.free_start()``.
"""

from __future__ import annotations

import _thread
import contextlib
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures.thread import ThreadPoolExecutor
from typing import Any, Final

from posixbackend.permissions import anchors
from posixbackend.permissions.anchors import Anchor, anchor_of_caller
from posixbackend.permissions.current import POLICY, get_policy
from posixbackend.permissions.denials import denied
from posixbackend.permissions.entrypoints import boundaries, entry_points
from posixbackend.permissions.policy import Permissions
from posixbackend.permissions.trusted import LIBRARY, caller
from posixbackend.switch.active import ACTIVE, in_context
from posixbackend.switch.rerun import until_done

_ATTRIBUTE = "_posixbackend_active"

PENDING: Final[weakref.WeakKeyDictionary[threading.Thread, Anchor]] = weakref.WeakKeyDictionary()
"""Threads started by an anchored thread -> the anchor they take before their first line.
Filled when they start (by the start stand-in; from 3.12 also by the audit hook, which sees
every start), emptied by the thread itself."""


def _check_thread(operation: str) -> None:
    """Refuse ``operation`` unless the caller may create threads, or is the library itself
    (its pipe pumps and watchdogs serve the guest, whatever the guest may do)."""
    policy = get_policy()
    if policy is None or policy.allow_create_thread:
        return
    if caller(sys._getframe(2)) != LIBRARY:  # _check_thread <- the stand-in <- its caller
        raise denied(operation, "allow_create_thread")


def record_start(thread: threading.Thread) -> None:
    """Note the anchor ``thread`` takes when it runs: the starter's, unless the library is
    starting it free."""
    anchor = anchor_of_caller()
    if anchor is not None and not anchors.STARTING.free:
        PENDING[thread] = anchor


def thread_patches() -> list[tuple[Any, str, Callable[..., Any]]]:
    """(class or module, attribute, stand-in) for everything this module replaces."""
    native_start = threading.Thread.start
    native_bootstrap = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]
    native_submit = ThreadPoolExecutor.submit
    native_start_new_thread = _thread.start_new_thread

    def start(self: threading.Thread) -> None:
        _check_thread("threading.Thread.start")
        backend, policy = in_context(), POLICY.get()
        if backend is not None or policy is not None:
            self.__dict__[_ATTRIBUTE] = (backend, policy)
        record_start(self)
        native_start(self)

    def _bootstrap_inner(self: threading.Thread) -> None:
        inherited = self.__dict__.pop(_ATTRIBUTE, None)
        if inherited is not None:
            ACTIVE.set(inherited[0])
            POLICY.set(inherited[1])
        anchor = PENDING.pop(self, None)
        if anchor is not None:
            anchors.adopt(anchor)
        try:
            with _stand_ins_used(inherited is not None):
                native_bootstrap(self)
        finally:
            anchors.release_thread()  # its id may be the next thread's

    def submit(
        self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future[Any]:
        _check_thread("concurrent.futures.ThreadPoolExecutor.submit")
        job = (in_context(), POLICY.get(), anchor_of_caller())
        with anchors.free_start():  # a worker it starts serves every submitter: free between jobs
            return native_submit(self, _run_under, *job, fn, *args, **kwargs)

    def raw_body(function: Callable[..., Any]) -> Callable[..., Any]:
        """The body of a raw thread a program starts (checked by the caller): run under the
        starter's backend and permissions (a new thread's context is empty: it would run
        natively), anchored when the starter is."""
        backend, policy = in_context(), POLICY.get()
        if backend is not None or policy is not None:
            function = _inheriting_runner(backend, policy, function)
        anchor = anchor_of_caller()
        if anchor is not None:  # (outermost: the audit hook knows run_anchored's code)
            function = _anchored_runner(anchor, function)
        return function

    def start_new_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
        if sys._getframe(1).f_code is not native_start.__code__:  # Thread.start did all this
            _check_thread("_thread.start_new_thread")
            function = raw_body(function)
        ident: int = native_start_new_thread(function, *args, **kwargs)
        return ident

    for stand_in, native in (
        (start, native_start),
        (_bootstrap_inner, native_bootstrap),
        (submit, native_submit),
        (start_new_thread, native_start_new_thread),
    ):
        stand_in.__doc__ = native.__doc__
        setattr(stand_in, "__wrapped__", native)  # noqa: B010 - mypy knows no such attribute
        stand_in.__qualname__ = native.__qualname__
    patches: list[tuple[Any, str, Callable[..., Any]]] = [
        (threading.Thread, "start", start),
        (threading.Thread, "_bootstrap_inner", _bootstrap_inner),
        (ThreadPoolExecutor, "submit", submit),
        (_thread, "start_new_thread", start_new_thread),
    ]
    if hasattr(_thread, "start_new"):  # the old alias, gone in 3.13
        patches.append((_thread, "start_new", start_new_thread))
    native_joinable = getattr(_thread, "start_joinable_thread", None)
    if native_joinable is not None:  # 3.13: what Thread.start calls; a program may too

        def start_joinable_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            if sys._getframe(1).f_code is not native_start.__code__:  # as start_new_thread
                _check_thread("_thread.start_joinable_thread")
                function = raw_body(function)
            return native_joinable(function, *args, **kwargs)

        start_joinable_thread.__doc__ = native_joinable.__doc__
        setattr(start_joinable_thread, "__wrapped__", native_joinable)  # noqa: B010
        start_joinable_thread.__qualname__ = native_joinable.__qualname__
        patches.append((_thread, "start_joinable_thread", start_joinable_thread))
    _watch_raw_starts(_bootstrap_inner)
    return patches


def _watch_raw_starts(bootstrap: Callable[..., Any]) -> None:
    """From 3.12 every thread start raises an audit event: an anchored thread may start only
    threading's threads (whose bootstrap, ours, takes the anchor -- recorded here, whoever
    called the native start) and the raw threads of the start_new_thread stand-in."""
    from posixbackend.permissions.hook import add_check

    def check_start(policy: Permissions, event: str, args: tuple[Any, ...]) -> None:
        if anchor_of_caller() is None:
            return  # a block's context, not an anchor: no thread escapes what it never had
        function = args[0] if args else None
        owner = getattr(function, "__self__", None)
        if isinstance(owner, threading.Thread) and (
            getattr(type(owner), "_bootstrap_inner", None) is bootstrap
        ):
            record_start(owner)
            return
        if getattr(function, "__code__", None) in ANCHORED_RUNNER_CODE:
            return
        raise denied(f"{event} of a function outside threading", "allow_native_access")

    for event in ("_thread.start_new_thread", "_thread.start_joinable_thread"):
        add_check(event, check_start)


@contextlib.contextmanager
def _stand_ins_used(used: bool) -> Iterator[None]:
    """Keep the stand-ins in place while a thread or job started in a block runs (when
    ``used``): the last block leaving before it ends must not park them under it."""
    if not used:
        yield
        return
    from posixbackend.switch.installation import INSTALLATION  # it imports this module

    hold = object()
    held = [hold]  # (leave(held, hold) counts it out once, however often it is called)
    INSTALLATION.enter()  # all or nothing
    try:
        yield
    finally:  # (rerun after an interrupt that cut it short, at its start or in it)
        until_done(INSTALLATION.leave, held, hold)


def _inheriting_runner(
    backend: Any, policy: Permissions | None, function: Callable[..., Any]
) -> Callable[..., Any]:
    """``function`` as the body of a raw thread that runs under its starter's backend and
    permissions."""

    def run_inheriting(*args: Any, **kwargs: Any) -> Any:
        return _run_under(backend, policy, None, function, *args, **kwargs)

    return run_inheriting


def _anchored_runner(anchor: Anchor, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as the body of a raw thread that takes ``anchor`` first."""

    def run_anchored(*args: Any, **kwargs: Any) -> Any:
        anchors.adopt(anchor)
        try:
            return function(*args, **kwargs)
        finally:
            anchors.release_thread()

    return run_anchored


ANCHORED_RUNNER_CODE: Final = frozenset(
    constant for constant in _anchored_runner.__code__.co_consts if hasattr(constant, "co_code")
)
"""The code of ``run_anchored``: the audit hook lets an anchored thread start a raw thread
with it."""


def _run_under(
    backend: Any, policy: Any, anchor: Anchor | None, fn: Callable[..., Any], /,
    *args: Any, **kwargs: Any,
) -> Any:  # fmt: skip
    """Run a pool job under the backend and permissions its submitter had (anchored to its
    submitter's anchor, when it had one), and free its worker again afterwards."""
    active_token = ACTIVE.set(backend)
    policy_token = POLICY.set(policy)
    if anchor is not None:
        anchors.adopt(anchor)
    try:
        with _stand_ins_used(backend is not None or policy is not None):
            return fn(*args, **kwargs)
    finally:
        if anchor is not None:
            anchors.release_thread()
        POLICY.reset(policy_token)
        ACTIVE.reset(active_token)


entry_points(thread_patches)  # the stand-ins it makes (code objects are made once, here)
boundaries(
    _run_under,
    _anchored_runner,
    *(code for code in thread_patches.__code__.co_consts
      if getattr(code, "co_name", None) == "_bootstrap_inner"),
)  # fmt: skip
