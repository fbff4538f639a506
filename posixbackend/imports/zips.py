"""Zip archives on ``sys.path`` in the virtual file system, as zipimport serves host ones.

An entry naming a zip file (or a directory inside one, as a package's search path does) is
searched in the archive's member list: packages, modules from source or bytecode, namespace
portions. The archive is read once through the backend it was found on and kept while its
mtime and size stay the same; modules, ``get_data`` and ``importlib.resources`` read from that
copy, so they keep working after the block.
"""

from __future__ import annotations

import errno
import importlib.abc
import importlib.util
import io
import marshal
import posixpath
import stat
import sys
import types
import zipfile
from importlib.machinery import ModuleSpec
from importlib.resources.abc import TraversableResources
from typing import Any, Final

from posixbackend.imports import served as files
from posixbackend.imports import sources

_external: Any = sys.modules["importlib._bootstrap_external"]
SUFFIXES: Final = (("/__init__.py", True, True), ("/__init__.pyc", True, False),
                   (".py", False, True), (".pyc", False, False))  # fmt: skip
"""(member suffix, is a package, is source), in zipimport's order."""


class Archive:
    """One zip archive's members, read whole through a backend."""

    def __init__(self, path: str, data: bytes, key: tuple[int, int]) -> None:
        self.path = path
        self.key = key
        self.zip = zipfile.ZipFile(io.BytesIO(data))
        self.names = frozenset(self.zip.namelist())
        self.directories = frozenset(
            name[: i + 1] for name in self.names for i, c in enumerate(name) if c == "/"
        )

    def read(self, member: str) -> bytes:
        return self.zip.read(member)


class Archives:
    """The archives of one backend, reread when their mtime or size changes."""

    def __init__(self) -> None:
        self._kept: dict[str, Archive] = {}

    def split(self, served: Any, entry: str) -> tuple[Archive, str] | None:
        """(the archive, the directory inside it) that ``entry`` names, if it names one."""
        path, inner = entry, ""
        while path and path != "/":
            try:
                st = served.stat(path)
            except NotADirectoryError:
                pass
            except (OSError, ValueError):
                return None
            else:
                if not stat.S_ISREG(st.st_mode):
                    return None
                archive = self._archive(served, path, (st.st_mtime_ns, st.st_size))
                return None if archive is None else (archive, inner)
            path, tail = posixpath.split(path)
            inner = posixpath.join(tail, inner) if inner else tail
        return None

    def _archive(self, served: Any, path: str, key: tuple[int, int]) -> Archive | None:
        kept = self._kept.get(path)
        if kept is not None and kept.key == key:
            return kept
        try:
            archive = Archive(path, files.read_file(served, path), key)
        except (OSError, zipfile.BadZipFile):
            return None
        self._kept[path] = archive
        return archive


def find_in_archive(
    archive: Archive, inner: str, fullname: str, tail: str
) -> tuple[ModuleSpec | None, str | None]:
    """(a module's spec, or a namespace portion) for ``tail`` in ``inner`` of ``archive``."""
    prefix = f"{inner}/{tail}" if inner else tail
    for suffix, package, _source in SUFFIXES:
        member = prefix + suffix
        if member in archive.names:
            loader = ZipLoader(archive, fullname, member)
            origin = f"{archive.path}/{member}"
            locations = [f"{archive.path}/{prefix}"] if package else None
            spec: ModuleSpec | None = _external.spec_from_file_location(
                fullname, origin, loader=loader, submodule_search_locations=locations
            )
            return spec, None
    if prefix + "/" in archive.directories:
        return None, f"{archive.path}/{prefix}"
    return None, None


class ZipLoader(importlib.abc.InspectLoader):
    """A module of a zip archive in the virtual file system."""

    def __init__(self, archive: Archive, fullname: str, member: str) -> None:
        self.archive = archive
        self.name = fullname
        self.member = member
        self.path = f"{archive.path}/{member}"

    def is_package(self, fullname: str) -> bool:
        return posixpath.basename(self.member).startswith("__init__.")

    def get_filename(self, fullname: str) -> str:
        return self.path

    def get_source(self, fullname: str) -> str | None:
        if not self.member.endswith(".py"):
            return None
        return str(importlib.util.decode_source(self.archive.read(self.member)))

    def get_code(self, fullname: str) -> types.CodeType:
        data = self.archive.read(self.member)
        if self.member.endswith(".py"):
            return compile(data, self.path, "exec", dont_inherit=True)
        details = {"name": fullname, "path": self.path}
        _external._classify_pyc(data, fullname, details)
        code = marshal.loads(memoryview(data)[16:])
        if not isinstance(code, types.CodeType):
            raise ImportError(f"Non-code object in {self.path!r}", **details)
        return code

    def exec_module(self, module: types.ModuleType) -> None:
        super().exec_module(module)
        sources.remember(self.path, self.get_source, self.name)

    def get_data(self, path: str) -> bytes:
        """A member's bytes, named by its path through the archive (as zipimport's)."""
        prefix = self.archive.path + "/"
        if not path.startswith(prefix) or path[len(prefix) :] not in self.archive.names:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        return self.archive.read(path[len(prefix) :])

    def get_resource_reader(self, fullname: str | None = None) -> ZipReader:
        return ZipReader(self.archive, posixpath.dirname(self.member))


class ZipReader(TraversableResources):
    """Resources of a package in a virtual zip archive."""

    def __init__(self, archive: Archive, directory: str) -> None:
        self._archive = archive
        self._directory = directory

    def files(self) -> Any:
        at = self._directory + "/" if self._directory else ""
        return zipfile.Path(self._archive.zip, at=at)


# It prints as zipimport's loader, whose place it takes for archives of the virtual file
# system (code checks ``type(loader).__name__``; see loaders.py).
ZipLoader.__name__ = ZipLoader.__qualname__ = "zipimporter"
