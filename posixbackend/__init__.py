"""posixbackend: switch the operating-system interface Python code sees.

``EmulatedBackend`` is the emulated ("java") POSIX backend: an object with the ``os``
functions' names and signatures, over a ``vfs`` file system provider.
"""

from posixbackend.emulated import EmulatedBackend

__all__ = ["EmulatedBackend"]
