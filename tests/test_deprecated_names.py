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

    with pytest.warns(DeprecationWarning, match="processhandlers"):
        old = _fresh_import("posixbackend.emulated.processes")
    for name in ("HostProcessHandler", "CallableProcessHandler", "ProcessCommand", "exit_status"):
        assert getattr(old, name) is getattr(processhandlers, name)
