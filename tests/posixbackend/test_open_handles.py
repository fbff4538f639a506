"""An inode's set of open handles exists only while a handle is open (vfs.memory.nodes
handles_of): the last close gives it back, on the Python path and on the accelerator's, and
no open racing with a close from another thread ever loses its handle.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from posixbackend.emulated import EmulatedBackend, accelerator
from tests.posixbackend.test_accelerator import CONTENT, make_backend
from tests.threads import run_threads, switch_often  # noqa: F401 - a fixture
from vfs.memory.handle import MemoryHandle
from vfs.memory.nodes import NO_HANDLES, Inode

BOTH = [
    False,
    pytest.param(
        True, marks=pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
    ),
]


def node_of(backend: EmulatedBackend, path: str) -> Inode:
    probe = backend.file_system.open(path, os.O_RDONLY)
    assert isinstance(probe, MemoryHandle)
    probe.close()
    return probe.node


def handle_of(backend: EmulatedBackend, fd: int) -> MemoryHandle:
    handle = backend._table.files[fd].handle
    assert isinstance(handle, MemoryHandle)
    return handle


@pytest.mark.parametrize("accelerated", BOTH)
def test_the_last_close_gives_the_set_back(accelerated: bool) -> None:
    backend = make_backend(accelerated)
    node = node_of(backend, "/d/f")
    assert node.handles is NO_HANDLES
    first = backend.open("/d/f", os.O_RDONLY)
    second = backend.open("/d/f", os.O_RDONLY)
    assert node.handles == {handle_of(backend, first), handle_of(backend, second)}
    backend.close(first)
    assert node.handles == {handle_of(backend, second)}
    backend.close(second)
    assert node.handles is NO_HANDLES
    direct = backend.file_system.open("/d/f", os.O_RDONLY)  # the provider's own close
    assert node.handles == {direct}
    direct.close()
    assert node.handles is NO_HANDLES


@pytest.mark.skipif(not accelerator.AVAILABLE, reason=accelerator.MISSING)
def test_a_file_no_handle_holds_is_opened_by_the_fast_path(monkeypatch: Any) -> None:
    """The accelerator's open makes the set itself (from a spare made ahead): a file closed
    and opened again never goes to the Python open."""
    backend = make_backend(True)
    backend.close(backend.open("/d/f", os.O_RDONLY))  # resolved once: in the path cache
    python_opens = []
    fs = backend.file_system
    original = fs.open_at

    def counted(*args: Any) -> Any:
        python_opens.append(args)
        return original(*args)

    monkeypatch.setattr(fs, "open_at", counted)
    for _ in range(3):
        fd = backend.open("/d/f", os.O_RDONLY)
        assert backend.read(fd, 1000) == CONTENT
        backend.close(fd)
    assert python_opens == []
    assert node_of(backend, "/d/f").handles is NO_HANDLES


@pytest.mark.parametrize("accelerated", BOTH)
@pytest.mark.usefixtures("switch_often")
def test_opens_racing_with_last_closes_keep_their_handles(accelerated: bool) -> None:
    """Threads open and close one file, each also on the provider's own path, while the set
    comes and goes: every open handle is in the set while it is open, and the file unlinked
    under them stays readable until the last close frees it."""
    backend = make_backend(accelerated)
    node = node_of(backend, "/d/f")
    fs = backend.file_system

    def churn(index: int) -> None:
        for _ in range(400):
            fd = backend.open("/d/f", os.O_RDONLY)
            handle = handle_of(backend, fd)
            direct = fs.open("/d/f", os.O_RDONLY)
            assert handle in node.handles and direct in node.handles, "an open handle lost"
            assert backend.pread(fd, 1000, 0) == CONTENT
            direct.close()
            backend.close(fd)

    run_threads(churn)
    assert node.handles is NO_HANDLES
    fd = backend.open("/d/f", os.O_RDONLY)
    backend.unlink("/d/f")
    assert backend.read(fd, 1000) == CONTENT, "an unlinked file is kept while it is open"
    assert not node.freed
    backend.close(fd)
    assert (node.freed, node.handles is NO_HANDLES) == (True, True)
