"""PosixModuleBackend, as the switch names it: defined in :mod:`posixbackend.backendnames`,
which imports nothing of the switch (the launcher parses its options with it before any
backend is imported)."""

from posixbackend.backendnames import ALIASES, PosixModuleBackend, valid_names

__all__ = ["ALIASES", "PosixModuleBackend", "valid_names"]
