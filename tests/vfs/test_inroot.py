"""openat2(RESOLVE_IN_ROOT) from C (vfs/host/_inroot.c) against the ctypes call it replaces.

Both must open the same file or fail with the same errno for every path and flag combination;
the C calls also refuse what the kernel cannot be given (a non-str, an embedded NUL).
"""

from __future__ import annotations

import errno
import os
import posix
import tempfile
from collections.abc import Iterator

import pytest

from vfs.host import openat2

pytestmark = pytest.mark.skipif(openat2.C_CALLS is None, reason="built without a compiler")

PATHS = [
    "/",
    "/f",
    "/d",
    "/d/",
    "/d/g",
    "/missing",
    "/f/below",
    "/d/../f",
    "/../../f",
    "/up/f",
    "/abs",
    "/loop",
    "/caf\u00e9",
    "/bad-\udcff",
    "/" + "n" * 300,
]
FLAGS = [
    posix.O_RDONLY,
    posix.O_PATH,
    posix.O_PATH | posix.O_NOFOLLOW,
    posix.O_RDONLY | posix.O_DIRECTORY,
    posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL,
    posix.O_RDWR | posix.O_TRUNC,
]


@pytest.fixture
def root() -> Iterator[int]:
    base = tempfile.mkdtemp(prefix="pb-inroot-")
    top = os.path.join(base, "root")
    os.makedirs(top + "/d")
    for name in ("f", "d/g", "caf\u00e9", "bad-\udcff"):
        with open(os.path.join(top, name), "wb") as file:
            file.write(b"x")
    os.symlink("d/..", top + "/up")
    os.symlink(base, top + "/abs")
    os.symlink("loop", top + "/loop")
    fd = posix.open(top, posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        yield fd
    finally:
        posix.close(fd)
        for directory, dirs, files in os.walk(base, topdown=False):
            for name in files + dirs:
                path = os.path.join(directory, name)
                if os.path.islink(path) or not os.path.isdir(path):
                    os.unlink(path)
                else:
                    os.rmdir(path)
        os.rmdir(base)


def refuse(path: str, flags: int, mode: int) -> int:
    raise AssertionError(f"the fallback walk was asked for {path!r}")


def outcome(call: object, *args: object) -> tuple[str, object]:
    """("ok", (st_dev, st_ino, mode)) for an opened file, ("err", errno) for a failure."""
    try:
        fd = call(*args)  # type: ignore[operator]
    except OSError as error:
        return "err", error.errno
    try:
        st = posix.fstat(fd)
    finally:
        posix.close(fd)
    return "ok", (st.st_dev, st.st_ino, st.st_mode)


@pytest.mark.parametrize("flags", FLAGS)
def test_the_c_call_opens_what_the_ctypes_call_opens(root: int, flags: int) -> None:
    c_open = openat2.in_root(root, refuse)
    assert c_open is not None
    c_opener = c_open[0]
    ctypes_opener = openat2.ctypes_opener(root, refuse)
    assert ctypes_opener is not None
    for path in PATHS:
        created = flags & posix.O_CREAT
        first = outcome(c_opener, path, flags, 0o640)
        if created and first[0] == "ok":  # the second call must meet the same state
            os.unlink(f"/proc/self/fd/{root}{path}")
        second = outcome(ctypes_opener, path, flags, 0o640)
        if created and second[0] == "ok":
            os.unlink(f"/proc/self/fd/{root}{path}")
        if first[0] == "ok" and created:  # a new file each time: compare the kind only
            assert second[0] == "ok" and first[1][2] == second[1][2], path  # type: ignore[index]
        else:
            assert first == second, path


def test_the_stater_gives_fstat_of_the_file(root: int) -> None:
    calls = openat2.in_root(root, refuse)
    assert calls is not None
    opener, stat_in_root = calls
    python_stater = openat2.stater(opener)
    for path in PATHS:
        for flags in (0, posix.O_NOFOLLOW):
            try:
                expected: object = python_stater(path, flags)
            except OSError as error:
                with pytest.raises(OSError) as raised:
                    stat_in_root(path, flags)
                assert raised.value.errno == error.errno, path
                assert raised.value.filename is None
                continue
            assert stat_in_root(path, flags) == expected, path


def test_bad_arguments_are_refused_as_os_refuses_them(root: int) -> None:
    calls = openat2.in_root(root, refuse)
    assert calls is not None
    opener, stat_in_root = calls
    with pytest.raises(ValueError, match="embedded null byte"):
        opener("/f\x00", posix.O_RDONLY, 0)
    with pytest.raises(ValueError, match="embedded null byte"):
        stat_in_root("/f\x00", 0)
    with pytest.raises(TypeError, match="path should be str, not bytes"):
        opener(b"/f", posix.O_RDONLY, 0)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        openat2.C_CALLS.open(2**40, refuse, "/f", 0, 0)  # type: ignore[union-attr]
    with pytest.raises(OSError) as raised:
        stat_in_root("/missing", 0)
    assert raised.value.errno == errno.ENOENT
