"""Results that are large or linked: the parent holds a result once (its peak memory within
1.2x of the files, measured in a fresh process), and hard links come back as links, in the
result and on disk with ``--snapshot-out``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from posixbackend.isolation import Limits, run_isolated

MEASURE = textwrap.dedent(
    """\
    import json, resource, sys
    from posixbackend.isolation import Limits, run_isolated
    limits = Limits(memory_bytes=1 << 30, file_size_bytes=None, wall_seconds=60, cpu_seconds=30)
    run_isolated("pass")  # the parent's own machinery, loaded and warm
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_isolated(sys.argv[1], limits=limits)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert result.ok and result.notes == (), result
    distinct = {id(data): len(data) for data in result.files.values()}
    print(json.dumps({"growth": (after - before) * 1024, "size": sum(distinct.values()),
                      "files": len(result.files)}))
    """
)
"""Runs a guest in a fresh interpreter; prints how much the parent's peak RSS grew."""

BIG_FILE = """\
with open('/tmp/big', 'wb') as out:
    for _ in range(200):
        out.write(b'x' * (1 << 20))
"""
SMALL_FILES = """\
import os
os.mkdir('/tmp/d')
for n in range(8000):
    with open(f'/tmp/d/f{n}', 'wb') as out:
        out.write(b'y' * 4096)
"""


@pytest.mark.parametrize(("code", "files"), [(BIG_FILE, 1), (SMALL_FILES, 8000)],
                         ids=["one 200 MiB file", "8000 files of 4 KiB"])  # fmt: skip
def test_the_parent_holds_a_result_within_1_2_times_its_size(code: str, files: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, code], capture_output=True, timeout=120, check=True
    )
    measured = json.loads(done.stdout)
    assert measured["files"] == files
    assert measured["growth"] <= 1.2 * measured["size"], measured


LINKS = """\
import os
with open('/tmp/one', 'wb') as out:
    out.write(os.urandom(1 << 20))
os.mkdir('/tmp/links')
for n in range(3000):
    os.link('/tmp/one', f'/tmp/links/{n}')
"""


def test_hard_links_come_back_as_one_file_with_many_names() -> None:
    result = run_isolated(LINKS, limits=Limits(wall_seconds=60))
    assert result.ok, result.stderr
    files, links = result.files, result.links  # (a failure shows these, not 3 GB of repr)
    assert len(files) == 3001 and len({id(data) for data in files.values()}) == 1
    first = "/tmp/links/0"  # the first name the snapshot walks to
    expected = {f"/tmp/links/{n}": first for n in range(1, 3000)} | {"/tmp/one": first}
    assert links == expected
    assert len(files[first]) == 1 << 20


def test_snapshot_out_writes_a_linked_file_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "posixbackend", "--isolate", f"--snapshot-out={out}", "-c", LINKS],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, b"")
    one = (out / "tmp/one").stat()
    assert one.st_nlink == 3001 and one.st_size == 1 << 20
    inodes = {}
    for directory, _, names in os.walk(out):
        for name in names:
            st = os.lstat(os.path.join(directory, name))
            inodes[st.st_dev, st.st_ino] = st.st_blocks * 512
    assert len(inodes) == 1
    assert sum(inodes.values()) < 2 << 20  # about 1 MiB on disk, not 3 GB
