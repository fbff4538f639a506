"""mkdir -p, written once for providers and backends."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from vfs import MemoryFileSystem
from vfs.makedirs import make_directories


def test_makes_the_missing_directories_top_down() -> None:
    fs = MemoryFileSystem()
    fs.mkdir("/a", 0o755)
    assert make_directories(fs, "/a/b/c/", 0o700) == ["/a/b", "/a/b/c"]
    assert stat.S_IMODE(fs.stat("/a/b/c").st_mode) == 0o700
    assert make_directories(fs, "/a/b/c", 0o700) == []  # all there: one stat
    assert make_directories(fs, "/", 0o700) == []


def test_an_existing_file_is_left_for_the_next_step_to_report() -> None:
    fs = MemoryFileSystem()
    fs.open("/f", os.O_CREAT | os.O_WRONLY, 0o644).close()
    assert make_directories(fs, "/f", 0o755) == []
    with pytest.raises(NotADirectoryError) as below:
        make_directories(fs, "/f/x/y", 0o755)
    assert (below.value.errno, below.value.filename) == (errno.ENOTDIR, "/f/x")
