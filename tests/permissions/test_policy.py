"""The Permissions record: values it takes, presets, and how nested blocks narrow it."""

from __future__ import annotations

import errno
from typing import Any

import attrs
import pytest

from posixbackend import Access, Environment, Permissions
from posixbackend.emulated.processhandlers import HostProcessHandler
from vfs import MemoryFileSystem


def test_nothing_is_granted_unless_asked_for() -> None:
    assert Permissions() == Permissions.none()
    none = Permissions.none()
    assert none.allow_io is Access.NONE
    assert not (none.allow_create_process or none.allow_create_thread or none.allow_native_access)
    assert none.allow_environment_access is Environment.NONE
    assert none.allow_host_sockets is Access.NONE and none.time_limit is None
    assert none.denies_anything and not Permissions.all().denies_anything


def test_the_record_is_immutable_and_hashable() -> None:
    permissions = Permissions(allow_environment_access={"A": "1"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        permissions.allow_io = Access.ALL  # type: ignore[misc]
    assert hash(permissions) == hash(Permissions(allow_environment_access={"A": "1"}))


def test_the_sandbox_grants_a_memory_file_system_and_nothing_else() -> None:
    sandbox = Permissions.sandbox()
    assert not isinstance(sandbox.allow_io, Access)
    assert attrs.evolve(sandbox, allow_io=Access.NONE) == Permissions.none()
    memory = MemoryFileSystem()
    assert Permissions.sandbox(memory).allow_io is memory


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("allow_io", "some", TypeError),
        ("allow_io", 3, TypeError),
        ("allow_environment_access", "everything", ValueError),
        ("allow_environment_access", {"A": 1}, TypeError),
        ("allow_environment_access", 5, TypeError),
        ("allow_host_sockets", "example.com:80", TypeError),
        ("allow_host_sockets", ["example.com"], ValueError),
        ("allow_host_sockets", [3], ValueError),
        ("time_limit", 0, ValueError),
        ("time_limit", -1.5, ValueError),
        ("time_limit", float("inf"), ValueError),
        ("time_limit", float("nan"), ValueError),
        ("time_limit", "1", TypeError),
        ("time_limit", True, TypeError),
    ],
)
def test_bad_values_are_refused(field: str, value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        Permissions(**{field: value})  # type: ignore[arg-type]


def test_spellings_of_all_and_none() -> None:
    assert Permissions(allow_io="all").allow_io is Access.ALL
    assert Permissions(allow_io=True).allow_io is Access.ALL
    assert Permissions(allow_io=False).allow_io is Access.NONE
    assert Permissions(allow_host_sockets=["*:443"]).allow_host_sockets == ("*:443",)
    assert Permissions(allow_environment_access="inherit").allow_environment_access is (
        Environment.INHERIT
    )


def _widening(inner: Permissions, outer: Permissions) -> PermissionError:
    with pytest.raises(PermissionError) as raised:
        inner.within(outer)
    assert raised.value.errno == errno.EPERM
    return raised.value


@pytest.mark.parametrize(
    "permission", ["allow_create_process", "allow_create_thread", "allow_native_access"]
)
def test_a_nested_block_cannot_widen_a_switch(permission: str) -> None:
    granted: dict[str, Any] = {permission: True}
    asked = attrs.evolve(Permissions.none(), **granted)
    error = _widening(asked, Permissions.none())
    assert f"cannot widen {permission}" in str(error)
    assert asked.within(Permissions.all()) == asked


def test_file_access_narrows_from_all_to_one_file_system_to_none() -> None:
    memory, other = MemoryFileSystem(), MemoryFileSystem()
    assert Permissions(allow_io=memory).within(Permissions.all()).allow_io is memory
    assert Permissions(allow_io="none").within(Permissions(allow_io=memory)).allow_io is (
        Access.NONE
    )
    assert Permissions(allow_io=memory).within(Permissions(allow_io=memory)).allow_io is memory
    for asked, granted in ((Access.ALL, memory), (other, memory), (memory, Access.NONE)):
        assert "allow_io" in str(
            _widening(Permissions(allow_io=asked), Permissions(allow_io=granted))
        )


def test_socket_patterns_narrow_only_to_patterns_the_outer_ones_match() -> None:
    outer = Permissions(allow_host_sockets=["*.example.com:443", "127.0.0.1:*"])
    inner = Permissions(allow_host_sockets=["api.example.com:443", "127.0.0.1:8080"])
    assert inner.within(outer).allow_host_sockets == inner.allow_host_sockets
    for asked in (["*:443"], ["api.example.com:80"], "all"):
        error = _widening(Permissions(allow_host_sockets=asked), outer)
        assert "allow_host_sockets" in str(error)
    assert "allow_host_sockets" in str(
        _widening(Permissions(allow_host_sockets=["a:1"]), Permissions.none())
    )


def test_the_environment_never_widens() -> None:
    for asked in ("inherit", "none", {"A": "1"}):
        inner = Permissions(allow_environment_access=asked)
        assert inner.within(Permissions.none()) == inner


def test_the_time_limit_is_the_shorter_one() -> None:
    outer = attrs.evolve(Permissions.all(), time_limit=5)
    assert Permissions(time_limit=10).within(outer).time_limit == 5
    assert Permissions(time_limit=2).within(outer).time_limit == 2
    assert Permissions().within(outer).time_limit == 5


def test_the_outer_process_handler_stays() -> None:
    handler, other = HostProcessHandler(), HostProcessHandler()
    outer = attrs.evolve(Permissions.all(), process_handler=handler)
    assert Permissions(allow_create_process=True).within(outer).process_handler is handler
    error = _widening(Permissions(allow_create_process=True, process_handler=other), outer)
    assert "process_handler" in str(error)
