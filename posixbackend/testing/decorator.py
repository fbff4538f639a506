"""``@managed_fs``: a test function run inside its own managed block (pyfakefs's ``@patchfs``)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from posixbackend.testing.helper import ManagedFs

F = TypeVar("F", bound=Callable[..., Any])
PARAMETER = "managed_fs"
"""The parameter of the decorated function that receives the helper, if it has one."""


@overload
def managed_fs(function: F, /) -> F: ...


@overload
def managed_fs(function: None = None, /, **options: Any) -> Callable[[F], F]: ...


def managed_fs(function: F | None = None, /, **options: Any) -> F | Callable[[F], F]:
    """Run ``function`` inside a fresh :class:`ManagedFs` (``options`` are its keyword
    arguments), passing the helper as its ``managed_fs`` argument when it has one; the
    signature it shows (to pytest) lacks that parameter. ``@managed_fs`` or
    ``@managed_fs(umask=0o077, ...)``; coroutine functions get a coroutine function."""

    def decorate(inner: F) -> F:
        signature = inspect.signature(inner)
        wants = PARAMETER in signature.parameters
        shown = signature.replace(
            parameters=[p for name, p in signature.parameters.items() if name != PARAMETER]
        )
        if inspect.iscoroutinefunction(inner):

            @functools.wraps(inner)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with ManagedFs(**options) as helper:
                    if wants:
                        kwargs[PARAMETER] = helper
                    return await inner(*args, **kwargs)

            wrapper: Any = run_async
        else:

            @functools.wraps(inner)
            def run(*args: Any, **kwargs: Any) -> Any:
                with ManagedFs(**options) as helper:
                    if wants:
                        kwargs[PARAMETER] = helper
                    return inner(*args, **kwargs)

            wrapper = run
        wrapper.__signature__ = shown
        return wrapper  # type: ignore[no-any-return]

    if function is not None:
        if options:
            raise TypeError("@managed_fs(...) takes options only when called without a function")
        return decorate(function)
    return decorate
