"""PosixModuleBackend: the option that names a backend, with GraalPy's spellings and aliases.

A module of its own, importing nothing of the library: the launcher parses its options with it
before any backend is imported (:mod:`posixbackend.switch.names` gives the same objects)."""

from __future__ import annotations

import enum

ALIASES = {"managed": "java", "emulated": "java"}
"""Other names users give the emulated backend (graalpy-managed calls it "managed")."""


class PosixModuleBackend(enum.Enum):
    """Which implementation serves the ``posix`` functions: the real one, or the emulation.

    ``PosixModuleBackend("managed")`` and ``("emulated")`` give :attr:`JAVA`, as GraalPy's
    ``--python.PosixModuleBackend`` option accepts; an unknown name is a ValueError that
    lists the valid ones.
    """

    NATIVE = "native"
    JAVA = "java"

    @classmethod
    def _missing_(cls, value: object) -> PosixModuleBackend:
        if isinstance(value, str):
            name = value.strip().lower()
            name = ALIASES.get(name, name)
            for member in cls:
                if member.value == name:
                    return member
        choices = ", ".join(valid_names())
        raise ValueError(f"unknown POSIX backend {value!r}: choose one of {choices}")

    @property
    def emulated(self) -> bool:
        """Whether this backend is the emulated one."""
        return self is PosixModuleBackend.JAVA


def valid_names() -> tuple[str, ...]:
    """Every name :class:`PosixModuleBackend` accepts, canonical ones first."""
    return (*(member.value for member in PosixModuleBackend), *ALIASES)
