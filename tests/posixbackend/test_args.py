"""The argument converters against the real ``os``.

Each converter is paired with a real ``os`` function that converts the same argument with the
same CPython converter. For every tricky value, the converter must fail as the real function
fails (exception class, message, warnings) and accept what it accepts; where the real call
shows the converted value (audit events, file names in errors, file times), the values must
agree too. Nothing is hard-coded that the running interpreter can tell us, so the same tests
check 3.11, 3.12 and 3.13 behaviour on each of them.

Every real call is harmless: paths lie in a directory that does not exist, descriptors are
closed numbers or only read (fstat), times are set on a file of our own.
"""

from __future__ import annotations

import array
import contextlib
import decimal
import errno
import fractions
import gc
import os
import re
import sys
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from posixbackend.emulated import EmulatedBackend
from posixbackend.emulated.args import (
    AT_FDCWD,
    C_LONG,
    NOT_GIVEN,
    PathArg,
    argument_unavailable,
    buffer_arg,
    check_dir_fd_and_fd,
    check_fd_and_follow_symlinks,
    check_path_and_dir_fd,
    dev_arg,
    dir_fd_arg,
    fd_arg,
    fildes_arg,
    gid_arg,
    int_arg,
    off_t_arg,
    path_arg,
    ssize_arg,
    uid_arg,
    utime_times,
)

MISSING_PARENT = os.path.join(tempfile.gettempdir(), f"posixbackend-args-{uuid.uuid4().hex}")
MISSING = os.path.join(MISSING_PARENT, "x")
"""An absolute path in a directory that does not exist: every call on it fails with ENOENT
after its arguments were converted, and the kernel ignores dir_fd for it."""
MISSING_NAME = f"posixbackend-args-missing-{uuid.uuid4().hex}"
"""A relative name that exists neither in the current directory nor in ours."""
CLOSED_FD = 2**31 - 2
"""A descriptor number that is never open (beyond any RLIMIT_NOFILE): EBADF, nothing else."""
ID_MASK = 2**32 - 1
OS: Any = os
"""The real os, typed loosely: these tests hand it every wrong type on purpose."""


# -- values -------------------------------------------------------------------------------------


class Boom(Exception):
    """Raised by the test objects below when asked to."""


def _give(value: object) -> object:
    if isinstance(value, BaseException):
        raise value
    return value


@attrs.define(eq=False)
class Index:
    """An object with ``__index__`` returning (or raising) ``value``."""

    value: object

    def __index__(self) -> int:
        return _give(self.value)  # type: ignore[return-value]


@attrs.define(eq=False)
class PathLike:
    """An object with ``__fspath__`` returning (or raising) ``value``."""

    value: object

    def __fspath__(self) -> str:
        return _give(self.value)  # type: ignore[return-value]


@attrs.define(eq=False)
class Fileno:
    """An object with ``fileno()`` returning (or raising) ``value``."""

    value: object

    def fileno(self) -> int:
        return _give(self.value)  # type: ignore[return-value]


@attrs.define(eq=False)
class Divmod:
    """An object whose ``divmod(self, n)`` returns (or raises) ``value``."""

    value: object

    def __divmod__(self, other: object) -> tuple[int, int]:
        return _give(self.value)  # type: ignore[return-value]


class IntSubclass(int):
    pass


class StrSubclass(str):
    pass


class BytesSubclass(bytes):
    def decode(self, *args: Any, **kwargs: Any) -> str:
        return "overridden"


class FloatSubclass(float):
    def __float__(self) -> float:
        return 42.0  # CPython reads the stored value instead


class TupleSubclass(tuple[object, ...]):
    pass


class FspathNone:
    __fspath__ = None


class InstanceFspath:
    """``__fspath__`` on the instance only: special methods are looked up on the type."""

    def __init__(self) -> None:
        self.__fspath__ = lambda: "x"


class NotCallableFspath:
    __fspath__ = 3


DottedName = type("outer.Inner", (), {})

BOUNDARIES = [
    0, 1, 2, -1, -2, AT_FDCWD, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**32 - 2, 2**32 - 1,
    2**32, 2**32 + 5, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, -(2**64),
    2**70, -(2**70), 10**9, 2**63 * 10**9, (2**63) * 10**9 - 1, -(2**63) * 10**9,
]  # fmt: skip

CATALOGUE: list[object] = [
    None, True, False, *BOUNDARIES, IntSubclass(7), IntSubclass(-5),
    Index(5), Index(-1), Index(2**40), Index(-(2**40)), Index(True), Index(IntSubclass(3)),
    Index("x"), Index(Boom("index")), Index(KeyError("index")), Index(OverflowError("index")),
    1.5, -1.0, 0.0, float("nan"), float("inf"), -float("inf"), 1e300, 9.2e18, 2.0**63,
    -(2.0**63), 1e-10, -1e-10, 0.1, FloatSubclass(3.5), decimal.Decimal(1),
    fractions.Fraction(1, 2), 1j,
    "", "x", "a\0b", "\0", "\udcff", "\ud800", "a\0\ud800", "é", "\udcc3\udca9",
    StrSubclass("x"), StrSubclass("a\0"),
    b"", b"x", b"a\0b", b"\xff", BytesSubclass(b"x"), BytesSubclass(b"\xff"),
    bytearray(b"x"), bytearray(b"a\0"), memoryview(b"x"), memoryview(b"abcd")[::2],
    array.array("i", [1]),
    PathLike("x"), PathLike(b"x"), PathLike("a\0"), PathLike(b"a\0"), PathLike(3), PathLike(None),
    PathLike(bytearray(b"x")), PathLike(StrSubclass("x")), PathLike(PathLike("x")),
    PathLike(Boom("fspath")), PathLike(KeyError("fspath")), FspathNone(), InstanceFspath(),
    NotCallableFspath(), DottedName(),
    Fileno(3), Fileno(-3), Fileno(2**40), Fileno("x"), Fileno(Index(3)), Fileno(True),
    Fileno(Boom("fileno")), Divmod((1, 2)), Divmod((1, 2, 3)), Divmod([1, 2]), Divmod((1, -5)),
    Divmod((1, 2**70)), Divmod((1.5, 2)), Divmod(Boom("divmod")), Divmod((False, -1)),
    (1, 2), (1,), (1, 2, 3), (1.5, -1.5), (float("nan"), 0), (2**63, 0), (2.0**63, 0),
    (-(2.0**63), 0), (-(2.0**63) - 2048.0, 0), (Index(1), 2),
    ("x", 1), (True, False), [1, 2], TupleSubclass((1, 2)), (None, None),
    object(), [], {}, Boom("value"),
]  # fmt: skip


def _view(data: bytes) -> memoryview:
    return memoryview(data)


INTEGERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(BOUNDARIES),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    INTEGERS,
    st.floats(),
    st.text(),
    st.binary(),
    st.builds(bytearray, st.binary()),
    st.binary().map(_view),
    st.builds(IntSubclass, INTEGERS),
    st.builds(StrSubclass, st.text()),
    st.builds(BytesSubclass, st.binary()),
    st.builds(FloatSubclass, st.floats()),
    st.decimals(),
    st.fractions(),
    st.complex_numbers(),
    st.sampled_from([Boom("value"), KeyError("value"), FspathNone(), InstanceFspath(), []]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.builds(Index, inner),
        st.builds(PathLike, inner),
        st.builds(Fileno, inner),
        st.builds(Divmod, inner),
        st.tuples(inner, inner),
        st.tuples(inner),
        st.builds(TupleSubclass, st.tuples(inner, inner)),
        st.lists(inner, max_size=2),
    ),
    max_leaves=4,
)


def _label(value: object) -> str:
    """A test id that is the same in every process (pytest-xdist compares them)."""
    text = repr(value).replace(MISSING, "MISSING").replace(MISSING_NAME, "MISSING_NAME")
    if " at 0x" in text:
        text = type(value).__qualname__
    return text if len(text) <= 40 else text[:37] + "..."


# -- running calls ------------------------------------------------------------------------------


@attrs.frozen
class Outcome:
    """How a call ended, in the terms a converter must reproduce (the compared fields), with
    what it returned, raised and audited kept aside for the value checks."""

    error: str | None
    """The exception's class, None when the call got through (to the system call, for os)."""
    message: str | None
    warned: tuple[tuple[str, str], ...]
    result: object = attrs.field(eq=False, default=None)
    raised: BaseException | None = attrs.field(eq=False, default=None)
    audit: tuple[object, ...] | None = attrs.field(eq=False, default=None)

    @property
    def accepted(self) -> bool:
        return self.error is None


_listening: dict[str, list[tuple[object, ...]]] = {}


def _audit_hook(event: str, arguments: tuple[object, ...]) -> None:
    if event in _listening:
        _listening[event].append(arguments)


sys.addaudithook(_audit_hook)


@contextlib.contextmanager
def listening(event: str | None) -> Iterator[list[tuple[object, ...]]]:
    """Record the arguments of audit ``event`` raised inside the block."""
    heard: list[tuple[object, ...]] = []
    if event is not None:
        _listening[event] = heard
    try:
        yield heard
    finally:
        if event is not None:
            del _listening[event]


@contextlib.contextmanager
def without_collection() -> Iterator[None]:
    """Pause the collector, so no earlier test's cyclic garbage (an unclosed file) warns inside."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run(call: Callable[[], object], event: str | None = None) -> Outcome:
    """Run ``call``; an OSError counts as "got through": its arguments were all accepted."""
    result: object = None
    raised: BaseException | None = None
    with (
        without_collection(),
        warnings.catch_warnings(record=True) as caught,
        listening(event) as heard,
    ):
        warnings.simplefilter("always")
        try:
            result = call()
        except Exception as error:  # noqa: BLE001 - every failure is what we compare
            raised = error
    warned = tuple((warning.category.__name__, str(warning.message)) for warning in caught)
    audit = heard[0] if heard else None
    if raised is None or isinstance(raised, OSError):
        return Outcome(None, None, warned, result, raised, audit)
    return Outcome(type(raised).__qualname__, str(raised), warned, result, raised, audit)


# -- converters and their real counterparts -----------------------------------------------------


def _is_descriptor_like(value: object) -> bool:
    """Might name an open descriptor of this process (listdir would rewind a directory's)."""
    return isinstance(value, (int, Index))


@attrs.frozen
class Pair:
    """A converter and a real os call that converts its argument the same way."""

    name: str
    real: Callable[[object], object]
    ours: Callable[[object], object]
    event: str | None = None
    """The audit event that shows the converted value."""
    agree: Callable[[object, Outcome, Outcome], None] | None = None
    """Checks the converted value against what the real call showed, when both accepted."""
    safe: Callable[[object], bool] = lambda value: True


def _same_filename(value: object, real: Outcome, ours: Outcome) -> None:
    filename = getattr(real.raised, "filename", None)
    if filename is not None:
        assert isinstance(ours.result, PathArg)
        original = ours.result.original
        assert type(original) is type(filename)
        assert original == filename or original is filename


def _audited_at(index: int, convert: Callable[[Any], object]) -> Callable[..., None]:
    def agree(value: object, real: Outcome, ours: Outcome) -> None:
        assert real.audit is not None, "the real call raised no audit event"
        assert real.audit[index] == convert(ours.result)

    return agree


def _same_fstat(value: object, real: Outcome, ours: Outcome) -> None:
    if real.raised is None:
        mine = OS.fstat(ours.result)
        theirs = real.result
        assert isinstance(theirs, os.stat_result)
        assert (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def _same_bytes(value: object, real: Outcome, ours: Outcome) -> None:
    """Bytes written through a pipe by os.write are the converter's bytes."""
    data = ours.result
    assert isinstance(data, bytes)
    if len(data) > 60_000:
        return
    reader, writer = os.pipe()
    try:
        written = OS.write(writer, value)
        received = os.read(reader, 65536) if written else b""
        assert received == data
    finally:
        os.close(reader)
        os.close(writer)


RENAME_SRC = Pair(
    "path_arg(src)",
    lambda v: OS.rename(v, MISSING),
    lambda v: path_arg(v, "rename", argument="src"),
    agree=_same_filename,
)
PAIRS = [
    Pair(
        "path_arg(allow_fd)",
        OS.stat,
        lambda v: path_arg(v, "stat", allow_fd=True),
        agree=_same_filename,
    ),
    Pair(
        "path_arg",
        OS.readlink,
        lambda v: path_arg(v, "readlink"),
        agree=_same_filename,
    ),
    RENAME_SRC,
    Pair(
        "path_arg(dst)",
        lambda v: OS.rename(MISSING, v),
        lambda v: path_arg(v, "rename", argument="dst"),
    ),
    Pair(
        "path_arg(allow_fd, nullable)",
        OS.listdir,
        lambda v: path_arg(v, "listdir", allow_fd=True, nullable=True),
        event="os.listdir",
        agree=_audited_at(0, lambda arg: arg.original),
        safe=lambda v: not _is_descriptor_like(v),
    ),
    Pair(
        "dir_fd_arg",
        lambda v: OS.mkdir(MISSING, dir_fd=v),
        dir_fd_arg,
        event="os.mkdir",
        agree=_audited_at(2, lambda fd: -1 if fd is None else fd),
    ),
    Pair("fd_arg", OS.fstat, fd_arg, agree=_same_fstat),
    Pair(
        "int_arg (mode)",
        lambda v: OS.chmod(MISSING, v),
        int_arg,
        event="os.chmod",
        agree=_audited_at(1, lambda mode: mode),
    ),
    Pair(
        "int_arg (flags)",
        lambda v: OS.open(MISSING, v),
        int_arg,
        event="open",
        agree=_audited_at(2, lambda flags: flags | os.O_CLOEXEC),
    ),
    Pair(
        "int_arg (whence)",
        lambda v: OS.lseek(CLOSED_FD, 0, v),
        int_arg,
    ),
    Pair(
        "ssize_arg",
        lambda v: OS.sendfile(CLOSED_FD, CLOSED_FD, None, v),
        ssize_arg,
    ),
    Pair(
        "off_t_arg",
        lambda v: OS.truncate(MISSING, v),
        off_t_arg,
        event="os.truncate",
        agree=_audited_at(1, lambda length: length),
    ),
    Pair(
        "off_t_arg (lseek)",
        lambda v: OS.lseek(CLOSED_FD, v, 0),
        off_t_arg,
    ),
    Pair(
        "int_arg(C long)",
        lambda v: OS.utime(MISSING, ns=(Divmod((0, v)), 0)),
        lambda v: int_arg(v, ctype=C_LONG),
    ),
    Pair(
        "uid_arg",
        lambda v: OS.chown(MISSING, v, -1),
        uid_arg,
        event="os.chown",
        agree=_audited_at(1, lambda uid: uid & ID_MASK),
    ),
    Pair(
        "gid_arg",
        lambda v: OS.chown(MISSING, -1, v),
        gid_arg,
        event="os.chown",
        agree=_audited_at(2, lambda gid: gid & ID_MASK),
    ),
    Pair("dev_arg", lambda v: OS.mknod(MISSING, 0o600, v), dev_arg),
    Pair("fildes_arg", OS.fsync, fildes_arg),
    Pair("fildes_arg (fdatasync)", OS.fdatasync, fildes_arg),
    Pair(
        "buffer_arg",
        lambda v: OS.write(CLOSED_FD, v),
        buffer_arg,
        agree=_same_bytes,
    ),
]
PAIR_IDS = [pair.name for pair in PAIRS]


def compare(pair: Pair, value: object) -> None:
    """The converter ends as the real call ends; when both accept, their values agree."""
    real = run(lambda: pair.real(value), pair.event)
    ours = run(lambda: pair.ours(value))
    assert ours == real, f"{pair.name}({value!r}): {ours} but os gives {real}"
    if real.accepted and pair.agree is not None:
        pair.agree(value, real, ours)


@pytest.mark.parametrize(
    ("pair", "value"),
    [
        pytest.param(pair, value, id=f"{pair.name}-{_label(value)}")
        for pair in PAIRS
        for value in CATALOGUE
        if pair.safe(value)
    ],
)
def test_converter_matches_os(pair: Pair, value: object) -> None:
    compare(pair, value)


@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
@given(value=VALUES)
def test_converter_matches_os_on_generated_values(pair: Pair, value: object) -> None:
    assume(pair.safe(value))
    compare(pair, value)


def test_the_comparison_can_fail() -> None:
    """A converter with another message, or that accepts what os refuses, is caught."""
    stat = next(pair for pair in PAIRS if pair.name == "path_arg(allow_fd)")
    wrong_name = attrs.evolve(stat, ours=lambda v: path_arg(v, "lstat", allow_fd=True))
    with pytest.raises(AssertionError):
        compare(wrong_name, None)
    no_fd = attrs.evolve(stat, ours=lambda v: path_arg(v, "stat"))
    with pytest.raises(AssertionError):
        compare(no_fd, 3)
    too_lenient = attrs.evolve(RENAME_SRC, ours=lambda v: path_arg(v, "rename", allow_fd=True))
    with pytest.raises(AssertionError):
        compare(too_lenient, 3)


def test_earlier_garbage_does_not_warn_inside_a_call() -> None:
    """An unclosed file in a reference cycle left by another test, collected while a call runs
    (as CI once saw), is not counted as the call's warning."""

    class Cycle:
        pass

    cycle = Cycle()
    cycle.own = cycle  # type: ignore[attr-defined]
    cycle.file = open(os.devnull, encoding="utf-8")  # type: ignore[attr-defined]  # noqa: SIM115
    del cycle

    def allocating() -> None:
        [[] for _ in range(20_000)]  # enough new containers to start a collection

    try:
        assert run(allocating).warned == ()
    finally:
        gc.collect()


# -- paths: what the conversion yields ----------------------------------------------------------


@pytest.fixture
def directory() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="pb-args-")
    try:
        yield path
    finally:
        for name in os.listdir(os.fsencode(path)):
            os.unlink(os.path.join(os.fsencode(path), name))
        os.rmdir(path)


def _spellings(directory: str) -> list[object]:
    spellings: list[object] = [
        directory,
        os.fsencode(directory),
        PathLike(directory),
        PathLike(os.fsencode(directory)),
        StrSubclass(directory),
        BytesSubclass(os.fsencode(directory)),
    ]
    if sys.version_info < (3, 12):
        spellings += [bytearray(os.fsencode(directory)), memoryview(os.fsencode(directory))]
    return spellings


def test_is_bytes_follows_listdir(directory: str) -> None:
    """``is_bytes`` is exactly when listdir answers bytes."""
    open(os.path.join(directory, "entry"), "w").close()
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for value in [*_spellings(directory), descriptor]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                names = OS.listdir(value)
                converted = path_arg(value, "listdir", allow_fd=True, nullable=True)
            assert converted.is_bytes == isinstance(names[0], bytes), value
    finally:
        os.close(descriptor)


def test_path_names_the_file_os_finds(directory: str) -> None:
    """The converted str path names the same file as the argument did, for names that are not
    UTF-8 and for the two spellings of one byte sequence."""
    raw = os.path.join(os.fsencode(directory), b"caf\xe9")
    utf8 = os.path.join(directory, "é")
    open(raw, "w").close()
    open(utf8, "w").close()
    for value in [raw, os.fsdecode(raw), utf8, os.path.join(directory, "\udcc3\udca9")]:
        converted = path_arg(value, "stat")
        assert converted.path is not None
        assert os.stat(converted.path).st_ino == OS.stat(value).st_ino
    assert path_arg(os.path.join(directory, "\udcc3\udca9"), "stat").path == utf8


def test_path_ignores_overridden_methods() -> None:
    """A bytes subclass's own ``decode`` is not what CPython uses to read it."""
    converted = path_arg(BytesSubclass(b"/a\xff"), "stat")
    assert converted.path == os.fsdecode(b"/a\xff")
    assert type(converted.original) is BytesSubclass


@pytest.mark.parametrize("value", [-1, Index(-1), None], ids=_label)
def test_null_path(value: object) -> None:
    """CPython cannot tell fd -1 from "no path": it hands the call NULL, which stat refuses with
    EFAULT and listdir reads as "."."""
    converted = path_arg(value, "listdir", allow_fd=True, nullable=True)
    assert converted.is_null
    assert OS.listdir(value) == os.listdir(".")
    if value is not None:
        with pytest.raises(OSError) as raised:
            OS.stat(value)
        assert raised.value.errno == errno.EFAULT


@pytest.mark.parametrize("value", [0, 3, "x", b"x", PathLike("x")], ids=_label)
def test_not_null_path(value: object) -> None:
    assert not path_arg(value, "stat", allow_fd=True).is_null


def test_fd_paths_keep_the_object_given() -> None:
    """The error's file name is the fd object as given, not its integer."""
    given = Index(CLOSED_FD)
    with pytest.raises(OSError) as raised:
        OS.stat(given)
    converted = path_arg(given, "stat", allow_fd=True)
    assert raised.value.filename is converted.original
    assert converted.fd == CLOSED_FD


def test_warnings_name_the_callers_line() -> None:
    """Conversion warnings point at the code that called, not into the converters."""
    value: object
    if sys.version_info >= (3, 13):
        value = True
    elif sys.version_info < (3, 12):
        value = bytearray(b"/x")
    else:
        pytest.skip("3.12 warns about no argument")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path_arg(value, "stat", allow_fd=True)
    assert [warning.filename for warning in caught] == [__file__]


# -- dir_fd -------------------------------------------------------------------------------------


def test_at_fdcwd_is_the_default(directory: str) -> None:
    """dir_fd=AT_FDCWD is indistinguishable from None: stat(fd, dir_fd=AT_FDCWD) is allowed."""
    assert dir_fd_arg(AT_FDCWD) is None
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.stat(descriptor, dir_fd=AT_FDCWD)
        target = path_arg(descriptor, "stat", allow_fd=True)
        for dir_fd in (dir_fd_arg(AT_FDCWD), AT_FDCWD):  # converted, and as given
            check_path_and_dir_fd("stat", target, dir_fd)
            check_dir_fd_and_fd("stat", target, dir_fd)
    finally:
        os.close(descriptor)


# -- the combinations of path, dir_fd and follow_symlinks ----------------------------------------


@attrs.frozen
class Descriptors:
    """An open directory (a dir_fd) and an open file of ours (for calls that may act on it)."""

    directory: int
    own: int


@pytest.fixture(scope="module")
def descriptors() -> Iterator[Descriptors]:
    path = tempfile.mkdtemp(prefix="pb-args-dirfd-")
    directory = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    own, own_path = tempfile.mkstemp(prefix="pb-args-own-")
    yield Descriptors(directory, own)
    os.close(own)
    os.unlink(own_path)
    os.close(directory)
    os.rmdir(path)


def _ours_stat(path: object, dir_fd: object, follow_symlinks: bool) -> None:
    target = path_arg(path, "stat", allow_fd=True)
    directory = dir_fd_arg(dir_fd)
    check_path_and_dir_fd("stat", target, directory)
    check_dir_fd_and_fd("stat", target, directory)
    check_fd_and_follow_symlinks("stat", target, follow_symlinks)


def _ours_chown(path: object, dir_fd: object, follow_symlinks: bool) -> None:
    target = path_arg(path, "chown", allow_fd=True)
    uid_arg(-1)
    gid_arg(-1)
    directory = dir_fd_arg(dir_fd)
    check_dir_fd_and_fd("chown", target, directory)
    check_fd_and_follow_symlinks("chown", target, follow_symlinks)


def _ours_utime(path: object, dir_fd: object, follow_symlinks: bool) -> None:
    target = path_arg(path, "utime", allow_fd=True)
    directory = dir_fd_arg(dir_fd)
    utime_times("utime", (1, 2))
    check_path_and_dir_fd("utime", target, directory)
    check_dir_fd_and_fd("utime", target, directory)
    check_fd_and_follow_symlinks("utime", target, follow_symlinks)


@attrs.frozen
class Combination:
    """An os function taking a path (or fd), dir_fd and follow_symlinks, the converters and
    checks CPython runs for it, in its order, and the paths it may safely be given."""

    function: str
    real: Callable[[object, object, bool], object]
    ours: Callable[[object, object, bool], None]
    paths: tuple[object, ...]
    """"own" stands for the descriptor of a file of ours."""


# Only stat (which reads) gets the descriptors 0 and 1; chown gets a file of ours, utime only
# descriptors that are closed, so neither touches a file that is not ours.
COMBINATIONS = [
    Combination(
        "stat",
        lambda p, d, f: OS.stat(p, dir_fd=d, follow_symlinks=f),
        _ours_stat,
        (0, 1, True, -1, CLOSED_FD, MISSING_NAME, MISSING),
    ),
    Combination(
        "chown",
        lambda p, d, f: OS.chown(p, -1, -1, dir_fd=d, follow_symlinks=f),
        _ours_chown,
        ("own", -1, CLOSED_FD, MISSING_NAME, MISSING),
    ),
    Combination(
        "utime",
        lambda p, d, f: OS.utime(p, (1, 2), dir_fd=d, follow_symlinks=f),
        _ours_utime,
        (-1, CLOSED_FD, MISSING_NAME, MISSING),
    ),
]


def compare_combination(
    combination: Combination, path: object, dir_fd: object, follow: bool
) -> None:
    expected = run(lambda: combination.real(path, dir_fd, follow))
    got = run(lambda: combination.ours(path, dir_fd, follow))
    assert got == expected, (combination.function, path, dir_fd, follow)


@pytest.mark.parametrize("follow_symlinks", [True, False])
@pytest.mark.parametrize("dir_fd_kind", ["none", "at_fdcwd", "open", "bad"])
@pytest.mark.parametrize("combination", COMBINATIONS, ids=[c.function for c in COMBINATIONS])
def test_combinations_match_os(
    combination: Combination, dir_fd_kind: str, follow_symlinks: bool, descriptors: Descriptors
) -> None:
    dir_fd = {"none": None, "at_fdcwd": AT_FDCWD, "open": descriptors.directory, "bad": "3"}
    for path in combination.paths:
        chosen = descriptors.own if path == "own" else path
        compare_combination(combination, chosen, dir_fd[dir_fd_kind], follow_symlinks)


@pytest.mark.parametrize("path", [0, 1, CLOSED_FD, MISSING], ids=_label)
@pytest.mark.parametrize("follow_symlinks", [True, False])
def test_fd_and_follow_symlinks_matches_getxattr(path: object, follow_symlinks: bool) -> None:
    def ours() -> None:
        target = path_arg(path, "getxattr", allow_fd=True)
        path_arg("user.x", "getxattr", argument="attribute")
        check_fd_and_follow_symlinks("getxattr", target, follow_symlinks)

    expected = run(lambda: OS.getxattr(path, "user.x", follow_symlinks=follow_symlinks))
    assert run(ours) == expected


def test_argument_unavailable_message() -> None:
    """No function raises it on Linux, so the message is CPython's format, written out."""
    assert str(argument_unavailable("chmod", "follow_symlinks")) == (
        "chmod: follow_symlinks unavailable on this platform"
    )
    assert str(argument_unavailable(None, "dir_fd")) == "dir_fd unavailable on this platform"


# -- utime ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def timed_file() -> Iterator[str]:
    descriptor, path = tempfile.mkstemp(prefix="pb-args-times-")
    os.close(descriptor)
    yield path
    os.unlink(path)


TIME_RANGE_NS = ((1 - 2**31) * 10**9, 2**33 * 10**9)
"""File times ext4 stores exactly; beyond, it clamps (to -2**31 s at the low end)."""


def compare_utime(path: str, times: object, ns: object) -> None:
    """utime_times ends as os.utime ends, and gives the times os.utime sets."""
    options = {} if ns is NOT_GIVEN else {"ns": ns}
    real = run(lambda: OS.utime(path, times, **options))
    ours = run(lambda: utime_times("utime", times, ns))
    assert ours == real, f"utime({times!r}, ns={ns!r}): {ours} but os gives {real}"
    when = ours.result
    if real.raised is not None or not isinstance(when, tuple):
        return
    if all(TIME_RANGE_NS[0] <= value < TIME_RANGE_NS[1] for value in when):
        status = os.stat(path)
        assert (status.st_atime_ns, status.st_mtime_ns) == when


@pytest.mark.parametrize("times", [None, *CATALOGUE], ids=_label)
def test_utime_times_match_os(timed_file: str, times: object) -> None:
    compare_utime(timed_file, times, NOT_GIVEN)


@pytest.mark.parametrize("ns", [None, *CATALOGUE], ids=_label)
def test_utime_ns_match_os(timed_file: str, ns: object) -> None:
    compare_utime(timed_file, None, ns)


@pytest.mark.parametrize("times", [None, (1, 2), (1,)], ids=_label)
@pytest.mark.parametrize("ns", [NOT_GIVEN, None, (1, 2), (1.5, 2), []], ids=_label)
def test_utime_times_and_ns_together(timed_file: str, times: object, ns: object) -> None:
    compare_utime(timed_file, times, ns)


TIME_PARTS = st.one_of(
    VALUES,
    st.floats(min_value=-(2.0**31), max_value=2.0**33),
    st.integers(min_value=-(2**31), max_value=2**33),
    st.integers(min_value=-(2**31) * 10**9, max_value=2**33 * 10**9),
)
TIME_PAIRS = st.one_of(st.tuples(TIME_PARTS, TIME_PARTS), VALUES)


@given(times=st.one_of(st.none(), TIME_PAIRS), ns=st.one_of(st.just(NOT_GIVEN), TIME_PAIRS))
def test_utime_matches_os_on_generated_values(timed_file: str, times: object, ns: object) -> None:
    compare_utime(timed_file, times, ns)


def test_utime_float_rounding_floors(timed_file: str) -> None:
    """Float seconds are floored to the nanosecond, negative ones included."""
    for seconds in (1e-10, -1e-10, 0.1, -0.1, 1.999999999, -1.5, 123456789.123456789):
        compare_utime(timed_file, (seconds, -seconds), NOT_GIVEN)
    assert utime_times("utime", (1e-10, -1e-10)) == (0, -1)


def test_utime_converts_both_ns_before_the_kernel_judges_either(timed_file: str) -> None:
    """Regression: an out-of-range first nanosecond count is EINVAL only once the second
    time converted too (a float there is a TypeError first), as CPython calls utimensat
    after converting both."""
    compare_utime(timed_file, None, (Divmod((False, -1)), 0.0))
    compare_utime(timed_file, None, (Divmod((0, -1)), 5))


@pytest.mark.parametrize(
    "edge", [2**63 * 10**9 - 1, 2**63 * 10**9, -(2**63) * 10**9, -(2**63) * 10**9 - 1, True]
)
def test_utime_ns_at_the_edges_of_time_t(timed_file: str, edge: int) -> None:
    """The short cut for two plain ints (shutil.copystat's call) ends where the general
    split would: OverflowError once the seconds leave time_t, bools the general way."""
    compare_utime(timed_file, None, (edge, 0))
    compare_utime(timed_file, None, (0, edge))


def test_utime_now() -> None:
    assert utime_times("utime", None) is None


# -- the examples of the brief, as one readable list ---------------------------------------------

EXAMPLES: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
    ("stat(None)", lambda: OS.stat(None), lambda: path_arg(None, "stat", allow_fd=True)),
    ("open(3, 0)", lambda: OS.open(3, 0), lambda: path_arg(3, "open")),
    ("stat(str NUL)", lambda: OS.stat("/a\0b"), lambda: path_arg("/a\0b", "stat", allow_fd=True)),
    (
        "stat(bytes NUL)",
        lambda: OS.stat(b"/a\0b"),
        lambda: path_arg(b"/a\0b", "stat", allow_fd=True),
    ),
    ("stat(2**40)", lambda: OS.stat(2**40), lambda: path_arg(2**40, "stat", allow_fd=True)),
    ("read('x', 1)", lambda: OS.read("x", 1), lambda: fd_arg("x")),
    ("read(2**70, 1)", lambda: OS.read(2**70, 1), lambda: fd_arg(2**70)),
    ("read(CLOSED, 2**70)", lambda: OS.read(CLOSED_FD, 2**70), lambda: ssize_arg(2**70)),
    ("read(CLOSED, -1)", lambda: OS.read(CLOSED_FD, -1), lambda: ssize_arg(-1)),
    (
        "mkdir(dir_fd='a')",
        lambda: OS.mkdir(MISSING, dir_fd="a"),
        lambda: dir_fd_arg("a"),
    ),
    (
        "fspath returns int",
        lambda: OS.stat(PathLike(3)),
        lambda: path_arg(PathLike(3), "stat", allow_fd=True),
    ),
    ("chown uid -2", lambda: OS.chown(MISSING, -2, -1), lambda: uid_arg(-2)),
    ("chown uid 2**32", lambda: OS.chown(MISSING, 2**32, -1), lambda: uid_arg(2**32)),
    ("chown uid 2**64", lambda: OS.chown(MISSING, 2**64, -1), lambda: uid_arg(2**64)),
    ("chown uid 'x'", lambda: OS.chown(MISSING, "x", -1), lambda: uid_arg("x")),
    ("chown gid 1.5", lambda: OS.chown(MISSING, -1, 1.5), lambda: gid_arg(1.5)),
]


@pytest.mark.parametrize(("name", "real", "ours"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_examples(name: str, real: Callable[[], object], ours: Callable[[], object]) -> None:
    assert run(ours) == run(real)


def test_stat_true_is_stdout() -> None:
    """True is fd 1 (with a RuntimeWarning from 3.13 on, which the comparisons check)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert path_arg(True, "stat", allow_fd=True).fd == 1
        assert dir_fd_arg(True) == 1


def test_uid_all_ones_means_unchanged() -> None:
    """(uid_t)-1 given as 2**32 - 1 is -1 to chown: both audit as the same C value."""
    assert uid_arg(2**32 - 1) == uid_arg(-1) == -1
    assert gid_arg(IntSubclass(2**32 - 1)) == -1


def test_results_are_plain_ints() -> None:
    """Subclasses and ``__index__`` objects come out as int itself."""
    for convert in (fd_arg, int_arg, ssize_arg, off_t_arg, uid_arg, gid_arg, dev_arg):
        assert type(convert(IntSubclass(5))) is int
    assert type(path_arg(Index(3), "stat", allow_fd=True).fd) is int
    assert type(dir_fd_arg(IntSubclass(3))) is int


def test_path_arg_records_are_frozen() -> None:
    converted = path_arg("x", "stat")
    assert converted == PathArg(original="x", path="x", fd=None, is_bytes=False)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        converted.path = "y"  # type: ignore[misc]


@pytest.mark.parametrize("device", ["x", 1.5, -2, 2**64, IntSubclass(2**64)])
def test_mknod_converts_its_device_as_os_does(device: object, tmp_path: Path) -> None:
    """A device number that os.mknod refuses is refused by the emulated one, with its error,
    before anything is made."""
    with pytest.raises((TypeError, OverflowError)) as native:
        os.mknod(str(tmp_path / "n"), 0o600, device)  # type: ignore[arg-type]
    backend = EmulatedBackend()
    with pytest.raises(type(native.value), match=re.escape(str(native.value))):
        backend.mknod("/n", 0o600, device)  # type: ignore[arg-type]
    assert not os.path.lexists(tmp_path / "n") and "n" not in backend.listdir("/")
