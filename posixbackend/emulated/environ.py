"""os.environ and os.environb look-alikes over an emulated backend's environment.

They are ``os._Environ`` mappings (so they behave exactly as the real ones: str keys and values
encoded with the file system encoding, ``copy()``, ``|``...) whose changes go to the backend's
putenv/unsetenv rather than the process's, whichever backend serves ``os`` at the time.
"""

from __future__ import annotations

import errno
import os
import posix
import sys
from collections.abc import Callable
from typing import Any, AnyStr, Generic, Protocol

from posixbackend.emulated.spawnargs import fs_converter


def set_variable(environ: dict[bytes, bytes], name: Any, value: Any) -> None:
    """putenv(name, value) on ``environ``, with posix.putenv's checks and errors."""
    key = fs_converter(name)
    if b"=" in key:
        raise ValueError("illegal environment variable name")
    encoded = fs_converter(value)
    if not key:  # setenv(3) refuses an empty name
        raise OSError(errno.EINVAL, posix.strerror(errno.EINVAL))
    environ[key] = encoded


def unset_variable(environ: dict[bytes, bytes], name: Any) -> None:
    """unsetenv(name) on ``environ``, with posix.unsetenv's checks and errors."""
    key = fs_converter(name)
    if not key or b"=" in key:  # unsetenv(3) refuses such a name
        raise OSError(errno.EINVAL, posix.strerror(errno.EINVAL))
    environ.pop(key, None)


class EnvironOwner(Protocol):
    """What the mappings need of a backend: its bytes environment and the two functions."""

    @property
    def environ(self) -> dict[bytes, bytes]: ...

    def putenv(self, name: Any, value: Any, /) -> None: ...

    def unsetenv(self, name: Any, /) -> None: ...


class BackendEnviron(os._Environ[AnyStr], Generic[AnyStr]):
    """An ``os._Environ`` whose set and delete go to one backend's putenv and unsetenv."""

    def __init__(
        self,
        owner: EnvironOwner,
        encode: Callable[[AnyStr], bytes],
        decode: Callable[[bytes], AnyStr],
    ) -> None:
        base_init: Any = super().__init__  # typeshed types _Environ's data as already decoded
        base_init(owner.environ, encode, decode, encode, decode)
        self._owner = owner

    def __setitem__(self, key: AnyStr, value: AnyStr) -> None:
        encoded_key, encoded_value = self.encodekey(key), self.encodevalue(value)
        self._owner.putenv(encoded_key, encoded_value)

    def __delitem__(self, key: AnyStr) -> None:
        encoded_key = self.encodekey(key)
        if encoded_key not in self._owner.environ:
            raise KeyError(key) from None  # as os._Environ, which raises it from a KeyError
        self._owner.unsetenv(encoded_key)


def _encode_str(value: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"str expected, not {type(value).__name__}")
    return value.encode(sys.getfilesystemencoding(), "surrogateescape")


def _decode_str(value: bytes) -> str:
    return value.decode(sys.getfilesystemencoding(), "surrogateescape")


def _check_bytes(value: bytes) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"bytes expected, not {type(value).__name__}")
    return value


def str_environ(owner: EnvironOwner) -> BackendEnviron[str]:
    """``os.environ`` for ``owner``: str to str."""
    return BackendEnviron(owner, _encode_str, _decode_str)


def bytes_environ(owner: EnvironOwner) -> BackendEnviron[bytes]:
    """``os.environb`` for ``owner``: bytes to bytes."""
    return BackendEnviron(owner, _check_bytes, bytes)
