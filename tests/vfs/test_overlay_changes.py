"""changes(): what an overlay over a host directory changed, reviewed, then applied to it."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfs import HostFileSystem, Identity, MemoryFileSystem
from vfs.overlay import OverlayFileSystem
from vfs.overlay.changes import Action
from vfs.provider import FileSystem


def lay_out(root: Path) -> None:
    (root / "d" / "sub").mkdir(parents=True)
    (root / "d" / "f").write_bytes(b"f")
    (root / "d" / "sub" / "deep").write_bytes(b"deep")
    (root / "keep").write_bytes(b"unchanged")
    (root / "gone").mkdir()
    (root / "gone" / "x").write_bytes(b"x")
    (root / "opaque").mkdir()
    (root / "opaque" / "old").write_bytes(b"old")
    os.symlink("d/f", root / "lf")
    for path in [root, *root.rglob("*")]:
        os.utime(path, ns=(1_000_000_000, 1_000_000_000), follow_symlinks=False)


def tree(fs: FileSystem, path: str = "/") -> dict[str, Any]:
    """Every entry below ``path``: kind, mode, owner, mtime, and content or link target."""
    rows: dict[str, Any] = {}
    for name in sorted(fs.listdir(path)):
        child = path.rstrip("/") + "/" + name
        s = fs.stat(child, False)
        kind = stat.S_IFMT(s.st_mode)
        if kind == stat.S_IFDIR:
            extra: Any = None
            rows.update(tree(fs, child))
        elif kind == stat.S_IFLNK:
            extra = fs.readlink(child)
        else:
            with fs.open(child, os.O_RDONLY) as handle:
                extra = handle.pread(1 << 20, 0)
        rows[child] = (kind, stat.S_IMODE(s.st_mode), s.st_uid, s.st_gid, s.st_mtime_ns, extra)
    return rows


def memory() -> MemoryFileSystem:
    return MemoryFileSystem(identity=Identity.root())


def write(fs: FileSystem, path: str, data: bytes, flags: int = os.O_TRUNC) -> None:
    with fs.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o640) as handle:
        handle.append(data)


def test_changes_list_and_apply(tmp_path: Path) -> None:
    lower_dir = tmp_path / "lower"
    lower_dir.mkdir()
    lay_out(lower_dir)
    before = sorted(str(p) for p in lower_dir.rglob("*"))
    overlay = OverlayFileSystem(memory(), HostFileSystem(str(lower_dir)))
    write(overlay, "/d/f", b"+more", os.O_APPEND)  # modified
    write(overlay, "/new", b"created")  # created
    overlay.link("/new", "/new-link")  # created, a hard link of /new
    shutil_like_rmtree(overlay, "/gone")  # deleted (one record for the tree)
    overlay.unlink("/opaque/old")
    overlay.rmdir("/opaque")
    overlay.mkdir("/opaque", 0o700)  # modified: now opaque, mode changed
    write(overlay, "/opaque/fresh", b"fresh")
    overlay.chmod("/d/sub/deep", 0o600)  # modified (metadata only)
    overlay.unlink("/lf")
    overlay.symlink("keep", "/lf")  # modified symlink
    overlay.rename("/d/sub", "/moved")  # deleted /d/sub, created /moved (tree copied up)
    write(overlay, "/keep", b"unchanged")  # copied up, but equal to the lower file again
    overlay.utime("/keep", (1_000_000_000, 1_000_000_000))
    assert sorted(str(p) for p in lower_dir.rglob("*")) == before, "lower was written"

    changes = overlay.changes()
    assert [str(change) for change in changes] == [
        "modified directory /",
        "modified directory /d",
        "modified file /d/f",
        "deleted directory /d/sub",
        "deleted directory /gone",
        "modified symlink /lf",
        "created directory /moved",
        "created file /moved/deep",
        "created file /new",
        "created file /new-link",
        "modified directory /opaque",
        "created file /opaque/fresh",
        "deleted file /opaque/old",
    ]
    assert all(change.action in Action for change in changes)

    target_dir = tmp_path / "target"
    shutil.copytree(lower_dir, target_dir, symlinks=True)
    with HostFileSystem(str(target_dir)) as target:
        changes.apply(target)
        assert tree(target) == tree(overlay)
        assert target.stat("/new").st_ino == target.stat("/new-link").st_ino
        assert target.stat("/opaque").st_mode & 0o777 == 0o700
        assert target.stat("/d").st_mtime_ns == overlay.stat("/d").st_mtime_ns
    overlay.close()


def link_groups(fs: FileSystem, path: str = "/") -> set[frozenset[str]]:
    """The regular files below ``path`` grouped by the inode they share (hard links)."""
    by_inode: dict[int, set[str]] = {}
    for child, row in tree(fs, path).items():
        if row[0] == stat.S_IFREG:
            by_inode.setdefault(fs.stat(child, False).st_ino, set()).add(child)
    return {frozenset(group) for group in by_inode.values()}


def test_apply_keeps_hard_links_to_names_it_does_not_change() -> None:
    """A link made in the overlay to a lower file that stays as it was (or was made to it
    and then left) is a link on the target too, not a copy; a lower file copied up away
    from its lower links stops sharing their inode on the target as in the overlay."""
    lower = memory()
    write(lower, "/a", b"shared")
    write(lower, "/x", b"lower links")
    lower.link("/x", "/y")
    for path in ("/a", "/x", "/"):
        lower.utime(path, (1_000_000_000, 1_000_000_000))
    target = memory()
    write(target, "/a", b"shared")
    write(target, "/x", b"lower links")
    target.link("/x", "/y")
    for path in ("/a", "/x", "/"):
        target.utime(path, (1_000_000_000, 1_000_000_000))
    overlay = OverlayFileSystem(memory(), lower)
    overlay.link("/a", "/b")
    overlay.mkdir("/d")
    overlay.link("/a", "/d/c")
    overlay.link("/x", "/z")  # /x copied up: /y stays the lower file, alone
    overlay.changes().apply(target)
    assert tree(target) == tree(overlay)
    assert (
        link_groups(target)
        == link_groups(overlay)
        == {frozenset({"/a", "/b", "/d/c"}), frozenset({"/x", "/z"}), frozenset({"/y"})}
    )


def shutil_like_rmtree(fs: FileSystem, path: str) -> None:
    for name in fs.listdir(path):
        child = path + "/" + name
        if stat.S_ISDIR(fs.stat(child, False).st_mode):
            shutil_like_rmtree(fs, child)
        else:
            fs.unlink(child)
    fs.rmdir(path)


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["write", "unlink", "rmdir", "mkdir", "rename", "chmod", "symlink", "link"]
        ),
        st.sampled_from(["/a", "/a/x", "/a/y", "/b", "/b/z", "/c", "/a/sub", "/a/sub/w"]),
        st.sampled_from(["/a", "/a/x", "/b", "/b/z", "/c", "/a/sub", "/d"]),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPERATIONS)
def test_apply_makes_the_target_show_the_merged_view(ops: list[tuple[str, str, str]]) -> None:
    def seeded() -> MemoryFileSystem:
        fs = memory()
        fs.mkdir("/a")
        fs.mkdir("/a/sub")
        write(fs, "/a/x", b"ax")
        write(fs, "/a/sub/w", b"w")
        write(fs, "/b", b"b")
        fs.symlink("a", "/c")
        for path in ("/a/sub/w", "/a/sub", "/a/x", "/a", "/b", "/c", "/"):
            fs.utime(path, (1_000_000_000, 2_000_000_000), False)
        return fs

    overlay = OverlayFileSystem(memory(), seeded())
    for op, path, other in ops:
        try:
            if op == "write":
                write(overlay, path, path.encode())
            elif op == "unlink":
                overlay.unlink(path)
            elif op == "rmdir":
                overlay.rmdir(path)
            elif op == "mkdir":
                overlay.mkdir(path, 0o750)
            elif op == "rename":
                overlay.rename(path, other)
            elif op == "chmod":
                overlay.chmod(path, 0o700)
            elif op == "link":
                overlay.link(path, other)
            else:
                overlay.symlink(other, path)
        except OSError:
            continue  # the same error Linux gives; the overlay must be unchanged by it
    target = seeded()
    overlay.changes().apply(target)
    assert tree(target) == tree(overlay)
    assert link_groups(target) == link_groups(overlay)


def test_lower_changes_made_beside_the_overlay_are_not_its_changes(tmp_path: Path) -> None:
    """A directory copied up only as the parent of a changed one is not modified by the
    overlay, nor becomes so because the lower directory changed directly afterwards (another process
    writing into a shared /tmp under --fs=overlay)."""
    lower_dir = tmp_path / "lower"
    lower_dir.mkdir()
    lay_out(lower_dir)
    overlay = OverlayFileSystem(memory(), HostFileSystem(str(lower_dir)))
    write(overlay, "/d/sub/new", b"new")
    expected = ["modified directory /d/sub", "created file /d/sub/new"]
    untouched_before = [str(change) for change in overlay.changes()]
    (lower_dir / "d" / "beside").write_bytes(b"written directly into the lower directory")
    os.utime(lower_dir / "d", ns=(2_000_000_000, 2_000_000_000))
    assert untouched_before == expected
    assert [str(change) for change in overlay.changes()] == expected
