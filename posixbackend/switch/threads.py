"""Passing the active backend and permissions on to threads and pool jobs started in a block.

A new thread starts with an empty context, so without this a thread started in a managed
block would run natively: an escape hatch. ``Thread.start`` records the starter's backend and
permissions and the thread sets them before ``run``; ``ThreadPoolExecutor.submit`` runs each
job under those of the code that submitted it (a pool's threads outlive the block they
started in). asyncio tasks and ``asyncio.to_thread`` copy the whole context themselves.
Under permissions without ``allow_create_thread``, starting a thread (``Thread.start``,
``_thread.start_new_thread``) and submitting to a pool are refused before anything is done
(unless the library's own code does it).
"""

from __future__ import annotations

import _thread
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.thread import ThreadPoolExecutor
from typing import Any

from posixbackend.permissions.current import POLICY, get_policy
from posixbackend.permissions.denials import denied
from posixbackend.switch.active import ACTIVE, get_active

_ATTRIBUTE = "_posixbackend_active"


def _check_thread(operation: str) -> None:
    """Refuse ``operation`` unless the caller may create threads, or is the library itself
    (its pipe pumps and watchdogs serve the guest, whatever the guest may do)."""
    policy = get_policy()
    if policy is None or policy.allow_create_thread:
        return
    from posixbackend.permissions.hook import TRUSTED

    caller = sys._getframe(2).f_code  # _check_thread <- the stand-in <- its caller
    if TRUSTED.kind_of(caller) != "library":
        raise denied(operation, "allow_create_thread")


def thread_patches() -> list[tuple[Any, str, Callable[..., Any]]]:
    """(class or module, attribute, stand-in) for everything this module replaces."""
    native_start = threading.Thread.start
    native_bootstrap = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]
    native_submit = ThreadPoolExecutor.submit
    native_start_new_thread = _thread.start_new_thread

    def start(self: threading.Thread) -> None:
        _check_thread("threading.Thread.start")
        backend, policy = get_active(), get_policy()
        if backend is not None or policy is not None:
            self.__dict__[_ATTRIBUTE] = (backend, policy)
        native_start(self)

    def _bootstrap_inner(self: threading.Thread) -> None:
        inherited = self.__dict__.pop(_ATTRIBUTE, None)
        if inherited is not None:
            ACTIVE.set(inherited[0])
            POLICY.set(inherited[1])
        native_bootstrap(self)

    def submit(
        self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future[Any]:
        _check_thread("concurrent.futures.ThreadPoolExecutor.submit")
        return native_submit(self, _run_under, get_active(), get_policy(), fn, *args, **kwargs)

    def start_new_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
        if sys._getframe(1).f_code is not native_start.__code__:  # Thread.start checked
            _check_thread("_thread.start_new_thread")
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
    return patches


def _run_under(
    backend: Any, policy: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Any:
    """Run a pool job under the backend and permissions its submitter had."""
    active_token = ACTIVE.set(backend)
    policy_token = POLICY.set(policy)
    try:
        return fn(*args, **kwargs)
    finally:
        POLICY.reset(policy_token)
        ACTIVE.reset(active_token)
