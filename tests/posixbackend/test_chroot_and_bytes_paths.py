"""os.chroot's checks (then the EPERM of its gap), and listdir/scandir given bytes-like paths
(3.11: a DeprecationWarning, and bytes names), on the emulated backend against real os.

Native chroot runs in a worker process, in a directory laid out as the emulated backend's
root: a chroot that succeeds (the tests run as root) changes only the worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from posixbackend.emulated import EmulatedBackend
from tests.posixbackend.sides import Side, compare, hits, sides
from vfs import HostFileSystem, Identity

__all__ = ["sides"]  # the fixture, imported for the tests below

CHROOT_CALLS = [
    "'missing'", "'file'", "'file/x'", "''", "b'missing'", "bytearray(b'missing')",
    "memoryview(b'missing')", "1", "None", "'a\\0'", "'loop'", "'dangling'", "'dir/' + 'x' * 300",
]  # fmt: skip

WORKER = """
import json, os, sys, warnings
warnings.simplefilter("ignore")
os.chdir(sys.argv[1])
results = []
for case in json.loads(sys.argv[2]):
    try:
        os.chroot(eval(case))
        results.append(["ok"])
    except OSError as error:
        name = error.filename
        shown = bytes(name) if isinstance(name, memoryview) else name
        results.append([type(error).__name__, error.errno, type(name).__name__, repr(shown)])
    except Exception as error:
        results.append([type(error).__name__, str(error)])
print(json.dumps(results))
"""


def layout(root: Path) -> None:
    (root / "file").write_bytes(b"")
    (root / "dir").mkdir()
    (root / "loop").symlink_to("loop")
    (root / "dangling").symlink_to("missing")


def test_chroot_checks_the_path_as_linux_does(tmp_path: Path) -> None:
    native_root, emulated_root = tmp_path / "native", tmp_path / "emulated"
    for root in (native_root, emulated_root):
        root.mkdir()
        layout(root)
    worker = subprocess.run(
        [sys.executable, "-c", WORKER, str(native_root), json.dumps(CHROOT_CALLS)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    native = json.loads(worker.stdout)
    emulated_backend = EmulatedBackend(HostFileSystem(emulated_root), identity=Identity.current())
    emulated: list[Any] = []
    for case in CHROOT_CALLS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                emulated_backend.chroot(eval(case))
                emulated.append(["ok"])
            except OSError as error:
                name = error.filename
                shown = bytes(name) if isinstance(name, memoryview) else name
                emulated.append(
                    [type(error).__name__, error.errno, type(name).__name__, repr(shown)]
                )
            except Exception as error:  # noqa: BLE001 - the outcome is what is compared
                emulated.append([type(error).__name__, str(error)])
    assert emulated == native


def test_a_directory_is_refused_with_the_gap(tmp_path: Path) -> None:
    """Root may chroot into a directory on Linux; the emulated backend cannot (EPERM)."""
    backend = EmulatedBackend(HostFileSystem(tmp_path), identity=Identity.current())
    backend.mkdir("/dir")
    before = hits("emulated.chroot")
    for path in ("/dir", "dir", b"/", "."):
        with pytest.raises(PermissionError) as caught:
            backend.chroot(path)
        assert caught.value.filename is path
    assert hits("emulated.chroot") == before + 4
    assert backend.getcwd() == "/"


def test_listdir_and_scandir_take_bytes_like_paths_as_os_does(sides: tuple[Side, Side]) -> None:
    def scenario(s: Side) -> None:
        s.call("mkdir", s.path("d"))
        s.file("d/file.txt")
        for kind in (bytearray, memoryview):
            path = kind(os.fsencode(s.path("d")))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    names = s.os.listdir(path)
                    with s.os.scandir(path) as entries:
                        found = [(entry.name, entry.path, entry.is_file()) for entry in entries]
                except TypeError as error:  # 3.12 and later take bytes only
                    s.note("refused", str(error))
                    continue
            s.note("warnings", sorted({w.category.__name__ for w in caught}))
            s.note("listdir", names)
            s.note("scandir names", [(name, type(path_).__name__, f) for name, path_, f in found])
            expected = os.fsencode(s.path("d/file.txt"))
            s.note("entry path", [path_ == expected for _, path_, _ in found])

    compare(scenario, sides)
