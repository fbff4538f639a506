"""Random trees (Hypothesis) through copytree, rmtree, walk, glob, zip and tar, native vs managed.

Each example builds the same tree natively and managed, then runs every tool over it; the
summaries must match. Names avoid glob metacharacters and "." prefixes only where a pattern
would treat them specially, and times are fixed so archives compare byte for byte.
"""

from __future__ import annotations

import glob
import os
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.switch.stdlib_harness import (  # noqa: F401 - a fixture
    compare,
    tree,
    uninstall_after_module,
)

FIXED = 1_600_000_000
NAMES = st.text(alphabet="abcXYZ019_-. é", min_size=1, max_size=8).filter(
    lambda name: name not in (".", "..")
)
TREES = st.recursive(
    st.one_of(
        st.tuples(st.just("file"), st.binary(max_size=300)),
        st.tuples(st.just("link"), NAMES),
    ),
    lambda children: st.tuples(st.just("dir"), st.dictionaries(NAMES, children, max_size=4)),
    max_leaves=12,
)


def build(directory: Path, entries: dict[str, Any]) -> None:
    """Make ``entries`` below ``directory`` (links point at sibling names, maybe missing)."""
    for name, (kind, value) in entries.items():
        path = directory / name
        if kind == "file":
            path.write_bytes(value)
        elif kind == "link":
            path.symlink_to(value)
        else:
            path.mkdir()
            build(path, value)
    for name in entries:
        os.utime(directory / name, (FIXED, FIXED), follow_symlinks=False)


def round_trips(root: str, entries: dict[str, object]) -> object:
    """The tree through every tool, summarised."""
    base = Path(root)
    source = base / "src"
    source.mkdir()
    build(source, entries)
    os.utime(source, (FIXED, FIXED))
    walked = sorted(
        (os.path.relpath(top, source), sorted(dirs), sorted(files))
        for top, dirs, files in os.walk(source)
    )
    fwalked = sorted(os.path.relpath(top, source) for top, _, _, _ in os.fwalk(source))
    globbed = sorted(glob.glob("**", root_dir=source, recursive=True, include_hidden=True))
    shutil.copytree(source, base / "copy", symlinks=True)
    copied = tree(base / "copy", times=True)
    archive = base / "tree.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tf:
        tf.add(source, "src")
    with tarfile.open(archive) as tf:
        tf.extractall(base / "untarred", filter="tar")
    with zipfile.ZipFile(base / "tree.zip", "w") as zf:
        for top, dirs, files in os.walk(source):
            for name in sorted(dirs + files):
                path = os.path.join(top, name)
                if os.path.isfile(path):
                    zf.write(path, os.path.relpath(path, source))
    with zipfile.ZipFile(base / "tree.zip") as zf:
        zipped = sorted((info.filename, info.CRC, info.file_size) for info in zf.infolist())
        zf.extractall(base / "unzipped")
    result = {
        "tree": tree(source, times=True),
        "walk": walked,
        "fwalk": fwalked,
        "glob": globbed,
        "copy_same": copied == tree(source, times=True),
        "tar": archive.read_bytes(),
        "untarred": tree(base / "untarred" / "src"),
        "zip": zipped,
        "unzipped": tree(base / "unzipped"),
    }
    shutil.rmtree(base / "copy")
    shutil.rmtree(source)
    result["left"] = sorted(os.listdir(base))
    return result


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(NAMES, TREES, max_size=5))
def test_random_trees(entries: dict[str, object]) -> None:
    """As many examples as the Hypothesis profile says (tests/conftest.py)."""
    compare(lambda root: round_trips(root, entries))
