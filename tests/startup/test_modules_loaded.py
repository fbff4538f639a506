"""What start-up imports (issue 20, item 4): nothing a run does not use.

Each case runs in a fresh interpreter and lists the modules that appeared in ``sys.modules``;
the assertions name the modules (never a time), so a regression that imports more shows here
with the culprit's name. ``benchmarks/bench_startup.py`` measures the time itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable

import pytest

TIMEOUT = 60
LIST = (
    "import sys; AFTER = sorted(set(sys.modules) - BEFORE)\n"
    "import json; print(json.dumps(AFTER), file=sys.__stdout__)"
)


def _scrubbed() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("POSIXBACKEND_OPTIONS", None)  # a backend of the test run's own must not apply
    return env


def loaded_by(statement: str) -> set[str]:
    """The modules ``python -c`` imports for ``statement`` beyond what start-up had."""
    program = f"import sys\nBEFORE = set(sys.modules)\n{statement}\n{LIST}\n"
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=TIMEOUT,
        env=_scrubbed(), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def loaded_by_launcher(*options: str) -> set[str]:
    """The modules in ``sys.modules`` when the launcher's program (``-c``) runs, beyond
    what a plain ``python -c`` start-up has."""
    plain = subprocess.run(
        [sys.executable, "-c", "import sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, timeout=TIMEOUT, env=_scrubbed(), check=True,
    )  # fmt: skip
    program = "import sys, json; print(json.dumps(sorted(sys.modules)), file=sys.__stdout__)"
    done = subprocess.run(
        [sys.executable, "-m", "posixbackend", *options, "-c", program],
        capture_output=True, text=True, timeout=TIMEOUT, env=_scrubbed(), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1])) - set(json.loads(plain.stdout))


def under(modules: Iterable[str], *packages: str) -> list[str]:
    """The modules of ``modules`` that are ``packages`` or inside them."""
    return sorted(
        name for name in modules
        if any(name == package or name.startswith(package + ".") for package in packages)
    )  # fmt: skip


NEVER_AT_START_UP = (
    "posixbackend.conformance",
    "posixbackend.isolation",
    "posixbackend.testing",
    "vfs.adapters",
    "vfs.overlay",
)
"""Packages no start-up needs: the isolated mode, the conformance runner, the pytest helpers,
the adapters to other libraries, the overlay provider."""

STANDARD_NEVER_AT_START_UP = (
    "decimal", "importlib.abc", "importlib.resources", "locale", "tarfile", "tempfile", "zipfile",
)  # fmt: skip
"""Standard modules whose only users are on first use (snapshots, resource readers, a
terminal's encoding): milliseconds each, with what they import in turn."""


def test_import_posixbackend_imports_nothing_else() -> None:
    assert loaded_by("import posixbackend") == {"posixbackend"}


def test_the_first_public_name_imports_what_switching_needs_and_nothing_optional() -> None:
    # The switch, the emulated backend and the permissions come together, whichever name is
    # used first (they bind the real os at import); the optional parts on their first use.
    for statement in ("posixbackend.Permissions", "from posixbackend import current"):
        loaded = loaded_by(f"import posixbackend\n{statement}")
        assert not under(
            loaded, *NEVER_AT_START_UP, "posixbackend.launcher", "posixbackend.sqlite", "vfs.remote"
        )
        assert {"posixbackend.switch.block", "posixbackend.emulated.backend"} <= loaded
        assert "posixbackend.permissions.timelimit" in loaded  # ctypes bound before any guest


def test_installing_the_stand_ins_imports_no_standard_module_of_a_first_use() -> None:
    loaded = loaded_by("import posixbackend\nposixbackend.install()")
    assert not under(loaded, *STANDARD_NEVER_AT_START_UP)


def test_each_public_name_is_still_there_and_in_dir() -> None:
    import posixbackend
    import vfs

    for package in (posixbackend, vfs):
        for name in package.__all__:
            assert getattr(package, name) is not None
            assert name in dir(package)
        with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
            package.nothing  # noqa: B018  # the attribute's absence is the point


def test_the_switching_subpackages_are_still_attributes_after_a_bare_import() -> None:
    # They were while import posixbackend imported them: code may name them so.
    loaded = loaded_by(
        "import posixbackend\n"
        "posixbackend.switch.park()\n"
        "assert posixbackend.emulated.EmulatedBackend is posixbackend.EmulatedBackend\n"
        "assert posixbackend.permissions.Permissions is posixbackend.Permissions"
    )
    assert {"posixbackend.switch.block", "posixbackend.emulated.backend"} <= loaded


def test_switching_backends_imports_no_isolation_launcher_or_extra_providers() -> None:
    loaded = loaded_by(
        "from posixbackend import backend\n"
        "with backend('managed'):\n"
        "    open('/tmp/x', 'w').close()"
    )
    assert not under(loaded, *NEVER_AT_START_UP, "posixbackend.launcher", "vfs.remote")
    assert "posixbackend.switch.block" in loaded  # (the case did switch)


@pytest.mark.parametrize("options", [(), ("--posix-backend=java", "--fs=memory")])
def test_the_launcher_imports_no_isolation_confinement_or_extra_providers(
    options: tuple[str, ...],
) -> None:
    loaded = loaded_by_launcher(*options)
    # (the kernel confinement: nothing is confined without restricting permissions)
    assert not under(loaded, *NEVER_AT_START_UP, "posixbackend.launcher.confinement")
    assert not under(loaded, *STANDARD_NEVER_AT_START_UP)
    assert "posixbackend.launcher.session" in loaded  # (the case did run the launcher)


PATCHED_FIRST_USE = """
import posixbackend
from pyfakefs.fake_filesystem_unittest import Patcher
with Patcher():
    try:
        posixbackend.backend
        outcome = "imported"
    except ImportError as error:
        outcome = str(error)
    imported = "posixbackend.switch" in sys.modules
with posixbackend.backend("managed"):
    open("/tmp/after", "w").close()
    managed = os.path.exists("/tmp/after")
print(json.dumps([outcome, imported, managed]))
"""


def test_a_first_use_while_pyfakefs_patches_is_refused_and_a_later_one_works() -> None:
    # Under pyfakefs's patcher "import os" gives its fake: the switch must not bind it.
    done = subprocess.run(
        [sys.executable, "-c", "import json, os, sys\n" + PATCHED_FIRST_USE],
        capture_output=True, text=True, timeout=TIMEOUT, env=_scrubbed(), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outcome, imported, managed = json.loads(done.stdout.splitlines()[-1])
    assert outcome.startswith("posixbackend: first used while os"), outcome
    assert "import posixbackend.switch before" in outcome
    assert imported is False
    assert managed is True


def test_the_switch_imported_before_pyfakefs_patches_serves_under_it() -> None:
    program = "import json, os, sys\nimport posixbackend.switch\n" + PATCHED_FIRST_USE
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True, text=True, timeout=TIMEOUT, env=_scrubbed(), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == ["imported", True, True]
