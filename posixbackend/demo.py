"""A tour of a program run on the emulated backend, written with nothing but the standard library.

Run it the way README's first command does::

    posixbackend-managed --fs=memory --compat-report=- -m posixbackend.demo

It builds a small project with pathlib, copies and archives it with shutil, walks it with
os.walk, uses a temporary directory, and then asks the native backend whether any of it
reached the disk (on ``--fs=memory`` none of it does). Run natively, it works the same on a
temporary directory of the real disk and says so.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
import zipfile

import posixbackend


def show(label: str, value: object) -> None:
    print(f"  {label:<40} {value}")


def build(root: pathlib.Path) -> list[pathlib.Path]:
    """A small project tree; the files it made."""
    (root / "src" / "app").mkdir(parents=True)
    made = [
        root / "README.txt",
        root / "src" / "app" / "__init__.py",
        root / "src" / "app" / "main.py",
    ]
    made[0].write_text("A project that exists only where the backend keeps it.\n")
    made[1].write_text("")
    made[2].write_text("print('hello from the managed backend')\n")
    (root / "latest").symlink_to("src/app/main.py")
    return made


def tour(root: pathlib.Path) -> list[str]:
    """Exercise the file system under ``root``; the paths it leaves behind."""
    print("The program's view")
    show("backend", posixbackend.current().value)
    show("working directory", os.getcwd())
    old = os.umask(0o022)
    os.umask(old)
    show("umask (the java backend starts at 0o022)", oct(old))
    made = build(root)
    info = made[2].stat()
    show("file mode of a new file", oct(info.st_mode & 0o777))
    show("mtime nanoseconds (seconds resolution)", info.st_mtime_ns % 1_000_000_000)
    show("symlink latest ->", os.readlink(root / "latest"))
    copy = root.parent / (root.name + "-copy")
    shutil.copytree(root, copy, symlinks=True)
    archive = shutil.make_archive(str(root.parent / "project"), "zip", root)
    with zipfile.ZipFile(archive) as bundle:
        show("files in the zip archive", sorted(bundle.namelist()))
    tree = sorted(
        os.path.relpath(os.path.join(directory, name), root.parent)
        for directory, _, names in os.walk(root.parent)
        for name in names
    )
    show("files under " + str(root.parent), len(tree))
    with tempfile.TemporaryDirectory() as scratch:
        pathlib.Path(scratch, "note").write_text("temporary")
        show("temporary directory", scratch)
    return [str(root), str(copy), archive]


def main() -> None:
    emulated = posixbackend.current() is posixbackend.PosixModuleBackend.JAVA
    base = pathlib.Path(tempfile.mkdtemp(prefix="posixbackend-demo-"))
    try:
        paths = tour(base / "project")
        print("The disk's view (asked through the native backend)")
        with posixbackend.backend("native"):
            for path in paths:
                show(path, "on disk" if os.path.exists(path) else "not on disk")
    finally:
        shutil.rmtree(base)
    if emulated:
        print("Everything above lived in the emulated file system; the disk never changed.")
    else:
        print("Run natively: the files were real, in a temporary directory now removed.")


if __name__ == "__main__":
    main()
