"""A hostile guest writes its own bytes to the real result channel (found with ctypes, as any
guest with native access can): deep JSON, a forged setup_error, forged limits and files, a
sparse member, a huge declared size. Each run ends in an IsolatedResult that says the guest
broke the protocol (or holds the guest's forgery as the guest's own data), never an exception
from run_isolated, and the command line prints one line without a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from posixbackend.isolation import IsolatedResult, Limits, run_isolated
from posixbackend.permissions.policy import Permissions
from tests.isolation.helpers import assert_nothing_left
from tests.isolation.streams import (
    archive,
    frame,
    header,
    member,
    pax,
    raw_frame,
)

NATIVE = Permissions(allow_io="all", allow_native_access=True)

FIND_CHANNEL = """\
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)

def channel():
    kind, size = ctypes.c_int(), ctypes.c_uint(4)
    for fd in range(3, 1024):  # the only stream socket: SOL_SOCKET, SO_TYPE, SOCK_STREAM
        if libc.getsockopt(fd, 1, 3, ctypes.byref(kind), ctypes.byref(size)) == 0:
            if kind.value == 1:
                return fd
    argv = sys.orig_argv  # or the bootstrap's own arguments
    return int(argv[argv.index("-c") + 3])
"""
"""Guest code defining channel(): the real descriptor of the result channel."""

FORGER = (
    FIND_CHANNEL
    + """\
data = open("/forged.bin", "rb").read()
print("forging", len(data), flush=True)  # (the parent may kill the child as soon as it reads)
fd, done = channel(), 0
while done < len(data):
    written = libc.write(fd, ctypes.c_char_p(data[done:]), len(data) - done)
    assert written > 0, ctypes.get_errno()
    done += written
"""
)
"""Guest code writing the file /forged.bin to the real channel, after the child's own
confined frame; what it does next follows it."""


def forge(data: bytes, then: str, limits: Limits | None = None) -> IsolatedResult:
    """Run a guest that writes ``data`` to the channel and then runs ``then``."""
    started = time.monotonic()
    result = run_isolated(FORGER + then, NATIVE, files={"/forged.bin": data}, limits=limits)
    assert time.monotonic() - started < 20
    assert result.stdout.startswith(b"forging "), result.stderr
    assert_nothing_left(result)
    return result


def finished(**fields: object) -> bytes:
    return frame("finished", **{"status": 0, "exception": None, "limit": None, **fields})


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (raw_frame(b"[" * 30_000 + b"]" * 30_000), "a frame nested 30000 levels deep"),
        (raw_frame(b"{" * 100_000), "a frame of 100000 bytes"),
        (frame("setup_error", message="forged failure"), "'setup_error' frame where the"),
        (finished(limit="cpu"), "a reported limit 'cpu' this run does not have"),
        (finished() + archive(pax(("GNU.sparse.map", "0,999999999")), member("s", b"x")),
         "a sparse member"),
        (finished() + archive(header("s", b"S", 4096)), "a sparse member"),
        (finished() + archive(pax(("size", str(1 << 40))), header("huge")),
         "a file of 1099511627776 bytes"),
        (finished() + archive(member("../../etc/cron.d/x", b"* * * * * root sh")),
         "a member named '../../etc/cron.d/x'"),
        (finished() + archive(member("l", kind=b"1", link="unknown")), "a hard link to"),
    ],
)  # fmt: skip
def test_a_forged_stream_then_a_wait_is_a_protocol_error_and_the_child_is_killed(
    data: bytes, problem: str
) -> None:
    result = forge(data, "time.sleep(60)")
    assert result.protocol_error is not None and problem in result.protocol_error
    assert (result.signal, result.limit_exceeded) == (signal.SIGKILL, None)  # at once
    assert (result.files, result.links, result.exception, result.reported_limit) == (
        {}, {}, None, None,
    )  # fmt: skip
    assert not result.ok
    assert result.summary() == f"the guest broke the result protocol: {result.protocol_error}"


def test_a_forged_stream_followed_by_the_childs_own_is_a_protocol_error() -> None:
    result = forge(finished() + archive(member("f", b"forged")), "print('then the real end')")
    assert result.protocol_error == "data after the end of the archive"
    assert result.files == {}


def test_a_complete_forgery_is_the_guests_own_data_and_forges_no_observation() -> None:
    forged = finished(status=0, exception="MemoryError", limit="memory") + archive(
        member("etc", kind=b"5"), member("etc/passwd", b"root::0:0::/:/bin/sh"),
        member("etc/alias", kind=b"1", link="etc/passwd"),
    )  # fmt: skip
    result = forge(forged, "os._exit(0)", Limits(cpu_seconds=1))
    assert result.protocol_error is None
    # the guest's data, as documented: files, links, exception, reported limit
    assert result.files == {"/etc/passwd": b"root::0:0::/:/bin/sh",
                            "/etc/alias": b"root::0:0::/:/bin/sh"}  # fmt: skip
    assert result.links == {"/etc/alias": "/etc/passwd"}
    assert (result.exception, result.reported_limit) == ("MemoryError", "memory")
    # what the parent observed: no limit, the real status
    assert (result.status, result.limit_exceeded, result.signal) == (0, None, None)


def test_a_guest_killing_itself_with_sigxcpu_or_sigkill_forges_no_cpu_limit() -> None:
    for number in (signal.SIGXCPU, signal.SIGKILL):
        result = run_isolated(f"import signal; signal.raise_signal({number})")
        assert (result.signal, result.limit_exceeded) == (number, None)
        assert result.summary() == f"killed by {signal.Signals(number).name}"


def test_a_result_beyond_the_bounds_is_the_memory_limit_and_keeps_no_files() -> None:
    limits = Limits(memory_bytes=256 << 20)
    sent = member("first", bytes(17 << 20))  # past the archive's slack, then as much again
    result = forge(finished() + archive()[:512] + sent + header("second", size=256 << 20),
                   "time.sleep(60)", limits)  # fmt: skip
    assert (result.limit_exceeded, result.signal, result.protocol_error) == (
        "memory", signal.SIGKILL, None,
    )  # fmt: skip
    assert result.files == {}
    assert result.notes == (
        "the result outgrew what the parent accepts (256 MiB and 16 MiB of archive headers): "
        "its files were not kept",
    )
    assert result.summary() == "memory limit (256 MiB) exceeded (SIGKILL)"


def test_a_huge_declared_size_within_the_memory_limit_costs_the_parent_nothing() -> None:
    limits = Limits(memory_bytes=512 << 20)
    result = forge(finished() + archive()[:512] + header("big", size=400 << 20), "os._exit(3)",
                   limits)  # fmt: skip
    assert (result.status, result.protocol_error, result.files) == (3, None, {})
    assert result.notes == ("the snapshot was cut short (the child ended): no files came back",)


def test_the_command_line_prints_one_line_for_a_broken_protocol() -> None:
    code = FIND_CHANNEL + (
        "data = (20000).to_bytes(4, 'big') + b'[' * 10000 + b']' * 10000\n"
        "print('sent', flush=True)\n"
        "libc.write(channel(), data, len(data))\n"
        "time.sleep(60)\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "posixbackend", "--isolate", "--allow-native-access", "-c", code],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (123, b"sent\n")
    assert done.stderr.decode().splitlines() == [
        "posixbackend: isolated program broke the result protocol: a frame nested 10000 "
        "levels deep (at most 3)"
    ]
