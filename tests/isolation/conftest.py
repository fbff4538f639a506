"""Fixtures of the isolation tests: host traces a guest must not leave, and a listener it
must not reach."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.isolation.pooling import traces  # noqa: F401 - the pool tests' fixture


@pytest.fixture
def marker() -> Iterator[Path]:
    """A unique host path under /tmp that a contained guest can never create."""
    path = Path("/tmp") / f"posixbackend-isolation-marker-{uuid.uuid4().hex}"
    yield path
    assert not path.exists(), f"the guest wrote {path} on the host"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP socket listening on 127.0.0.1 in this (the parent) process; the test fails if
    anything connected to it by the end."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    try:
        yield server
        assert _accepted(server) is None, "the guest connected to the parent's listener"
    finally:
        server.close()


def _accepted(server: socket.socket) -> tuple[str, int] | None:
    """The address of a connection waiting on ``server``, or None when there is none."""
    try:
        connection, address = server.accept()
    except BlockingIOError:
        return None
    connection.close()
    host, port = address
    return str(host), int(port)
