"""Providers shown to fsspec users: fsspec.open("vfs://name/..."), ls, info, cat, put, get..."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from vfs import Identity, MemoryFileSystem
from vfs.adapters.fsspec import ProviderFsspec, register, registered, unregister


@pytest.fixture
def provider() -> MemoryFileSystem:
    return MemoryFileSystem(identity=Identity.root())


@pytest.fixture
def fs(provider: MemoryFileSystem) -> Iterator[ProviderFsspec]:
    with registered("exposed-test", provider):
        yield fsspec.filesystem("vfs", name="exposed-test")


def write(provider: MemoryFileSystem, path: str, data: bytes) -> None:
    with provider.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) as handle:
        handle.pwrite(data, 0)


def test_fsspec_open_reads_and_writes_text_through_a_url(provider: MemoryFileSystem) -> None:
    provider.mkdir("/data")
    with registered("urls", provider) as prefix:
        assert prefix == "vfs://urls"
        with fsspec.open("vfs://urls/data/table.csv", "w") as f:
            f.write("a,b\n1,2\n")
        with fsspec.open("vfs://urls/data/table.csv", "r") as f:
            assert f.read() == "a,b\n1,2\n"
    with provider.open("/data/table.csv", os.O_RDONLY) as handle:
        assert handle.pread(100, 0) == b"a,b\n1,2\n"


def test_compression_works_over_the_file_objects(fs: ProviderFsspec) -> None:
    with fsspec.open("vfs://exposed-test/x.gz", "wb", compression="gzip") as f:
        f.write(b"squeezed" * 100)
    with fsspec.open("vfs://exposed-test/x.gz", "rb", compression="gzip") as f:
        assert f.read() == b"squeezed" * 100
    assert fs.size("/x.gz") < 800


def test_ls_info_cat_and_find(fs: ProviderFsspec, provider: MemoryFileSystem) -> None:
    provider.mkdir("/d")
    provider.mkdir("/d/sub")
    write(provider, "/d/a.txt", b"alpha")
    write(provider, "/d/sub/b.txt", b"beta")
    assert fs.ls("/d", detail=False) == ["/d/a.txt", "/d/sub"]
    info = fs.info("vfs://exposed-test/d/a.txt")
    assert info["type"] == "file" and info["size"] == 5 and info["name"] == "/d/a.txt"
    assert stat.S_ISREG(info["mode"])
    assert fs.info("/d/sub")["type"] == "directory"
    assert fs.ls("/d/a.txt", detail=False) == ["/d/a.txt"]
    assert fs.cat("/d/a.txt") == b"alpha"
    assert fs.cat_file("/d/a.txt", start=1, end=3) == b"lp"
    assert fs.cat_file("/d/a.txt", start=-2) == b"ha"
    assert fs.find("/d") == ["/d/a.txt", "/d/sub/b.txt"]
    assert fs.glob("/d/**/*.txt") == ["/d/a.txt", "/d/sub/b.txt"]
    assert fs.du("/d") == 9
    assert fs.exists("/d/sub/b.txt") and not fs.exists("/d/missing")
    assert fs.isdir("/d/sub") and fs.isfile("/d/a.txt")
    with pytest.raises(FileNotFoundError):
        fs.info("/nothing")
    with pytest.raises(FileNotFoundError):
        fs.ls("/nothing")


def test_put_and_get_cross_the_host(fs: ProviderFsspec, tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "one.txt").write_bytes(b"1")
    (source / "two.txt").write_bytes(b"22")
    fs.put(str(source), "/uploaded", recursive=True)
    assert sorted(fs.ls("/uploaded", detail=False)) == ["/uploaded/one.txt", "/uploaded/two.txt"]
    fs.get("/uploaded", str(tmp_path / "out"), recursive=True)
    assert (tmp_path / "out" / "two.txt").read_bytes() == b"22"


def test_changes_reach_the_provider(fs: ProviderFsspec, provider: MemoryFileSystem) -> None:
    fs.makedirs("/x/y/z")
    fs.makedirs("/x/y", exist_ok=True)
    with pytest.raises(FileExistsError):
        fs.makedirs("/x/y")
    fs.pipe_file("/x/y/f", b"content")
    fs.touch("/x/empty")
    fs.cp_file("/x/y/f", "/x/copy")
    assert fs.cat("/x/copy") == b"content"
    fs.mv("/x/copy", "/x/moved")
    fs.mv("/x/moved", "/x/y")  # into a directory, as LocalFileSystem does
    assert set(provider.listdir("/x/y")) == {"z", "f", "moved"}
    fs.rm("/x/y", recursive=True)
    assert set(provider.listdir("/x")) == {"empty"}
    fs.rm_file("/x/empty")
    fs.rmdir("/x")
    assert provider.listdir("/") == []
    with pytest.raises(FileNotFoundError):
        fs.rm_file("/x")


def test_random_access_file_objects(fs: ProviderFsspec) -> None:
    fs.pipe_file("/r", b"0123456789")
    with fs.open("/r", "r+b") as f:
        f.seek(3)
        f.write(b"abc")
        f.seek(-2, os.SEEK_END)
        assert f.read() == b"89"
    with fs.open("/r", "ab") as f:
        f.write(b"!")
    assert fs.cat("/r") == b"012abc6789!"
    with pytest.raises(FileExistsError):
        fs.open("/r", "xb")
    with pytest.raises(IsADirectoryError):
        fs.open("/", "rb")


def test_times_come_from_the_provider(fs: ProviderFsspec, provider: MemoryFileSystem) -> None:
    fs.pipe_file("/t", b"x")
    provider.utime("/t", (1_000_000_000, 2_000_000_000))
    assert fs.modified("/t").timestamp() == 2
    assert fs.created("/t").timestamp() == pytest.approx(provider.stat("/t").st_ctime, abs=1e-5)


def test_registration_rules(provider: MemoryFileSystem) -> None:
    register("taken", provider)
    try:
        register("taken", provider)  # the same provider again is harmless
        with pytest.raises(ValueError, match="already registered"):
            register("taken", MemoryFileSystem())
        replacement = MemoryFileSystem()
        register("taken", replacement, replace=True)
        assert fsspec.filesystem("vfs", name="taken").provider is replacement
    finally:
        unregister("taken")
    with pytest.raises(ValueError, match="no provider"):
        fsspec.filesystem("vfs", name="taken")
    with pytest.raises(ValueError, match="invalid provider name"):
        register("bad/name", provider)
    with pytest.raises(TypeError):
        register("ok", object())  # type: ignore[arg-type]


def test_direct_provider_instances_are_not_shared(provider: MemoryFileSystem) -> None:
    first = fsspec.filesystem("vfs", provider=provider)
    second = fsspec.filesystem("vfs", provider=MemoryFileSystem())
    assert first is not second and first.provider is provider
    assert first.unstrip_protocol("/a") == "vfs:///a"
