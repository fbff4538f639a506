"""Confining the child before the guest runs: each step the kernel allows, and why not the rest.

In order: resource limits; new user and network namespaces; every capability dropped;
no_new_privs; Landlock (read-only access to the interpreter's files, nothing else); the
seccomp filter. Each step that fails is recorded with its reason instead of stopping the run,
so an older kernel degrades to what it has, and the result says exactly what was applied.
All of it must happen while the child has a single thread: unshare needs that, and Landlock
and seccomp confine only the calling thread and the threads it starts afterwards.
"""

from __future__ import annotations

import site
import sys
import sysconfig
import threading
from collections.abc import Iterable
from typing import Any

import attrs

from posixbackend.isolation import capabilities, landlock, namespaces, rlimits, seccomp
from posixbackend.isolation.limits import Limits
from vfs.host import host_is_directory

SYSTEM_LIBRARIES = ("/lib", "/lib32", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")
"""Where the C libraries that extension modules link to live (read, never written)."""
LOADER_CACHE = "/etc/ld.so.cache"


@attrs.frozen
class Confinement:
    """What was applied, and for each step that was not, why."""

    applied: tuple[str, ...]
    not_applied: dict[str, str]

    def to_data(self) -> dict[str, Any]:
        """Plain data for the confined frame."""
        return {"applied": list(self.applied), "not_applied": dict(self.not_applied)}


def readable_paths() -> list[str]:
    """The host paths the confined child may read: the interpreter's installation, every
    directory on sys.path (site-packages, the project's own source for an editable install),
    and the system's shared libraries."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    config = sysconfig.get_paths()
    paths.update(config[key] for key in ("stdlib", "platstdlib", "purelib", "platlib"))
    paths.update(site.getsitepackages())
    paths.update(entry for entry in sys.path if isinstance(entry, str) and entry)
    paths.update(SYSTEM_LIBRARIES)
    found = sorted(path for path in paths if host_is_directory(path))
    return [*found, LOADER_CACHE]


def confine(limits: Limits, readable: Iterable[str]) -> Confinement:
    """Apply every confinement step this kernel allows to this (single-threaded) process."""
    if threading.active_count() != 1:
        raise RuntimeError("the child must confine itself before it starts any thread")
    applied: list[str] = []
    missing: dict[str, str] = {}

    def step(name: str, action: Any) -> None:
        try:
            action()
        except (OSError, ValueError) as error:  # ValueError: setrlimit above the hard limit
            missing[name] = str(error)
        else:
            applied.append(name)

    step("rlimits", lambda: rlimits.set_resource_limits(limits))
    entered, refused = namespaces.enter_namespaces()
    applied += entered
    missing.update(refused)
    step("capabilities", capabilities.drop_capabilities)
    step("no_new_privs", seccomp.set_no_new_privs)
    try:
        applied += landlock.restrict_to_reading(readable)
    except OSError as error:
        missing["landlock"] = str(error)
    step("seccomp", seccomp.install_filter)
    return Confinement(tuple(applied), missing)
