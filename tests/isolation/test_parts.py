"""The isolated mode's smaller parts: limits and their spelling, and the file size rule
compared with Linux's RLIMIT_FSIZE (the result channel has tests of its own, in
test_channel.py)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import posix
import posixpath
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from posixbackend.defaultfs import default_file_system
from posixbackend.isolation import Limits, parse_limits
from posixbackend.isolation.cli import write_snapshot
from posixbackend.isolation.filesize import FileSizeLimit
from posixbackend.isolation.limits import KINDS, MIB
from posixbackend.isolation.observed import Observation, exceeded_limit, oom_kills
from posixbackend.isolation.provided import provided_files
from vfs import (
    FileSystem,
    HostFileSystem,
    MemoryFileSystem,
    MountFileSystem,
    ReadOnlyFileSystem,
)

# -- limits ----------------------------------------------------------------------------------


def test_default_limits_are_the_documented_ones() -> None:
    assert Limits() == Limits(
        cpu_seconds=10, wall_seconds=30, memory_bytes=512 * MIB, open_files=64,
        file_size_bytes=64 * MIB, output_bytes=MIB,
    )  # fmt: skip


def test_every_limit_is_described_for_messages() -> None:
    limits = Limits(cpu_seconds=2.5, memory_bytes=1536 << 10, output_bytes=1000)
    assert [limits.describe(kind) for kind in KINDS] == [
        "cpu time limit (2.5 s)", "wall time limit (30 s)", "memory limit (1536 KiB)",
        "open files limit (64)", "file size limit (64 MiB)",
        "output limit (1000 bytes per stream)",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "changed"),
    [
        ("cpu=5", {"cpu_seconds": 5.0}),
        ("cpu=0.5s, wall=off", {"cpu_seconds": 0.5, "wall_seconds": None}),
        ("memory=256M,fsize=1G", {"memory_bytes": 256 * MIB, "file_size_bytes": 1 << 30}),
        ("memory=256MiB,output=64k", {"memory_bytes": 256 * MIB, "output_bytes": 64 << 10}),
        ("files=10,open-files=12", {"open_files": 12}),
        ("output=none,memory=unlimited", {"output_bytes": None, "memory_bytes": None}),
        ("", {}),
    ],
)
def test_limits_parse_from_the_command_line(text: str, changed: dict[str, object]) -> None:
    base = Limits()
    expected = {**{name: getattr(base, name) for name in base.to_data()}, **changed}
    assert parse_limits(text).to_data() == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cpu", "NAME=VALUE"),
        ("speed=3", "NAME=VALUE"),
        ("memory=lots", "bad value"),
        ("cpu=-1", "positive"),
        ("files=0", "positive"),
    ],
)
def test_bad_limits_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_limits(text)


@pytest.mark.parametrize(
    "arguments",
    [{"cpu_seconds": 0}, {"wall_seconds": float("inf")}, {"memory_bytes": -1}],
)
def test_limits_refuse_values_that_mean_nothing(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Limits(**arguments)


@pytest.mark.parametrize("arguments", [{"cpu_seconds": "10"}, {"open_files": 6.5}])
def test_limits_refuse_values_of_the_wrong_type(arguments: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        Limits(**arguments)


def test_limits_cross_as_plain_data() -> None:
    limits = Limits(cpu_seconds=None, open_files=9)
    assert Limits.from_data(json.loads(json.dumps(limits.to_data()))) == limits


# -- the file size rule against Linux's RLIMIT_FSIZE -------------------------------------------

SIZE_LIMIT = 5000

NATIVE = textwrap.dedent(
    """\
    import errno, json, os, resource, sys
    resource.setrlimit(resource.RLIMIT_FSIZE, (SIZE_LIMIT, SIZE_LIMIT))
    path = sys.argv[1]
    for line in sys.stdin:
        answers = []
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        appending = os.open(path, os.O_WRONLY | os.O_APPEND)
        for name, number, offset in json.loads(line):
            try:
                if name == "pwrite":
                    answers.append(os.pwrite(fd, b"d" * number, offset))
                elif name == "append":
                    answers.append(os.write(appending, b"a" * number))
                elif name == "pwrite_appending":
                    answers.append(os.pwrite(appending, b"p" * number, offset))
                elif name == "ftruncate":
                    answers.append(os.ftruncate(fd, number))
                else:
                    answers.append(os.truncate(path, number))
            except OSError as error:
                answers.append(errno.errorcode[error.errno])
        answers.append(os.pread(fd, 1 << 20, 0).decode())
        os.close(fd)
        os.close(appending)
        print(json.dumps(answers), flush=True)
    """
).replace("SIZE_LIMIT", str(SIZE_LIMIT))


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[str]]:
    """A process running operation lists on a real file under RLIMIT_FSIZE (ext4/tmpfs)."""
    path = tmp_path_factory.mktemp("fsize") / "file"
    process = subprocess.Popen(
        [sys.executable, "-c", NATIVE, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    yield process
    assert process.stdin is not None and process.stdout is not None
    process.stdin.close()
    process.wait(timeout=30)
    process.stdout.close()


Operations = list[tuple[str, int, int]]
"""(name, count or length, offset) triples."""


def on_linux(process: subprocess.Popen[str], operations: Operations) -> list[object]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(operations) + "\n")
    process.stdin.flush()
    answers: list[object] = json.loads(process.stdout.readline())
    return answers


def on_the_wrapper(operations: list[tuple[str, int, int]]) -> list[object]:
    memory = MemoryFileSystem()
    fs = FileSizeLimit(memory, SIZE_LIMIT)
    handle = fs.open("/file", posix.O_RDWR | posix.O_CREAT | posix.O_TRUNC, 0o600)
    appending = fs.open("/file", posix.O_WRONLY | posix.O_APPEND)
    answers: list[object] = []
    for name, number, offset in operations:
        try:
            if name == "pwrite":
                answers.append(handle.pwrite(b"d" * number, offset))
            elif name == "append":
                before = handle.size()
                answers.append(appending.append(b"a" * number) - before)
            elif name == "pwrite_appending":
                answers.append(appending.pwrite(b"p" * number, offset))
            elif name == "ftruncate":
                handle.truncate(number)
                answers.append(None)
            else:
                fs.truncate("/file", number)
                answers.append(None)
        except OSError as error:
            answers.append(errno.errorcode.get(error.errno or 0, str(error)))
    answers.append(handle.pread(1 << 20, 0).decode())
    return answers


positions = st.integers(0, SIZE_LIMIT + 100) | st.sampled_from([SIZE_LIMIT - 1, SIZE_LIMIT])
counts = st.integers(0, 3000) | st.sampled_from([0, 1])
operation = st.one_of(
    st.tuples(st.sampled_from(["pwrite", "pwrite_appending"]), counts, positions),
    st.tuples(st.just("append"), counts, st.just(0)),
    st.tuples(st.sampled_from(["ftruncate", "truncate"]), positions, st.just(0)),
)


@given(st.lists(operation, max_size=6))
@example(
    [("pwrite", 10, 4995), ("pwrite", 1, 5000), ("append", 3, 0), ("pwrite_appending", 5, 0),
     ("truncate", 5001, 0), ("ftruncate", 5000, 0), ("append", 1, 0)]
)  # fmt: skip
def test_the_file_size_limit_cuts_and_refuses_writes_as_linux_does(
    native: subprocess.Popen[str], operations: list[tuple[str, int, int]]
) -> None:
    assert on_the_wrapper(operations) == on_linux(native, operations)


def test_the_limit_records_that_it_was_exceeded() -> None:
    fs = FileSizeLimit(MemoryFileSystem(), 10)
    handle = fs.open("/f", posix.O_RDWR | posix.O_CREAT, 0o600)
    assert handle.pwrite(b"x" * 10, 0) == 10
    assert not fs.exceeded
    with pytest.raises(OSError) as raised:
        handle.pwrite(b"y", 10)
    assert raised.value.errno == errno.EFBIG
    assert fs.exceeded


def test_a_read_only_handle_answers_ebadf_before_the_limit() -> None:
    fs = FileSizeLimit(MemoryFileSystem(), 10)
    fs.open("/f", posix.O_WRONLY | posix.O_CREAT, 0o600).close()
    reader = fs.open("/f", posix.O_RDONLY)
    with pytest.raises(OSError) as raised:
        reader.pwrite(b"x", 100)
    assert raised.value.errno == errno.EBADF
    with pytest.raises(OSError) as raised:
        reader.truncate(100)
    assert raised.value.errno == errno.EINVAL


# -- which limit the parent saw end the run ----------------------------------------------------

JUDGED = Limits(cpu_seconds=2, wall_seconds=5, memory_bytes=256 * MIB)


@pytest.mark.parametrize(
    ("seen", "limit"),
    [
        (Observation("wall", signal.SIGKILL, 0.1, 5.0), "wall"),
        (Observation("output", signal.SIGKILL, 0.1, 0.2), "output"),
        (Observation("result", signal.SIGKILL, 0.1, 0.2), "memory"),
        (Observation("protocol", signal.SIGKILL, 9.0, 0.2, oom_kills=3), None),
        (Observation(None, None, 0.1, 5.0), "wall"),  # still running when its time was up
        (Observation(None, None, 0.1, 4.9), None),
        (Observation(None, None, 0.1, None), None),
        (Observation(None, signal.SIGXCPU, 2.0, 2.1), "cpu"),
        (Observation(None, signal.SIGXCPU, 0.3, 0.4), None),  # the guest's own raise
        (Observation(None, signal.SIGKILL, 3.0, 3.1), "cpu"),  # the hard limit
        (Observation(None, signal.SIGKILL, 0.3, 0.4), None),  # the guest killed itself
        (Observation(None, signal.SIGKILL, 0.3, 0.4, oom_kills=1), "memory"),
        (Observation(None, signal.SIGXFSZ, 0.3, 0.4), None),  # Python ignores it: the guest's
        (Observation(None, None, 0.3, 0.4, oom_kills=1), None),
    ],
)
def test_the_limit_comes_from_what_the_parent_observed(seen: Observation, limit: str) -> None:
    assert exceeded_limit(seen, JUDGED) == limit


def test_limits_turned_off_are_never_exceeded() -> None:
    off = Limits(cpu_seconds=None, wall_seconds=None, memory_bytes=None)
    for seen in (Observation("result", signal.SIGKILL, 9.0, 99.0),
                 Observation(None, signal.SIGKILL, 9.0, 99.0, oom_kills=1)):  # fmt: skip
        assert exceeded_limit(seen, off) is None


def test_the_kernels_oom_kills_are_counted_where_it_says() -> None:
    count = oom_kills()
    try:
        with open("/proc/vmstat") as vmstat:
            lines = vmstat.read().splitlines()
    except OSError:
        assert count is None
        return
    said = [int(line.split()[1]) for line in lines if line.split()[0] == "oom_kill"]
    assert [count] == said or (count is None and not said)


# -- the files of a FileSystem grant -------------------------------------------------------------


def memory_with(files: dict[str, bytes]) -> MemoryFileSystem:
    memory = MemoryFileSystem()
    for path, data in files.items():
        parent = posixpath.dirname(path)
        if parent != "/":
            current = ""
            for part in parent.strip("/").split("/"):
                current += "/" + part
                with contextlib.suppress(FileExistsError):
                    memory.mkdir(current, 0o755)
        with memory.open(path, posix.O_WRONLY | posix.O_CREAT, 0o644) as handle:
            handle.pwrite(data, 0)
    return memory


def test_a_memory_file_systems_regular_files_are_copied() -> None:
    memory = memory_with({"/a": b"1", "/d/e/f": b"2" * 5000, "/d/empty": b""})
    memory.symlink("/a", "/link")
    memory.link("/a", "/hard", False)
    assert provided_files(memory, None) == {
        "/a": b"1", "/hard": b"1", "/d/e/f": b"2" * 5000, "/d/empty": b"",
    }  # fmt: skip


def test_the_sandbox_file_system_gives_its_memory_part_not_the_library() -> None:
    fs, _ = default_file_system()
    with fs.open("/tmp/mine.txt", posix.O_WRONLY | posix.O_CREAT, 0o644) as handle:
        handle.pwrite(b"mine", 0)
    assert provided_files(fs, 1 << 20) == {"/tmp/mine.txt": b"mine"}


def test_a_mounted_memory_file_system_is_copied_at_its_mount_point() -> None:
    fs = MountFileSystem(memory_with({"/top": b"t", "/data/hidden": b"h"}),
                         {"/data": memory_with({"/inner": b"i"})})  # fmt: skip
    assert provided_files(fs, None) == {"/top": b"t", "/data/inner": b"i"}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (HostFileSystem, "it shows host files, which the isolated child never"),
        (lambda tmp: MountFileSystem(MemoryFileSystem(), {"/host": HostFileSystem(tmp)},
                                     create_mount_points=True), "mounted at /host"),
        (lambda tmp: ReadOnlyFileSystem(MemoryFileSystem()), "only a MemoryFileSystem's files"),
        (lambda tmp: MountFileSystem(MemoryFileSystem(), {
            "/usr": ReadOnlyFileSystem(HostFileSystem("/usr"))}, create_mount_points=True),
         "mounted at /usr"),  # read-only host files, but not the interpreter's library
    ],
)  # fmt: skip
def test_a_provider_whose_files_cannot_be_sent_is_refused_with_the_reason(
    make: Callable[[str], FileSystem], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="cannot be sent to the isolated child") as raised:
        provided_files(make(str(tmp_path)), None)
    assert message in str(raised.value) and "files=" in str(raised.value)


def test_the_files_copied_are_bounded_by_the_memory_limit() -> None:
    memory = memory_with({"/a": bytes(600), "/b": bytes(600)})
    assert len(provided_files(memory, 1200)) == 2
    with pytest.raises(ValueError, match=r"hold more than the memory limit \(1199 bytes\)"):
        provided_files(memory, 1199)


# -- writing the files out -------------------------------------------------------------------------


def test_linked_files_are_written_once_and_linked(tmp_path: Path) -> None:
    data = b"shared" * 1000
    files = {"/a/first": data, "/a/second": data, "/b/third": data, "/other": b"x"}
    write_snapshot(str(tmp_path / "out"), files, {"/a/second": "/a/first", "/b/third": "/a/first"})
    out = tmp_path / "out"
    first = (out / "a/first").stat()
    assert first.st_nlink == 3
    assert {(out / name).stat().st_ino for name in ("a/first", "a/second", "b/third")} == {
        first.st_ino
    }
    assert (out / "b/third").read_bytes() == data and (out / "other").read_bytes() == b"x"


def test_written_names_replace_what_is_there_and_never_leave_the_directory(
    tmp_path: Path,
) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (outside / "victim").write_bytes(b"keep")
    os.link(outside / "victim", out / "f")  # a name already there, linked to a file outside
    os.symlink(outside, out / "up")
    files = {"/f": b"new", "/../../escaped": b"e", "/g": b"new"}
    write_snapshot(str(out), files, {"/g": "/f"})
    assert (outside / "victim").read_bytes() == b"keep"
    assert (out / "f").read_bytes() == b"new" and (out / "escaped").read_bytes() == b"e"
    with pytest.raises(OSError):
        write_snapshot(str(out), {"/up/x": b"through the link"})
    assert sorted(os.listdir(outside)) == ["victim"]
    assert not (tmp_path / "escaped").exists()
