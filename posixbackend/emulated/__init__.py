"""The emulated ("java") POSIX backend."""

from posixbackend.emulated.backend import EmulatedBackend

__all__ = ["EmulatedBackend"]
