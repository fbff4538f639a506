"""Names that cannot be encoded for the OS (a lone surrogate such as ``'\\ud800'``).

Real ``os`` functions fail while converting such an argument, with the UnicodeEncodeError of
the file system encoding: nothing is created. The emulated backend must fail the same way,
before its provider sees the name, on every path (the C accelerator's included), so that no
such name is ever stored to break ``listdir(b'/')``, ``os.walk(b'/')`` or a snapshot later.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from posixbackend.emulated import EmulatedBackend
from posixbackend.emulated.accelerator import AVAILABLE
from vfs import MemoryFileSystem

BAD = "\ud800"
CALLS: dict[str, Callable[[Any], object]] = {
    "open relative": lambda o: o.open(BAD, os.O_RDWR | os.O_CREAT, 0o644),
    "open absolute": lambda o: o.open("/" + BAD, os.O_RDWR | os.O_CREAT, 0o644),
    "open deeper": lambda o: o.open("/tmp/a" + BAD + "b", os.O_RDONLY),
    "stat absolute": lambda o: o.stat("/" + BAD),
    "stat relative": lambda o: o.stat(BAD),
    "lstat": lambda o: o.lstat(BAD),
    "mkdir": lambda o: o.mkdir("x" + BAD),
    "rename to": lambda o: o.rename("/tmp", "/" + BAD),
    "rename from": lambda o: o.rename(BAD, "/nowhere"),
    "symlink target": lambda o: o.symlink(BAD, "/tmp/link"),
    "symlink name": lambda o: o.symlink("/tmp", BAD),
    "link": lambda o: o.link("/tmp", BAD),
    "listdir": lambda o: o.listdir(BAD),
    "chdir": lambda o: o.chdir(BAD),
    "unlink": lambda o: o.unlink(BAD),
    "access": lambda o: o.access(BAD, os.F_OK),
}


def failure(call: Callable[[], object]) -> tuple[type[BaseException], tuple[Any, ...], str]:
    """The exception ``call`` raised: its class, args and message."""
    with pytest.raises(Exception) as caught:  # compared in full by the caller
        call()
    return type(caught.value), caught.value.args, str(caught.value)


@pytest.mark.parametrize("accelerated", [False, True] if AVAILABLE else [False])
@pytest.mark.parametrize("name", CALLS)
def test_the_backend_refuses_the_name_as_os_does(name: str, accelerated: bool) -> None:
    fs = MemoryFileSystem()
    fs.mkdir("/tmp")
    backend = EmulatedBackend(fs, accelerated=accelerated, standard_streams=False)
    for _ in range(2):  # twice: the second time a path may be served from the caches
        expected = failure(lambda: CALLS[name](os))
        assert expected[0] is UnicodeEncodeError
        assert failure(lambda: CALLS[name](backend)) == expected
    assert fs.listdir("/") == ["tmp"] and fs.listdir("/tmp") == []


def test_listing_and_walking_with_bytes_keep_working() -> None:
    fs = MemoryFileSystem()
    backend = EmulatedBackend(fs, standard_streams=False)
    for call in CALLS.values():
        try:
            call(backend)
        except UnicodeEncodeError:
            continue
    backend.mkdir("/caf\xe9")
    backend.close(backend.open("/caf\xe9/\udcff", os.O_WRONLY | os.O_CREAT))  # surrogateescape
    assert backend.listdir(b"/") == ["caf\xe9".encode()]
    assert backend.listdir(b"/caf\xc3\xa9") == [b"\xff"]
