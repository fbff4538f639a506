"""Types of posixbackend/_standin.c (see posixbackend/switch/standins.py, which uses it)."""

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, final

@final
class StandIn:
    _native: Callable[..., Any]
    _method: str
    _name: str
    __wrapped__: Callable[..., Any]
    __qualname__: str
    def __new__(cls, native: Callable[..., Any], method: str, name: str) -> StandIn: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def __reduce__(self) -> str: ...

def configure(
    active: ContextVar[Any],
    anchors: dict[int, Any],
    serve: Callable[..., Any],
    prefixes: list[str],
    /,
) -> None: ...
def set_pending(flag: bool, /) -> None: ...
def builtin_stand_in(
    module_name: str, name: str, native: Callable[..., Any], method: str, /
) -> Callable[..., Any] | None: ...
def stand_in_parts(object: object, /) -> tuple[Callable[..., Any], str, str] | None: ...
def copy_candidates(
    modules: list[tuple[str, Any]], wanted: dict[int, Any], /
) -> list[tuple[str, Any]]: ...
