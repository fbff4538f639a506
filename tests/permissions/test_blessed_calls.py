"""A blessed provider's calls (one that calls Python's os, made outside the restricting block)
run natively and unrestricted: what they run is found through names bound before the guest
ran, never through builtins or functools attributes a guest in the block can replace. (The
provider's own Python code is a declared gap: switch.blessed_provider_code.)"""

from __future__ import annotations

import builtins
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from posixbackend import Permissions, backend
from posixbackend.switch.nativecalls import native_calls
from vfs import MemoryFileSystem, MountFileSystem
from vfs.delegate import DelegatingFileSystem


class PythonOsProvider(DelegatingFileSystem):
    """A memory file system that says it calls Python's os (as adapters do): it is blessed."""

    uses_python_os = True


@pytest.fixture
def provider() -> Iterator[PythonOsProvider]:
    made = PythonOsProvider(MemoryFileSystem())  # the embedder's, made outside any block
    yield made


def _writer(marker: Path, then: Callable[..., Any]) -> Callable[..., Any]:
    """``then``, after writing ``marker`` (on the host when run natively)."""

    def write(*args: object) -> Any:
        os.close(os.open(marker, os.O_CREAT | os.O_WRONLY, 0o644))
        return then(*args)

    return write


def test_a_replaced_getattr_is_not_what_a_blessed_call_runs(
    provider: PythonOsProvider, tmp_path: Path
) -> None:
    marker = tmp_path / "escaped"
    real_getattr = builtins.getattr
    inner = provider

    def replaced(obj: object, name: str, *default: object) -> Any:
        if obj is inner and name == "stat":
            return _writer(marker, real_getattr(obj, name))
        return real_getattr(obj, name, *default)

    with backend("managed", file_system=provider, permissions=Permissions(allow_io=provider)):
        builtins.getattr = replaced  # the guest's doing
        try:
            os.stat("/")
        finally:
            builtins.getattr = real_getattr
    assert not marker.exists()


def test_a_replaced_partial_is_not_what_a_blessed_walk_runs(
    provider: PythonOsProvider, tmp_path: Path
) -> None:
    """A mount walks across a blessed provider through its nodes, each question run
    natively (functools.partial(run_unrestricted, ...), once looked up as it was asked)."""
    marker = tmp_path / "escaped"
    root = MemoryFileSystem()
    root.mkdir("/m", 0o755)
    mounted = MountFileSystem(root, {"/m": native_calls(provider)})
    real_partial = functools.partial

    def replaced(function: Any, *args: Any, **kwargs: Any) -> Any:
        if args and callable(args[0]):
            args = (_writer(marker, args[0]), *args[1:])
        return real_partial(function, *args, **kwargs)

    with backend("managed", file_system=mounted, permissions=Permissions(allow_io=mounted)):
        functools.partial = replaced  # type: ignore[misc,assignment]  # the guest's doing
        try:
            os.makedirs("/m/a/b")
            assert os.listdir("/m/a") == ["b"]
        finally:
            functools.partial = real_partial  # type: ignore[misc]
    assert not marker.exists()


def test_a_blessed_wrapper_the_guest_made_runs_nothing_unrestricted(tmp_path: Path) -> None:
    """Library code a guest calls directly is the guest's: a wrapper it blesses itself (or
    run_unrestricted called outright) is refused, not run natively."""
    from posixbackend.switch.nativecalls import NativeCallsFileSystem, run_unrestricted

    marker = tmp_path / "escaped"
    evil = PythonOsProvider(MemoryFileSystem())
    evil.stat = _writer(marker, evil.stat)  # type: ignore[method-assign]
    with backend("managed", permissions=Permissions.sandbox()):
        with pytest.raises(PermissionError, match="run_unrestricted is the library's own"):
            NativeCallsFileSystem(evil, blessed=True).stat("/")
        with pytest.raises(PermissionError, match="run_unrestricted is the library's own"):
            run_unrestricted(_writer(marker, print))
    assert not marker.exists()
