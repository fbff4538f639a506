"""FileSystem.probe / probe_at against Linux: the same answers as os.path.exists (following
links) and os.path.lexists (not following), and the same file type and size where found.

One tree, made natively in a temporary directory and on each provider: files (one empty),
directories, links good, dangling and looping, components that are no directories, trailing
slashes, ``..`` after a link, and a directory nobody may search (checked as nobody: natively
in a child that dropped to that user, on the memory file system with that identity).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator

import pytest

from tests.vfs.conftest import make_root
from vfs import HostFileSystem, Identity, MemoryFileSystem, MountFileSystem, OverlayFileSystem
from vfs.provider import FileSystem

NOBODY = 65534
PATHS = (
    "f", "f/", "f/x", "e", "d", "d/", "d/x", "d/x/", "d/missing", "missing", "missing/x",
    "good", "good/", "dangling", "dangling/", "loop1", "loop1/x", "dirlink", "dirlink/",
    "dirlink/x", "dirlink/../f", "d/../f", "f/../f", "locked", "locked/inside",
    "locked/sub/deep", ".", "..", "", "a" * 300, "d/" + "b" * 300,
)  # fmt: skip


def build(make_dir: Callable[[str, int], None], make_file: Callable[[str, bytes], None],
          make_link: Callable[[str, str], None]) -> None:  # fmt: skip
    """The tree, made through the three given operations (paths relative to the root)."""
    make_file("f", b"some bytes")
    make_file("e", b"")
    make_dir("d", 0o755)
    make_file("d/x", b"x")
    make_link("f", "good")
    make_link("nowhere", "dangling")
    make_link("loop2", "loop1")
    make_link("loop1", "loop2")
    make_link("d", "dirlink")
    make_dir("locked", 0o700)
    make_file("locked/inside", b"hidden")
    make_dir("locked/sub", 0o755)
    make_file("locked/sub/deep", b"deeper")


def build_natively(root: str) -> None:
    def make_dir(path: str, mode: int) -> None:
        os.mkdir(os.path.join(root, path))
        os.chmod(os.path.join(root, path), mode)

    def make_file(path: str, data: bytes) -> None:
        with open(os.path.join(root, path), "wb") as file:
            file.write(data)
        os.chmod(os.path.join(root, path), 0o644)

    build(make_dir, make_file, lambda target, path: os.symlink(target, os.path.join(root, path)))


def build_on(fs: FileSystem, base: str = "/") -> None:
    def make_file(path: str, data: bytes) -> None:
        with fs.open(os.path.join(base, path), os.O_WRONLY | os.O_CREAT, 0o644) as handle:
            handle.pwrite(data, 0)

    build(
        lambda path, mode: fs.mkdir(os.path.join(base, path), mode),
        make_file,
        lambda target, path: fs.symlink(target, os.path.join(base, path)),
    )


@pytest.fixture(scope="module")
def native_root() -> Iterator[str]:
    root = make_root()
    build_natively(root)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def native_answers(root: str, user: int | None = None) -> list[list[object]]:
    """[exists, lexists, (file type, size) or None] for each path, as ``user`` sees them
    (asked in a forked child that dropped to that user)."""
    if user is None:
        return _answers(root)
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 1
        try:
            os.close(reading)
            os.setgroups([])
            os.setresgid(user, user, user)
            os.setresuid(user, user, user)
            os.write(writing, json.dumps(_answers(root)).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0
    return json.loads(data)  # type: ignore[no-any-return]


def _answers(root: str) -> list[list[object]]:
    def facts(path: str) -> list[object] | None:
        try:
            status = os.stat(path)
        except OSError:
            return None
        kind = stat.S_IFMT(status.st_mode)
        return [kind, status.st_size if kind == stat.S_IFREG else None]

    answers: list[list[object]] = []
    for path in PATHS:
        full = root + "/" + path if path else ""
        answers.append([os.path.exists(full), os.path.lexists(full), facts(full)])
    return answers


def provider_answers(probe: Callable[[str, bool], os.stat_result | None]) -> list[list[object]]:
    answers: list[list[object]] = []
    for path in PATHS:
        followed, unfollowed = probe(path, True), probe(path, False)
        facts = None
        if followed is not None:
            kind = stat.S_IFMT(followed.st_mode)
            facts = [kind, followed.st_size if kind == stat.S_IFREG else None]
        answers.append([followed is not None, unfollowed is not None, facts])
    return answers


def absolute(base: str) -> Callable[[FileSystem], Callable[[str, bool], os.stat_result | None]]:
    """probe of each path below ``base`` (the empty path stays empty: ENOENT)."""
    return lambda fs: lambda p, f: fs.probe(base.rstrip("/") + "/" + p if p else "", f)


def memory() -> MemoryFileSystem:
    fs = MemoryFileSystem(identity=Identity.root())
    build_on(fs)
    return fs


def mount() -> FileSystem:
    fs = MemoryFileSystem(identity=Identity.root())
    build_on(fs)
    fs.mkdir("/mnt", 0o755)
    inner = MemoryFileSystem(identity=Identity.root())
    build_on(inner)
    return MountFileSystem(fs, {"/mnt": inner})


def overlay() -> FileSystem:
    lower = MemoryFileSystem(identity=Identity.root())
    build_on(lower)
    fs = OverlayFileSystem(MemoryFileSystem(identity=Identity.root()), lower)
    fs.chmod("/locked", 0o700)  # copied up: both layers take part
    return fs


@pytest.mark.parametrize(
    ("name", "make", "base"),
    [("memory", memory, "/"), ("mount root", mount, "/"), ("mount below", mount, "/mnt"),
     ("overlay", overlay, "/")],
)  # fmt: skip
def test_probe_answers_as_linux(name: str, make: Callable[[], FileSystem], base: str,
                                native_root: str) -> None:  # fmt: skip
    expected = native_answers(native_root)
    with make() as fs:
        assert provider_answers(absolute(base)(fs)) == expected, name


def test_probe_answers_as_linux_on_the_host_provider(native_root: str) -> None:
    expected = native_answers(native_root)
    with HostFileSystem(native_root) as fs:
        assert provider_answers(absolute("/")(fs)) == expected


@pytest.mark.parametrize("make", [memory, mount, overlay], ids=["memory", "mount", "overlay"])
def test_probe_at_answers_from_a_held_directory(make: Callable[[], FileSystem],
                                                native_root: str) -> None:  # fmt: skip
    expected = native_answers(native_root)
    with make() as fs:
        held = fs.directory(None, "/d")
        try:
            actual = provider_answers(
                lambda p, f: fs.probe_at(held, "../" + p if p else "..", f)
            )
        finally:
            fs.release(held)
    assert actual == [expected[PATHS.index(".")] if not p else row
                      for p, row in zip(PATHS, expected, strict=True)]  # fmt: skip


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to answer as nobody natively")
def test_probe_as_a_user_who_may_not_search(native_root: str) -> None:
    expected = native_answers(native_root, NOBODY)
    for hidden in ("locked/inside", "locked/sub/deep"):
        assert expected[PATHS.index(hidden)][:2] == [False, False]  # the case is there
    fs = memory()
    fs.mkdir("/mnt", 0o755)
    mounted = MountFileSystem(fs, {"/mnt": MemoryFileSystem()})
    # as root first: the Mount remembers where /locked/sub is, and that / and /locked were
    # searched on the way there
    assert mounted.probe("/locked/sub/deep") is not None
    fs.identity = Identity(NOBODY, NOBODY)  # changed on the provider, not through the Mount
    assert provider_answers(absolute("/")(fs)) == expected
    assert provider_answers(absolute("/")(mounted)) == expected


def test_probe_refuses_what_stat_refuses() -> None:
    fs = memory()
    with pytest.raises(ValueError):
        fs.probe("/f\x00")
    with pytest.raises(TypeError):
        fs.probe(b"/f")  # type: ignore[arg-type]


def test_a_mount_forgets_where_directories_were_when_they_move() -> None:
    """The Mount remembers where a path's directory part led; a rename, a removal and a link
    put in the old place (all through the Mount) are seen at once."""
    fs = MountFileSystem(memory(), {})
    assert fs.stat("/d/x").st_size == 1  # /d remembered
    fs.rename("/d", "/moved")
    assert fs.probe("/d/x") is None
    with pytest.raises(FileNotFoundError):
        fs.stat("/d/x")
    fs.mkdir("/other", 0o755)
    with fs.open("/other/x", os.O_WRONLY | os.O_CREAT, 0o644) as handle:
        handle.pwrite(b"other", 0)
    fs.symlink("other", "/d")
    assert fs.stat("/d/x").st_size == 5
    assert fs.stat("/moved/x").st_size == 1
    fs.unlink("/d")
    fs.unlink("/other/x")
    fs.rmdir("/other")
    with pytest.raises(FileNotFoundError):
        fs.open("/other/x", os.O_RDONLY)
    fs.chmod("/moved", 0o700)
    assert fs.probe("/moved/x") is not None  # root: still searchable
