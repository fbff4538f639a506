"""The accelerator's truncated_stat gives the stat result BackendCore._view's Python code gives
(posixbackend.emulated.core.truncated_view), field by field, or None where it leaves a time to
Python (beyond what a C long long holds)."""

from __future__ import annotations

import os
import posix

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend.emulated import EmulatedBackend, accelerator
from posixbackend.emulated.core import truncated_view
from vfs import Identity, MemoryFileSystem

FIELDS = [name for name in dir(os.stat_result) if name.startswith("st_")]
NS = st.one_of(
    st.integers(-(2**63) // 2, 2**63 - 1),
    st.integers(-(10**10), 10**10),
    st.integers(-(2**70), 2**70),
)
RESOLUTIONS = st.one_of(
    st.sampled_from([1, 10, 1000, 10**6, 10**9, 2 * 10**9]), st.integers(1, 10**12)
)


def status(atime: int, mtime: int, ctime: int) -> os.stat_result:
    """A status record with these nanosecond times (and the seconds forms of the originals)."""
    return posix.stat_result(
        (0o100644, 12, 34, 1, 1000, 1000, 100, 1, 2, 3, 1.5, 2.5, 3.5, atime, mtime, ctime,
         4096, 8, 0)
    )  # fmt: skip


@pytest.mark.skipif(accelerator.TRUNCATED_STAT is None, reason=accelerator.MISSING)
@given(NS, NS, NS, RESOLUTIONS)
def test_the_c_copy_is_the_python_one(atime: int, mtime: int, ctime: int, resolution: int) -> None:
    truncate = accelerator.TRUNCATED_STAT
    assert truncate is not None
    result = status(atime, mtime, ctime)
    copy = truncate(result, resolution)
    in_range = all(-(2**63) // 2 <= ns < 2**63 for ns in (atime, mtime, ctime))
    if copy is None:
        assert not in_range
        return
    assert in_range
    expected = truncated_view(result, resolution)
    assert [getattr(copy, name) for name in FIELDS] == [getattr(expected, name) for name in FIELDS]
    assert [type(getattr(copy, name)) for name in FIELDS] == [
        type(getattr(expected, name)) for name in FIELDS
    ]


@pytest.mark.skipif(accelerator.TRUNCATED_STAT is None, reason=accelerator.MISSING)
def test_anything_else_is_left_to_python() -> None:
    truncate = accelerator.TRUNCATED_STAT
    assert truncate is not None
    result = status(1, 2, 3)
    assert truncate(result, 0) is None
    assert truncate(result, 1.5) is None  # type: ignore[arg-type]
    assert truncate((1, 2, 3), 10) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("accelerated", [False, True] if accelerator.AVAILABLE else [False])
def test_a_new_backend_finds_the_copies_an_earlier_one_made(accelerated: bool) -> None:
    """Every block builds a fresh backend: the truncated copy of an unchanged file's status
    is shared by backends of one resolution (not remade, the gap not hit again), and a
    change gives a new copy."""
    fs = MemoryFileSystem(identity=Identity.root())
    first = EmulatedBackend(fs, accelerated=accelerated, standard_streams=False)
    first.close(first.open("/f", os.O_CREAT | os.O_WRONLY, 0o644))
    seen = first.stat("/f")
    again = EmulatedBackend(fs, accelerated=accelerated, standard_streams=False)
    assert again.stat("/f") is seen
    finer = EmulatedBackend(
        fs, accelerated=accelerated, standard_streams=False, time_resolution_ns=1000
    )
    assert finer.stat("/f") is not seen and finer.stat("/f").st_mtime_ns % 1000 == 0
    again.chmod("/f", 0o600)
    changed = first.stat("/f")
    assert changed is not seen and changed.st_mode & 0o777 == 0o600
