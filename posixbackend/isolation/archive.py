"""The snapshot archive as the parent reads it: a tar stream parsed here, with hard bounds.

The child writes the guest's memory file system with :func:`vfs.snapshot.save_snapshot`
(tarfile, PAX format) after the guest ran, so every byte of it may be forged. This reader
accepts what that writer produces and nothing else: ustar headers with a correct checksum;
PAX extended headers of known, well-formed records; directories, regular files, symbolic
links, and hard links to a file seen before; each member's name clean (no empty, ``.`` or
``..`` component, no NUL, within NAME_MAX and PATH_MAX) and below a directory seen before;
then the end-of-archive zero blocks. Sparse members, devices, FIFOs, GNU and global headers,
base-256 numbers and anything malformed are a :class:`ProtocolViolation`.

Nothing is allocated before it is bounded: headers are 512 bytes, PAX data at most
:data:`MAX_PAX` bytes, and a file's data is read once, straight into the bytes object the
result keeps, after its declared size was checked against the largest file the guest could
hold and against the bytes the parent still accepts (:class:`Oversized` beyond them).
"""

from __future__ import annotations

import re
from typing import Final, Protocol

import attrs

from posixbackend.isolation.frames import ProtocolViolation

BLOCK: Final = 512
RECORD: Final = 20 * BLOCK
"""tarfile pads an archive to a whole record of zeros after its two end blocks."""
MAX_PAX: Final = 16 << 10
"""The largest PAX extended header (a path and a link target of PATH_MAX, and the times)."""
MAX_MEMBERS: Final = 1 << 20
"""The most members a snapshot may have."""
NAME_MAX: Final = 255
PATH_MAX: Final = 4095
"""Bytes of one name component, and of a whole path (the kernel's limits, NUL excluded)."""
MAGIC: Final = b"ustar\x0000"
"""The POSIX magic and version tarfile writes in every header of a PAX archive."""

_PAX_TEXT: Final = frozenset({"path", "linkpath", "uname", "gname", "hdrcharset"})
_PAX_NUMBERS: Final = frozenset({"size", "uid", "gid"})
_PAX_TIMES: Final = frozenset({"mtime", "atime", "ctime"})
_TIME: Final = re.compile(rb"-?[0-9]{1,20}(?:\.[0-9]{1,20})?")
_NUMBER: Final = re.compile(rb"[0-9]{1,20}")
_OCTAL: Final = re.compile(rb" *([0-7]*)[ \0]*")

REGULAR: Final = (b"0", b"\0")
HARD_LINK: Final = b"1"
SYMLINK: Final = b"2"
DIRECTORY: Final = b"5"
PAX: Final = b"x"
_REFUSED_TYPES: Final = {
    b"S": "a sparse member",
    b"g": "a global PAX header",
    b"L": "a GNU long name member",
    b"K": "a GNU long link member",
    b"3": "a character device",
    b"4": "a block device",
    b"6": "a FIFO",
    b"7": "a contiguous file",
}


class Oversized(Exception):
    """The channel would carry more bytes than the parent accepts from this run."""


class ChannelEnded(Exception):
    """The stream ended (the child closed it, or was killed) before the bytes asked for."""

    def __init__(self, received: int) -> None:
        super().__init__(f"the stream ended after {received} more bytes")
        self.received = received


class Source(Protocol):
    """Where the channel's bytes come from."""

    def read(self, size: int) -> bytes:
        """Exactly ``size`` bytes; ChannelEnded at the end of the stream, ProtocolViolation
        when it breaks without ending."""
        ...  # pragma: no cover - a protocol


class Metered:
    """A source with a budget: a read that would pass it is Oversized, before anything is
    allocated for it."""

    def __init__(self, source: Source, budget: int) -> None:
        self.source = source
        self.remaining = budget
        self.received = 0

    def read(self, size: int) -> bytes:
        if size > self.remaining:
            raise Oversized(f"{self.received + size} bytes or more")
        data = self.source.read(size) if size else b""
        self.remaining -= size
        self.received += size
        return data


@attrs.frozen
class Snapshot:
    """The guest's files, as the archive gave them."""

    files: dict[str, bytes]
    """Every regular file by guest path; the names of one hard-linked file share one bytes."""
    links: dict[str, str]
    """Each further name of a hard-linked file -> its first name (a key of ``files``)."""


@attrs.define
class _Header:
    """One member's header, its PAX records applied."""

    kind: bytes
    name: bytes
    link: bytes
    size: int


class ArchiveReader:
    """Reads one snapshot archive from a metered source (one use)."""

    def __init__(self, source: Source, largest_file: int, members: int = MAX_MEMBERS) -> None:
        self.source = source
        self.largest_file = largest_file
        self.members = members
        self.files: dict[str, bytes] = {}
        self.links: dict[str, str] = {}
        self.directories: set[str] = set()
        self.seen: set[str] = set()

    def read(self) -> Snapshot:
        """The snapshot; ProtocolViolation, Oversized or ChannelEnded when it is not one."""
        while (snapshot := self.step()) is None:
            pass
        return snapshot

    def step(self) -> Snapshot | None:
        """Read one member (None), or the end of the archive (the snapshot).

        A step reads everything it needs before it changes anything here: one whose read
        fails (a source that has not received those bytes yet) can be run again from the
        same place, which is how the parent reads the channel as its bytes come
        (:class:`~posixbackend.isolation.channel.ChannelParser`)."""
        header = self._next_header()
        if header is None:
            if not self.seen:
                raise ProtocolViolation("an archive that does not start with its root directory")
            self._trailer()
            return Snapshot(self.files, self.links)
        if len(self.seen) >= self.members:
            raise ProtocolViolation(f"a snapshot of more than {self.members} members")
        self._member(header)
        return None

    # -- headers -------------------------------------------------------------------------------

    def _next_header(self) -> _Header | None:
        """The next member's header, or None at the end of the archive."""
        block = self.source.read(BLOCK)
        if block == bytes(BLOCK):
            return None
        header = _parse_block(block)
        if header.kind != PAX:
            return header
        records = _pax_records(self._data(header.size, MAX_PAX, "a PAX header"))
        block = self.source.read(BLOCK)
        if block == bytes(BLOCK):
            raise ProtocolViolation("a PAX header at the end of the archive")
        header = _parse_block(block)
        if header.kind == PAX:
            raise ProtocolViolation("two PAX headers in a row")
        _apply(records, header)
        return header

    def _data(self, size: int, largest: int, what: str) -> bytes:
        """A member's ``size`` bytes of data (then its padding, which must be zeros)."""
        if size > largest:
            raise ProtocolViolation(f"{what} of {size} bytes (at most {largest})")
        data = self.source.read(size)
        padding = -size % BLOCK
        if padding and self.source.read(padding) != bytes(padding):
            raise ProtocolViolation(f"{what} padded with bytes other than zeros")
        return data

    def _trailer(self) -> None:
        """After the first end block: zeros (the second end block, then up to a record of
        padding), then the end of the stream."""
        most = RECORD // BLOCK
        for count in range(most + 1):
            try:
                block = self.source.read(BLOCK)
            except ChannelEnded as ended:
                if ended.received:
                    raise ProtocolViolation("a partial block after the archive") from None
                return
            if count == most:
                raise ProtocolViolation("more than a record of zeros after the archive")
            if block != bytes(BLOCK):
                raise ProtocolViolation("data after the end of the archive")

    # -- members -------------------------------------------------------------------------------

    def _member(self, header: _Header) -> None:
        kind = header.kind
        if kind != DIRECTORY and header.name.endswith(b"/"):
            raise ProtocolViolation(f"a non-directory named like one: {_shown(header.name)}")
        if kind not in REGULAR and header.size:
            raise ProtocolViolation(f"a member without data declaring {header.size} bytes")
        if not self.seen:
            if kind != DIRECTORY or header.name.rstrip(b"/") != b".":
                raise ProtocolViolation("an archive that does not start with its root directory")
            self.seen.add("/")
            self.directories.add("/")
            return
        path = self._new_path(header.name.removesuffix(b"/") if kind == DIRECTORY else header.name)
        if kind == DIRECTORY:
            self.directories.add(path)
        elif kind in REGULAR:
            self.files[path] = self._data(header.size, self.largest_file, "a file")
        elif kind == HARD_LINK:
            linked = _guest_path(header.link)
            target = self.links.get(linked, linked)  # a link to a link: to the first name
            if target not in self.files:
                raise ProtocolViolation(
                    f"a hard link to {_shown(header.link)}, which is no file seen before"
                )
            self.files[path] = self.files[target]
            self.links[path] = target
        elif kind == SYMLINK:
            if not header.link or len(header.link) > PATH_MAX:
                raise ProtocolViolation(f"a symbolic link to {_shown(header.link)}")
        else:
            raise ProtocolViolation(_refused(kind))
        self.seen.add(path)

    def _new_path(self, name: bytes) -> str:
        """The guest path of a new member, below a directory seen before."""
        path = _guest_path(name)
        if path in self.seen:
            raise ProtocolViolation(f"a second member named {_shown(name)}")
        parent = path.rpartition("/")[0] or "/"
        if parent not in self.directories:
            raise ProtocolViolation(f"{_shown(name)} outside the directories seen before it")
        return path


def _refused(kind: bytes) -> str:
    return _REFUSED_TYPES.get(kind, f"a member of type {_shown(kind)}")


def _shown(raw: bytes) -> str:
    """A guest-chosen name as a message shows it: quoted, escaped, cut."""
    return repr(raw[:100].decode("utf-8", "backslashreplace"))


def _guest_path(name: bytes) -> str:
    """The absolute guest path of a member name; ProtocolViolation unless it is clean."""
    parts = name.split(b"/")
    if any(part in (b"", b".", b"..") for part in parts) or b"\0" in name:
        raise ProtocolViolation(f"a member named {_shown(name)}")
    if len(name) + 1 > PATH_MAX or any(len(part) > NAME_MAX for part in parts):
        raise ProtocolViolation(f"a member name too long: {_shown(name)}")
    return "/" + name.decode("utf-8", "surrogateescape")


def _parse_block(block: bytes) -> _Header:
    """A ustar header block's kind, name, link target and size."""
    if block[257:265] != MAGIC:
        raise ProtocolViolation("a block that is not a POSIX tar header")
    if _octal(block[148:156], "checksum") != sum(block[:148]) + 8 * 32 + sum(block[156:]):
        raise ProtocolViolation("a tar header with a wrong checksum")
    for start, end, field in ((100, 108, "mode"), (108, 116, "uid"), (116, 124, "gid"),
                              (136, 148, "mtime")):  # fmt: skip
        _octal(block[start:end], field)
    kind = block[156:157]
    if kind not in (*REGULAR, HARD_LINK, SYMLINK, DIRECTORY, PAX):
        raise ProtocolViolation(_refused(kind))
    name = _text(block[0:100])
    prefix = _text(block[345:500])
    return _Header(
        kind=kind,
        name=prefix + b"/" + name if prefix else name,
        link=_text(block[157:257]),
        size=_octal(block[124:136], "size"),
    )


def _text(field: bytes) -> bytes:
    """A NUL-terminated header field."""
    return field.partition(b"\0")[0]


def _octal(field: bytes, what: str) -> int:
    """An octal header number (base-256 numbers, which tarfile's PAX writer never makes, are
    refused)."""
    match = _OCTAL.fullmatch(field)
    if match is None:
        raise ProtocolViolation(f"a tar header whose {what} is not an octal number")
    return int(match.group(1) or b"0", 8)


def _pax_records(data: bytes) -> dict[str, bytes]:
    """The records of a PAX extended header: ``LENGTH KEY=VALUE\\n``, each key known, once."""
    records: dict[str, bytes] = {}
    position = 0
    while position < len(data):
        space = data.find(b" ", position, position + 8)
        length = data[position:space]
        if space < 0 or _NUMBER.fullmatch(length) is None or length.startswith(b"0"):
            raise ProtocolViolation("a malformed PAX record length")
        end = position + int(length)
        if end > len(data) or data[end - 1 : end] != b"\n":
            raise ProtocolViolation("a PAX record that does not end where its length says")
        key, equals, value = data[space + 1 : end - 1].partition(b"=")
        position = end
        if not equals:
            raise ProtocolViolation("a PAX record without '='")
        name = key.decode("ascii", "replace")
        if name.startswith("GNU.sparse"):
            raise ProtocolViolation("a sparse member (GNU.sparse PAX records)")
        if name not in _PAX_TEXT | _PAX_NUMBERS | _PAX_TIMES:
            raise ProtocolViolation(f"an unknown PAX record {name[:40]!r}")
        if name in records:
            raise ProtocolViolation(f"the PAX record {name!r} twice")
        pattern = _NUMBER if name in _PAX_NUMBERS else _TIME if name in _PAX_TIMES else None
        if pattern is not None and pattern.fullmatch(value) is None:
            raise ProtocolViolation(f"a PAX record {name!r} that is not a number")
        if b"\0" in value or (name == "hdrcharset" and value != b"BINARY"):
            raise ProtocolViolation(f"a malformed PAX record {name!r}")
        records[name] = value
    return records


def _apply(records: dict[str, bytes], header: _Header) -> None:
    """The PAX records that matter here, over the ustar fields they replace."""
    if "path" in records:
        header.name = records["path"]
    if "linkpath" in records:
        header.link = records["linkpath"]
    if "size" in records:
        header.size = int(records["size"])
