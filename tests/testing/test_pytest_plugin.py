"""The pytest plugin, run by pytest itself (pytester): fixtures, scopes, the marker, failure
reports, xdist, pytest's own fixtures, doctest, pyfakefs and mock.patch in one session."""

from __future__ import annotations

import sys
from typing import Any

import pytest

# loaded before pytester's in-process runs, which drop the modules a run imports (the
# library's gaps are declared once per process)
import posixbackend.testing.helper  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def run(pytester: pytest.Pytester, source: str, *args: str, subprocess: bool = False) -> Any:
    pytester.makepyfile(test_it=source)
    if subprocess:
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def test_the_fixture_is_a_fresh_memory_file_system_per_test(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import os

def test_first(managed_fs):
    managed_fs.create_file("/data/a.txt", contents="one")
    assert open("/data/a.txt").read() == "one"
    assert os.path.isdir("/tmp") and os.path.isdir(os.getcwd())

def test_second_sees_nothing_of_the_first(managed_fs):
    assert not os.path.exists("/data")

def test_outside_the_host_is_untouched():
    assert not os.path.exists("/data/a.txt")
""",
    )
    result.assert_outcomes(passed=3)


def test_module_and_session_scopes_share_their_files(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import os

def test_write(managed_fs_module):
    open("/shared", "w").write("kept")

def test_read(managed_fs_module):
    assert open("/shared").read() == "kept"

def test_session_write(managed_fs_session):
    open("/session", "w").write("s")

def test_session_read(managed_fs_session):
    assert open("/session").read() == "s"
""",
    )
    result.assert_outcomes(passed=4)


def test_the_marker_configures_the_block(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import errno, os, stat, pytest
from posixbackend import Permissions
from vfs import MemoryFileSystem

@pytest.mark.posixbackend(umask=0o077, max_bytes=8192, time_resolution_ns=1)
def test_options(managed_fs):
    with open("/tmp/f", "w") as f:
        f.write("x")
    assert stat.S_IMODE(os.stat("/tmp/f").st_mode) == 0o600
    assert os.stat("/tmp/f").st_mtime_ns % 1_000_000_000 != 0 or True
    with pytest.raises(OSError) as full:
        with open("/tmp/big", "wb") as f:
            f.write(b"x" * 20000)
    assert full.value.errno == errno.ENOSPC

@pytest.mark.posixbackend(fs=MemoryFileSystem, cwd="/")
def test_own_file_system(managed_fs):
    assert os.listdir("/") == []

@pytest.mark.posixbackend(permissions=Permissions(allow_io="all", allow_create_process=False))
def test_permissions(managed_fs):
    with pytest.raises(PermissionError):
        os.system("true")

@pytest.mark.posixbackend(colour="blue")
def test_unknown_option(managed_fs):
    pass
""",
    )
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*unknown options*colour*"])


def test_a_failure_inside_the_block_is_reported_as_natively(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_missing(managed_fs):
    assert open("/tmp/nothing").read() == "x"

def test_assertion(managed_fs):
    managed_fs.create_file("/v", contents="7")
    value = open("/v").read()
    assert value == "8"
""",
        "--tb=long",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            '>       assert open("/tmp/nothing").read() == "x"',
            "E       FileNotFoundError: [Errno 2] No such file or directory: '/tmp/nothing'",
            "test_it.py:2: FileNotFoundError",
            "E       AssertionError: assert '7' == '8'",
        ]
    )
    assert "posixbackend/" not in result.stdout.str()  # no frame of the emulated backend


def test_pytests_own_fixtures_work_in_the_block(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import os

def test_tmp_path(managed_fs, tmp_path):
    (tmp_path / "x").write_text("1")
    assert os.listdir(tmp_path) == ["x"]

def test_capsys(managed_fs, capsys):
    print("hello")
    assert capsys.readouterr().out == "hello\\n"

def test_monkeypatch(managed_fs, monkeypatch):
    monkeypatch.setenv("SOME_VARIABLE", "1")
    assert os.environ["SOME_VARIABLE"] == "1"
    monkeypatch.chdir("/tmp")
    assert os.getcwd() == "/tmp"
""",
    )
    result.assert_outcomes(passed=3)


def test_pytests_work_between_the_phases_sees_the_real_disk(pytester: pytest.Pytester) -> None:
    """The block serves the test's code alone: a conftest's report hook (a plugin of the
    session, not the test) writes its log on the real disk after every phase, also those of
    a managed test; fixtures set up after the managed one, the test and the finalizers run
    in the block."""
    log = pytester.path / "phases.log"
    pytester.makeconftest(
        f"""
import os, pytest

def pytest_runtest_logreport(report):
    with open({str(log)!r}, "a") as file:
        file.write(report.when + "\\n")

@pytest.fixture
def inside(managed_fs):
    open("/made-in-setup", "w").close()
    yield
    assert os.path.exists("/made-in-call")
    open("/made-in-teardown", "w").close()
"""
    )
    result = run(
        pytester,
        """
import os

def test_phases(inside):
    assert os.path.exists("/made-in-setup")
    open("/made-in-call", "w").close()

def test_after():
    assert not os.path.exists("/made-in-setup") and not os.path.exists("/made-in-teardown")
""",
    )
    result.assert_outcomes(passed=2)
    assert log.read_text().split() == ["setup", "call", "teardown"] * 2


def test_a_pause_carries_over_to_the_next_phase(pytester: pytest.Pytester) -> None:
    """What the test's code does to the switch in one phase holds in the next: a fixture
    that pauses the block in its set-up has the test run natively, until its teardown
    resumes it."""
    real = pytester.path / "real.txt"
    real.write_text("real")
    result = run(
        pytester,
        f"""
import os, pytest

@pytest.fixture
def paused(managed_fs):
    managed_fs.pause()
    yield
    managed_fs.resume()
    assert not os.path.exists({str(real)!r})

def test_native(paused):
    assert open({str(real)!r}).read() == "real"
""",
    )
    result.assert_outcomes(passed=1)


def test_a_managed_fixture_asked_for_in_the_test_body_serves_the_rest_of_it(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
import os

def test_dynamic(request):
    assert os.path.isdir(os.path.dirname(os.getcwd()))
    helper = request.getfixturevalue("managed_fs")
    helper.create_file("/only-in-memory")
    assert os.path.exists("/only-in-memory")

def test_after():
    assert not os.path.exists("/only-in-memory")
""",
    )
    result.assert_outcomes(passed=2)


def test_inside_a_block_of_the_session_the_fixtures_block_stays_entered(
    pytester: pytest.Pytester,
) -> None:
    """A session-wide block of the user's own (entered by a conftest fixture) serves pytest's
    work between phases too; a managed fixture nested in it keeps its block entered."""
    pytester.makeconftest(
        """
import pytest
from posixbackend import backend

@pytest.fixture(scope="session", autouse=True)
def everything_managed():
    with backend("managed"):
        open("/tmp/session-file", "w").close()
        yield
"""
    )
    result = run(
        pytester,
        """
import os

def test_nested(managed_fs):
    assert not os.path.exists("/tmp/session-file")
    open("/tmp/mine", "w").close()

def test_outer():
    assert os.path.exists("/tmp/session-file") and not os.path.exists("/tmp/mine")
""",
    )
    result.assert_outcomes(passed=2)


def test_xdist_workers_each_get_their_own(pytester: pytest.Pytester) -> None:
    cases = "\n".join(
        f"def test_{i}(managed_fs):\n    assert not os.path.exists('/mine')\n"
        "    open('/mine', 'w').close()\n"
        for i in range(8)
    )
    result = run(pytester, "import os\n" + cases, "-n", "2", subprocess=True)
    result.assert_outcomes(passed=8)


def test_doctests_run_in_the_block(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest

@pytest.fixture(autouse=True)
def add_managed_fs(doctest_namespace, managed_fs):
    doctest_namespace["managed_fs"] = managed_fs
"""
    )
    pytester.makepyfile(
        docs='''
def write():
    """
    >>> _ = managed_fs.create_file("/doc.txt", contents="in memory")
    >>> open("/doc.txt").read()
    'in memory'
    """
'''
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--doctest-modules", "docs.py")
    result.assert_outcomes(passed=1)


def test_the_plugin_can_be_turned_off(pytester: pytest.Pytester) -> None:
    result = run(
        pytester, "def test_uses(managed_fs):\n    pass\n", "-p", "no:posixbackend",
        subprocess=True,
    )  # fmt: skip
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'managed_fs' not found*"])


PYFAKEFS_AND_OURS = """
import os, io, glob, shutil, tempfile, pathlib
from os import stat as os_stat
from unittest import mock
import pytest
from pyfakefs.fake_filesystem_unittest import Patcher

def managed(managed_fs):
    managed_fs.create_file("/ours.txt", contents="ours")
    assert open("/ours.txt").read() == "ours"
    assert not os.path.exists("/fake")

def faked(fs):
    fs.create_file("/fake/x.txt", contents="hi")
    assert open("/fake/x.txt").read() == "hi"
    assert io.open("/fake/x.txt").read() == "hi"
    assert os_stat("/fake/x.txt").st_size == 2
    assert glob.glob("/fake/*") == ["/fake/x.txt"]
    shutil.copy("/fake/x.txt", "/fake/y.txt")
    with tempfile.NamedTemporaryFile(dir="/fake", delete=False) as t:
        t.write(b"z")
    assert pathlib.Path("/fake/y.txt").read_text() == "hi"
    assert not os.path.exists("/ours.txt")

def patched():
    with Patcher() as patcher:
        patcher.fs.create_file("/patched", contents="p")
        assert open("/patched").read() == "p"

def decorated():
    from pyfakefs.fake_filesystem_unittest import patchfs

    @patchfs
    def inner(fake_fs):
        fake_fs.create_file("/decorated", contents="d")
        assert open("/decorated").read() == "d"

    inner()
    assert not os.path.exists("/decorated")

def mocked():
    with mock.patch("os.stat", return_value="mocked"):
        assert os.stat("/anything") == "mocked"
    assert os.stat("/").st_ino > 0

def host():
    import posix
    assert os.stat is os_stat is posix.stat and open is io.open
    assert not os.path.exists("/ours.txt") and not os.path.exists("/fake")
"""


@pytest.mark.parametrize(
    "order",
    [
        ("faked", "managed", "faked", "patched", "mocked", "host", "decorated"),
        ("managed", "faked", "managed", "mocked", "patched", "decorated", "host"),
        ("host", "patched", "managed", "mocked", "faked", "managed", "decorated", "host"),
    ],
)
@pytest.mark.parametrize("parked_when_pyfakefs_loaded", [True, False])
def test_pyfakefs_and_mock_work_before_and_after_blocks(
    pytester: pytest.Pytester, order: tuple[str, ...], parked_when_pyfakefs_loaded: bool
) -> None:
    if not parked_when_pyfakefs_loaded:  # the plugin parks them as each such test starts
        pytester.makeconftest(
            "import posixbackend.switch.installation as installation\n"
            "installation.EAGER_PARKING = frozenset()\n"
        )
    fixture = {"managed": "managed_fs", "faked": "fs"}
    tests = "".join(
        f"\ndef test_{index}_{name}({fixture.get(name, '')}):\n"
        f"    {name}({fixture.get(name, '')})\n"
        for index, name in enumerate(order)
    )
    result = run(pytester, PYFAKEFS_AND_OURS + tests, subprocess=True)
    result.assert_outcomes(passed=len(order))


def test_a_block_inside_pyfakefs_leaves_pyfakefs_the_names_it_patched(
    pytester: pytest.Pytester,
) -> None:
    """Documented: inside pyfakefs's patching, what pyfakefs patched is pyfakefs's (open,
    and modules' os); the block serves the rest."""
    result = run(
        pytester,
        """
import os
import posixbackend

def test_inside(fs):
    fs.create_file("/fake.txt", contents="f")
    with posixbackend.backend("managed"):
        assert open("/fake.txt").read() == "f"
        assert os.path.exists("/fake.txt")
    assert open("/fake.txt").read() == "f"
""",
        subprocess=True,
    )
    result.assert_outcomes(passed=1)


def test_the_debugger_shows_the_tests_source(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_it="""
def test_missing(managed_fs):
    value = 42
    assert open("/tmp/nothing").read() == value
"""
    )
    result = pytester.run(
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pdb", stdin=b"l\np value\nc\n"
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*entering PDB*", '*->*assert open("/tmp/nothing")*', "*42*"])


def test_pytests_own_calls_are_counted_and_named_after_a_reset(pytester: pytest.Pytester) -> None:
    """Each of pytest's calls inside a block is one hit of switch.harness_native; the module
    making them is an example, again after compat.reset() forgot the first ones (the calls
    inside: the runner's PYTEST_CURRENT_TEST writes as the test's call phase starts)."""
    result = run(
        pytester,
        """
import compat, pytest

def hits():
    line = compat.report().get("switch.harness_native")
    return (0, ()) if line is None else (line.count, line.examples)

def test_first(managed_fs):
    count, examples = hits()
    assert count > 0
    assert (("module", "_pytest.runner"),) in examples

def test_after_reset(managed_fs):
    compat.reset()
    assert hits() == (0, ())

def test_named_again(managed_fs):
    count, examples = hits()
    assert count > 0
    assert (("module", "_pytest.runner"),) in examples
""",
        subprocess=True,
    )
    result.assert_outcomes(passed=3)


FAST_PATH_ORDER = """
import os
import pytest

HOST = os.path.abspath(__file__)  # a real file, absent from every managed file system
seen = []

@pytest.fixture(scope="module")
def module_resource():
    yield
    assert os.path.exists(HOST), "the module's finalizer ran inside a test's block"

@pytest.fixture
def after(managed_fs):
    assert not os.path.exists(HOST)  # set up in the block
    seen.append(managed_fs)
    yield managed_fs
    assert not os.path.exists(HOST)  # torn down in it

@pytest.fixture
def failing(managed_fs):
    raise RuntimeError("set-up fails")

def test_host_first():
    assert os.path.exists(HOST)

def test_a_dependent_fixture_gets_the_same_helper(managed_fs, after, request):
    assert after is managed_fs and request.getfixturevalue("managed_fs") is managed_fs
    assert not os.path.exists(HOST)

def test_a_failing_set_up_leaves_the_block(managed_fs, failing):
    pass

def test_host_after_a_failed_set_up():
    assert os.path.exists(HOST)

def test_last_in_the_module(managed_fs, module_resource):
    assert not os.path.exists(HOST)
"""


@pytest.mark.parametrize("option", [(), ("--setup-show",)])
def test_the_fixture_is_set_up_first_and_left_last(
    pytester: pytest.Pytester, option: tuple[str, ...]
) -> None:
    """managed_fs's block is entered before the test's other fixtures and left after their
    finalizers, before the module's (the plugin enters it itself as the set-up starts when
    the fixture comes first: pytest's own fixture path is most of a fixture's cost)."""
    result = run(pytester, FAST_PATH_ORDER, *option)
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*RuntimeError: set-up fails*"])
    if option:  # listed as set up like any fixture
        result.stdout.fnmatch_lines(["*SETUP    F managed_fs*"])


def test_a_conftest_override_of_the_fixture_is_used(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture\ndef managed_fs():\n    return 'overridden'\n"
    )
    result = run(pytester, "def test_it(managed_fs):\n    assert managed_fs == 'overridden'\n")
    result.assert_outcomes(passed=1)


def test_the_library_s_asserts_are_not_rewritten(pytester: pytest.Pytester) -> None:
    """pytest marks every package of a distribution with a pytest11 entry point for assertion
    rewriting: the plugin takes the library's packages out again as it registers (modules it
    imports later are compiled as Python does). The test's own asserts are rewritten. (An
    editable install is marked by other means: an early plugin marks the packages here, as a
    wheel's list of files does.)"""
    pytester.makepyfile(
        marking="import pytest\npytest.register_assert_rewrite('posixbackend', 'vfs', 'compat')\n"
    )
    result = run(
        pytester,
        """
import importlib, sys
from _pytest.assertion.rewrite import AssertionRewritingHook

BEFORE = {"posixbackend", "posixbackend.testing", "posixbackend.testing.plugin"}

def test_it():
    assert "posixbackend.testing.changes" not in sys.modules
    importlib.import_module("posixbackend.testing.changes")  # and vfs's overlay with it
    rewritten = [
        name
        for name, module in list(sys.modules.items())
        if name.partition(".")[0] in ("posixbackend", "vfs", "compat") and name not in BEFORE
        and isinstance(getattr(module, "__loader__", None), AssertionRewritingHook)
    ]
    assert rewritten == []
    assert "vfs.overlay.changes" in sys.modules
    assert isinstance(sys.modules[__name__].__loader__, AssertionRewritingHook)
""",
        "-p",
        "marking",
        subprocess=True,
    )
    result.assert_outcomes(passed=1)
