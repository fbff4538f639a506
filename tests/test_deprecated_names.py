"""Public names renamed by issue 22 stay importable for one release, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import sys

import pytest


def _fresh_import(name: str) -> object:
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def test_the_process_handlers_module_under_its_old_name() -> None:
    from posixbackend.emulated import processhandlers

    old = _fresh_import("posixbackend.emulated.processes")  # quietly: tools walk packages
    for name in ("HostProcessHandler", "CallableProcessHandler", "ProcessCommand", "exit_status"):
        with pytest.warns(DeprecationWarning, match="processhandlers"):
            assert getattr(old, name) is getattr(processhandlers, name)
    with pytest.raises(ImportError):
        from posixbackend.emulated.processes import NoSuchName  # noqa: F401


@pytest.mark.parametrize(
    ("module", "old", "new"),
    [
        ("vfs.adapters.fsspec", "FsspecFileSystem", "FsspecProvider"),
        ("vfs.adapters.fsspec", "VfsFileSystem", "ProviderFsspec"),
        ("vfs.adapters.fsspec.provider", "FsspecFileSystem", "FsspecProvider"),
        ("vfs.adapters.fsspec.exposed", "VfsFileSystem", "ProviderFsspec"),
    ],
)
def test_the_fsspec_adapters_under_their_old_names(module: str, old: str, new: str) -> None:
    home = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=new):
        value = getattr(home, old)
    assert value is getattr(home, new)
    with pytest.raises(AttributeError):
        _ = home.NoSuchName


def test_the_default_file_system_under_its_old_module() -> None:
    from posixbackend import defaultfs

    old = _fresh_import("posixbackend.switch.defaultfs")
    with pytest.warns(DeprecationWarning, match="posixbackend.defaultfs"):
        assert getattr(old, "default_file_system") is defaultfs.default_file_system  # noqa: B009
