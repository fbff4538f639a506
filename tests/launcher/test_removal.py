"""remove_tree: the launcher's removal of its own host directory, at exit and by the
supervisor -- everything below it goes, no symlink is followed, and nothing a program can
replace is called."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from posixbackend.launcher.removal import remove_tree


def _tree(root: Path, outside: Path) -> None:
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "b" / "c" / "file").write_text("x")
    (root / "a" / "file").write_text("x")
    (root / "a" / "to-outside").symlink_to(outside)
    (root / "a" / "dangling").symlink_to(root / "nothing")
    os.mkfifo(root / "a" / "b" / "fifo")
    (root / "empty").mkdir()


def test_everything_below_goes_and_no_symlink_is_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kept").write_text("the host's")
    root = tmp_path / "scratch"
    root.mkdir()
    _tree(root, outside)
    remove_tree(str(root))
    assert not os.path.lexists(root)
    assert (outside / "kept").read_text() == "the host's"


def test_the_path_itself_a_symlink_is_removed_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kept").write_text("the host's")
    link = tmp_path / "scratch"
    link.symlink_to(outside)
    remove_tree(str(link))
    assert not os.path.lexists(link)
    assert (outside / "kept").read_text() == "the host's"


def test_a_missing_path_or_parent_is_no_error(tmp_path: Path) -> None:
    remove_tree(str(tmp_path / "missing"))
    remove_tree(str(tmp_path / "missing" / "below"))
    remove_tree("/")  # no name to remove: nothing happens
    assert list(tmp_path.iterdir()) == []


def test_a_tree_deeper_than_the_recursion_limit(tmp_path: Path) -> None:
    root = tmp_path / "deep"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # Deeper than the recursion limit (1000), made through descriptors (the path is
        # longer than PATH_MAX).
        for _ in range(1050):
            os.mkdir("d", dir_fd=fd)
            below = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = below
    finally:
        os.close(fd)
    remove_tree(str(root))
    assert not root.exists()


def test_nothing_a_program_can_replace_is_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def replaced(*args: object, **kwargs: object) -> None:
        raise AssertionError("a replaced function was called")

    for module, name in ((os, "unlink"), (os, "rmdir"), (os, "scandir"), (os, "open"),
                         (os, "close"), (shutil, "rmtree")):  # fmt: skip
        monkeypatch.setattr(module, name, replaced)
    root = tmp_path / "scratch"
    root.mkdir()
    (root / "a").mkdir()
    (root / "a" / "file").write_text("x")
    remove_tree(str(root))
    monkeypatch.undo()
    assert not root.exists()
