"""Passing the active backend on to threads and thread-pool jobs started inside a block.

A new thread starts with an empty context, so without this a thread started in a managed
block would run natively: an escape hatch. ``Thread.start`` records the starter's backend and
the thread sets it before ``run``; ``ThreadPoolExecutor.submit`` runs each job under the
backend of the code that submitted it (a pool's threads outlive the block they started in).
asyncio tasks and ``asyncio.to_thread`` copy the whole context themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.thread import ThreadPoolExecutor
from typing import Any

from posixbackend.switch.active import ACTIVE, get_active

_ATTRIBUTE = "_posixbackend_active"


def thread_patches() -> list[tuple[type, str, Callable[..., Any]]]:
    """(class, attribute, stand-in) for every method this module replaces."""
    native_start = threading.Thread.start
    native_bootstrap = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]
    native_submit = ThreadPoolExecutor.submit

    def start(self: threading.Thread) -> None:
        backend = get_active()
        if backend is not None:
            self.__dict__[_ATTRIBUTE] = backend
        native_start(self)

    def _bootstrap_inner(self: threading.Thread) -> None:
        backend = self.__dict__.pop(_ATTRIBUTE, None)
        if backend is not None:
            ACTIVE.set(backend)
        native_bootstrap(self)

    def submit(
        self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future[Any]:
        return native_submit(self, _run_under, get_active(), fn, *args, **kwargs)

    for stand_in, native in (
        (start, native_start),
        (_bootstrap_inner, native_bootstrap),
        (submit, native_submit),
    ):
        stand_in.__doc__ = native.__doc__
        setattr(stand_in, "__wrapped__", native)  # noqa: B010 - mypy knows no such attribute
        stand_in.__qualname__ = native.__qualname__
    return [
        (threading.Thread, "start", start),
        (threading.Thread, "_bootstrap_inner", _bootstrap_inner),
        (ThreadPoolExecutor, "submit", submit),
    ]


def _run_under(backend: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run a pool job under the backend its submitter had (None: native)."""
    token = ACTIVE.set(backend)
    try:
        return fn(*args, **kwargs)
    finally:
        ACTIVE.reset(token)
