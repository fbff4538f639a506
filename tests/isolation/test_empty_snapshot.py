"""The snapshot of a guest that left no file (child.save_guest_files' short archive) reads as
the one tarfile writes for the same tree: whatever the guest left, the parent gets the same
files and links from either; the short archive is taken exactly for trees of directories
that can all be listed."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posixbackend.isolation import Pool, child
from posixbackend.isolation.archive import ArchiveReader, ChannelEnded, Snapshot
from posixbackend.isolation.child import EMPTY_SNAPSHOT, save_guest_files, save_whole_snapshot
from vfs import Identity, MemoryFileSystem


class BytesSource:
    """The archive's bytes, read as the parent reads its channel."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.at = 0

    def read(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            received = len(self.data) - self.at
            self.at = len(self.data)
            raise ChannelEnded(received)
        chunk = bytes(self.data[self.at : self.at + size])
        self.at += size
        return chunk


def read(data: bytes) -> Snapshot:
    return ArchiveReader(BytesSource(data), largest_file=1 << 20).read()


NAMES = st.sampled_from(["a", "b", "tmp", "deep"])
# what a guest may leave at a path below a directory it made: more directories, a file, a
# symbolic link; and a directory it can no longer list
KINDS = st.sampled_from(["dir", "dir", "dir", "file", "link", "locked"])
TREES = st.lists(st.tuples(st.lists(NAMES, min_size=1, max_size=3), KINDS), max_size=6)


GUEST = Identity(1000, 1000, frozenset())


def build(tree: list[tuple[list[str], str]]) -> tuple[MemoryFileSystem, set[str]]:
    """A guest's memory (a user's: no permission check bypassed) holding ``tree``: each path
    made with the kind given (its parents as directories, where nothing else is there); with
    the kinds made."""
    memory = MemoryFileSystem(identity=GUEST)
    memory.mkdir("/tmp", 0o1777)
    locked: list[str] = []
    made = set()
    for names, kind in tree:
        path = ""
        for name in names[:-1]:
            path += f"/{name}"
            found = memory.probe(path, False)
            if found is None:
                memory.mkdir(path, 0o755)
            elif not stat.S_ISDIR(found.st_mode):
                break
        else:
            path += f"/{names[-1]}"
            if memory.probe(path, False) is None:
                _make(memory, path, kind, locked)
                made.add(kind)
    for path in reversed(locked):  # (after what was made below them)
        memory.chmod(path, 0)
    return memory, made


def _make(memory: MemoryFileSystem, path: str, kind: str, locked: list[str]) -> None:
    if kind in ("dir", "locked"):
        memory.mkdir(path, 0o755)
        if kind == "locked":
            locked.append(path)
    elif kind == "file":
        with memory.open(path, os.O_WRONLY | os.O_CREAT, 0o644) as handle:
            handle.pwrite(path.encode(), 0)
    else:
        memory.symlink("/tmp", path)


def outcome(save: Callable[[MemoryFileSystem, io.BytesIO], None], memory: MemoryFileSystem) -> Any:
    """What the parent gets from ``save``'s archive of ``memory``, or the error it raised."""
    out = io.BytesIO()
    try:
        save(memory, out)
    except OSError as error:
        return type(error), error.errno, error.filename
    return read(out.getvalue()), out.getvalue() == EMPTY_SNAPSHOT  # (whether it was short)


@settings(max_examples=200, deadline=None)
@given(TREES)
def test_either_archive_gives_the_parent_the_same_files(tree: list[tuple[list[str], str]]) -> None:
    memory, made = build(tree)
    short = outcome(save_guest_files, memory)
    whole = outcome(save_whole_snapshot, memory)
    assert short[:-1] == whole[:-1]  # the same snapshot, or the same error
    # the short archive exactly where the guest left nothing but directories it can list
    assert (short[-1] is True) is (made <= {"dir"})
    if made <= {"dir"}:
        assert short[0] == Snapshot({}, {})


def test_a_directory_that_cannot_be_listed_takes_the_whole_archive() -> None:
    memory, _ = build([(["hidden"], "locked")])
    out = io.BytesIO()
    with pytest.raises(PermissionError):  # as tarfile's walk: nothing hides behind it
        save_guest_files(memory, out)


def test_pooled_guests_that_leave_directories_or_files_get_what_they_left() -> None:
    made_directories = "import os\nos.makedirs('/tmp/a/b/c')\nos.mkdir('d')\n"
    made_file = made_directories + "open('/tmp/a/b/c/f', 'w').write('x')\n"
    made_link = made_directories + "os.symlink('/tmp', '/tmp/a/l')\n"
    with Pool(1) as pool:
        results = [pool.submit(code).result() for code in (made_directories, made_file, made_link)]
    assert [result.ok for result in results] == [True, True, True], results
    assert results[0].files == {}
    assert results[1].files == {"/tmp/a/b/c/f": b"x"}
    assert results[2].files == {}


@pytest.mark.parametrize("error", [PermissionError(13, "denied"), MemoryError()])
def test_a_walk_that_fails_takes_the_whole_archive(
    monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    """A tree the check cannot walk (a directory taken away, memory run out after a memory
    bomb) is not called empty: the child then sends its finished frame and tries tarfile's
    archive, as before."""
    memory, _ = build([(["a", "b"], "dir")])

    def failing(path: str) -> list[object]:
        raise error

    monkeypatch.setattr(memory, "scandir", failing)
    assert child._holds_no_file(memory) is False
