"""Group ``ops`` (issue 20, item 1): every operation of the issue's table through the real names.

Each operation runs as ``os.stat``, ``open``, ``shutil.copytree``... on native tmpfs, inside
``with backend('managed', file_system=MemoryFileSystem())`` and under pyfakefs's Patcher (the
same code, the same absolute paths), and through PyFilesystem2's own API on a ``MemoryFS``
where it has an equivalent. Target: the managed ratio to native at most 1.0x for every row.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import shutil
import tarfile
import zipfile
from collections.abc import Callable
from typing import Any

import attrs

from benchmarks.arena import Arena, memory_fs
from benchmarks.harness import (
    PYFAKEFS,
    PYFILESYSTEM2,
    SLOW,
    Batch,
    Outcome,
    Settings,
    Target,
    paired,
    row_from,
    share,
    timed,
)

GROUP = "ops"
AT_NATIVE = Target(1.0)
KIB = b"k" * 1024
MIB = b"m" * (1 << 20)
DEEP = "a/b/c/d/e"
Call = Callable[[], object]


@attrs.frozen
class Sizes:
    """The fixture sizes of one run (the issue's, scaled by the settings)."""

    glob: int
    tree: int
    walk: int

    @classmethod
    def of(cls, settings: Settings) -> Sizes:
        return cls(settings.size(1000, 10), settings.size(200, 4), settings.size(10_000, 20))


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as file:
        file.write(data)


def build_fixture(root: str, sizes: Sizes) -> None:
    """The files every operation reads, through the real names (on whichever side serves)."""
    os.makedirs(f"{root}/{DEEP}")
    write(f"{root}/{DEEP}/f", KIB)
    write(f"{root}/{DEEP}/big", MIB)
    os.makedirs(f"{root}/list")
    for n in range(20):
        write(f"{root}/list/f{n}", b"")
    for n in range(sizes.glob):
        os.makedirs(f"{root}/g/d{n % 10}", exist_ok=True)
        write(f"{root}/g/d{n % 10}/f{n}.{'py' if n % 2 else 'txt'}", b"")
    os.makedirs(f"{root}/tree")
    for n in range(sizes.tree):
        write(f"{root}/tree/f{n}", KIB)
    per_dir = max(1, round(sizes.walk**0.5))
    for n in range(sizes.walk):
        os.makedirs(f"{root}/w/d{n // per_dir}", exist_ok=True)
        write(f"{root}/w/d{n // per_dir}/f{n}", b"")
    for name in ("mk", "ren", "del", "copies", "out"):
        os.makedirs(f"{root}/{name}")
    write(f"{root}/ren/a", b"")


def build_pyfilesystem2(mem: Any, sizes: Sizes) -> None:
    """The same fixture on a PyFilesystem2 MemoryFS (root "/")."""
    mem.makedirs(DEEP)
    mem.writebytes(f"{DEEP}/f", KIB)
    mem.writebytes(f"{DEEP}/big", MIB)
    mem.makedirs("list")
    for n in range(20):
        mem.writebytes(f"list/f{n}", b"")
    for n in range(sizes.glob):
        mem.makedirs(f"g/d{n % 10}", recreate=True)
        mem.writebytes(f"g/d{n % 10}/f{n}.{'py' if n % 2 else 'txt'}", b"")
    mem.makedirs("tree")
    for n in range(sizes.tree):
        mem.writebytes(f"tree/f{n}", KIB)
    per_dir = max(1, round(sizes.walk**0.5))
    for n in range(sizes.walk):
        mem.makedirs(f"w/d{n // per_dir}", recreate=True)
        mem.writebytes(f"w/d{n // per_dir}/f{n}", b"")
    for name in ("mk", "ren", "del", "copies", "out"):
        mem.makedirs(name)
    mem.writebytes("ren/a", b"")


# Each operation: (calls per batch, a factory run on a side before each batch giving the
# call to time, and the same for PyFilesystem2 or None when it has no equivalent).
RealFactory = Callable[[str, int], Call]
Fs2Factory = Callable[[Any, int], Call]


def read_text(path: str) -> Call:
    def call() -> str:
        with open(path) as file:
            return file.read()

    return call


def read_binary(path: str) -> Call:
    def call() -> bytes:
        with open(path, "rb") as file:
            return file.read()

    return call


def fs2_read(mem: Any, path: str, binary: bool) -> Call:
    def call() -> Any:
        with mem.openbin(path) if binary else mem.open(path) as file:
            return file.read()

    return call


def write_text(root: str, _: int) -> Call:
    path, text = f"{root}/out/w", KIB.decode()

    def call() -> None:
        with open(path, "w") as file:
            file.write(text)

    return call


def fs2_write_text(mem: Any, _: int) -> Call:
    text = KIB.decode()

    def call() -> None:
        with mem.open("out/w", "w") as file:
            file.write(text)

    return call


def makedirs(root: str, _: int) -> Call:
    names = itertools.count()
    shutil.rmtree(f"{root}/mk")
    os.mkdir(f"{root}/mk")
    return lambda: os.makedirs(f"{root}/mk/{next(names)}/b/c")


def fs2_makedirs(mem: Any, _: int) -> Call:
    names = itertools.count()
    mem.removetree("mk")
    mem.makedir("mk")
    return lambda: mem.makedirs(f"mk/{next(names)}/b/c")


def rename(root: str, _: int) -> Call:
    a, b = f"{root}/ren/a", f"{root}/ren/b"
    pairs = [(a, b), (b, a)] if os.path.exists(a) else [(b, a), (a, b)]
    flip = itertools.cycle(pairs)  # from wherever the last batch left the file

    def call() -> None:
        os.rename(*next(flip))

    return call


def fs2_rename(mem: Any, _: int) -> Call:
    pairs = [("ren/a", "ren/b"), ("ren/b", "ren/a")]
    flip = itertools.cycle(pairs if mem.exists("ren/a") else pairs[::-1])

    def call() -> None:
        mem.move(*next(flip))

    return call


def unlink(root: str, number: int) -> Call:
    paths = [f"{root}/del/f{n}" for n in range(number)]
    for path in paths:
        write(path, b"")
    names = iter(paths)
    return lambda: os.unlink(next(names))


def fs2_unlink(mem: Any, number: int) -> Call:
    paths = [f"del/f{n}" for n in range(number)]
    for path in paths:
        mem.writebytes(path, b"")
    names = iter(paths)
    return lambda: mem.remove(next(names))


def copytree(root: str, _: int) -> Call:
    names = itertools.count()
    shutil.rmtree(f"{root}/copies")
    os.mkdir(f"{root}/copies")
    return lambda: shutil.copytree(f"{root}/tree", f"{root}/copies/{next(names)}")


def fs2_copytree(mem: Any, _: int) -> Call:
    from fs.copy import copy_dir

    names = itertools.count()
    mem.removetree("copies")
    mem.makedir("copies")
    return lambda: copy_dir(mem, "tree", mem, f"copies/{next(names)}")


def make_tar(root: str, _: int) -> Call:
    def call() -> None:
        with tarfile.open(f"{root}/out/t.tar", "w") as archive:
            archive.add(f"{root}/tree", arcname="tree")

    return call


def fs2_tar(mem: Any, _: int) -> Call:
    from fs.compress import write_tar

    def call() -> None:
        with mem.openbin("out/t.tar", "w") as file:
            write_tar(mem.opendir("tree"), file)

    return call


def make_zip(root: str, _: int) -> Call:
    def call() -> None:
        with zipfile.ZipFile(f"{root}/out/t.zip", "w") as archive:
            for name in os.listdir(f"{root}/tree"):
                archive.write(f"{root}/tree/{name}", f"tree/{name}")

    return call


def fs2_zip(mem: Any, _: int) -> Call:
    from fs.compress import write_zip

    def call() -> None:
        with mem.openbin("out/t.zip", "w") as file:
            write_zip(mem.opendir("tree"), file, compression=zipfile.ZIP_STORED)

    return call


def walk(root: str, _: int) -> Call:
    def call() -> None:
        for _entry in os.walk(f"{root}/w"):
            pass

    return call


def fs2_walk(mem: Any, _: int) -> Call:
    def call() -> None:
        for _entry in mem.walk("w"):
            pass

    return call


def scandir_is_file(path: str) -> Call:
    def call() -> list[bool]:
        with os.scandir(path) as entries:
            return [entry.is_file() for entry in entries]

    return call


def operations(sizes: Sizes) -> list[tuple[str, int, RealFactory, Fs2Factory | None]]:
    """The table's operations: name, calls per normal batch, real-names factory, PyFilesystem2
    factory."""
    deep, big = f"{DEEP}/f", f"{DEEP}/big"
    return [
        ("os.stat (5 deep)", 20000, lambda r, _: lambda: os.stat(f"{r}/{deep}"),
         lambda m, _: lambda: m.getinfo(deep, namespaces=["details"])),
        ("os.path.exists hit", 20000, lambda r, _: lambda: os.path.exists(f"{r}/{deep}"),
         lambda m, _: lambda: m.exists(deep)),
        ("os.path.exists miss", 20000, lambda r, _: lambda: os.path.exists(f"{r}/{DEEP}/no"),
         lambda m, _: lambda: m.exists(f"{DEEP}/no")),
        ("os.listdir (20)", 10000, lambda r, _: lambda: os.listdir(f"{r}/list"),
         lambda m, _: lambda: m.listdir("list")),
        ("os.scandir + is_file (20)", 3000, lambda r, _: scandir_is_file(f"{r}/list"),
         lambda m, _: lambda: [info.is_file for info in m.scandir("list")]),
        ("open().read() text 1 KiB", 5000, lambda r, _: read_text(f"{r}/{deep}"),
         lambda m, _: fs2_read(m, deep, binary=False)),
        ("open('rb').read() 1 KiB", 5000, lambda r, _: read_binary(f"{r}/{deep}"),
         lambda m, _: fs2_read(m, deep, binary=True)),
        ("open().read() text 1 MiB", 100, lambda r, _: read_text(f"{r}/{big}"),
         lambda m, _: fs2_read(m, big, binary=False)),
        ("open('rb').read() 1 MiB", 200, lambda r, _: read_binary(f"{r}/{big}"),
         lambda m, _: fs2_read(m, big, binary=True)),
        ("open('w').write() 1 KiB + close", 3000, write_text, fs2_write_text),
        ("os.makedirs (3 levels)", 1000, makedirs, fs2_makedirs),
        ("os.rename", 5000, rename, fs2_rename),
        ("os.unlink", 3000, unlink, fs2_unlink),
        (f"Path.glob('**/*.py'), {sizes.glob} files", 5,
         lambda r, _: lambda: list(pathlib.Path(f"{r}/g").glob("**/*.py")),
         lambda m, _: lambda: list(m.glob("g/**/*.py"))),
        (f"shutil.copytree, {sizes.tree} files", 3, copytree, fs2_copytree),
        (f"tarfile, {sizes.tree} files", 3, make_tar, fs2_tar),
        (f"zipfile, {sizes.tree} files", 3, make_zip, fs2_zip),
        (f"os.walk, {sizes.walk} files", 2, walk, fs2_walk),
    ]  # fmt: skip


def side_batch(arena: Arena, side: str, factory: RealFactory, number: int) -> Batch:
    """A batch of one side: the factory and the timed calls inside that side."""

    calls = share(side, number)

    def batch() -> float:
        with arena.inside(side):
            call = factory(arena.root, calls)
            return timed(call, calls)

    return batch


def fs2_batch(mem: Any, factory: Fs2Factory, number: int) -> Batch:
    def batch() -> float:
        return timed(factory(mem, number), number)

    return batch


def run(settings: Settings, *, pyfakefs: bool = True, pyfilesystem2: bool = True) -> Outcome:
    """Every operation of the table on every contender; one row each."""
    sizes = Sizes.of(settings)
    rows = []
    with Arena(pyfakefs=pyfakefs) as arena:
        for side in arena.sides:
            with arena.inside(side):
                build_fixture(arena.root, sizes)
        check_same_result(arena)
        mem = None
        if pyfilesystem2:
            mem = memory_fs()
            build_pyfilesystem2(mem, sizes)
        for name, base, factory, fs2_factory in operations(sizes):
            number = settings.number(base)
            batches = {side: side_batch(arena, side, factory, number) for side in arena.sides}
            missing = {}
            if mem is not None and fs2_factory is not None:
                batches[PYFILESYSTEM2] = fs2_batch(mem, fs2_factory, number)
            else:
                missing[PYFILESYSTEM2] = "n/a (not run)" if mem is None else "n/a"
            if PYFAKEFS not in batches:
                missing[PYFAKEFS] = "n/a (not run)"
            samples = paired(batches, settings.rounds)
            rows.append(row_from(GROUP, name, samples, target=AT_NATIVE, missing=missing))
        if mem is not None:
            mem.close()
    notes = [f"pyfakefs runs 1/{SLOW[PYFAKEFS]} of the calls a batch (the values are per call)"]
    return Outcome(GROUP, rows, notes)


def check_same_result(arena: Arena) -> None:
    """The sides agree on what a listing of the fixture shows (each built its own)."""
    seen = set()
    for side in arena.sides:
        with arena.inside(side):
            seen.add(tuple(sorted(os.listdir(f"{arena.root}/list"))))
    if len(seen) != 1:
        raise RuntimeError(f"the sides disagree on a listing: {seen}")
