"""Snapshots: a tree saved to a PAX tar and loaded back is the same tree, to the nanosecond."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfs import HostFileSystem, Identity, MemoryFileSystem
from vfs.provider import FileSystem
from vfs.snapshot import SnapshotError, guest_path, load_snapshot, save_snapshot

NAMES = st.text(alphabet="abcé-_.x", min_size=1, max_size=6).filter(lambda n: n not in {".", ".."})
TIMES = st.integers(min_value=0, max_value=4_000_000_000_000_000_000)


def read_quietly(fs: FileSystem, path: str, flags: int = 0) -> Any:
    """A file's bytes or a directory's sorted names, read without moving atime (O_NOATIME)."""
    with fs.open(path, os.O_RDONLY | os.O_NOATIME | flags) as handle:
        if flags & os.O_DIRECTORY:
            return sorted(handle.listdir())
        return handle.pread(1 << 20, 0)


def tree_of(fs: FileSystem) -> list[tuple[Any, ...]]:
    """Every entry: path, kind, mode, owner, size, atime/mtime ns, content, hard-link group."""
    rows: list[tuple[Any, ...]] = []
    groups: dict[int, int] = {}
    pending = ["/"]
    while pending:
        directory = pending.pop()
        for name in read_quietly(fs, directory, os.O_DIRECTORY):
            path = directory.rstrip("/") + "/" + name
            st_ = fs.stat(path, False)
            kind = stat.S_IFMT(st_.st_mode)
            if kind == stat.S_IFDIR:
                pending.append(path)
                extra = None
            else:
                extra = fs.readlink(path) if kind == stat.S_IFLNK else read_quietly(fs, path)
            group = groups.setdefault(st_.st_ino, len(groups)) if st_.st_nlink > 1 else None
            rows.append(
                (
                    path, kind, stat.S_IMODE(st_.st_mode), st_.st_nlink, st_.st_uid, st_.st_gid,
                    None if kind == stat.S_IFDIR else st_.st_size, st_.st_mtime_ns,
                    None if kind == stat.S_IFLNK else st_.st_atime_ns, extra, group,
                )
            )  # fmt: skip
    root = fs.stat("/")
    rows.append(("/", stat.S_IMODE(root.st_mode), root.st_uid, root.st_mtime_ns, root.st_atime_ns))
    return rows


def round_trip(fs: FileSystem) -> FileSystem:
    buffer = io.BytesIO()
    save_snapshot(fs, buffer)
    buffer.seek(0)
    return load_snapshot(buffer)


@st.composite
def trees(draw: st.DrawFn) -> MemoryFileSystem:
    """A MemoryFileSystem with nested directories, files, links, odd modes, owners and times."""
    fs = MemoryFileSystem(identity=Identity.root())
    directories = ["/"]
    files: list[str] = []
    for _ in range(draw(st.integers(1, 14))):
        parent = draw(st.sampled_from(directories))
        path = parent.rstrip("/") + "/" + draw(NAMES)
        try:
            fs.stat(path, False)
            continue
        except FileNotFoundError:
            pass
        kind = draw(st.sampled_from(["dir", "file", "symlink", "hardlink"]))
        if kind == "dir":
            fs.mkdir(path, 0o755)
            directories.append(path)
        elif kind == "file" or (kind == "hardlink" and not files):
            h = fs.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
            h.pwrite(draw(st.binary(max_size=64)), 0)
            h.close()
            files.append(path)
        elif kind == "symlink":
            fs.symlink(draw(st.sampled_from(["x", "/abs/target", "../up", "a/b/"])), path)
        else:
            fs.link(draw(st.sampled_from(files)), path, False)
            continue  # metadata is the first name's
        fs.chown(path, draw(st.integers(0, 70000)), draw(st.integers(0, 70000)), False)
        if kind != "symlink":
            fs.chmod(path, draw(st.integers(0, 0o7777)) | (0o700 if kind == "dir" else 0), False)
        fs.utime(path, (draw(TIMES), draw(TIMES)), False)
    for directory in directories[1:]:
        fs.utime(directory, (draw(TIMES), draw(TIMES)), False)
    return fs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees())
def test_round_trip_keeps_everything(fs: MemoryFileSystem) -> None:
    assert tree_of(round_trip(fs)) == tree_of(fs)


def test_pax_records_carry_nanoseconds_and_names() -> None:
    fs = MemoryFileSystem(identity=Identity.root())
    h = fs.open("/f", os.O_CREAT | os.O_WRONLY, 0o640)
    h.close()
    fs.utime("/f", (1_500_000_000_123_456_789, 1_600_000_000_987_654_321))
    fs.chown("/f", 0, 0)
    buffer = io.BytesIO()
    save_snapshot(fs, buffer)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        member = tar.getmember("f")
    assert member.pax_headers["mtime"] == "1600000000.987654321"
    assert member.pax_headers["atime"] == "1500000000.123456789"
    assert (member.uname, member.gname) == ("root", "root")
    assert member.mode == 0o640


def test_host_tree_round_trip(tmp_path: Any) -> None:
    root = tmp_path / "tree"
    (root / "d" / "e").mkdir(parents=True)
    (root / "d" / "f").write_bytes(b"data")
    os.link(root / "d" / "f", root / "g")
    os.symlink("d/f", root / "l")
    os.chmod(root / "d" / "e", 0o1750)
    os.utime(root / "d", ns=(1, 2_000_000_003))
    with HostFileSystem(str(root)) as host:
        loaded = round_trip(host)
        assert tree_of(loaded) == tree_of(host)


def archive(*members: tuple[str, str, bytes | str]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                assert isinstance(payload, bytes)
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "lnk": tarfile.LNKTYPE}[
                kind
            ]
            if isinstance(payload, str):
                info.linkname = payload
            tar.addfile(info)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize(
    "members",
    [
        [("../escape", "file", b"x")],
        [("a/../../escape", "file", b"x")],
        [("link", "sym", "/"), ("link/etc-passwd", "file", b"x")],
        [("f", "file", b""), ("f/under", "file", b"x")],
        [("fifo", "fifo", b"")],
        [("d", "dir", b""), ("d", "file", b"x")],
    ],
    ids=["dotdot", "dotdot-inside", "through-symlink", "below-file", "fifo", "replace-dir"],
)
def test_unsafe_members_are_refused(members: list[tuple[str, str, Any]]) -> None:
    if members[0][1] == "fifo":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo("fifo")
            info.type = tarfile.FIFOTYPE
            tar.addfile(info)
        buffer.seek(0)
    else:
        buffer = archive(*members)
    with pytest.raises(SnapshotError, match="archive member"):
        load_snapshot(buffer)


def test_absolute_names_count_from_the_guest_root() -> None:
    loaded = load_snapshot(archive(("/etc/conf", "file", b"c"), ("./x/./y", "file", b"y")))
    assert sorted(loaded.listdir("/")) == ["etc", "x"]
    assert guest_path("/a//b/./c/../d") == "/a/b/d"
    h = loaded.open("/etc/conf", os.O_RDONLY)
    assert h.pread(10, 0) == b"c"
    h.close()


def test_hard_link_members_share_an_inode() -> None:
    loaded = load_snapshot(archive(("f", "file", b"1"), ("g", "lnk", "f")))
    assert loaded.stat("/f").st_ino == loaded.stat("/g").st_ino
    assert loaded.stat("/f").st_nlink == 2
