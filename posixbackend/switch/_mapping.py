"""``mmap.mmap`` while an emulated backend serves: real maps of the backend's files.

``mmap.mmap`` is a class (``isinstance(m, mmap.mmap)``, user subclasses), so its stand-in
is a subclass of the real one whose ``__new__`` swaps an emulated descriptor number for a
real descriptor of the same file (:mod:`posixbackend.emulated.mapping`) and makes the map
with the real constructor over it: the object is a real ``mmap.mmap`` (buffer protocol,
slicing, find, resize, flush, madvise are the C ones) sharing the file's pages. Natively,
and for anonymous maps, the arguments go to the real constructor unchanged.

The real constructor checks its arguments before it looks at the descriptor; an emulated
descriptor that cannot be mapped is therefore first tried as a descriptor that is never open
(-2), so that argument errors come first, then the error the kernel gives for that file.
"""

from __future__ import annotations

import errno
import mmap as _mmap
import operator
import posix
import stat
from typing import Any, Final

import compat
from posixbackend.emulated.files import INT_MAX, INT_MIN
from posixbackend.emulated.mapping import access_error
from posixbackend.permissions.entrypoints import entry_points, pass_throughs
from posixbackend.switch.active import get_active
from posixbackend.switch.guard import current_emulated

NativeMmap = _mmap.mmap
MAP_DESCRIPTOR = compat.declare(
    id="switch.mmap_descriptor",
    function="mmap.mmap.fileno",
    aspect="the descriptor a map of an emulated file holds",
    level=compat.Level.INFO,
    explanation="a map of an emulated descriptor's file holds a real duplicate of a real "
    "descriptor of that file (as a native map holds a duplicate of its own): m.fileno() names "
    "that real descriptor, which the emulated backend's table does not know, so os calls on "
    "the number inside a block reach the table's own descriptor of that number, if any; an "
    "interruption landing as that real descriptor is made may leave it open",
)
NEVER_OPEN: Final = -2
"""A descriptor number no process has open (-1 asks for an anonymous map)."""
PARAMETERS: Final = ("fileno", "length", "flags", "prot", "access", "offset")
"""The constructor's parameters that may be given by position, in order."""


class mmap(NativeMmap):
    """mmap.mmap: a real memory map, of the serving emulated backend's file when given one of
    its descriptors (see :mod:`posixbackend.switch._mapping`)."""

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> mmap:
        if get_active() is not None:
            backend = current_emulated()
            fileno = _descriptor(args[0] if args else kwargs.get("fileno"))
            if backend is not None and fileno is not None:
                return _mapped(backend, cls, fileno, args, kwargs)
        return NativeMmap.__new__(cls, *args, **kwargs)

    def __repr__(self) -> str:
        shown: str = super().__repr__()  # names the type by its tp_name: "mmap", not "mmap.mmap"
        return "<mmap.mmap" + shown[len("<mmap") :] if shown.startswith("<mmap ") else shown


mmap.__module__ = "mmap"
mmap.__qualname__ = "mmap"
mmap.__doc__ = NativeMmap.__doc__


def _descriptor(fileno: Any) -> int | None:
    """The descriptor number the constructor would take from ``fileno`` (its "i"
    conversion), for the backend to look up: None for -1 (an anonymous map) and for what the
    real constructor refuses itself (not an integer, out of range)."""
    if fileno is None:
        return None
    try:
        number = operator.index(fileno)
    except TypeError:
        return None
    return number if number != -1 and INT_MIN <= number <= INT_MAX else None


def _mapped(backend: Any, cls: type[mmap], fileno: int, args: Any, kwargs: Any) -> mmap:
    """A map of emulated descriptor ``fileno``'s file: made by the real constructor over a
    real descriptor of that file, which is closed again (the map holds its own duplicate)."""
    rest, named = _without_fileno(args, kwargs)
    try:
        target = backend.mapping_target(fileno)
    except OSError as error:
        outcome = _unmappable(backend, cls, fileno, rest, named, error=error)
        if outcome is error:
            raise  # the backend's own error, its cause kept
        raise outcome from None
    try:
        if not target.judged:
            refused = access_error(target.access, _shared_write(rest, named))
            if refused is not None:
                raise _refused_after_checks(cls, target.fd, rest, named, refused)
        return NativeMmap.__new__(cls, target.fd, *rest, **named)
    finally:
        posix.close(target.fd)


def _refused_after_checks(
    cls: type[mmap], fd: int, rest: Any, named: Any, refused: OSError
) -> BaseException:
    """``refused`` (the kernel's EACCES, judged here for a descriptor wider than the
    emulated one), unless the real constructor fails first: on its arguments, or on the
    size of the regular file ``fd`` (checked before it maps anything)."""
    checked = _argument_error(cls, rest, named)
    if checked is not None:
        return checked
    sized = _size_error(posix.fstat(fd).st_size, rest, named)
    return refused if sized is None else sized


def _size_error(size: int, rest: Any, named: Any) -> ValueError | None:
    """The constructor's own check of a regular file's ``size`` against length and offset."""
    length = _argument(rest, named, "length", 0)
    offset = _argument(rest, named, "offset", 0)
    if length == 0:
        if size == 0:
            return ValueError("cannot mmap an empty file")
        if offset >= size:
            return ValueError("mmap offset is greater than file size")
    elif offset > size or size - offset < length:
        return ValueError("mmap length is greater than file size")
    return None


def _unmappable(
    backend: Any, cls: type[mmap], fileno: int, rest: Any, named: Any, *, error: OSError
) -> BaseException:
    """The error of mapping ``fileno``, which the backend refused with ``error``: the real
    constructor's argument errors first, then for a file that cannot be mapped its size
    checks of a regular file, then what the kernel answers (EINVAL for a zero length, EACCES
    for the access mode, ENODEV); EBADF as it is."""
    checked = _argument_error(cls, rest, named)
    if checked is not None:
        return checked
    if error.errno != errno.ENODEV:
        return error
    status = backend.fstat(fileno)
    if stat.S_ISREG(status.st_mode):
        sized = _size_error(status.st_size, rest, named)
        if sized is not None:
            return sized
    elif _argument(rest, named, "length", 0) == 0:
        return OSError(errno.EINVAL, posix.strerror(errno.EINVAL))
    refused = access_error(backend.mapping_access(fileno), _shared_write(rest, named))
    return refused if refused is not None else error


def _argument_error(cls: type[mmap], rest: Any, named: Any) -> BaseException | None:
    """The error the real constructor finds in the arguments after the descriptor, if any:
    it is given a descriptor that is never open, which it looks at only once they passed."""
    try:
        NativeMmap.__new__(cls, NEVER_OPEN, *rest, **named).close()
    except OSError:
        return None  # EBADF from the descriptor: the arguments passed
    except (ValueError, TypeError, OverflowError) as argument_error:
        return argument_error
    return None  # an anonymous map asked for by its flags (closed): nothing to say


def _without_fileno(args: Any, kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The constructor's arguments other than the descriptor."""
    if args:
        return tuple(args[1:]), dict(kwargs)
    return (), {name: value for name, value in kwargs.items() if name != "fileno"}


def _argument(rest: Any, named: Any, name: str, default: Any) -> Any:
    """The value of parameter ``name`` among the arguments after the descriptor."""
    index = PARAMETERS.index(name) - 1
    return rest[index] if index < len(rest) else named.get(name, default)


def _shared_write(rest: Any, named: Any) -> bool:
    """Whether the map asked for is shared and writable (the access check of mmap(2))."""
    access = _argument(rest, named, "access", _mmap.ACCESS_DEFAULT)
    if access == _mmap.ACCESS_WRITE:
        return True
    if access != _mmap.ACCESS_DEFAULT:
        return False
    flags = _argument(rest, named, "flags", _mmap.MAP_SHARED)
    prot = _argument(rest, named, "prot", _mmap.PROT_READ | _mmap.PROT_WRITE)
    return bool(flags & _mmap.MAP_SHARED and prot & _mmap.PROT_WRITE)


# Registered as functions: the class says it is the mmap module's, which the hook's scan of
# this module (and of a registered class) would take for another module's code.
pass_throughs(mmap.__new__)
entry_points(mmap.__new__)
