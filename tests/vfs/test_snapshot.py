"""Snapshots: a tree saved to a PAX tar and loaded back is the same tree, to the nanosecond."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import tarfile
from typing import Any, cast

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
            blocks = st_.st_blocks if kind == stat.S_IFREG else None  # holes stay holes
            rows.append(
                (
                    path, kind, stat.S_IMODE(st_.st_mode), st_.st_nlink, st_.st_uid, st_.st_gid,
                    None if kind == stat.S_IFDIR else st_.st_size, st_.st_mtime_ns,
                    None if kind == stat.S_IFLNK else st_.st_atime_ns, extra, group, blocks,
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
        kind = draw(st.sampled_from(["dir", "file", "sparse", "symlink", "hardlink"]))
        if kind == "dir":
            fs.mkdir(path, 0o755)
            directories.append(path)
        elif kind == "file" or (kind == "hardlink" and not files):
            h = fs.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
            h.pwrite(draw(st.binary(max_size=64)), 0)
            h.close()
            files.append(path)
        elif kind == "sparse":  # holes anywhere: before, between and after the data
            h = fs.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
            h.truncate(draw(st.integers(0, 300_000)))
            for _ in range(draw(st.integers(0, 3))):
                h.pwrite(draw(st.binary(min_size=1, max_size=64)), draw(st.integers(0, 300_000)))
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


def sparse_tree() -> MemoryFileSystem:
    """Files whose holes are far bigger than their data: 100 MiB with 3 regions, one ending
    in a hole, one starting with data, one that is all hole; a hard link to the first."""
    fs = MemoryFileSystem(identity=Identity.root())
    fs.mkdir("/d")
    with fs.open("/d/big", os.O_CREAT | os.O_WRONLY, 0o640) as h:
        h.truncate(100 << 20)
        for offset in (5 << 20, (50 << 20) + 123, (100 << 20) - 30):
            h.pwrite(b"data at %d;" % offset, offset)
    with fs.open("/head", os.O_CREAT | os.O_WRONLY, 0o644) as h:
        h.pwrite(b"head" * 1000, 0)
        h.truncate(1 << 30)
    with fs.open("/void", os.O_CREAT | os.O_WRONLY, 0o644) as h:
        h.truncate(12345)
    fs.link("/d/big", "/d/again")
    return fs


def saved(fs: FileSystem, *, sparse: bool = True) -> io.BytesIO:
    buffer = io.BytesIO()
    save_snapshot(fs, buffer, sparse=sparse)
    buffer.seek(0)
    return buffer


def content(fs: FileSystem, path: str) -> list[tuple[int, bytes]]:
    """The non-zero 4 KiB pages of a file, by offset (reading a GiB of holes is quick)."""
    pages = []
    with fs.open(path, os.O_RDONLY) as handle:
        offset = 0
        while offset < handle.size():
            try:
                offset = handle.seek_data(offset, os.SEEK_DATA)
            except OSError:
                break
            end = handle.seek_data(offset, os.SEEK_HOLE)
            while offset < end:
                page = handle.pread(min(4096, end - offset), offset)
                if page.strip(b"\0"):
                    pages.append((offset, page))
                offset += len(page)
    return pages


def test_sparse_files_are_saved_and_loaded_with_their_holes() -> None:
    fs = sparse_tree()
    archive = saved(fs)
    assert len(archive.getvalue()) < 100_000  # 1.1 GiB of files, a few KiB of data
    with tarfile.open(fileobj=archive) as tar:
        members = {member.name: member for member in tar}
        big = members["d/again"]  # the first name in order carries the data
        assert big.pax_headers["GNU.sparse.major"] == "1"
        assert big.pax_headers["GNU.sparse.minor"] == "0"
        assert big.size == 100 << 20 and big.sparse is not None
        assert members["d/big"].islnk()
        assert cast(object, members["void"].sparse) == [(12345, 0)]  # typeshed says bytes
        data = tar.extractfile(big)
        assert data is not None
        data.seek((50 << 20) + 123)
        assert data.read(20) == b"data at 52428923;\0\0\0"
    archive.seek(0)
    loaded = load_snapshot(archive)
    assert tree_of(loaded) == tree_of(fs)
    for path in ("/d/big", "/head", "/void"):
        assert content(loaded, path) == content(fs, path)
        assert loaded.stat(path).st_blocks == fs.stat(path).st_blocks


def test_tar_itself_extracts_the_sparse_members(tmp_path: Any) -> None:
    if shutil.which("tar") is None:
        pytest.skip("no tar program here")
    (tmp_path / "archive.tar").write_bytes(saved(sparse_tree()).getvalue())
    (tmp_path / "out").mkdir()
    done = subprocess.run(
        ["tar", "-xf", str(tmp_path / "archive.tar"), "-C", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    big = tmp_path / "out" / "d" / "big"
    assert big.stat().st_size == 100 << 20
    assert big.stat().st_blocks * 512 < 1 << 20  # holes on disk too
    assert os.path.samefile(big, tmp_path / "out" / "d" / "again")
    with big.open("rb") as f:
        f.seek(5 << 20)
        assert f.read(16) == b"data at 5242880;"
    assert (tmp_path / "out" / "void").read_bytes() == bytes(12345)


def test_without_sparse_every_file_is_whole() -> None:
    fs = MemoryFileSystem(identity=Identity.root())
    with fs.open("/f", os.O_CREAT | os.O_WRONLY, 0o644) as h:
        h.truncate(3 << 20)
        h.pwrite(b"x", 1 << 20)
    archive = saved(fs, sparse=False)
    assert len(archive.getvalue()) > 3 << 20
    with tarfile.open(fileobj=archive) as tar:
        member = tar.getmember("f")
        assert member.sparse is None and member.size == 3 << 20
        assert not any(key.startswith("GNU.sparse") for key in member.pax_headers)
        data = tar.extractfile(member)
        assert data is not None and data.read() == bytes(1 << 20) + b"x" + bytes((2 << 20) - 1)


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


def test_each_owner_is_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user database is asked once per uid and gid, not once per member (a lookup that
    finds nothing reads every source the C library has: milliseconds in a pool's guest)."""
    asked: list[tuple[str, int]] = []

    def missing(kind: str) -> Any:
        def look_up(number: int) -> Any:
            asked.append((kind, number))
            raise KeyError(number)

        return look_up

    monkeypatch.setattr("pwd.getpwuid", missing("user"))
    monkeypatch.setattr("grp.getgrgid", missing("group"))
    fs = MemoryFileSystem(identity=Identity(1000, 1000))
    for name in ("a", "b", "c"):
        fs.open(f"/{name}", os.O_CREAT | os.O_WRONLY, 0o644).close()
    fs.mkdir("/d", 0o755)
    buffer = io.BytesIO()
    save_snapshot(fs, buffer)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        owners = {(member.uname, member.gname, member.uid) for member in tar.getmembers()}
    assert owners == {("", "", 1000)}
    assert sorted(asked) == [("group", 1000), ("user", 1000)]


def test_without_owner_names_no_user_database_is_read_and_owners_stay_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """owner_names=False (the isolated child's snapshot, whose reader ignores names): the
    members carry their ids and no names, and the archive loads with the same owners."""
    fs = MemoryFileSystem(identity=Identity.root())
    fs.mkdir("/d", 0o750)
    fs.open("/d/f", os.O_CREAT | os.O_WRONLY, 0o640).close()
    fs.chown("/d/f", 1234, 5678)
    fs.symlink("f", "/d/l")
    named, bare = io.BytesIO(), io.BytesIO()
    save_snapshot(fs, named)

    def refused(number: int) -> Any:
        raise AssertionError(f"the user database was read for {number}")

    monkeypatch.setattr("pwd.getpwuid", refused)
    monkeypatch.setattr("grp.getgrgid", refused)
    save_snapshot(fs, bare, owner_names=False)
    members = {}
    for buffer in (named, bare):
        buffer.seek(0)
        with tarfile.open(fileobj=buffer) as tar:
            members[buffer is bare] = {m.name: m for m in tar.getmembers()}
    assert (members[False]["."].uname, members[False]["."].gname) == ("root", "root")
    assert {(m.uname, m.gname) for m in members[True].values()} == {("", "")}
    # everything but the names is the same, member by member
    assert [(m.name, m.type, m.mode, m.uid, m.gid, m.linkname, m.size) for m in
            members[True].values()] == [
        (m.name, m.type, m.mode, m.uid, m.gid, m.linkname, m.size) for m in
        members[False].values()]  # fmt: skip
    assert (members[True]["d/f"].uid, members[True]["d/f"].gid) == (1234, 5678)
    loaded = MemoryFileSystem(identity=Identity.root())
    bare.seek(0)
    load_snapshot(bare, loaded)
    assert (loaded.stat("/d/f").st_uid, loaded.stat("/d/f").st_gid) == (1234, 5678)
    assert loaded.readlink("/d/l") == "f"


def test_without_empty_directories_only_the_ways_to_files_and_links_are_kept() -> None:
    fs = MemoryFileSystem(identity=Identity.root())
    for directory in ("/a", "/a/empty", "/a/b", "/a/b/c", "/d", "/d/e", "/f", "/f/g"):
        fs.mkdir(directory, 0o750)
    fs.open("/a/b/c/file", os.O_CREAT | os.O_WRONLY, 0o644).close()
    fs.symlink("/a/b/c/file", "/f/g/link")
    fs.open("/top", os.O_CREAT | os.O_WRONLY, 0o600).close()
    names = {}
    for empty_directories in (True, False):
        buffer = io.BytesIO()
        save_snapshot(fs, buffer, empty_directories=empty_directories)
        buffer.seek(0)
        with tarfile.open(fileobj=buffer) as tar:
            names[empty_directories] = [
                (member.name, member.mode) for member in tar.getmembers()
            ]
    assert names[False] == [
        (".", 0o755), ("a", 0o750), ("a/b", 0o750), ("a/b/c", 0o750), ("a/b/c/file", 0o644),
        ("f", 0o750), ("f/g", 0o750), ("f/g/link", 0o777), ("top", 0o600),
    ]  # fmt: skip
    assert set(names[False]) < set(names[True])
    assert {name for name, _ in names[True]} - {name for name, _ in names[False]} == {
        "a/empty", "d", "d/e",
    }  # fmt: skip


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
