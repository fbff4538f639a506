"""Result channel streams built byte by byte, well formed or forged, and a socket to read them
from as the parent does."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import attrs

from posixbackend.isolation.archive import BLOCK, MAGIC, RECORD
from posixbackend.isolation.channel import (
    Bounds,
    Channel,
    ChannelParser,
    SocketSource,
    read_channel,
)
from posixbackend.isolation.frames import HEADER, FrameWriter
from vfs import FileSystem
from vfs.snapshot import save_snapshot

CONFINED = {"applied": ["rlimits"], "not_applied": {"seccomp": "no"}}
FINISHED = {"status": 0, "exception": None, "limit": None}


def frame(kind: str, **fields: object) -> bytes:
    """A frame as the child writes it."""
    return raw_frame(json.dumps({"kind": kind, **fields}).encode())


def raw_frame(body: bytes) -> bytes:
    """A frame around any bytes."""
    return HEADER.pack(len(body)) + body


def started(**finished: object) -> bytes:
    """The confined frame, then a finished frame (``finished`` changes its fields)."""
    return frame("confined", **CONFINED) + frame("finished", **{**FINISHED, **finished})


def header(
    name: bytes | str = b"",
    kind: bytes = b"0",
    size: int | bytes = 0,
    link: bytes | str = b"",
    *,
    magic: bytes = MAGIC,
    checksum: int | None = None,
    prefix: bytes = b"",
) -> bytes:
    """A ustar header block with a correct checksum (unless one is given)."""
    name = name.encode() if isinstance(name, str) else name
    link = link.encode() if isinstance(link, str) else link
    size_field = size if isinstance(size, bytes) else b"%011o\0" % size
    block = bytearray(BLOCK)
    block[0:100] = name[:100].ljust(100, b"\0")
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = size_field[:12].ljust(12, b"\0")
    block[136:148] = b"00000000000\0"
    block[148:156] = b" " * 8
    block[156:157] = kind
    block[157:257] = link[:100].ljust(100, b"\0")
    block[257:265] = magic
    block[345:500] = prefix[:155].ljust(155, b"\0")
    total = sum(block) if checksum is None else checksum
    block[148:156] = b"%06o\0 " % total
    return bytes(block)


def padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def pax(*records: tuple[str, bytes | str] | bytes) -> bytes:
    """A PAX extended header with ``records`` (key, value) pairs (or raw record bytes)."""
    body = b""
    for record in records:
        if isinstance(record, bytes):
            body += record
            continue
        key, value = record
        value = value.encode() if isinstance(value, str) else value
        text = b" %s=%s\n" % (key.encode(), value)
        length = previous = 0
        while True:  # the length counts its own digits (as tarfile computes it)
            length = len(text) + len(str(previous))
            if length == previous:
                break
            previous = length
        body += str(length).encode() + text
    return header(b"././@PaxHeader", b"x", len(body)) + padded(body)


def member(name: str, data: bytes = b"", kind: bytes = b"0", link: str = "") -> bytes:
    """A regular file (or another kind of member) with its data."""
    return header(name, kind, len(data), link) + padded(data)


ROOT = header("./", b"5")
END = bytes(2 * BLOCK)


def archive(*members: bytes, end: bytes = END) -> bytes:
    """An archive: the root directory, ``members``, the end blocks padded to a record."""
    body = ROOT + b"".join(members) + end
    return body + bytes(-len(body) % RECORD)


def snapshot_of(fs: FileSystem) -> bytes:
    """The archive save_snapshot writes of ``fs``, through the child's FrameWriter."""
    read, write = socket.socketpair()
    chunks: list[bytes] = []

    def drain() -> None:
        while chunk := read.recv(1 << 20):
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    writer = FrameWriter(write.fileno())
    save_snapshot(fs, writer)  # type: ignore[arg-type]  # a write-only file, as in the child
    writer.end()
    write.close()
    reader.join()
    read.close()
    return b"".join(chunks)


@contextmanager
def feeding(data: bytes) -> Iterator[socket.socket]:
    """The parent's end of a socket pair whose other end writes ``data`` then closes."""
    parent, child = socket.socketpair()

    def write() -> None:
        try:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                child.sendall(data)  # (the reader may stop early and close its end)
        finally:
            child.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        yield parent
    finally:
        parent.close()
        writer.join()


def read(data: bytes, bounds: Bounds | None = None) -> Channel:
    """What the parent makes of ``data`` on its channel, read whole from a blocking socket;
    the same as what the parser makes of it fed in pieces of a few sizes (asserted)."""
    with feeding(data) as sock:
        whole = read_channel(SocketSource(sock), bounds or BOUNDS)
    for size in (1, 509, 1 << 16) if len(data) < 50_000 else (509, 1 << 16):
        pieces = parse_in_pieces(data, size, bounds or BOUNDS)
        assert comparable(pieces) == comparable(whole), (size, pieces, whole)
    return whole


def parse_in_pieces(data: bytes, size: int, bounds: Bounds) -> Channel:
    """What :class:`ChannelParser` makes of ``data`` fed ``size`` bytes at a time."""
    parser = ChannelParser(bounds)
    for start in range(0, len(data), size):
        parser.feed(data[start : start + size])
        if parser.done:
            break
    parser.end()
    return parser.channel


def comparable(channel: Channel) -> Channel:
    """``channel`` without the moment its confined frame came."""
    return attrs.evolve(channel, confined_at=None)


BOUNDS = Bounds(total=8 << 20, largest_file=4 << 20, reportable=frozenset({"memory", "wall"}))
