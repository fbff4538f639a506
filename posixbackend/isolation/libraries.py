"""The shared libraries a set of ELF objects needs, found as the dynamic loader finds them.

For each needed name: the object's ``DT_RPATH`` (when it has no ``DT_RUNPATH``), the
``LD_LIBRARY_PATH`` the process started with, its ``DT_RUNPATH``, the loader's cache
(``/etc/ld.so.cache``) and the standard directories -- the first file there of the same
class and machine. ``$ORIGIN`` is the object's own directory. The closure follows what each
found library needs in turn. A name found nowhere is left out (the loader would fail to load
the object anyway, confined or not).
"""

from __future__ import annotations

import posix
import posixpath
import struct
from collections.abc import Iterable, Mapping

from posixbackend.isolation.elf import ElfObject, read_elf

LOADER_CACHE = "/etc/ld.so.cache"
CACHE_MAGIC = b"glibc-ld.so.cache1.1"
CACHE_HEADER = 48
"""The new format's header: magic and version, nlibs, len_strings, flags, extension offset."""
CACHE_ENTRY = struct.Struct("=iIIIQ")
"""flags, key (the name's offset), value (the path's offset), osversion, hwcap."""
FLAG_ELF_LIBC6 = 0x0003
STANDARD_DIRECTORIES = ("/lib64", "/usr/lib64", "/lib", "/usr/lib")
"""The loader's own directories (the multiarch ones, e.g. /lib/x86_64-linux-gnu, come first)."""
ALWAYS_LOADED_LATER = ("libgcc_s.so.1",)
"""Libraries the C library opens by name while running (libgcc_s: pthread_exit and
pthread_cancel unwind with it; a thread ending at interpreter exit gets there)."""


def loader_cache(path: str = LOADER_CACHE) -> dict[str, list[str]]:
    """The loader's cache: each library name and its paths, in the cache's order (empty if
    there is no cache or it has a format this does not read)."""
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return {}
    try:
        size = posix.fstat(fd).st_size
        data = posix.pread(fd, min(size, 64 << 20), 0)
    finally:
        posix.close(fd)
    start = data.find(CACHE_MAGIC)
    if start < 0:
        return {}
    try:
        (count,) = struct.unpack_from("=I", data, start + len(CACHE_MAGIC))
        found: dict[str, list[str]] = {}
        for index in range(count):
            flags, key, value, _, _ = CACHE_ENTRY.unpack_from(
                data, start + CACHE_HEADER + index * CACHE_ENTRY.size
            )
            if flags & 0xFF != FLAG_ELF_LIBC6:
                continue
            name, library = _cstring(data, start + key), _cstring(data, start + value)
            found.setdefault(name, []).append(library)
    except (struct.error, UnicodeDecodeError, ValueError):
        return {}
    return found


def _cstring(data: bytes, offset: int) -> str:
    end = data.find(b"\0", offset)
    if end < 0:
        raise ValueError("string runs off the cache")
    return data[offset:end].decode()


class Resolver:
    """Finds needed libraries for objects of one machine (the interpreter's)."""

    def __init__(
        self,
        machine: tuple[int, int, int],
        cache: Mapping[str, list[str]],
        library_path: Iterable[str] = (),
    ) -> None:
        self.machine = machine
        self.cache = cache
        self.library_path = tuple(library_path)
        self._objects: dict[str, ElfObject | None] = {}
        self._searched: dict[tuple[str, ...], str | None] = {}
        self._standard_directories: list[str] | None = None

    def read(self, path: str) -> ElfObject | None:
        """The object at ``path`` (read once)."""
        if path not in self._objects:
            self._objects[path] = read_elf(path)
        return self._objects[path]

    def find(self, name: str, loader: str, elf: ElfObject) -> str | None:
        """Where the loader finds the library ``name`` that ``elf`` (at ``loader``) needs."""
        if "/" in name:
            return name if self._fits(name) else None
        directories: list[str] = []
        if not elf.runpath:
            directories += elf.rpath
        directories += self.library_path
        directories += elf.runpath
        if any("ORIGIN" in directory for directory in directories):
            origin = posixpath.dirname(real_path(loader))
            directories = [_expand(directory, origin) for directory in directories]
        key = (name, *directories)
        if key not in self._searched:  # most objects search the same places for libc
            candidates = [posixpath.join(directory, name) for directory in directories]
            candidates += self.cache.get(name, [])
            candidates += [posixpath.join(directory, name) for directory in self._standard()]
            self._searched[key] = next(filter(self._fits, candidates), None)
        return self._searched[key]

    def closure(self, roots: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
        """Every library the objects ``roots`` need, directly or not, with their loader,
        and the libraries named ``extra`` (which the C library opens later, found as the
        first root would find them); in the order found, none of ``roots``."""
        pending = list(roots)
        seen = set(pending)
        found: list[str] = []

        def add(path: str | None) -> None:
            if path is not None and path not in seen:
                seen.add(path)
                found.append(path)
                pending.append(path)

        first = self.read(pending[0]) if pending else None
        if first is not None:
            for name in extra:
                add(self.find(name, pending[0], first))
        while pending:
            loader = pending.pop()
            elf = self.read(loader)
            if elf is None:
                continue
            for name in elf.needed:
                add(self.find(name, loader, elf))
            if elf.interpreter is not None:
                add(elf.interpreter)
        return found

    def _fits(self, path: str) -> bool:
        elf = self.read(path)
        return elf is not None and elf.machine == self.machine

    def _standard(self) -> list[str]:
        """The loader's standard directories, the C library's own (multiarch) first."""
        if self._standard_directories is None:
            multiarch = [
                posixpath.dirname(library)
                for library in self.cache.get("libc.so.6", [])
                if self._fits(library)
            ]
            self._standard_directories = list(dict.fromkeys([*multiarch, *STANDARD_DIRECTORIES]))
        return self._standard_directories


def real_path(path: str) -> str:
    """``path`` with every symbolic link resolved, asked of the kernel with the real posix
    (this code also runs where os is the emulated backend's); ``path`` if it cannot be."""
    try:
        fd = posix.open(path, posix.O_PATH | posix.O_CLOEXEC)
    except OSError:
        return path
    try:
        return posix.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no /proc: resolved lexically, links left as they are
        return posixpath.normpath(path)
    finally:
        posix.close(fd)


def _expand(directory: str, origin: str) -> str:
    """A search directory with ``$ORIGIN`` (or ``${ORIGIN}``) replaced."""
    return directory.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)


def startup_library_path() -> list[str]:
    """The LD_LIBRARY_PATH this process was started with (the loader keeps using it)."""
    value = posix.environ.get(b"LD_LIBRARY_PATH", b"").decode(errors="surrogateescape")
    return [directory for directory in value.replace(";", ":").split(":") if directory]
