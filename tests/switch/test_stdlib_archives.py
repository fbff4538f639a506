"""zipfile, tarfile, gzip/bz2/lzma and shutil's archives on the managed backend, against native.

Archives record file times, so every scenario gives its files fixed, even whole-second times
first (zip keeps two-second steps; the managed backend keeps seconds by default): then the zip,
tar, bz2 and xz bytes themselves can be compared. gzip headers carry the time of compression,
so gzip files are compared by their contents.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import shutil
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.switch.stdlib_harness import (  # noqa: F401 - a fixture
    compare,
    outcome,
    tree,
    uninstall_after_module,
)

FIXED = 1_600_000_000
"""An even whole second: survives zip's two-second steps and the backend's truncation."""


def make_content(base: Path) -> Path:
    """A directory to archive: text, binary, empty, nested, a link; fixed times everywhere."""
    content = base / "content"
    (content / "sub" / "deep").mkdir(parents=True)
    (content / "text.txt").write_text("hello\n" * 50)
    (content / "bin.dat").write_bytes(bytes(range(256)) * 40)
    (content / "empty").touch()
    (content / "sub" / "deep" / "x.py").write_text("print('x')\n")
    (content / "run.sh").write_text("#!/bin/sh\n")
    (content / "run.sh").chmod(0o755)
    (content / "link").symlink_to("text.txt")
    for directory, dirs, files in os.walk(content, topdown=False):
        for name in files + dirs:
            os.utime(os.path.join(directory, name), (FIXED, FIXED), follow_symlinks=False)
        os.utime(directory, (FIXED, FIXED))
    return content


def zips(root: str) -> object:
    """ZipFile write/writestr/append/extract, zipfile.Path, bad names and bad archives."""
    base = Path(root)
    content = make_content(base)
    archive = base / "a.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(os.listdir(content)):
            zf.write(content / name, name)
        zf.write(content / "sub" / "deep" / "x.py", "sub/deep/x.py")
        zf.writestr(zipfile.ZipInfo("fixed.txt", (2020, 1, 1, 0, 0, 0)), "written")
        with zf.open(zipfile.ZipInfo("streamed.bin", (2020, 1, 1, 0, 0, 0)), "w") as member:
            member.write(b"streamed" * 100)
    raw = archive.read_bytes()
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(zipfile.ZipInfo("../evil.txt", (2020, 1, 1, 0, 0, 0)), "evil")
    with zipfile.ZipFile(archive) as zf:
        listing = [(i.filename, i.file_size, i.date_time, i.external_attr) for i in zf.infolist()]
        test = zf.testzip()
        zf.extractall(base / "out")
        single = zf.extract("fixed.txt", base / "one")
        read = zf.read("sub/deep/x.py")
    path = zipfile.Path(archive)
    (base / "bad.zip").write_bytes(b"not a zip")
    return {
        "raw": raw,
        "listing": listing,
        "testzip": test,
        "single": single,
        "read": read,
        "path": sorted(p.name for p in path.iterdir()),
        "path_read": (path / "sub" / "deep" / "x.py").read_text(),
        "is_zipfile": (zipfile.is_zipfile(archive), zipfile.is_zipfile(base / "bad.zip")),
        "bad": outcome(zipfile.ZipFile, base / "bad.zip"),
        "missing": outcome(zipfile.ZipFile, base / "missing.zip"),
        "out": tree(base / "out"),
    }


def tars(root: str) -> object:
    """tarfile in every compression: add, list, extract with filters, refused members."""
    base = Path(root)
    content = make_content(base)
    result: dict[str, object] = {}
    for mode, suffix in (("w", "tar"), ("w:gz", "tgz"), ("w:bz2", "tbz"), ("w:xz", "txz")):
        archive = base / f"a.{suffix}"
        with tarfile.open(archive, mode, format=tarfile.PAX_FORMAT) as tf:  # type: ignore[call-overload]
            tf.add(content, "content")
        with tarfile.open(archive) as tf:
            members = [(m.name, m.mode, m.size, m.mtime, m.type, m.linkname) for m in tf]
            tf.extractall(base / f"out-{suffix}", filter="data")
            data = tf.extractfile("content/text.txt")
            assert data is not None
            text = data.read()
        with tarfile.open(archive, "r:*") as stream:
            raw = b"".join(_member_data(stream, m) for m in stream if m.isfile())
        result[suffix] = {
            "members": members,
            "text": text,
            "contents": raw,
            "raw": None if suffix == "tgz" else archive.read_bytes(),
            "out": tree(base / f"out-{suffix}", times=True),
        }
    with tarfile.open(base / "evil.tar", "w") as tf:
        for name, kind, link in (("../up.txt", tarfile.REGTYPE, ""),
                                 ("/abs.txt", tarfile.REGTYPE, ""),
                                 ("out", tarfile.SYMTYPE, "/etc/passwd")):  # fmt: skip
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = kind, link, FIXED
            tf.addfile(info, None if kind != tarfile.REGTYPE else io.BytesIO())
    with tarfile.open(base / "evil.tar") as tf:
        result["evil"] = [
            outcome(tf.extract, member, base / "evil-out", filter="data") for member in tf
        ]
    result["is_tarfile"] = (tarfile.is_tarfile(base / "a.tar"), tarfile.is_tarfile(base / "a.tgz"))
    result["bad"] = outcome(tarfile.open, base / "content" / "text.txt")
    return result


def compressed_files(root: str) -> object:
    """gzip, bz2 and lzma open: text and binary, append, read back, errors."""
    base = Path(root)
    (base / "plain.txt").write_text("not compressed")
    result: dict[str, object] = {}
    modules: tuple[Any, ...] = (gzip, bz2, lzma)
    for module in modules:
        name = base / f"file.{module.__name__}"
        with module.open(name, "wt", encoding="utf-8") as text:
            text.write("line ✓\n" * 100)
        with module.open(name, "ab") as appended:
            appended.write(b"appended\n")
        with module.open(name, "rt", encoding="utf-8") as text:
            lines = text.readlines()
        result[module.__name__] = {
            "lines": (len(lines), lines[0], lines[-1]),
            "raw": None if module is gzip else name.read_bytes(),
            "exclusive": outcome(module.open, name, "xb"),
            "missing": outcome(module.open, base / "missing", "rb"),
            "not_compressed": outcome(_read_all, module, base / "plain.txt"),
        }
    with gzip.GzipFile(base / "fixed.gz", "wb", mtime=FIXED) as fixed:
        fixed.write(b"fixed time")
    result["gzip_fixed_raw"] = (base / "fixed.gz").read_bytes()
    return result


def _member_data(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """A regular member's bytes."""
    data = archive.extractfile(member)
    assert data is not None
    return data.read()


def _read_all(module: ModuleType, path: Path) -> bytes:
    """Everything ``module.open(path)`` decompresses."""
    with module.open(path) as file:
        data: bytes = file.read()
        return data


@pytest.mark.parametrize("kind", ["zip", "tar", "gztar", "bztar", "xztar"])
def test_make_and_unpack_archive(kind: str) -> None:
    """shutil.make_archive with root_dir and base_dir, then unpack_archive of the result."""

    def scenario(root: str) -> object:
        base = Path(root)
        make_content(base)
        name = shutil.make_archive(str(base / "made"), kind, root_dir=base, base_dir="content")
        extra = {"filter": "data"} if kind != "zip" else {}
        shutil.unpack_archive(name, base / "unpacked", **extra)  # type: ignore[arg-type]
        if kind == "zip":  # members in os.walk's order, which is the file system's own
            with zipfile.ZipFile(name) as zf:
                raw: object = sorted(
                    (i.filename, i.date_time, i.external_attr, i.CRC, i.compress_size)
                    for i in zf.infolist()
                )
        else:  # tarfile adds in sorted order; gzip headers hold the time of compression
            raw = Path(name).read_bytes() if kind != "gztar" else None
        return {
            "name": name,
            "raw": raw,
            "unpacked": tree(base / "unpacked", times=kind != "zip"),
            "unknown_format": outcome(shutil.make_archive, str(base / "x"), "rar", base),
            "unpack_unknown": outcome(shutil.unpack_archive, base / "content" / "text.txt"),
        }

    compare(scenario)


def test_make_archive_relative_to_the_current_directory() -> None:
    def scenario(root: str) -> object:
        make_content(Path(root))
        name = shutil.make_archive("rel", "zip", base_dir="content")
        with zipfile.ZipFile(name) as zf:
            return name, os.getcwd(), sorted(zf.namelist())

    compare(scenario, chdir=True)


def test_zipfile() -> None:
    compare(zips)


def test_tarfile() -> None:
    compare(tars)


def test_compressed_files() -> None:
    compare(compressed_files)


def test_archives_on_the_default_file_system() -> None:
    compare(zips, default_file_system=True)
