"""The guest's memory made from a template built once (a pool's zygote: guestfs.prepare_template)
is the tree the child would have built itself: the same directories, modes and owners, the
same mount points, the guest's files on top; and each copy is the guest's own."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posixbackend.defaultfs import library_directories
from posixbackend.isolation import guestfs
from posixbackend.isolation.guestfs import GuestFileSystem, guest_file_system
from vfs import FileSystem
from vfs.memory.template import MemoryTemplate

MEMORY = 256 << 20
LIBRARY = library_directories("/tmp", ["/tmp"])[0]
"""A library directory: a file or a working directory in it hides it (no mount there)."""
CWDS = ("/tmp", "/work/job", "/home/guest/project", "/usr/local/src", "/", f"{LIBRARY}/cwd")
PATHS = (
    "/data/in.txt", "/tmp/x", "/work/job/a/b.py", "/usr/share/doc/notes", "/top",
    f"{LIBRARY}/mine/x.py",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _no_templates() -> Iterator[None]:
    """Each test starts with no template and leaves none (the test process is no zygote)."""
    saved = dict(guestfs._templates)
    guestfs._templates.clear()
    yield
    guestfs._templates.clear()
    guestfs._templates.update(saved)


def _tree(fs: FileSystem, path: str = "/") -> Iterator[tuple[Any, ...]]:
    """Every entry below ``path`` of a memory file system: name, type, mode, owner, size,
    contents (inode numbers and times left out: a copy has its own)."""
    st_ = fs.stat(path, False)
    data = b""
    if stat.S_ISREG(st_.st_mode):
        with fs.open(path, os.O_RDONLY) as handle:
            data = handle.pread(st_.st_size, 0)
    yield path, stat.S_IFMT(st_.st_mode), stat.S_IMODE(st_.st_mode), st_.st_uid, st_.st_gid, data
    if stat.S_ISDIR(st_.st_mode):
        with fs.open(path, os.O_RDONLY | os.O_DIRECTORY) as directory:
            names = sorted(directory.listdir())
        for name in names:
            yield from _tree(fs, path.rstrip("/") + "/" + name)


def _seen(files: GuestFileSystem) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """The memory's tree, and what the guest sees at each of its directories (the names in
    it, and its type and owner through the Mount: mount points show the host's)."""
    tree = list(_tree(files.memory))
    through: dict[str, Any] = {}
    for path, kind, *_ in tree:
        if kind == stat.S_IFDIR:
            seen = files.namespace.stat(path, False)
            with files.namespace.open(path, os.O_RDONLY | os.O_DIRECTORY) as directory:
                through[path] = (sorted(directory.listdir()), seen.st_mode, seen.st_uid)
    return tree, through


def _new_copies(monkeypatch: pytest.MonkeyPatch) -> list[MemoryTemplate]:
    """The templates a copy is taken from from now on, one entry per copy."""
    used: list[MemoryTemplate] = []
    new = MemoryTemplate.new

    def counted(self: MemoryTemplate) -> Any:
        used.append(self)
        return new(self)

    monkeypatch.setattr(MemoryTemplate, "new", counted)
    return used


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cwd=st.sampled_from(CWDS),
    paths=st.sets(st.sampled_from(PATHS), max_size=3),
)
def test_a_copy_of_the_template_is_the_tree_the_child_builds(
    monkeypatch: pytest.MonkeyPatch, cwd: str, paths: set[str]
) -> None:
    files = {path: path.encode() * 3 for path in paths}
    guestfs._templates.clear()
    built = _seen(guest_file_system(cwd, files, None, MEMORY))
    guestfs.prepare_template(cwd, MEMORY)
    used = _new_copies(monkeypatch)
    copied = _seen(guest_file_system(cwd, files, None, MEMORY))
    assert copied == built
    # a copy unless a file's directory would hide a library directory (other mount points)
    kept = ["/tmp", *{os.path.dirname(path) for path in files}]
    same = library_directories(cwd, kept) == library_directories(cwd, ["/tmp"])
    assert len(used) == same
    monkeypatch.undo()


def test_the_usual_guest_takes_a_copy_and_each_copy_is_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guestfs.prepare_template("/tmp", MEMORY)
    used = _new_copies(monkeypatch)
    first = guest_file_system("/tmp", {"/data/in.txt": b"one"}, 1 << 20, MEMORY)
    second = guest_file_system("/tmp", {}, None, MEMORY)
    assert len(used) == 2
    # (the guest's /tmp holds the mount points of library directories under /tmp, if any:
    # a checkout below /tmp puts its own there)
    before = second.namespace.listdir("/tmp")
    with first.namespace.open("/tmp/mine", os.O_WRONLY | os.O_CREAT, 0o600) as handle:
        handle.pwrite(b"first's", 0)
    assert "mine" in first.namespace.listdir("/tmp")
    assert second.namespace.listdir("/tmp") == before
    assert "mine" not in before
    assert "data" not in second.namespace.listdir("/")
    with (  # the file size limit is the first guest's alone
        pytest.raises(OSError) as error,
        first.namespace.open("/tmp/big", os.O_WRONLY | os.O_CREAT, 0o600) as handle,
    ):
        handle.pwrite(b"x", 1 << 20)
    assert error.value.errno == errno.EFBIG
    # another memory limit, or another working directory: a tree of its own, no copy
    guest_file_system("/tmp", {}, None, MEMORY * 2)
    guest_file_system("/work", {}, None, MEMORY)
    assert len(used) == 2
