"""The file system backend('managed') gets by default: memory, shaped like a small system, with
the interpreter's library readable at its real paths."""

from __future__ import annotations

import errno
import importlib.resources
import inspect
import json
import os
import posix
import stat
import sys
import traceback
from pathlib import Path

import pytest

from posixbackend import backend
from posixbackend.defaultfs import default_file_system, library_directories
from posixbackend.permissions.policy import Permissions
from vfs import FileSystem


def test_tmp_home_and_the_cwd_exist_and_are_writable() -> None:
    here = posix.getcwd()
    home = posix.environ[b"HOME"].decode()
    with backend("managed"):
        assert os.getcwd() == here
        tmp = os.stat("/tmp")
        assert stat.S_ISDIR(tmp.st_mode) and stat.S_IMODE(tmp.st_mode) == 0o1777
        for directory in (home, here, "/tmp"):
            Path(directory, "pb-probe").write_text("x")
            assert Path(directory, "pb-probe").read_text() == "x"
        assert os.stat(here).st_uid == posix.geteuid()
    assert not posix.access(os.path.join(here, "pb-probe"), posix.F_OK), "the host changed"


def test_the_library_is_readable_so_source_lines_work() -> None:
    with backend("managed"):
        source = inspect.getsource(json.dumps)
        try:
            json.loads("{")
        except json.JSONDecodeError:
            formatted = traceback.format_exc()
        package_text = importlib.resources.files("json").joinpath("__init__.py").read_text()
    assert source.startswith("def dumps(")
    assert "raise JSONDecodeError" in formatted or "obj, end = " in formatted, formatted
    assert "JSONDecoder" in package_text


def test_the_library_is_read_only() -> None:
    library = os.path.dirname(json.__file__)
    with backend("managed"), pytest.raises(OSError) as caught:
        Path(library, "pb-probe.py").write_text("x")
    assert caught.value.errno == errno.EROFS
    assert not posix.access(os.path.join(library, "pb-probe.py"), posix.F_OK)


def test_library_directories_never_hide_the_writable_ones(tmp_path: Path) -> None:
    inner = tmp_path / "lib"
    inner.mkdir()
    sys.path.insert(0, str(tmp_path))
    sys.path.insert(0, "/tmp")
    try:
        shown = library_directories(str(tmp_path / "work"), ("/tmp",))
    finally:
        sys.path.remove(str(tmp_path))
        sys.path.remove("/tmp")
    assert "/tmp" not in shown and str(tmp_path) not in shown
    for path in shown:
        assert not any(path.startswith(other + "/") for other in shown), "nested mounts"


def test_the_memory_is_capped_as_a_default_tmpfs() -> None:
    """Half of physical memory for data, half as many inodes as that has pages: the sandbox
    presets and a plain managed block alike; ENOSPC, not MemoryError, once it is full."""
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    expected = (physical // 2 // 4096, physical // 2 // 4096)
    with backend("managed"):
        status = os.statvfs("/tmp")
        assert (status.f_blocks, status.f_files) == expected
    sandbox = Permissions.sandbox().allow_io
    assert isinstance(sandbox, FileSystem)
    status = sandbox.statvfs("/tmp")
    assert (status.f_blocks, status.f_files) == expected


def test_the_cap_can_be_chosen_or_lifted() -> None:
    small, _ = default_file_system(max_bytes=64 * 1024, max_inodes=100)
    with backend("managed", file_system=small, cwd="/tmp"):
        with open("/tmp/f", "wb", buffering=0) as out:
            assert out.write(b"x" * 100_000) == 65536
            with pytest.raises(OSError) as caught:
                out.write(b"x")
        assert caught.value.errno == errno.ENOSPC
    lifted, _ = default_file_system(max_bytes=None, max_inodes=None)
    assert lifted.statvfs("/tmp").f_blocks == 1 << 28  # the report of an uncapped one


def test_the_directories_are_made_as_mkdir_p_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """/tmp sticky and root's; the home and current directories the user's, their missing
    parents root's 0755 ones; the library's mount points root's 0755 directories showing the
    host's files; a HOME written with a trailing slash, '.' or '..' names the directory it
    means."""
    me = (posix.geteuid(), posix.getegid())
    monkeypatch.setitem(posix.environ, b"HOME", b"/pb-home/./user/../user/")
    fs, cwd = default_file_system()

    def owner_and_mode(path: str) -> tuple[int, int, int]:
        st = fs.stat(path)
        assert stat.S_ISDIR(st.st_mode), path
        return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)

    assert owner_and_mode("/tmp") == (0, 0, 0o1777)
    assert owner_and_mode("/pb-home") == (0, 0, 0o755)
    assert owner_and_mode("/pb-home/user") == (*me, 0o755)
    assert owner_and_mode(cwd) == (*me, 0o755)
    assert fs.listdir("/pb-home/user") == []
    libraries = library_directories(cwd, ("/tmp", "/pb-home/user"))
    assert libraries, "the interpreter's library is shown"
    for library in libraries:
        assert sorted(fs.listdir(library)) == sorted(os.listdir(library))
        above = os.path.dirname(library)
        while above not in ("/", cwd, "/tmp", "/pb-home/user") and not cwd.startswith(above):
            assert owner_and_mode(above) == (0, 0, 0o755), above
            above = os.path.dirname(above)
