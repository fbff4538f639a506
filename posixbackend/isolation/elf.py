"""What the dynamic loader needs to load an ELF object: its interpreter, needed libraries and
search paths, read from the program headers and the dynamic section (never executed).

Only what finding a shared library's dependencies takes: ``PT_INTERP``, and from
``PT_DYNAMIC`` the ``DT_NEEDED`` names with ``DT_RPATH`` and ``DT_RUNPATH``. The string table
is found by its address, mapped to a file offset through the ``PT_LOAD`` segments, as the
loader maps it. Both classes (32 and 64 bit) and both byte orders are read; anything that is
not a well-formed ELF object gives None, never an exception.
"""

from __future__ import annotations

import posix
import struct

import attrs

MAGIC = b"\x7fELF"
PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3
DT_NULL = 0
DT_NEEDED = 1
DT_STRTAB = 5
DT_STRSZ = 10
DT_RPATH = 15
DT_RUNPATH = 29
MAX_HEADERS = 256
"""More program headers than any real object has (a bound on what a bad file makes us read)."""
MAX_DYNAMIC = 1 << 16
"""Bytes of dynamic section read at most."""
HEAD = 4096
"""Bytes read first: the ELF header and, in nearly every object, its program headers."""
WANTED_TAGS = frozenset({DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_RPATH, DT_RUNPATH})
MAX_STRING = 4096
"""The longest library name or search path read."""


@attrs.frozen
class ElfObject:
    """The loader-relevant facts of one ELF file."""

    machine: tuple[int, int, int]
    """(class, byte order, e_machine): objects load together only when these agree."""
    interpreter: str | None
    needed: tuple[str, ...]
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]


def _formats(elf_class: int, order: str) -> tuple[str, str, str]:
    """The struct formats of one ELF class and byte order: the header, a program header, a
    dynamic entry."""
    if elf_class == 2:
        return order + "16xHHIQQQIHHH", order + "IIQQQQQQ", order + "qQ"
    return order + "16xHHIIIIIHHH", order + "IIIIIIII", order + "iI"


def read_elf(path: str) -> ElfObject | None:
    """The facts of the ELF object at ``path`` (None if it is not one, or cannot be read)."""
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _parse(fd)
    except (OSError, struct.error, UnicodeDecodeError, ValueError):
        return None
    finally:
        posix.close(fd)


def _parse(fd: int) -> ElfObject | None:
    head = posix.pread(fd, HEAD, 0)  # the header, and the program headers of most objects
    ident = head[:64]
    if len(ident) < 52 or not ident.startswith(MAGIC) or ident[4] not in (1, 2):
        return None
    elf_class, data = ident[4], ident[5]
    order = {1: "<", 2: ">"}.get(data)
    if order is None:
        return None
    header, program_header, dynamic_entry = _formats(elf_class, order)
    fields = struct.unpack_from(header, ident)
    machine = fields[1]
    phoff, phentsize, phnum = fields[4], fields[8], fields[9]
    if phnum > MAX_HEADERS or phentsize < struct.calcsize(program_header):
        return None
    end = phoff + phentsize * phnum
    headers_data = head[phoff:end] if end <= len(head) else posix.pread(fd, end - phoff, phoff)
    headers = [
        _program_header(elf_class, struct.unpack_from(program_header, headers_data, start))
        for start in range(0, phentsize * phnum, phentsize)
        if start + phentsize <= len(headers_data)
    ]
    interpreter = None
    loads: list[tuple[int, int, int]] = []
    dynamic: tuple[int, int] | None = None
    for kind, offset, vaddr, filesz in headers:
        if kind == PT_INTERP:
            interpreter = posix.pread(fd, min(filesz, 4096), offset).split(b"\0")[0].decode()
        elif kind == PT_LOAD:
            loads.append((vaddr, filesz, offset))
        elif kind == PT_DYNAMIC:
            dynamic = (offset, filesz)
    needed: list[str] = []
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    if dynamic is not None:
        entries = _dynamic_entries(fd, dynamic_entry, *dynamic)
        start = _file_offset(loads, entries.get(DT_STRTAB, [0])[0])
        size = entries.get(DT_STRSZ, [0])[0]
        if start is not None and size:
            strings = _StringTable(fd, start, size)
            needed = [strings.string(offset) for offset in entries.get(DT_NEEDED, [])]
            rpath = strings.paths(entries.get(DT_RPATH, []))
            runpath = strings.paths(entries.get(DT_RUNPATH, []))
    return ElfObject((elf_class, data, machine), interpreter, tuple(needed), rpath, runpath)


def _program_header(elf_class: int, values: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(p_type, p_offset, p_vaddr, p_filesz) of either class's program header."""
    if elf_class == 2:  # p_type p_flags p_offset p_vaddr p_paddr p_filesz ...
        return values[0], values[2], values[3], values[5]
    return values[0], values[1], values[2], values[4]  # p_type p_offset p_vaddr p_paddr p_filesz


def _dynamic_entries(fd: int, entry: str, offset: int, size: int) -> dict[int, list[int]]:
    """The dynamic section's values of the tags read here, by tag (up to DT_NULL)."""
    data = posix.pread(fd, min(size, MAX_DYNAMIC), offset)
    usable = len(data) - len(data) % struct.calcsize(entry)
    found: dict[int, list[int]] = {}
    for tag, value in struct.iter_unpack(entry, data[:usable]):
        if tag == DT_NULL:
            break
        if tag in WANTED_TAGS:
            found.setdefault(tag, []).append(value)
    return found


def _file_offset(loads: list[tuple[int, int, int]], address: int) -> int | None:
    """Where the loaded address ``address`` lies in the file."""
    for vaddr, filesz, offset in loads:
        if vaddr <= address < vaddr + filesz:
            return address - vaddr + offset
    return None


class _StringTable:
    """The dynamic string table, read a string at a time (a library's can be megabytes)."""

    __slots__ = ("fd", "offset", "size")

    def __init__(self, fd: int, offset: int, size: int) -> None:
        self.fd = fd
        self.offset = offset
        self.size = size

    def string(self, offset: int) -> str:
        if not 0 <= offset < self.size:
            raise ValueError("string outside the string table")
        data = posix.pread(self.fd, min(MAX_STRING, self.size - offset), self.offset + offset)
        end = data.find(b"\0")
        if end < 0:
            raise ValueError("unterminated string")
        return data[:end].decode()

    def paths(self, offsets: list[int]) -> tuple[str, ...]:
        """The directories of DT_RPATH or DT_RUNPATH entries (colon-separated lists)."""
        return tuple(
            directory
            for offset in offsets
            for directory in self.string(offset).split(":")
            if directory
        )
