"""``importlib.resources`` for modules of the virtual file system.

A :class:`VirtualTraversable` names a path on a bound backend; opening one reads the whole
file through that backend, so resources stay readable after the block that imported the
module has ended. ``importlib.resources.as_file`` copies one to a temporary file of whichever
backend serves the caller then. :class:`ZipReader` serves a package in a virtual zip archive.

The loaders import this module when a reader is first asked for (by ``importlib.resources``,
which is then imported already): its bases bring ``importlib.resources`` with ``tempfile``,
``shutil`` and ``zipfile``, which no start-up needs.
"""

from __future__ import annotations

import io
import os
import posixpath
import zipfile
from collections.abc import Iterator
from importlib.resources.abc import Traversable, TraversableResources
from typing import IO, Any

from posixbackend.imports import served as files


class VirtualTraversable(Traversable):
    """A file or directory of a backend, as ``importlib.resources`` walks them."""

    def __init__(self, served: Any, path: str) -> None:
        self._served = served
        self._path = path

    @property
    def name(self) -> str:
        return posixpath.basename(self._path)

    def iterdir(self) -> Iterator[VirtualTraversable]:
        for entry in sorted(self._served.listdir(self._path)):
            yield VirtualTraversable(self._served, posixpath.join(self._path, entry))

    def is_dir(self) -> bool:
        return files.is_directory(self._served, self._path)

    def is_file(self) -> bool:
        return files.is_file(self._served, self._path)

    def joinpath(self, *descendants: str | os.PathLike[str]) -> VirtualTraversable:
        path = self._path
        for descendant in descendants:
            path = posixpath.join(path, os.fspath(descendant))
        return VirtualTraversable(self._served, path)

    def __truediv__(self, child: str | os.PathLike[str]) -> VirtualTraversable:
        return self.joinpath(child)

    def read_bytes(self) -> bytes:
        return files.read_file(self._served, self._path)

    def read_text(self, encoding: str | None = None) -> str:
        with self.open("r", encoding=encoding) as stream:
            text: str = stream.read()
        return text

    def open(self, mode: str = "r", *args: Any, **kwargs: Any) -> IO[Any]:
        if mode not in ("r", "rb"):
            raise ValueError(f"invalid mode for a resource: {mode!r} (only 'r' and 'rb')")
        data = io.BytesIO(files.read_file(self._served, self._path))
        if mode == "rb":
            return data
        return io.TextIOWrapper(data, *args, **kwargs)

    def __repr__(self) -> str:
        return f"VirtualTraversable({self._path!r})"


class VirtualReader(TraversableResources):
    """The resource reader of a virtual module: the directory its file is in."""

    def __init__(self, served: Any, directory: str) -> None:
        self._served = served
        self._directory = directory

    def files(self) -> VirtualTraversable:
        return VirtualTraversable(self._served, self._directory)


class ZipReader(TraversableResources):
    """Resources of a package in a virtual zip archive, from a copy of its bytes."""

    def __init__(self, data: bytes, directory: str) -> None:
        self._zip = zipfile.ZipFile(io.BytesIO(data))
        self._directory = directory

    def files(self) -> Any:
        return zipfile.Path(self._zip, at=self._directory + "/")
