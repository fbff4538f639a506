"""The guest's memory file system in isolated mode: sparse inside, whole on the channel, capped.

Inside the guest a file keeps its holes (its memory file system is sparse), but the child
sends its snapshot with holes written out, since the parent refuses sparse members from the
untrusted side; the file system is capped at half the guest's memory limit, so filling it is
ENOSPC inside the guest rather than the memory limit ending the run.
"""

from __future__ import annotations

import textwrap

from posixbackend.isolation import Limits, run_isolated
from tests.isolation.helpers import printed

SPARSE = textwrap.dedent(
    """\
    import os
    fd = os.open('/tmp/sparse', os.O_RDWR | os.O_CREAT, 0o644)
    os.ftruncate(fd, 3 << 20)
    os.pwrite(fd, b'middle', 1 << 20)
    print(os.fstat(fd).st_blocks, os.lseek(fd, 0, os.SEEK_DATA))
    """
)
FILL = textwrap.dedent(
    """\
    import errno
    written = 0
    with open('/tmp/fill', 'wb', buffering=0) as out:
        try:
            while True:
                written += out.write(b'x' * (1 << 20))
        except OSError as error:
            print(errno.errorcode[error.errno], written >> 20, os.statvfs('/tmp').f_bfree)
    """
).replace("import errno", "import errno, os")


def test_a_sparse_guest_file_comes_back_whole() -> None:
    result = run_isolated(SPARSE)
    assert result.ok, result.stderr
    assert printed(result) == ["8 1048576"]  # one page allocated, data where it was written
    assert result.files["/tmp/sparse"] == bytes(1 << 20) + b"middle" + bytes((2 << 20) - 6)
    assert result.notes == ()


def test_the_guest_fills_half_its_memory_limit_then_gets_enospc() -> None:
    limits = Limits(memory_bytes=256 << 20, file_size_bytes=None)
    result = run_isolated(FILL, limits=limits)
    assert result.ok, (result.stderr, result.notes)
    assert printed(result) == ["ENOSPC 128 0"]
    assert len(result.files["/tmp/fill"]) == 128 << 20
