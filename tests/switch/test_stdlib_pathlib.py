"""pathlib on the managed backend, compared with the same code run natively."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.switch.stdlib_harness import (  # noqa: F401 - a fixture
    compare,
    outcome,
    stat_facts,
    tree,
    uninstall_after_module,
)


def _append(path: Path, text: str) -> int:
    with path.open("a") as stream:
        return stream.write(text)


def files_and_directories(root: str) -> object:
    """Reading, writing, touching, making and removing files and directories."""
    base = Path(root)
    steps: dict[str, object] = {}
    (base / "a.txt").write_text("one\ntwo\n")
    (base / "b.bin").write_bytes(bytes(range(256)))
    steps["read_text"] = (base / "a.txt").read_text()
    steps["read_bytes"] = (base / "b.bin").read_bytes()
    steps["append"] = outcome(_append, base / "a.txt", "three\n")
    steps["touch_new"] = outcome((base / "t").touch)
    steps["touch_exclusive"] = outcome((base / "t").touch, exist_ok=False)
    steps["touch_mode"] = outcome((base / "t2").touch, mode=0o600)
    steps["mkdir"] = outcome((base / "d").mkdir)
    steps["mkdir_again"] = outcome((base / "d").mkdir)
    steps["mkdir_exist_ok"] = outcome((base / "d").mkdir, exist_ok=True)
    steps["mkdir_missing_parent"] = outcome((base / "x" / "y").mkdir)
    steps["mkdir_parents"] = outcome((base / "x" / "y").mkdir, parents=True, mode=0o750)
    steps["mkdir_over_file"] = outcome((base / "a.txt").mkdir, exist_ok=True)
    steps["iterdir"] = sorted(str(p) for p in base.iterdir())
    steps["iterdir_file"] = outcome(lambda: list((base / "a.txt").iterdir()))
    kinds = ("exists", "is_file", "is_dir", "is_symlink", "is_fifo", "is_socket",
             "is_block_device", "is_char_device")  # fmt: skip
    steps["kinds"] = {
        name: [getattr(base / name, kind)() for kind in kinds]
        for name in ("a.txt", "d", "missing", "a.txt/below")
    }
    steps["rmdir_not_empty"] = outcome((base / "x").rmdir)
    steps["rmdir_file"] = outcome((base / "a.txt").rmdir)
    steps["unlink_dir"] = outcome((base / "d").unlink)
    steps["unlink_missing"] = outcome((base / "missing").unlink)
    steps["unlink_missing_ok"] = outcome((base / "missing").unlink, missing_ok=True)
    steps["unlink"] = outcome((base / "t2").unlink)
    steps["stat_missing"] = outcome((base / "missing").stat)
    steps["open_dir"] = outcome((base / "d").open)
    steps["open_exclusive"] = outcome((base / "a.txt").open, "x")
    steps["tree"] = tree(root)
    return steps


def links(root: str) -> object:
    """Symbolic and hard links: readlink, resolve, samefile, lstat, lchmod."""
    base = Path(root)
    (base / "file").write_text("data")
    (base / "dir").mkdir()
    steps: dict[str, object] = {}
    steps["symlink"] = outcome((base / "link").symlink_to, "file")
    steps["dir_link"] = outcome((base / "dlink").symlink_to, base / "dir", target_is_directory=True)
    steps["dangling"] = outcome((base / "dangling").symlink_to, "nowhere")
    steps["loop"] = outcome((base / "loop").symlink_to, "loop")
    steps["symlink_exists"] = outcome((base / "link").symlink_to, "file")
    steps["readlink"] = [outcome((base / n).readlink) for n in ("link", "dlink", "file", "nope")]
    steps["resolve"] = [str((base / n).resolve()) for n in ("link", "dlink/../file", "dangling")]
    steps["resolve_strict"] = [
        outcome((base / n).resolve, strict=True) for n in ("link", "dangling", "loop")
    ]
    steps["samefile"] = [
        outcome((base / "link").samefile, base / "file"),
        outcome((base / "dlink").samefile, base / "dir"),
        outcome((base / "file").samefile, base / "dir"),
        outcome((base / "file").samefile, base / "missing"),
    ]
    steps["hardlink"] = outcome((base / "hard").hardlink_to, base / "file")
    steps["hardlink_same"] = (base / "hard").samefile(base / "file")
    steps["hardlink_dir"] = outcome((base / "hdir").hardlink_to, base / "dir")
    steps["kinds"] = {
        name: ((base / name).exists(), (base / name).is_symlink(), (base / name).is_file())
        for name in ("link", "dlink", "dangling", "loop", "hard")
    }
    steps["lstat"] = [stat_facts(base / n) for n in ("link", "dangling", "hard")]
    steps["lchmod"] = outcome((base / "link").lchmod, 0o600)  # Linux has no lchmod
    steps["chmod_through_link"] = outcome((base / "link").chmod, 0o640)
    steps["chmod_nofollow"] = outcome((base / "link").chmod, 0o600, follow_symlinks=False)
    steps["absolute_relative"] = str(base.joinpath("dlink", "..").resolve())
    steps["tree"] = tree(root)
    return steps


def rename_and_replace(root: str) -> object:
    """rename and replace over files, directories and missing names."""
    base = Path(root)
    for name in ("f1", "f2", "f3"):
        (base / name).write_text(name)
    for name in ("d1", "d2", "full"):
        (base / name).mkdir()
    (base / "full" / "inside").write_text("x")
    steps: dict[str, object] = {}
    steps["rename"] = outcome(lambda: str((base / "f1").rename(base / "g1")))
    steps["rename_over_file"] = outcome(lambda: str((base / "g1").rename(base / "f2")))
    steps["replace"] = outcome(lambda: str((base / "f2").replace(base / "f3")))
    steps["rename_missing"] = outcome((base / "missing").rename, base / "x")
    steps["rename_file_over_dir"] = outcome((base / "f3").rename, base / "d1")
    steps["rename_dir_over_file"] = outcome((base / "d1").rename, base / "f3")
    steps["rename_dir_over_empty"] = outcome(lambda: str((base / "d1").rename(base / "d2")))
    steps["rename_dir_over_full"] = outcome((base / "d2").replace, base / "full")
    steps["rename_into_itself"] = outcome((base / "full").rename, base / "full" / "sub")
    steps["rename_relative"] = outcome(lambda: str((base / "f3").rename("f4")))
    steps["tree"] = tree(root)
    return steps


def globbing(root: str) -> object:
    """glob and rglob patterns over a small tree with hidden names and links."""
    base = Path(root)
    for name in ("a.py", "b.txt", ".hidden.py", "sub/c.py", "sub/deep/d.py", "sub/.h/e.py"):
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(name)
    (base / "link").symlink_to("sub")
    (base / "empty").mkdir()
    patterns = ("*", "*.py", "**", "**/*", "**/*.py", "*/", "s*/*", "[ab].*", "?.py", "link/*")
    steps: dict[str, object] = {
        pattern: sorted(str(p.relative_to(base)) for p in base.glob(pattern))
        for pattern in patterns
    }
    steps["rglob"] = sorted(str(p.relative_to(base)) for p in base.rglob("*.py"))
    steps["rglob_dirs"] = sorted(str(p.relative_to(base)) for p in base.rglob("*/"))
    steps["match"] = [Path("sub/c.py").match(p) for p in ("*.py", "sub/*", "/sub/*")]
    steps["glob_in_file"] = sorted(str(p) for p in (base / "a.py").glob("*"))
    steps["empty_pattern"] = outcome(lambda: list(base.glob("")))
    return steps


def modes_and_owners(root: str) -> object:
    """chmod on files and directories, then what stat, owner and group say."""
    base = Path(root)
    (base / "f").write_text("x")
    (base / "d").mkdir()
    steps: dict[str, object] = {}
    for mode in (0o000, 0o4755, 0o2711, 0o1777, 0o644):
        (base / "f").chmod(mode)
        (base / "d").chmod(mode)
        steps[oct(mode)] = (stat_facts(base / "f"), stat_facts(base / "d"))
    steps["chmod_missing"] = outcome((base / "missing").chmod, 0o600)
    steps["owner"] = ((base / "f").owner(), (base / "f").group())
    steps["owner_missing"] = outcome((base / "missing").owner)
    steps["is_mount"] = (base.is_mount(), Path("/").is_mount())
    return steps


def working_directory(root: str) -> object:
    """Relative paths against the current directory, cwd, home and expanduser."""
    steps: dict[str, object] = {}
    steps["cwd"] = str(Path.cwd())
    Path("rel").mkdir()
    Path("rel/file").write_text("x")
    steps["absolute"] = str(Path("rel/file").absolute())
    steps["resolve"] = str(Path("rel/../rel/file").resolve())
    steps["exists"] = (Path("rel/file").exists(), Path("file").exists())
    os.chdir("rel")
    steps["after_chdir"] = (str(Path.cwd()), Path("file").read_text())
    steps["home"] = str(Path.home()) == os.environ.get("HOME")
    steps["expanduser"] = str(Path("~/x").expanduser()) == os.path.join(os.environ["HOME"], "x")
    return steps


@pytest.mark.parametrize(
    "scenario",
    [files_and_directories, links, globbing, modes_and_owners],
)
def test_pathlib(scenario) -> None:
    compare(scenario)


def test_pathlib_renames() -> None:
    compare(rename_and_replace, chdir=True)  # its relative rename must stay below the root


def test_pathlib_relative_paths() -> None:
    compare(working_directory, chdir=True)


def test_pathlib_on_the_default_file_system() -> None:
    compare(files_and_directories, default_file_system=True)
    compare(links, default_file_system=True)
