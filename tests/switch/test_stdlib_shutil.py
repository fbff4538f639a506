"""shutil on the managed backend, compared with the same code run natively."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.switch.stdlib_harness import (  # noqa: F401 - a fixture
    compare,
    error_facts,
    outcome,
    stat_facts,
    tree,
    uninstall_after_module,
)

TIMES_NS = (1_600_000_000_123_456_789, 1_500_000_000_987_654_321)
"""(atime, mtime) a scenario sets itself, with nanoseconds the default resolution drops."""


def make_sources(base: Path) -> None:
    """A small tree: files with modes and times, a subdirectory, links in and out."""
    (base / "src" / "sub" / "deep").mkdir(parents=True)
    (base / "src" / "a.txt").write_text("alpha")
    (base / "src" / "run.sh").write_text("#!/bin/sh\n")
    (base / "src" / "run.sh").chmod(0o750)
    (base / "src" / "sub" / "b.log").write_bytes(b"\x00" * 5000)
    (base / "src" / "sub" / "deep" / "c.pyc").write_bytes(b"c")
    (base / "src" / "link").symlink_to("a.txt")
    (base / "src" / "dangling").symlink_to("nowhere")
    (base / "outside").mkdir()
    (base / "outside" / "keep").write_text("keep")
    (base / "src" / "out").symlink_to(base / "outside")
    for name in ("a.txt", "sub/b.log"):
        os.utime(base / "src" / name, ns=TIMES_NS)


def copies(root: str) -> object:
    """copyfile, copy, copymode, copystat: modes, errors, same-file and link handling."""
    base = Path(root)
    make_sources(base)
    src = base / "src"
    steps: dict[str, object] = {}
    steps["copyfile"] = outcome(shutil.copyfile, src / "a.txt", base / "c1")
    steps["copyfile_same"] = outcome(shutil.copyfile, src / "a.txt", src / "link")
    steps["copyfile_to_dir"] = outcome(shutil.copyfile, src / "a.txt", base / "outside")
    steps["copyfile_from_dir"] = outcome(shutil.copyfile, src / "sub", base / "c2")
    steps["copyfile_missing"] = outcome(shutil.copyfile, src / "missing", base / "c3")
    steps["copyfile_link"] = outcome(
        shutil.copyfile, src / "link", base / "c4", follow_symlinks=False
    )
    steps["copyfile_dangling"] = outcome(shutil.copyfile, src / "dangling", base / "c5")
    steps["copy_mode"] = outcome(shutil.copy, src / "run.sh", base / "c6")
    steps["copy_into_dir"] = outcome(shutil.copy, src / "run.sh", base / "outside")
    steps["copy_big"] = outcome(shutil.copy, src / "sub" / "b.log", base)
    steps["copymode"] = outcome(shutil.copymode, src / "run.sh", base / "c1")
    steps["copystat_missing"] = outcome(shutil.copystat, src / "missing", base / "c1")
    steps["tree"] = tree(root)
    return steps


def copy2_times(root: str) -> object:
    """copy2 and copystat keep mode and times: compared in ns or whole seconds by the caller."""
    base = Path(root)
    make_sources(base)
    shutil.copy2(base / "src" / "a.txt", base / "copied")
    shutil.copy2(base / "src" / "link", base / "link_copy", follow_symlinks=False)
    (base / "other").write_text("o")
    shutil.copystat(base / "src" / "sub" / "b.log", base / "other")
    # copy2 reads a.txt, which moves its atime to "now" (relatime: it was more than a day
    # old), so for that file only whether it moved is compared
    times = {
        name: (
            os.stat(base / name).st_atime_ns > TIMES_NS[0]
            if read
            else os.stat(base / name).st_atime_ns,
            os.stat(base / name).st_mtime_ns,
        )
        for name, read in (("copied", True), ("other", False), ("src/a.txt", True))
    }
    # Only the times the scenario set (or copied) are compared: the others are when the two
    # runs made their entries, a second apart when a second ends between them.
    timed = {"copied", "other", "src/a.txt", "src/sub/b.log"}
    entries = tree(base, times=True)
    for name, facts in entries.items():
        if name not in timed:
            facts.pop("mtime", None)
    return times | {"tree": entries}


def copytrees(root: str) -> object:
    """copytree with and without symlinks, ignore patterns, dirs_exist_ok, copy functions."""
    base = Path(root)
    make_sources(base)
    src = base / "src"
    steps: dict[str, object] = {}
    steps["symlinks"] = outcome(shutil.copytree, src, base / "t1", symlinks=True)
    steps["follow"] = outcome(shutil.copytree, src, base / "t2")  # the dangling link fails
    steps["ignore_dangling"] = outcome(
        shutil.copytree, src, base / "t3", ignore_dangling_symlinks=True
    )
    steps["ignore"] = outcome(
        shutil.copytree, src, base / "t4", ignore=shutil.ignore_patterns("*.pyc", "out")
    )
    steps["exists"] = outcome(shutil.copytree, src, base / "t1", symlinks=True)
    steps["exists_ok"] = outcome(
        shutil.copytree, src / "sub", base / "t1", dirs_exist_ok=True, copy_function=shutil.copy
    )
    steps["from_file"] = outcome(shutil.copytree, src / "a.txt", base / "t5")
    steps["tree"] = tree(root)
    return steps


def rmtrees(root: str) -> object:
    """rmtree by the fd-based path (and the path-based one): links are not followed."""
    base = Path(root)
    make_sources(base)
    steps: dict[str, object] = {
        "fd_based": (shutil._use_fd_functions, shutil.rmtree.avoids_symlink_attacks)  # type: ignore[attr-defined]
    }
    shutil.copytree(base / "src", base / "copy", symlinks=True)
    steps["on_link"] = outcome(shutil.rmtree, base / "src" / "out")
    steps["on_file"] = outcome(shutil.rmtree, base / "src" / "a.txt")
    steps["missing"] = outcome(shutil.rmtree, base / "missing")
    steps["missing_ignored"] = outcome(shutil.rmtree, base / "missing", ignore_errors=True)
    errors: list[object] = []
    shutil.rmtree(base / "missing", onerror=lambda f, p, e: errors.append((f.__name__, p)))
    steps["onerror"] = errors
    steps["fd"] = outcome(shutil.rmtree, base / "src")
    saved = shutil._use_fd_functions  # type: ignore[attr-defined]
    shutil._use_fd_functions = False  # type: ignore[attr-defined]
    try:
        steps["path_based"] = outcome(shutil.rmtree, base / "copy")
    finally:
        shutil._use_fd_functions = saved  # type: ignore[attr-defined]
    steps["tree"] = tree(root)
    return steps


def moves(root: str) -> object:
    """move of files and directories: renames, into directories, over files, errors."""
    base = Path(root)
    make_sources(base)
    src = base / "src"
    (base / "dest").mkdir()
    steps: dict[str, object] = {}
    steps["file"] = outcome(shutil.move, src / "a.txt", base / "moved.txt")
    steps["into_dir"] = outcome(shutil.move, base / "moved.txt", base / "dest")
    steps["over_existing_in_dir"] = outcome(
        shutil.move, base / "outside" / "keep", base / "dest" / "moved.txt"
    )
    (base / "moved.txt").write_text("again")
    steps["name_taken_in_dir"] = outcome(shutil.move, base / "moved.txt", base / "dest")
    steps["dir"] = outcome(shutil.move, src / "sub", base / "dest")
    steps["link"] = outcome(shutil.move, src / "link", base / "dest" / "l")
    steps["into_itself"] = outcome(shutil.move, base / "dest", base / "dest" / "inner")
    steps["missing"] = outcome(shutil.move, base / "missing", base / "dest")
    steps["copy_function"] = outcome(
        shutil.move, src / "run.sh", base / "r", copy_function=shutil.copy
    )
    steps["tree"] = tree(root)
    return steps


def usage_which_and_chown(root: str) -> object:
    """disk_usage (its shape: numbers differ per file system), which, chown to oneself."""
    base = Path(root)
    (base / "bin").mkdir()
    (base / "bin" / "tool").write_text("#!/bin/sh\n")
    (base / "bin" / "tool").chmod(0o755)
    (base / "bin" / "plain").write_text("")
    (base / "bin" / "dir.d").mkdir()
    usage = shutil.disk_usage(root)
    path = os.pathsep.join([str(base / "none"), str(base / "bin")])
    steps: dict[str, object] = {
        "usage_fields": (type(usage).__name__, usage._fields),
        "usage_sane": all(value >= 0 for value in usage) and usage.used <= usage.total,
        "usage_missing": outcome(shutil.disk_usage, base / "missing"),
        "which": shutil.which("tool", path=path),
        "which_plain": shutil.which("plain", path=path),
        "which_dir": shutil.which("dir.d", path=path),
        "which_x_ok": shutil.which("plain", mode=os.F_OK, path=path),
        "which_absolute": shutil.which(str(base / "bin" / "tool")),
        "chown_self": outcome(shutil.chown, base / "bin" / "tool", user=os.getuid()),
        "chown_nothing": outcome(shutil.chown, base / "bin" / "tool"),
        "chown_missing": outcome(shutil.chown, base / "missing", group=os.getgid()),
        "tool": stat_facts(base / "bin" / "tool"),
    }
    saved = os.environ.get("PATH")
    os.environ["PATH"] = path
    try:
        steps["which_environ"] = shutil.which("tool")
    finally:
        if saved is None:
            del os.environ["PATH"]
        else:
            os.environ["PATH"] = saved
    return steps


@pytest.mark.parametrize("scenario", [copies, copytrees, rmtrees, moves, usage_which_and_chown])
def test_shutil(scenario) -> None:
    compare(scenario)


def test_copy2_keeps_nanosecond_times_at_that_resolution() -> None:
    compare(copy2_times, time_resolution_ns=1)


def test_copy2_times_at_the_default_resolution() -> None:
    """By default the managed backend keeps whole seconds (gap emulated.times.resolution): the
    times compared are the native ones cut to seconds."""

    def in_seconds(root: str) -> object:
        result = copy2_times(root)
        assert isinstance(result, dict)
        return {
            name: value if name == "tree" else tuple(_seconds(v) for v in value)
            for name, value in result.items()
        }

    compare(in_seconds)


def test_shutil_on_the_default_file_system() -> None:
    compare(copytrees, default_file_system=True)
    compare(rmtrees, default_file_system=True)


def test_rmtree_onerror_sees_the_same_calls() -> None:
    """An onerror handler sees the same failing calls and errors (rmtree given a file)."""

    def scenario(root: str) -> object:
        base = Path(root)
        (base / "d" / "e").mkdir(parents=True)
        (base / "d" / "e" / "f").write_text("x")
        seen: list[object] = []
        shutil.rmtree(base / "d" / "e" / "f", onerror=lambda f, p, e: seen.append(
            (f.__name__, p, error_facts(e[1]))
        ))  # fmt: skip
        return seen, tree(root)

    compare(scenario)


def _seconds(value: int | bool) -> int | bool:
    """An ns time in whole seconds (a bool, "the time moved", unchanged)."""
    return value if isinstance(value, bool) else value // 10**9


def test_entries_as_paths() -> None:
    """What shutil.copytree hands on: a scan's entries (str and bytes scans) given to open(),
    os.stat, os.utime and shutil.copy2 as paths, also after the file went away."""

    def scenario(root: str) -> object:
        base = Path(root)
        (base / "d").mkdir()
        (base / "d" / "f").write_text("text")
        (base / "d" / "gone").write_text("x")
        os.utime(base / "d" / "f", ns=TIMES_NS)
        steps: dict[str, object] = {}
        for form, where in (("str", root + "/d"), ("bytes", os.fsencode(root + "/d"))):
            with os.scandir(where) as scan:
                entries = {os.fsdecode(entry.name): entry for entry in scan}
            os.unlink(base / "d" / "gone")
            os.mkdir(base / "d" / "gone")
            for name, entry in sorted(entries.items()):
                for mode in ("rb", "r", "r+b", "a"):

                    def opened(entry: os.DirEntry[Any] = entry, mode: str = mode) -> object:
                        with open(entry, mode) as file:
                            return [os.fsdecode(file.name), file.mode, file.tell()]

                    steps[f"{form} open {name} {mode}"] = outcome(opened)
                steps[f"{form} stat {name}"] = outcome(lambda e=entry: os.stat(e).st_size)
                steps[f"{form} copy2 {name}"] = outcome(
                    lambda e=entry, n=name, f=form: shutil.copy2(e, f"{root}/{f}-{n}")
                )
            os.rmdir(base / "d" / "gone")
            (base / "d" / "gone").write_text("x")
        steps["tree"] = tree(root)
        return steps

    compare(scenario)
