"""Where the batch command's result lines go: a file opened for appending, or stdout.

Each line is handed to the kernel in one ``write`` of the whole line (a line is never split
across calls but where the kernel itself wrote part: ENOSPC, a full pipe), so a run killed at
any moment leaves whole lines and at most one partial last line. ``--resume`` reads the ids of
the whole lines already there and cuts a partial last line off before appending.
"""

from __future__ import annotations

import json
import os
from typing import Any, BinaryIO

from posixbackend.isolation.jobs import id_key


class ResultsFileError(ValueError):
    """The results file to resume is not one the batch command wrote."""


class ResultsWriteError(OSError):
    """A result line could not be written (a full disk, a closed pipe...)."""


class ResultSink:
    """Writes result lines to a descriptor, one whole line per write."""

    def __init__(self, fd: int, *, owned: bool) -> None:
        self._fd = fd
        self._owned = owned

    @classmethod
    def to_file(cls, path: str, *, append: bool) -> ResultSink:
        """A sink appending to ``path`` (made if missing; emptied first unless ``append``)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        if not append:
            flags |= os.O_TRUNC
        return cls(os.open(path, flags, 0o644), owned=True)

    @classmethod
    def to_stream(cls, stream: BinaryIO) -> ResultSink:
        """A sink writing to ``stream``'s descriptor (flushed first); not closed with it."""
        stream.flush()
        return cls(stream.fileno(), owned=False)

    def write(self, line: dict[str, Any]) -> None:
        """Write ``line`` as one JSON line (non-ASCII kept as is, in UTF-8)."""
        data = memoryview((json.dumps(line, ensure_ascii=False) + "\n").encode())
        try:
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError as error:
            raise ResultsWriteError(error.errno, error.strerror) from error

    def close(self) -> None:
        if self._owned and self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __enter__(self) -> ResultSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def finished_keys(path: str) -> set[str]:
    """The ids (as :func:`~posixbackend.isolation.jobs.id_key` keys) of the whole result
    lines in ``path``, after cutting off a partial last line (a run killed mid-write); an
    empty set when there is no such file. ResultsFileError when a whole line is not a
    result line."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return set()
    whole = data.rfind(b"\n") + 1
    keys = set()
    for number, line in enumerate(data[:whole].splitlines(), 1):
        if not line.strip():
            continue
        try:
            result = json.loads(line)
        except ValueError:
            raise ResultsFileError(f"{path}, line {number}: not a JSON result line") from None
        if not isinstance(result, dict) or "id" not in result:
            raise ResultsFileError(f"{path}, line {number}: not a result line (no id)")
        keys.add(id_key(result["id"]))
    if whole < len(data):  # cut only once the file is known to be a results file
        os.truncate(path, whole)  # the partial line's job runs again
    return keys
