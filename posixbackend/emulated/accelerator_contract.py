"""The C accelerator's contract with the classes whose ``__slots__`` it reads by offset.

``posixbackend/_speedups.c`` and ``posixbackend/_direntry.c`` reach some slots of the fd table,
the open file descriptions, the raw file and the memory file system's objects by offset
(learned once, in their ``configure``). Each C module exports what it reads as ``SLOT_READS``
(``{role: (slot, ...)}``, the role being the keyword its ``configure`` takes the class by),
and each class it reads declares the same names, next to its ``__slots__``, in
``__accelerated_slots__`` (plain data: vfs does not import posixbackend).

Before a C module is configured, :func:`check` compares the two: a slot that the C code reads
but its class no longer has, or does not declare, leaves that module out. The Python code then
serves alone (same behaviour, slower hot calls) and gap
``posixbackend.accelerator.contract_broken`` is logged for each such slot, naming its class.
Renaming a declared slot therefore means changing the C table (``SlotRead``) too, and
rebuilding (``pip install -e .``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MemberDescriptorType, ModuleType

import attrs

import compat

DECLARATION = "__accelerated_slots__"
"""The class attribute that names the slots the C code reads of that class."""

CONTRACT_BROKEN = compat.declare(
    id="posixbackend.accelerator.contract_broken",
    function="posixbackend.EmulatedBackend",
    aspect="the C accelerator, when a class it reads no longer matches it",
    level=compat.Level.WARNING,
    explanation="a slot the C accelerator reads by offset is missing from its class or from "
    "the class's __accelerated_slots__: that C module is left out and the Python code serves "
    "alone (same behaviour, slower read, lseek, open, close and scandir) until the C table "
    "and the class agree again and the extension is rebuilt",
)


@attrs.frozen
class Breach:
    """One slot on which a C module and the class it reads disagree."""

    module: str  # the C module's name
    owner: str  # the class, dotted (or the role, when no class is known for it)
    slot: str
    problem: str

    def describe(self) -> str:
        """One line for the log: where, and what is wrong."""
        return f"{self.owner}.{self.slot}: {self.problem} ({self.module})"


def declared(cls: type) -> tuple[str, ...]:
    """The slots ``cls`` itself declares the C code reads (its bases declare their own)."""
    names: tuple[str, ...] = vars(cls).get(DECLARATION, ())
    return names


def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def breaches(
    module_name: str, reads: Mapping[str, tuple[str, ...]], classes: Mapping[str, type]
) -> list[Breach]:
    """Where ``reads`` (a C module's SLOT_READS) and ``classes`` (the class of each role)
    disagree: a role without a class, a slot the class does not declare or does not have."""
    found: list[Breach] = []
    for role, names in reads.items():
        cls = classes.get(role)
        if cls is None:
            found.extend(Breach(module_name, role, name, "no class given for it") for name in names)
            continue
        promised = declared(cls)
        for name in names:
            if name not in promised:
                found.append(Breach(module_name, _dotted(cls), name, f"not in its {DECLARATION}"))
            # a __slots__ member (found on the class or a base) is a member descriptor; the C
            # code checks the rest (an object slot, writable) in its configure
            if not isinstance(getattr(cls, name, None), MemberDescriptorType):
                found.append(Breach(module_name, _dotted(cls), name, "not a __slots__ member"))
    return found


def check(module: ModuleType, classes: Mapping[str, type]) -> bool:
    """Whether ``module`` (a C module with SLOT_READS) agrees with ``classes``; each breach is
    logged as gap posixbackend.accelerator.contract_broken."""
    reads: Mapping[str, tuple[str, ...]] | None = getattr(module, "SLOT_READS", None)
    if reads is None:  # built from an older source: the offsets it would read are unknown
        found = [Breach(module.__name__, module.__name__, "SLOT_READS", "missing: rebuild it")]
    else:
        found = breaches(module.__name__, reads, classes)
    report(found)
    return not found


def report(found: list[Breach]) -> None:
    """Log each breach as a hit of the contract gap."""
    for breach in found:
        CONTRACT_BROKEN.hit(slot=f"{breach.owner}.{breach.slot}", problem=breach.describe())
