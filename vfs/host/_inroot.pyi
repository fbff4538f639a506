import posix
from collections.abc import Callable

def open(
    root: int, fallback: Callable[[str, int, int], int], path: str, flags: int, mode: int
) -> int: ...
def stat(
    root: int, fallback: Callable[[str, int, int], int], path: str, flags: int
) -> posix.stat_result: ...
def configure(path_flags: int, open_flags: int, resolve: int) -> None: ...
