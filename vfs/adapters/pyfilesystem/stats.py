"""os.stat_result and statvfs_result records built from PyFilesystem2 resource info.

What the wrapped FS reports is used first: the ``stat`` namespace (OSFS: the host's own
record), then ``access`` (permissions, uid, gid) and ``details`` (type, size, float times);
what it does not report is synthesised consistently: mode 0755 for directories and 0644 for
files, the calling process as owner, one link, times of 0.
"""

from __future__ import annotations

import posix
import stat as _stat
from collections.abc import Mapping
from typing import Any

from vfs.adapters.pyfilesystem.library import Info, Permissions
from vfs.limits import NAME_MAX

NAMESPACES = ("details", "access", "stat")
"""What the adapter asks getinfo for."""
DIRECTORY_MODE, FILE_MODE = 0o755, 0o644
"""Permission bits of resources whose FS reports none."""
BLOCK_SIZE = 4096
ST_RDONLY = 1
"""statvfs f_flag bit of a read-only file system."""

_KINDS = {
    0: _stat.S_IFREG,  # unknown: a resource that opens as a file
    1: _stat.S_IFDIR,
    2: _stat.S_IFREG,
    3: _stat.S_IFCHR,
    4: _stat.S_IFBLK,
    5: _stat.S_IFIFO,
    6: _stat.S_IFSOCK,
    7: _stat.S_IFLNK,
}
"""fs.enums.ResourceType value -> stat file type."""


def seconds_to_ns(seconds: float | None) -> int:
    """A float time in seconds as whole nanoseconds (0 when the FS has no such time)."""
    return 0 if seconds is None else round(seconds * 1_000_000_000)


def kind_of(info: Info) -> int:
    """The stat file type (``S_IFDIR``...) of a resource."""
    raw: Mapping[str, Mapping[str, Any]] = info.raw
    host = raw.get("stat")
    if host is not None and "st_mode" in host:
        return _stat.S_IFMT(host["st_mode"])
    details = raw.get("details")
    if details is not None and details.get("type") is not None:
        kind = _KINDS.get(int(details["type"]), _stat.S_IFREG)
        if kind != _stat.S_IFLNK:
            return kind
    return _stat.S_IFDIR if raw["basic"]["is_dir"] else _stat.S_IFREG


def build_stat(info: Info, ino: int, dev: int, nlink: int | None = None) -> posix.stat_result:
    """The stat record of a resource whose getinfo asked for :data:`NAMESPACES`."""
    raw: Mapping[str, Mapping[str, Any]] = info.raw
    kind = kind_of(info)
    host = raw.get("stat") or {}
    access = raw.get("access") or {}
    details = raw.get("details") or {}
    if "st_mode" in host:
        permissions = host["st_mode"] & 0o7777
    elif access.get("permissions") is not None:
        permissions = Permissions.load(access["permissions"]).mode
    else:
        permissions = DIRECTORY_MODE if kind == _stat.S_IFDIR else FILE_MODE
    uid = host.get("st_uid", access.get("uid"))
    gid = host.get("st_gid", access.get("gid"))
    uid = posix.geteuid() if uid is None else uid
    gid = posix.getegid() if gid is None else gid
    size = host.get("st_size", details.get("size")) or 0
    if "st_mtime_ns" in host:
        atime, mtime, ctime = host["st_atime_ns"], host["st_mtime_ns"], host["st_ctime_ns"]
    else:
        mtime = seconds_to_ns(details.get("modified"))
        atime = seconds_to_ns(details.get("accessed")) or mtime
        ctime = seconds_to_ns(details.get("metadata_changed")) or mtime
    if nlink is None:
        nlink = host.get("st_nlink", 1)
    blocks = host.get("st_blocks", (size + 511) // 512)
    return posix.stat_result(
        (
            kind | permissions, ino, dev, nlink, uid, gid, size,
            atime // 1_000_000_000, mtime // 1_000_000_000, ctime // 1_000_000_000,
            atime / 1e9, mtime / 1e9, ctime / 1e9,
            atime, mtime, ctime,
            BLOCK_SIZE, blocks, 0,
        )
    )  # fmt: skip


def build_statvfs(dev: int, read_only: bool) -> posix.statvfs_result:
    """statvfs of a wrapped FS: it reports no capacity, so blocks and inodes are all zero."""
    return posix.statvfs_result(
        (BLOCK_SIZE, BLOCK_SIZE, 0, 0, 0, 0, 0, 0, ST_RDONLY if read_only else 0, NAME_MAX, dev)
    )
