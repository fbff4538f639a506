"""The result channel read in-process, as the parent reads it from the child's socket: real
snapshots come back whole, every forged or malformed stream ends in a protocol error (never an
exception), and nothing is allocated beyond the bounds, whatever the stream declares; each
stream is read whole from a blocking socket and parsed as it comes, in pieces, alike; the
parser, cut short or failing or interrupted, leaves nothing behind."""

from __future__ import annotations

import array
import json
import os
import posix
import socket
import threading
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from posixbackend.isolation import channel as channel_module
from posixbackend.isolation import run_isolated
from posixbackend.isolation import runner as runner_module
from posixbackend.isolation.archive import BLOCK, RECORD
from posixbackend.isolation.channel import (
    Bounds,
    Channel,
    ChannelParser,
    SocketSource,
    read_channel,
)
from posixbackend.isolation.child import EMPTY_SNAPSHOT
from posixbackend.isolation.frames import MAX_FRAME, FrameWriter, json_depth, parse_frame
from posixbackend.isolation.limits import Limits
from tests.isolation.helpers import group_members
from tests.isolation.streams import (
    BOUNDS,
    CONFINED,
    END,
    ROOT,
    archive,
    feeding,
    frame,
    header,
    member,
    padded,
    pax,
    raw_frame,
    read,
    snapshot_of,
    started,
)
from vfs import Identity, MemoryFileSystem

# -- well-formed streams ------------------------------------------------------------------------


def guest_memory() -> MemoryFileSystem:
    """A memory file system with every kind of name and member a guest can make."""
    fs = MemoryFileSystem(identity=Identity.root())
    for directory in ("/tmp", "/tmp/deep", "/tmp/deep/er", "/x" + "y" * 200):
        fs.mkdir(directory, 0o755)

    def write(path: str, data: bytes) -> None:
        with fs.open(path, posix.O_WRONLY | posix.O_CREAT, 0o644) as handle:
            handle.pwrite(data, 0)

    write("/tmp/empty", b"")
    write("/tmp/deep/er/data.bin", bytes(range(256)) * 40)
    write("/tmp/\udcff not utf-8 \u00e9", b"odd name")
    write("/tmp/" + "n" * 255, b"longest name")
    write("/x" + "y" * 200 + "/" + "z" * 200, b"long path")
    fs.link("/tmp/deep/er/data.bin", "/tmp/hard", False)
    fs.link("/tmp/deep/er/data.bin", "/tmp/harder", False)
    fs.symlink("/tmp/empty", "/tmp/soft")
    fs.symlink("t" * 4000, "/tmp/long-target")
    fs.chown("/tmp/empty", 4_000_000_000, 7)
    return fs


def test_a_real_snapshot_comes_back_whole_with_its_hard_links() -> None:
    channel = read(started() + snapshot_of(guest_memory()))
    assert (channel.protocol_error, channel.oversized, channel.ended) == (None, None, None)
    assert channel.snapshot is not None
    data = bytes(range(256)) * 40
    assert channel.snapshot.files == {
        "/tmp/empty": b"",
        "/tmp/deep/er/data.bin": data,
        "/tmp/\udcff not utf-8 \u00e9": b"odd name",
        "/tmp/" + "n" * 255: b"longest name",
        "/x" + "y" * 200 + "/" + "z" * 200: b"long path",
        "/tmp/hard": data,
        "/tmp/harder": data,
    }
    files = channel.snapshot.files
    assert files["/tmp/hard"] is files["/tmp/harder"] is files["/tmp/deep/er/data.bin"]
    assert channel.snapshot.links == {
        "/tmp/hard": "/tmp/deep/er/data.bin",
        "/tmp/harder": "/tmp/deep/er/data.bin",
    }
    assert channel.received == len(started()) + len(snapshot_of(guest_memory()))


def test_the_frames_are_read_and_kept_apart() -> None:
    channel = read(started(status=3, exception="ValueError", limit="memory") + archive())
    assert (channel.applied, channel.not_applied) == (("rlimits",), {"seccomp": "no"})
    assert channel.confined_at is not None and channel.confined_at <= time.monotonic()
    assert channel.finished is not None
    assert (channel.finished.status, channel.finished.exception) == (3, "ValueError")
    assert channel.finished.reported_limit == "memory"
    assert channel.snapshot is not None and channel.snapshot.files == {}


def test_a_setup_error_first_is_the_childs_own_word() -> None:
    channel = read(frame("setup_error", message="no such cwd"))
    assert (channel.setup_error, channel.applied, channel.protocol_error) == (
        "no such cwd", None, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "stage"),
    [
        (b"", "before the confinement"),
        (frame("confined", **CONFINED)[:-3], "before the confinement"),
        (frame("confined", **CONFINED), "before the finished frame"),
        (frame("confined", **CONFINED) + b"\0\0", "before the finished frame"),
        (started(), "inside the snapshot"),
        (started() + ROOT + header("a", size=100), "inside the snapshot"),
        (started() + ROOT + header("a", size=100) + b"x" * 100, "inside the snapshot"),
    ],
)
def test_a_stream_that_ends_early_keeps_no_files(data: bytes, stage: str) -> None:
    channel = read(data)
    assert (channel.ended, channel.snapshot, channel.protocol_error) == (stage, None, None)


def test_the_frame_writer_gathers_small_writes_into_one_stream() -> None:
    parent, child = socket.socketpair()
    writer = FrameWriter(child.fileno())
    writer.frame("confined", **CONFINED)
    writer.frame("finished", status=0, exception=None, limit=None)
    for piece in (ROOT, header("a", size=3), padded(b"abc"), b"", END, bytes(RECORD - 5 * BLOCK)):
        assert writer.write(piece) == len(piece)
    assert writer.tell() == RECORD
    writer.end()
    child.close()
    channel = read_channel(SocketSource(parent), BOUNDS)
    parent.close()
    assert channel.snapshot is not None and channel.snapshot.files == {"/a": b"abc"}


def test_a_frame_and_the_short_snapshot_after_it_go_in_one_write() -> None:
    """The child's finished frame of a guest that left no file carries the short snapshot
    (child.EMPTY_SNAPSHOT) in the same write: one read finds both, and the parent reads it
    as the snapshot of no file."""
    parent, child = socket.socketpair()
    writer = FrameWriter(child.fileno())
    writer.frame("confined", **CONFINED)
    first = parent.recv(1 << 16)
    writer.frame_then("finished", EMPTY_SNAPSHOT, status=0, exception=None, limit=None)
    child.close()
    second = parent.recv(1 << 16)
    assert second.endswith(EMPTY_SNAPSHOT) and parent.recv(1) == b""
    parent.close()
    channel = read(first + second)
    assert channel.snapshot is not None
    assert (channel.snapshot.files, channel.snapshot.links) == ({}, {})
    assert channel.protocol_error is None


# -- forged frames --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("second", "problem"),
    [
        (raw_frame(b"[" * 30_000 + b"]" * 30_000), "nested 30000 levels deep"),
        (raw_frame(b"[" * 100_000), "a frame of 100000 bytes"),
        (raw_frame(b'{"kind": "finished", "x": [[[1]]]}'), "nested 4 levels"),
        (raw_frame(b"\xff\xfe"), "not JSON"),
        (raw_frame(b"1" * 5000), "not JSON"),
        (raw_frame(b"[]"), "not an object with a kind"),
        (raw_frame(b'{"kind": 3}'), "not an object with a kind"),
        (frame("setup_error", message="forged"), "'setup_error' frame where the finished"),
        (frame("confined", **CONFINED), "'confined' frame where the finished"),
        (frame("whatever"), "'whatever' frame where the finished"),
        (frame("finished", status=0), "wrong fields: ['exception', 'limit']"),
        (frame("finished", status=True, exception=None, limit=None), "'status' is a bool"),
        (frame("finished", status="0", exception=None, limit=None), "'status' is a str"),
        (frame("finished", status=0, exception=[], limit=None), "'exception' is a list"),
        (frame("finished", status=0, exception="a\nb", limit=None), "not a printable name"),
        (frame("finished", status=0, exception="", limit=None), "not a printable name"),
        (frame("finished", status=0, exception="\ud800", limit=None), "not a printable name"),
        (frame("finished", status=0, exception="E" * 300, limit=None), "not a printable name"),
        (frame("finished", status=0, exception=None, limit="cpu"), "limit 'cpu' this run"),
        (frame("finished", status=0, exception=None, limit="open_files"), "'open_files' this"),
        (frame("finished", status=0, exception=None, limit="wall", x=1), "wrong fields: ['x']"),
        (raw_frame(b"x" * (MAX_FRAME + 1)), f"a frame of {MAX_FRAME + 1} bytes"),
        ((0xFFFFFFFF).to_bytes(4, "big"), "a frame of 4294967295 bytes"),
    ],
)
def test_a_forged_frame_after_the_confinement_is_a_protocol_error(
    second: bytes, problem: str
) -> None:
    channel = read(frame("confined", **CONFINED) + second + archive())
    assert channel.protocol_error is not None and problem in channel.protocol_error
    assert (channel.finished, channel.snapshot, channel.child_error) == (None, None, None)
    assert channel.applied == ("rlimits",)


@pytest.mark.parametrize(
    ("first", "problem"),
    [
        (frame("finished", status=0, exception=None, limit=None), "first frame of kind"),
        (frame("confined", applied="all", not_applied={}), "'applied' is a str"),
        (frame("confined", applied=[1], not_applied={}), "not all str"),
        (frame("setup_error", message=None), "'message' is a NoneType"),
        (raw_frame(b"{"), "not JSON"),
    ],
)
def test_a_malformed_frame_before_the_confinement_is_the_childs_failure(
    first: bytes, problem: str
) -> None:
    channel = read(first)
    assert channel.child_error is not None and problem in channel.child_error
    assert (channel.protocol_error, channel.applied) == (None, None)


@given(st.recursive(st.none() | st.integers() | st.text(), lambda inner: st.lists(inner) |
                    st.dictionaries(st.text(), inner), max_leaves=30))  # fmt: skip
def test_the_depth_of_json_is_measured_without_parsing_it(value: object) -> None:
    def depth(item: object) -> int:
        if isinstance(item, list):
            return 1 + max(map(depth, item), default=0)
        if isinstance(item, dict):
            return 1 + max(map(depth, item.values()), default=0)
        return 0

    assert json_depth(json.dumps(value).encode()) == depth(value)


def test_brackets_inside_strings_do_not_count() -> None:
    assert json_depth(b'{"kind": "[[[[{{{", "x": "\\"]]]"}') == 1
    assert json_depth(b'"unterminated [[[[') == 0
    body = b'{"kind": "x", "message": "[Errno 2] [[[[ \\\\"}'
    assert parse_frame(body)["message"] == "[Errno 2] [[[[ \\"


def test_depth_is_measured_in_linear_time() -> None:
    started_at = time.process_time()
    for body in (b'"\\"' * 30_000, b'"' + b"\\" * 60_000, b'"a' * 30_000, b"[" * 60_000):
        json_depth(body)
    assert time.process_time() - started_at < 2


# -- forged archives -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        ((header("s", b"S", 10) + padded(b"x" * 10),), "a sparse member"),
        ((pax(("GNU.sparse.map", "x")), member("s", b"x")), "a sparse member"),
        ((pax(("GNU.sparse.size", "1")), member("s", b"x")), "a sparse member"),
        ((header("g", b"g"),), "a global PAX header"),
        ((header("l", b"L", 5) + padded(b"long"),), "a GNU long name member"),
        ((header("dev", b"3"),), "a character device"),
        ((header("dev", b"4"),), "a block device"),
        ((header("fifo", b"6"),), "a FIFO"),
        ((header("c", b"7"),), "a contiguous file"),
        ((header("q", b"Q"),), "a member of type 'Q'"),
        ((member("../escape", b"x"),), "a member named '../escape'"),
        ((member("a/../../b", b"x"),), "a member named"),
        ((member("/abs", b"x"),), "a member named '/abs'"),
        ((member("a//b", b"x"),), "a member named"),
        ((member("./a", b"x"),), "a member named './a'"),
        ((pax(("path", "a\0b")), member("x")), "a malformed PAX record 'path'"),
        ((pax(("path", "n" * 256)), member("x")), "a member name too long"),
        ((pax(("path", "/".join(["d" * 200] * 21))), member("x")), "a member name too long"),
        ((member("a/b", b"x"),), "outside the directories seen before it"),
        ((member("f", b"x"), member("f/g", b"y")), "outside the directories seen before it"),
        ((member("s", kind=b"2", link="/"), member("s/g")), "outside the directories"),
        ((member("f", b"x"), member("f", b"y")), "a second member named 'f'"),
        ((member("d", kind=b"5"), member("d", kind=b"5")), "a second member named 'd'"),
        ((member("l", kind=b"1", link="nowhere"),), "a hard link to 'nowhere'"),
        ((member("d", kind=b"5"), member("l", kind=b"1", link="d")), "no file seen before"),
        ((member("s", kind=b"2", link="/x"), member("l", kind=b"1", link="s")), "no file seen"),
        ((member("l", kind=b"1", link="../etc/passwd"),), "a member named '../etc/passwd'"),
        ((member("s", kind=b"2"),), "a symbolic link to ''"),
        ((header("d", b"5", 10) + padded(b"x" * 10),), "a member without data declaring 10"),
        ((header("l", b"1", 1, "x"),), "a member without data declaring 1"),
        ((member("f/", b"x"),), "a non-directory named like one"),
        ((header("a", magic=b"ustar  \0"),), "not a POSIX tar header"),
        ((header("a", checksum=1),), "wrong checksum"),
        ((header("a", size=b"\x80" + bytes(10) + b"\x01"),), "size is not an octal number"),
        ((header("a", size=b"12345678901x"),), "size is not an octal number"),
        ((member("a", b"x")[:-1] + b"!",), "padded with bytes other than zeros"),
        ((pax(("size", "-1")), member("a")), "'size' that is not a number"),
        ((pax(("size", "1" * 21)), member("a")), "'size' that is not a number"),
        ((pax(("mtime", "yesterday")), member("a")), "'mtime' that is not a number"),
        ((pax(("hdrcharset", "EBCDIC")), member("a")), "a malformed PAX record 'hdrcharset'"),
        ((pax(("comment", "hi")), member("a")), "an unknown PAX record 'comment'"),
        ((pax(("path", "a"), ("path", "b")), member("a")), "the PAX record 'path' twice"),
        ((pax(b"5 a=b"), member("a")), "does not end where its length says"),
        ((pax(b"x a=b\n"), member("a")), "a malformed PAX record length"),
        ((pax(b"06 a=\n"), member("a")), "a malformed PAX record length"),
        ((pax(b"4 a\n\n"), member("a")), "without '='"),
        ((pax(b"9999999999 a=b\n"), member("a")), "a malformed PAX record length"),
        ((header("p", b"x", 17 << 10) + bytes(17 << 10),), "a PAX header of 17408 bytes"),
        ((pax(("path", "a")), pax(("path", "b")), member("a")), "two PAX headers in a row"),
        ((pax(("path", "a")),), "a PAX header at the end of the archive"),
    ],
)
def test_a_forged_archive_is_a_protocol_error(members: tuple[bytes, ...], problem: str) -> None:
    channel = read(started() + archive(*members))
    assert channel.protocol_error is not None and problem in channel.protocol_error, channel
    assert (channel.snapshot, channel.finished, channel.oversized) == (None, None, None)


@pytest.mark.parametrize(
    ("stream", "problem"),
    [
        (ROOT[:-1] + b"\1" + END, "wrong checksum"),
        (header(".", b"0") + END, "does not start with its root directory"),
        (END + bytes(RECORD - 2 * BLOCK), "does not start with its root directory"),
        (header("tmp/", b"5") + END, "does not start with its root directory"),
        (ROOT + END + b"junk" + bytes(508), "data after the end of the archive"),
        (ROOT + bytes(BLOCK) + bytes(RECORD + BLOCK), "more than a record of zeros"),
        (ROOT + END + bytes(100), "a partial block after the archive"),
    ],
)
def test_a_forged_archive_frame_is_a_protocol_error(stream: bytes, problem: str) -> None:
    channel = read(started() + stream)
    assert channel.protocol_error is not None and problem in channel.protocol_error


@pytest.mark.parametrize("blocks", [0, 1, 19, 20])
def test_the_archive_may_end_with_up_to_a_record_of_zeros(blocks: int) -> None:
    # the first end block, then the second and tarfile's padding to a whole record
    channel = read(started() + ROOT + bytes(BLOCK) + bytes(blocks * BLOCK))
    assert channel.snapshot is not None, channel


def test_a_link_to_a_link_leads_to_the_first_name() -> None:
    channel = read(started() + archive(member("a", b"1"), member("b", kind=b"1", link="a"),
                                       member("c", kind=b"1", link="b")))  # fmt: skip
    assert channel.snapshot is not None
    assert channel.snapshot.links == {"/b": "/a", "/c": "/a"}


def test_ancillary_data_on_the_channel_is_a_protocol_error() -> None:
    parent, child = socket.socketpair()
    data = started() + archive(member("a", b"x" * 5000))
    read_end, write_end = os.pipe()
    try:
        # descriptors sent along end a read short: the finished frame's header read gets 2
        confined = len(frame("confined", **CONFINED))
        child.sendall(data[:confined])
        rights = (socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [read_end]))
        child.sendmsg([data[confined : confined + 2]], [rights])
        child.sendall(data[confined + 2 :])
        child.close()
        channel = read_channel(SocketSource(parent), BOUNDS)
    finally:
        parent.close()
        os.close(read_end)
        os.close(write_end)
    assert channel.protocol_error == "a stream that carried ancillary or out-of-band data"


# -- bounds ----------------------------------------------------------------------------------------


def traced_peak(data: bytes, bounds: Bounds) -> tuple[int, Channel]:
    """The peak of memory allocated while the parent reads ``data`` (and what it made of it)."""
    with feeding(data) as sock:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            channel = read_channel(SocketSource(sock), bounds)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return peak, channel


def test_a_file_larger_than_the_guest_could_hold_is_refused_before_any_allocation() -> None:
    bounds = Bounds(total=3 << 20, largest_file=2 << 20, reportable=frozenset())
    stream = started() + ROOT + pax(("size", str(1 << 40))) + header("huge")
    peak, channel = traced_peak(stream, bounds)
    assert channel.protocol_error == "a file of 1099511627776 bytes (at most 2097152)"
    assert peak < 256 << 10


def test_files_beyond_the_budget_are_oversized_without_being_allocated() -> None:
    bounds = Bounds(total=3 << 20, largest_file=2 << 20, reportable=frozenset())
    stream = started() + ROOT + member("a", bytes(2 << 20)) + header("b", size=2 << 20)
    peak, channel = traced_peak(stream, bounds)
    assert channel.oversized is not None and channel.snapshot is None
    assert peak < (2 << 20) + (512 << 10)  # the first file, and nothing for the second


def test_a_declared_size_is_allocated_at_most_once_even_if_nothing_comes() -> None:
    bounds = Bounds(total=12 << 20, largest_file=8 << 20, reportable=frozenset())
    peak, channel = traced_peak(started() + ROOT + header("a", size=8 << 20), bounds)
    assert channel.ended == "inside the snapshot"
    assert peak < (8 << 20) + (256 << 10)


def test_members_beyond_the_count_bound_are_refused() -> None:
    bounds = Bounds(total=1 << 20, largest_file=1 << 20, reportable=frozenset(), members=3)
    channel = read(started() + archive(member("a"), member("b"), member("c")), bounds)
    assert channel.protocol_error == "a snapshot of more than 3 members"


def test_the_bounds_follow_the_limits() -> None:
    bounds = Bounds.for_limits(Limits(memory_bytes=100 << 20, open_files=None))
    assert (bounds.total, bounds.largest_file) == (116 << 20, 100 << 20)
    assert bounds.reportable == {"memory", "file_size", "wall"}
    unbounded = Bounds.for_limits(Limits(memory_bytes=None, wall_seconds=None))
    assert unbounded.largest_file == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert "memory" not in unbounded.reportable and "wall" not in unbounded.reportable


# -- fuzzing ---------------------------------------------------------------------------------------

FUZZ_BOUNDS = Bounds(total=1 << 20, largest_file=512 << 10, reportable=frozenset({"memory"}))
FUZZ_PEAK = FUZZ_BOUNDS.total + (256 << 10)
"""What reading any stream may allocate at most: the budget, and a little for headers."""

names = st.sampled_from(["a", "b", "a/b", "d", "d/e", "../x", "./", "a/", "", "x\0y", "n" * 300])
kinds = st.sampled_from([b"0", b"\0", b"1", b"2", b"5", b"x", b"S", b"g", b"L", b"3", b"7"])
sizes = st.sampled_from([0, 1, 511, 512, 513, 4096, 1 << 19, 1 << 20, 1 << 33, (1 << 36) - 1])
pax_keys = st.sampled_from(["path", "linkpath", "size", "uid", "mtime", "hdrcharset",
                            "GNU.sparse.map", "GNU.sparse.offset", "comment", "uname"])  # fmt: skip
pax_values = st.sampled_from(["a", "d/e", "1", "-1", "99999999999999999999999", "1.5",
                              "BINARY", "x\0", "0,10,20", "../etc"])  # fmt: skip


@st.composite
def tar_members(draw: st.DrawFn) -> bytes:
    """One member, well formed or not, with some data after it."""
    choice = draw(st.integers(0, 5))
    if choice == 0:
        records = draw(st.lists(st.tuples(pax_keys, pax_values), max_size=3))
        return pax(*records)
    if choice == 1:
        return draw(st.binary(max_size=600))
    if choice in (2, 3):  # a well-formed member (often one the others can refer to)
        kind = draw(st.sampled_from([b"0", b"1", b"2", b"5"]))
        data = draw(st.binary(max_size=1000)) if kind == b"0" else b""
        return member(draw(st.sampled_from(["a", "b", "d", "d/e"])), data, kind, draw(names))
    size = draw(sizes)
    block = header(draw(names), draw(kinds), size, draw(names), checksum=draw(
        st.none() | st.integers(0, 1 << 16)))  # fmt: skip
    data = draw(st.binary(max_size=600)) if choice == 4 else padded(b"d" * min(size, 2048))
    return block + data


frames = st.one_of(
    st.binary(max_size=200),
    st.builds(raw_frame, st.binary(max_size=200)),
    st.builds(lambda depth: raw_frame(b"[" * depth + b"]" * depth), st.integers(0, 50_000)),
    st.builds(lambda size: size.to_bytes(4, "big"), st.integers(0, (1 << 32) - 1)),
    st.builds(lambda fields: frame("finished", **fields), st.dictionaries(
        st.sampled_from(["status", "exception", "limit", "x"]),
        st.none() | st.integers() | st.text(max_size=5) | st.booleans(), max_size=4)),
    st.just(frame("finished", status=0, exception=None, limit="memory")),
)  # fmt: skip


def one_outcome(channel: Channel) -> bool:
    """Whether the channel ended in exactly one way."""
    names = ("setup_error", "child_error", "snapshot", "protocol_error", "oversized", "ended")
    return sum(getattr(channel, name) is not None for name in names) == 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.sampled_from([b"", frame("confined", **CONFINED)]), second=frames)
@example(before=frame("confined", **CONFINED), second=started()[-60:])
def test_any_frames_end_in_a_channel_never_an_exception_nor_beyond_the_bounds(
    before: bytes, second: bytes
) -> None:
    peak, channel = traced_peak(before + second + archive(), FUZZ_BOUNDS)
    assert peak <= FUZZ_PEAK
    assert one_outcome(channel), channel


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    members=st.lists(tar_members(), max_size=6),
    end=st.sampled_from([b"", END, END + bytes(RECORD), b"\0" * 100]),
)
@example(members=[member("d", kind=b"5"), member("d/e", b"x"), member("a", kind=b"1", link="d/e")],
         end=END)  # fmt: skip
def test_any_archive_ends_in_a_channel_never_an_exception_nor_beyond_the_bounds(
    members: list[bytes], end: bytes
) -> None:
    peak, channel = traced_peak(started() + ROOT + b"".join(members) + end, FUZZ_BOUNDS)
    assert peak <= FUZZ_PEAK
    assert one_outcome(channel), channel


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4000))
def test_random_bytes_after_the_confinement_end_in_a_channel(data: bytes) -> None:
    channel = read(frame("confined", **CONFINED) + data, FUZZ_BOUNDS)
    assert channel.applied == ("rlimits",)
    assert one_outcome(channel) and channel.snapshot is None, channel


# -- the parser, fed as the bytes come ------------------------------------------------------------


def test_a_stream_cut_short_ends_where_it_was_cut() -> None:
    parser = ChannelParser(BOUNDS)
    parser.feed(frame("confined", **CONFINED) + b"\0\0")  # then nothing more
    assert parser.channel.applied == ("rlimits",) and parser.channel.ended is None
    parser.end()  # (the child was killed, or the parent stopped reading)
    assert parser.done and parser.channel.ended == "before the finished frame"


def test_the_parser_takes_bytes_as_they_come_and_keeps_only_what_it_waits_for() -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    stream = started() + archive(member("f", data))
    parser = ChannelParser(BOUNDS)
    confined = len(frame("confined", **CONFINED))
    parser.feed(stream[:confined])
    assert parser.channel.confined_at is not None  # as soon as it came
    for start in range(confined, len(stream), 4096):
        parser.feed(stream[start : start + 4096])
        assert parser._received.kept <= len(data) + 2 * BLOCK + 4096
    parser.end()
    assert parser.channel.snapshot is not None and parser.channel.snapshot.files == {"/f": data}
    assert parser.channel.received == len(stream)


def test_a_flood_is_not_kept_and_read_no_further_once_the_parser_is_done() -> None:
    bounds = Bounds(total=1 << 20, largest_file=1 << 20, reportable=frozenset())
    parser = ChannelParser(bounds)
    parser.feed(started() + ROOT + header("f", size=1000 << 10))  # waits for 1000 KiB
    parser.feed(b"\xff" * (2 << 20))  # more than the whole channel may carry, in one read
    assert parser.done
    assert parser.channel.protocol_error == "a block that is not a POSIX tar header"
    assert parser._received.kept == 0
    before = started() + ROOT + header("f", size=500 << 10)
    exact = Bounds(total=len(before) + (500 << 10), largest_file=1 << 20, reportable=frozenset())
    parser = ChannelParser(exact)
    parser.feed(before)
    parser.feed(b"\xff" * (2 << 20))  # the file, then a flood: the next header passes the bounds
    expected = f"{len(before) + (500 << 10) + 512} bytes or more"
    assert parser.done and parser.channel.oversized == expected
    assert parser._received.kept == 0
    parser.feed(bytes(1 << 20))  # (nothing is read once it is done)
    assert parser._received.kept == 0


def fed_peak(stream: bytes, size: int, bounds: Bounds) -> tuple[int, Channel]:
    """The peak of memory allocated while the parser takes ``stream`` ``size`` bytes at a
    time (the pieces themselves made before), and what it made of it."""
    pieces = [stream[start : start + size] for start in range(0, len(stream), size)]
    parser = ChannelParser(bounds)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        for piece in pieces:
            parser.feed(piece)
        parser.end()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, parser.channel


def test_a_large_file_is_received_into_the_bytes_the_result_keeps() -> None:
    data = bytes(range(256)) * (16 << 10)  # 4 MiB, in 64 KiB reads
    peak, channel = fed_peak(started() + archive(member("f", data)), 1 << 16, BOUNDS)
    assert channel.snapshot is not None and channel.snapshot.files == {"/f": data}
    assert peak < len(data) + (512 << 10)  # once, not gathered and then copied


def test_a_large_file_cut_short_is_allocated_once_and_not_kept() -> None:
    bounds = Bounds(total=12 << 20, largest_file=8 << 20, reportable=frozenset())
    stream = started() + ROOT + header("a", size=8 << 20) + bytes(3 << 20)
    peak, channel = fed_peak(stream, 1 << 16, bounds)
    assert (channel.ended, channel.snapshot) == ("inside the snapshot", None)
    assert peak < (8 << 20) + (512 << 10)


def test_descriptors_sent_along_are_a_protocol_error() -> None:
    parser = ChannelParser(BOUNDS)
    parser.feed(frame("confined", **CONFINED))
    parser.carried_ancillary()
    assert parser.done
    assert parser.channel.protocol_error == "a stream that carried ancillary or out-of-band data"


def test_a_file_beyond_one_read_is_gathered_and_a_short_one_still_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(channel_module, "SINGLE_READ", 1000)
    data = bytes(range(256)) * 20
    whole = read(started() + archive(member("f", data)))
    assert whole.snapshot is not None and whole.snapshot.files == {"/f": data}
    cut = read(started() + ROOT + header("f", size=len(data)) + data[:2500])
    assert (cut.ended, cut.snapshot) == ("inside the snapshot", None)


# -- the runner around the reader ------------------------------------------------------------------


def open_descriptors() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def test_a_failing_reader_is_raised_and_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: object, source: object) -> bool:
        raise RuntimeError("the reader's own bug")

    before = open_descriptors()
    monkeypatch.setattr(channel_module._Steps, "step", broken)
    with pytest.raises(RuntimeError, match="the reader's own bug"):
        run_isolated("import time; time.sleep(30)")
    assert open_descriptors() == before
    assert not [thread for thread in threading.enumerate() if "isolation" in thread.name]


def test_an_interrupted_run_leaves_no_process_thread_or_descriptor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started_pids: list[int] = []

    def interrupted(self: runner_module._Supervision, child: Any, started: float) -> None:
        started_pids.append(child.pid)
        time.sleep(0.3)  # the child runs, its channel unread
        raise KeyboardInterrupt

    before = open_descriptors()
    monkeypatch.setattr(runner_module._Supervision, "_watch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_isolated("import time; time.sleep(30)")
    assert open_descriptors() == before
    assert group_members(started_pids[0]) == []
    assert not [thread for thread in threading.enumerate() if "isolation" in thread.name]
