"""The re-raise naming the caller's path: the block and its fast form give one error."""

from __future__ import annotations

import errno
import importlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vfs.errors import errors_name, named_error, os_error

CODES = st.sampled_from([errno.ENOENT, errno.EACCES, errno.ENOTDIR, errno.EEXIST, errno.ELOOP])
NAMES = st.one_of(st.none(), st.text(max_size=8), st.binary(max_size=8), st.integers(0, 9))


def _fast(provider_error: OSError, filename: object, filename2: object) -> OSError:
    try:
        raise provider_error
    except OSError as error:
        try:
            raise named_error(error, filename, filename2) from None
        except OSError as raised:
            return raised


def _block(provider_error: OSError, filename: object, filename2: object) -> OSError:
    try:
        with errors_name(filename, filename2):
            raise provider_error
    except OSError as raised:
        return raised


def _shape(error: OSError) -> tuple[object, ...]:
    return (
        type(error), error.errno, error.strerror, error.filename, error.filename2, error.args,
        str(error), error.__cause__, error.__suppress_context__,
    )  # fmt: skip


@given(CODES, NAMES, NAMES)
def test_the_block_raises_what_the_fast_form_raises(
    code: int, filename: object, filename2: object
) -> None:
    fast = _fast(os_error(code, "/provider/path"), filename, filename2)
    provider = os_error(code, "/provider/path")
    block = _block(provider, filename, filename2)
    assert _shape(block) == _shape(fast)
    assert block.__context__ is provider  # the provider's error, kept but not shown
    assert block.__cause__ is None and block.__suppress_context__


def test_an_error_without_errno_becomes_eio() -> None:
    raised = _block(OSError("no errno"), "mine", None)
    assert (raised.errno, raised.filename) == (errno.EIO, "mine")


def test_other_exceptions_and_success_pass_through() -> None:
    with pytest.raises(ValueError, match="untouched"), errors_name("mine"):
        raise ValueError("untouched")
    with errors_name("mine"):
        done = True
    assert done


def test_the_old_name_warns() -> None:
    errors = importlib.import_module("vfs.errors")
    with pytest.warns(DeprecationWarning, match="named_error"):
        old = errors.rename_error
    assert old is named_error
