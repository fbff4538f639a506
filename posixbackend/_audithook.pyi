"""Types of posixbackend/_audithook.c (see posixbackend/audithooks.py, which uses it)."""

from collections.abc import Callable, Mapping, Set
from typing import Any

def add_filtered_hook(
    hook: Callable[[str, tuple[Any, ...]], object],
    events: Mapping[str, object] | Set[str],
    prefixes: tuple[str, ...],
    /,
) -> None: ...
