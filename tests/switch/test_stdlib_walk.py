"""os.walk, os.fwalk, glob and fnmatch-driven walks on the managed backend, against native."""

from __future__ import annotations

import fnmatch
import glob
import os
from pathlib import Path

from tests.switch.stdlib_harness import (  # noqa: F401 - a fixture
    compare,
    error_facts,
    uninstall_after_module,
)

NAMES = ("a.py", "b.txt", ".hidden", "sub/c.py", "sub/d/e.py", "sub/d/f.TXT", "sub/[x].py",
         "other/g.py", ".dot/h.py", "empty/")  # fmt: skip


def make_tree(base: Path) -> None:
    """Files, hidden names, a name with glob metacharacters, links to a directory and files."""
    for name in NAMES:
        path = base / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(name)
    (base / "dlink").symlink_to("sub")
    (base / "sub" / "up").symlink_to("../b.txt")  # not a loop: followed walks would explode
    (base / "broken").symlink_to("missing")


def sorted_walk(entries: object) -> list[tuple[object, list[object], list[object]]]:
    """A walk's (top, dirs, files) triples with each list sorted (order is the fs's)."""
    assert isinstance(entries, list)
    return sorted((top, sorted(dirs), sorted(files)) for top, dirs, files in entries)


def walks(root: str) -> object:
    """os.walk top-down, bottom-up, following links, pruning, onerror."""
    base = Path(root)
    make_tree(base)
    errors: list[object] = []
    pruned = []
    for top, dirs, files in os.walk(root):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        pruned.append((top, sorted(dirs), sorted(files)))
    bottom_up = [top for top, _, _ in os.walk(root, topdown=False)]
    return {
        "top_down": sorted_walk(list(os.walk(root))),
        "bottom_up_children_first": all(
            bottom_up.index(os.path.join(root, "sub", "d")) < bottom_up.index(top)
            for top in (os.path.join(root, "sub"), root)
        ),
        "follow": sorted_walk(list(os.walk(os.path.join(root, "dlink"), followlinks=True))),
        "pruned": sorted(pruned),
        "bytes": sorted_walk(list(os.walk(os.fsencode(root)))),
        "missing": list(
            os.walk(os.path.join(root, "missing"), onerror=lambda e: errors.append(error_facts(e)))
        ),
        "errors": errors,
    }


def fwalks(root: str) -> object:
    """os.fwalk with its directory fds: listing through them, following links, dir_fd."""
    base = Path(root)
    make_tree(base)
    seen = []
    for top, dirs, files, fd in os.fwalk(root):
        seen.append((top, sorted(dirs), sorted(files), sorted(os.listdir(fd))))
    followed = [
        (top, sorted(dirs), sorted(files)) for top, dirs, files, _ in os.fwalk(
            os.path.join(root, "dlink"), follow_symlinks=True
        )
    ]  # fmt: skip
    top_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        relative = sorted(
            (top, sorted(dirs), sorted(files))
            for top, dirs, files, _ in os.fwalk("sub", dir_fd=top_fd)
        )
    finally:
        os.close(top_fd)
    bottom_up = [top for top, _, _, _ in os.fwalk(root, topdown=False)]
    return {
        "walk": sorted(seen),
        "followed": sorted(followed),
        "relative": relative,
        "bottom_up": sorted(bottom_up),
        "bytes": sorted(top for top, _, _, _ in os.fwalk(os.fsencode(root))),
    }


def globs(root: str) -> object:
    """glob.glob and iglob: recursive, hidden, root_dir, dir_fd, escape, bytes."""
    base = Path(root)
    make_tree(base)
    patterns = ("*", "**", "**/*.py", "*/", "sub/*", "sub/[[]x].py", "*/d/*.[tT][xX][tT]",
                "dlink/*", "broken", "missing/*", ".*", "sub/up")  # fmt: skip
    result: dict[str, object] = {}
    for pattern in patterns:
        result[pattern] = (
            sorted(glob.glob(os.path.join(root, pattern), recursive=True)),
            sorted(glob.glob(pattern, root_dir=root, recursive=True, include_hidden=True)),
        )
    result["escape"] = sorted(glob.glob(glob.escape(os.path.join(root, "sub", "[x].py"))))
    result["iglob"] = sorted(glob.iglob("**/", root_dir=root, recursive=True))
    result["bytes"] = sorted(glob.glob(os.fsencode(os.path.join(root, "*.py"))))
    fd = os.open(os.path.join(root, "sub"), os.O_RDONLY | os.O_DIRECTORY)
    try:
        result["dir_fd"] = sorted(glob.glob("**/*.py", dir_fd=fd, recursive=True))
        result["dir_fd_root"] = sorted(glob.glob("*", root_dir="d", dir_fd=fd))
    finally:
        os.close(fd)
    result["has_magic"] = [glob.has_magic(p) for p in patterns]
    return result


def fnmatch_walk(root: str) -> object:
    """The classic find-by-pattern walk: os.walk with fnmatch.filter, and case rules."""
    base = Path(root)
    make_tree(base)
    found: dict[str, list[str]] = {}
    for pattern in ("*.py", "*.txt", "[!.]*", "?.*"):
        matches = []
        for top, dirs, files in os.walk(root):
            dirs.sort()
            matches += [os.path.join(top, name) for name in fnmatch.filter(sorted(files), pattern)]
        found[pattern] = matches
    txt = [
        name for _, _, files in os.walk(root) for name in files if fnmatch.fnmatch(name, "*.txt")
    ]
    exact = [
        name
        for _, _, files in os.walk(root)
        for name in files
        if fnmatch.fnmatchcase(name, "*.txt")
    ]
    return {"found": found, "fnmatch": sorted(txt), "fnmatchcase": sorted(exact)}


def test_os_walk() -> None:
    compare(walks)


def test_os_fwalk() -> None:
    compare(fwalks)


def test_glob() -> None:
    compare(globs)


def test_fnmatch_driven_walk() -> None:
    compare(fnmatch_walk)


def test_walks_relative_to_the_current_directory() -> None:
    def relative(root: str) -> object:
        make_tree(Path(root))
        return sorted_walk(list(os.walk("."))), sorted(glob.glob("**/*.py", recursive=True))

    compare(relative, chdir=True)
