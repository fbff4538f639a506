"""tempfile on the managed backend, compared with the same code run natively.

Names tempfile makes are random, so results keep their shape (directory, prefix, suffix) and
never the random part.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.switch.stdlib_harness import (  # noqa: F401 - a fixture
    compare,
    outcome,
    stat_facts,
    tree,
    uninstall_after_module,
)


def shape(name: str | bytes, root: str | bytes) -> tuple[object, ...]:
    """A temporary name without its random part: directory, and whether it is below root."""
    directory, base = os.path.split(name)
    below = os.fsencode(directory).startswith(os.fsencode(root))
    return (directory, len(base), type(name).__name__, below)


def names_only(root: str) -> object:
    """The tree below root with random names replaced by their order."""
    return sorted(
        (repr(stat_facts(os.path.join(root, name))), name[0], os.path.splitext(name)[1])
        for name in os.listdir(root)
    )


def random_error(result: object, root: str) -> object:
    """An outcome whose error names a random file: that name as its shape."""
    assert isinstance(result, tuple)
    if len(result) == 5 and isinstance(result[3], str):
        return (*result[:3], shape(result[3], root), result[4])
    return result


def files(root: str) -> object:
    """TemporaryFile, NamedTemporaryFile (deleted or kept), SpooledTemporaryFile."""
    steps: dict[str, object] = {}
    with tempfile.TemporaryFile(dir=root) as file:
        file.write(b"temporary")
        file.seek(0)
        steps["temporary"] = (file.read(), os.listdir(root), file.mode)
    with tempfile.TemporaryFile("w+", dir=root, encoding="utf-8") as text:
        text.write("text ✓")
        text.seek(0)
        steps["temporary_text"] = text.read()
    with tempfile.NamedTemporaryFile(dir=root, prefix="pre-", suffix=".suf") as named:
        named.write(b"named")
        named.flush()
        name = named.name
        steps["named"] = (
            shape(name, root),
            Path(name).name.startswith("pre-"),
            name.endswith(".suf"),
            Path(name).read_bytes(),
            stat_facts(name),
        )
    steps["named_removed"] = os.path.exists(name)
    with tempfile.NamedTemporaryFile("w", dir=root, delete=False) as kept:
        kept.write("kept")
    steps["kept"] = (Path(kept.name).read_text(), stat_facts(kept.name))
    os.unlink(kept.name)
    with tempfile.SpooledTemporaryFile(max_size=10, dir=root) as spooled:
        spooled.write(b"small")
        before = (spooled._rolled, os.listdir(root))  # type: ignore[attr-defined]
        spooled.write(b" and now larger than ten")
        spooled.seek(0)
        steps["spooled"] = (before, spooled._rolled, spooled.read(), os.listdir(root))  # type: ignore[attr-defined]
    with tempfile.SpooledTemporaryFile(dir=root) as spooled:
        spooled.write(b"x")
        spooled.rollover()
        steps["spooled_fileno"] = (isinstance(spooled.fileno(), int), spooled.tell())
    missing = outcome(tempfile.NamedTemporaryFile, dir=os.path.join(root, "nope"))
    steps["missing_dir"] = random_error(missing, root)
    steps["left"] = os.listdir(root)
    return steps


def directories(root: str) -> object:
    """TemporaryDirectory (cleanup with read-only contents), mkdtemp, mkstemp, mktemp."""
    steps: dict[str, object] = {}
    with tempfile.TemporaryDirectory(dir=root, suffix="-d") as directory:
        Path(directory, "sub").mkdir()
        Path(directory, "sub", "f").write_text("x")
        os.chmod(os.path.join(directory, "sub"), 0o500)
        steps["temporary_directory"] = (shape(directory, root), stat_facts(directory))
    steps["cleaned"] = os.path.exists(directory)
    kept = tempfile.TemporaryDirectory(dir=root, ignore_cleanup_errors=True)
    kept.cleanup()
    steps["explicit_cleanup"] = os.path.exists(kept.name)
    fd, path = tempfile.mkstemp(dir=root, prefix="s", suffix=".txt", text=True)
    os.write(fd, b"mkstemp")
    os.close(fd)
    steps["mkstemp"] = (shape(path, root), stat_facts(path), Path(path).read_bytes())
    fd, raw = tempfile.mkstemp(dir=os.fsencode(root), prefix=b"b")
    os.close(fd)
    steps["mkstemp_bytes"] = shape(raw, os.fsencode(root))
    made = tempfile.mkdtemp(dir=root)
    steps["mkdtemp"] = (shape(made, root), stat_facts(made), os.listdir(made))
    missing = outcome(tempfile.mkdtemp, dir=os.path.join(root, "nope"))
    steps["mkdtemp_missing"] = random_error(missing, root)
    unused = tempfile.mktemp(dir=root)
    steps["mktemp"] = (shape(unused, root), os.path.exists(unused))
    steps["left"] = names_only(root)
    return steps


@contextmanager
def tmpdir_set_to(root: str) -> Iterator[None]:
    """TMPDIR pointing at root, and tempfile's cached choice forgotten (restored after)."""
    saved_env, saved_cache = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = root
    tempfile.tempdir = None
    try:
        yield
    finally:
        tempfile.tempdir = saved_cache
        if saved_env is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = saved_env


def default_directory(root: str) -> object:
    """gettempdir and friends choose TMPDIR from the backend's environment, if usable."""
    steps: dict[str, object] = {"prefix": (tempfile.gettempprefix(), tempfile.gettempprefixb())}
    with tmpdir_set_to(root):
        steps["gettempdir"] = (tempfile.gettempdir(), tempfile.gettempdirb())
        with tempfile.NamedTemporaryFile() as file:
            steps["default_dir"] = shape(file.name, root)
        fd, path = tempfile.mkstemp()
        os.close(fd)
        steps["mkstemp_default"] = shape(path, root)
    with tmpdir_set_to(os.path.join(root, "missing")):
        steps["unusable_tmpdir"] = tempfile.gettempdir() != os.path.join(root, "missing")
    steps["left"] = names_only(root)
    return steps


def test_temporary_files() -> None:
    compare(files)


def test_temporary_directories_and_names() -> None:
    compare(directories)


def test_default_temporary_directory() -> None:
    compare(default_directory)


def test_tempfile_on_the_default_file_system() -> None:
    compare(files, default_file_system=True)
    compare(default_directory, default_file_system=True)
