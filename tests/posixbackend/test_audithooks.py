"""The library's audit hooks see the same events, with or without the C filter.

``posixbackend.audithooks.add_hook`` adds a hook that the C extension calls only for the
events it names (or their prefixes); without the extension, or with POSIXBACKEND_PURE_PYTHON
set, it is a plain ``sys.addaudithook`` hook that filters for itself. Hooks stay for good, so
each scenario runs in a fresh interpreter, once per way, and the two must agree.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

NEEDS_C = pytest.mark.skipif(
    importlib.util.find_spec("posixbackend._audithook") is None,
    reason="posixbackend._audithook was not built",
)

SEEN = """\
import json, sys
from posixbackend import audithooks

events = json.loads(sys.argv[1])
names = set(json.loads(sys.argv[2]))
prefixes = tuple(json.loads(sys.argv[3]))
seen, called = [], []

def hook(event, args):
    called.append(event)
    if event in names or event.startswith(prefixes):  # (the fallback calls it for all)
        seen.append([event, list(args)])

audithooks.add_hook(hook, names, prefixes)
names.add("late.added")  # a later addition to the set counts
id(seen)  # an event nobody asked for
for event in events:
    sys.audit(event, 1, "two")
print(json.dumps([audithooks.filtering_in_c(), seen, called]))
"""


def seen_by_hook(events: list[str], names: list[str], prefixes: list[str], *, pure: bool) -> Any:
    environment = dict(os.environ)
    environment.pop("POSIXBACKEND_PURE_PYTHON", None)
    if pure:
        environment["POSIXBACKEND_PURE_PYTHON"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", SEEN, json.dumps(events), json.dumps(names), json.dumps(prefixes)],
        capture_output=True, text=True, env=environment, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


EVENT = st.sampled_from(["open", "os.stat", "ctypes.dlopen", "ctypes.cdata", "late.added",
                         "socket.__new__", "x", "ctype", "opener"])  # fmt: skip


@NEEDS_C
@settings(max_examples=8, deadline=None)
@given(
    events=st.lists(EVENT, max_size=6),
    names=st.lists(EVENT, max_size=3),
    prefixes=st.lists(st.sampled_from(["ctypes.", "op", "late."]), max_size=2),
)
def test_the_c_filter_calls_the_hook_for_the_events_the_python_hook_sees(
    events: list[str], names: list[str], prefixes: list[str]
) -> None:
    in_c, seen_in_c, called_in_c = seen_by_hook(events, names, prefixes, pure=False)
    in_python, seen_in_python, called_in_python = seen_by_hook(events, names, prefixes, pure=True)
    assert (in_c, in_python) == (True, False)
    assert seen_in_c == seen_in_python
    # the C filter calls the hook for the events asked for alone; Python's for every one
    assert called_in_c == [event for event, _ in seen_in_c]
    assert "builtins.id" in called_in_python


REFUSED = """\
import sys
from posixbackend import _audithook

def refuse(event, args):
    if event == "sys.addaudithook":
        raise PermissionError("no new hooks")

sys.addaudithook(refuse)
try:
    _audithook.add_filtered_hook(lambda event, args: print("called", event), {"x"}, ())
except PermissionError as error:
    print("refused:", error)
sys.audit("x")
"""


@NEEDS_C
def test_a_refused_hook_is_an_error_and_never_called() -> None:
    done = subprocess.run(
        [sys.executable, "-c", REFUSED], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "refused: no new hooks\n"


RAISING = """\
from posixbackend import _audithook
import sys

def hook(event, args):
    raise OSError(13, "refused by the hook", args[0])

_audithook.add_filtered_hook(hook, {"my.event"}, ())
sys.audit("other.event", "a")
try:
    sys.audit("my.event", "b")
except OSError as error:
    print(type(error).__name__, error.errno, error.filename)
"""


@NEEDS_C
def test_the_hooks_error_is_the_audited_operations_error() -> None:
    done = subprocess.run(
        [sys.executable, "-c", RAISING], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "PermissionError 13 b\n"


@NEEDS_C
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((print, ["x"], ()), "events must be a dict or a set"),
        ((print, {"x"}, ["ctypes."]), "prefixes must be a tuple"),
        ((print, {"x"}, (b"ctypes.",)), "a prefix must be a str"),
        (("not callable", {"x"}, ()), "the hook must be callable"),
        ((print, {"x"}), "exactly 3 arguments"),
    ],
)
def test_bad_arguments_are_type_errors(arguments: tuple[object, ...], message: str) -> None:
    from posixbackend import _audithook

    with pytest.raises(TypeError, match=message):
        _audithook.add_filtered_hook(*arguments)  # type: ignore[arg-type]
