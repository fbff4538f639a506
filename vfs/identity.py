"""Who is asking: the user and groups whose permissions a provider checks."""

from __future__ import annotations

import posix
from collections.abc import Iterable

import attrs


def _group_set(groups: Iterable[int]) -> frozenset[int]:
    return frozenset(groups)


@attrs.frozen
class Identity:
    """A user id, primary group id and supplementary groups, as the kernel sees a process."""

    uid: int
    gid: int
    groups: frozenset[int] = attrs.field(default=frozenset(), converter=_group_set)
    __accelerated_slots__ = ("gid", "groups", "uid")  # read by offset in posixbackend's C code

    @classmethod
    def current(cls) -> Identity:
        """The identity of this process (effective ids and supplementary groups)."""
        return cls(posix.geteuid(), posix.getegid(), frozenset(posix.getgroups()))

    @classmethod
    def root(cls) -> Identity:
        """The superuser, who passes every permission check as on Linux."""
        return cls(0, 0)

    @property
    def is_root(self) -> bool:
        """Whether permission checks are bypassed (uid 0, as CAP_DAC_OVERRIDE and friends)."""
        return self.uid == 0

    def in_group(self, gid: int) -> bool:
        """Whether ``gid`` is this identity's primary or a supplementary group."""
        return gid == self.gid or gid in self.groups
