"""Pool(preload=...): the zygote imports the named modules before it forks any guest; each
guest finds them imported, serves them from its own managed backend like any module, and
gets its own copy: what one guest does to a preloaded module no later guest sees."""

from __future__ import annotations

import pytest

from posixbackend.isolation import IsolationError, Pool, run_isolated_many
from posixbackend.isolation.zygotewire import preload_names
from tests.isolation.helpers import printed
from tests.isolation.pooling import Traces

PRELOADED = "tests.isolation.preloadable"

FOUND = f"""\
import sys
print(sorted(name for name in ("colorsys", "pathlib", {PRELOADED!r}) if name in sys.modules))
"""

MEDDLER = f"""\
import colorsys, json, sys
import {PRELOADED} as preloadable
print(colorsys.ONE_THIRD, preloadable.SEEN, json.dumps([1]))
preloadable.SEEN.append("a guest")
colorsys.ONE_THIRD = 99
json.dumps = lambda *args, **kwargs: "replaced by a guest"
sys.modules["colorsys"].rgb_to_hsv = None
"""


def test_a_guest_finds_the_preloaded_modules_imported(traces: Traces) -> None:
    preloading = traces.pool(workers=1, preload=["colorsys", PRELOADED])
    default = traces.pool(workers=1)
    assert preloading.preload == ("colorsys", PRELOADED)
    found = traces.seen(preloading.submit(FOUND).result(timeout=60))
    assert printed(found) == [f"['colorsys', {PRELOADED!r}]"], found.stderr
    missing = traces.seen(default.submit(FOUND).result(timeout=60))
    assert printed(missing) == ["[]"], missing.stderr


def test_what_a_guest_does_to_a_preloaded_module_never_reaches_the_next(traces: Traces) -> None:
    # one worker: each guest comes from a spare forked after (or before) the previous one
    # ran; either way from the zygote, which never runs a guest
    pool = traces.pool(workers=1, preload=["colorsys", "json", PRELOADED])
    for _ in range(3):
        result = traces.seen(pool.submit(MEDDLER).result(timeout=60))
        assert printed(result) == ["0.3333333333333333 [] [1]"], result.stderr


def test_names_a_preloaded_module_took_early_serve_the_guests_own_files(
    traces: Traces,
) -> None:
    # preloadable took os.listdir and os.stat by name in the zygote, before its stand-ins:
    # in a guest they must reach its memory file system, as an os.listdir called there does
    code = f"""\
import os
from {PRELOADED} import listdir, stat
open("/tmp/mine", "w").write("x")
print(sorted(listdir("/tmp")) == sorted(os.listdir("/tmp")), "mine" in listdir("/tmp"))
print(stat("/tmp/mine").st_size)
import pathlib
pathlib.Path("/tmp/by-pathlib").write_text("yz")
print(sorted(path.name for path in pathlib.Path("/tmp").iterdir() if path.name[0] in "bm"))
"""
    pool = traces.pool(workers=1, preload=[PRELOADED, "pathlib"])
    result = traces.seen(pool.submit(code).result(timeout=60))
    assert printed(result) == ["True True", "1", "['by-pathlib', 'mine']"], result.stderr
    assert result.files == {"/tmp/mine": b"x", "/tmp/by-pathlib": b"yz"}


def test_run_isolated_many_takes_a_preload(traces: Traces) -> None:
    results = run_isolated_many([FOUND, FOUND], workers=1, preload=["pathlib"])
    for result in results:
        traces.seen(result)
        assert printed(result) == ["['pathlib']"], result.stderr


@pytest.mark.parametrize(
    ("preload", "error"),
    [
        ("json", TypeError),  # (a str: a list of names is meant)
        ([b"json"], TypeError),
        (["json", 3], TypeError),
        (["os; import shutil"], ValueError),
        (["json."], ValueError),
        ([".json"], ValueError),
        (["x y"], ValueError),
        ([""], ValueError),
    ],
)
def test_a_preload_is_names_of_modules_checked_before_anything_starts(
    traces: Traces, preload: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        Pool(1, preload=preload)  # type: ignore[arg-type]
    with pytest.raises(error):
        preload_names(preload)  # type: ignore[arg-type]


def test_preload_names_keep_their_order_once_each() -> None:
    assert preload_names(["json", "xml.dom.minidom", "json", "héllo"]) == (
        "json", "xml.dom.minidom", "héllo",
    )  # fmt: skip
    assert preload_names(iter(())) == ()


@pytest.mark.parametrize(
    ("module", "reason"),
    [
        ("no_such_module_for_a_pool", "ModuleNotFoundError: No module named"),
        ("tests.isolation.starts_a_thread", "a preloaded module started a thread"),
    ],
)
def test_a_preload_that_cannot_be_imported_safely_fails_the_pools_start(
    traces: Traces, module: str, reason: str
) -> None:
    with pytest.raises(IsolationError, match=reason):
        Pool(1, preload=[module])
    # (traces: no zygote, spare or temporary file is left)
