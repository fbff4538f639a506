"""A TCP server on 127.0.0.1 in the test's own process, for counting the connections made."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """The server: bound to a free port, listening, accepting with a short timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.3)
    yield server
    server.close()


def connections(server: socket.socket) -> int:
    """How many connections the server got (accepting and closing them)."""
    count = 0
    while True:
        try:
            server.accept()[0].close()
        except TimeoutError:
            return count
        count += 1
