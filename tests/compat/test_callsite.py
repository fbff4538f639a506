"""Call sites: the first frame outside the library, through nested library frames."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

import compat
from compat.callsite import InternalFrames, module_paths
from tests.compat import fakelib
from tests.compat.helpers import Capture, declare


def first_site(registry: compat.Registry) -> compat.CallSite | None:
    (entry,) = registry.report().gaps
    return entry.first_site


def test_without_registration_the_library_frame_is_the_site(registry: compat.Registry) -> None:
    gap = declare(registry)
    fakelib.open_file(gap, "/x")
    site = first_site(registry)
    assert site is not None
    assert Path(site.file) == Path(fakelib.__file__)
    assert site.function == "_check"


def test_registered_library_frames_are_skipped(registry: compat.Registry) -> None:
    registry.add_internal_path(fakelib.DIRECTORY)
    gap = declare(registry)
    line = sys._getframe().f_lineno + 1
    fakelib.open_file(gap, "/x")
    expected = compat.CallSite(__file__, line, "test_registered_library_frames_are_skipped")
    assert first_site(registry) == expected


def test_library_frames_are_skipped_by_module_name(registry: compat.Registry) -> None:
    registry.add_internal_module("tests.compat.fakelib")
    gap = declare(registry)
    fakelib.open_file(gap, "/x")
    site = first_site(registry)
    assert site is not None
    assert site.function == "test_library_frames_are_skipped_by_module_name"


def test_log_line_names_the_user_line_not_the_library(
    registry: compat.Registry, captured: Capture
) -> None:
    registry.add_internal_path(fakelib.DIRECTORY)
    gap = declare(registry)
    line = sys._getframe().f_lineno + 1
    fakelib.open_many(gap, 1000)
    (record,) = captured.records
    assert (record.pathname, record.lineno) == (__file__, line)


def test_library_loop_is_one_site_per_user_line(
    registry: compat.Registry, captured: Capture
) -> None:
    registry.add_internal_path(fakelib.DIRECTORY)
    gap = declare(registry)
    fakelib.open_many(gap, 10)
    fakelib.open_many(gap, 10)
    assert len(captured.records) == 2
    assert registry.report().gaps[0].count == 20


def test_hit_by_id_through_the_library(registry: compat.Registry) -> None:
    registry.add_internal_path(fakelib.DIRECTORY)
    declare(registry, "by.id")
    fakelib.hit_by_id(registry, "by.id")
    site = first_site(registry)
    assert site is not None
    assert site.function == "test_hit_by_id_through_the_library"


def test_adding_a_path_after_hits_takes_effect(registry: compat.Registry) -> None:
    gap = declare(registry)
    fakelib.open_file(gap, "/x")
    registry.add_internal_path(fakelib.DIRECTORY)
    registry.reset()
    fakelib.open_file(gap, "/y")
    site = first_site(registry)
    assert site is not None
    assert site.function == "test_adding_a_path_after_hits_takes_effect"


def test_removing_a_path_takes_effect(registry: compat.Registry) -> None:
    registry.add_internal_path(fakelib.DIRECTORY)
    gap = declare(registry)
    fakelib.open_file(gap, "/x")
    registry.remove_internal_path(fakelib.DIRECTORY)
    registry.reset()
    fakelib.open_file(gap, "/y")
    site = first_site(registry)
    assert site is not None
    assert site.function == "_check"


def test_removing_a_module_takes_effect(registry: compat.Registry) -> None:
    registry.add_internal_module("tests.compat.fakelib")
    registry.remove_internal_module("tests.compat.fakelib")
    registry.remove_internal_module("never.added")
    gap = declare(registry)
    fakelib.open_file(gap, "/x")
    site = first_site(registry)
    assert site is not None
    assert site.function == "_check"


def test_unknown_module_cannot_be_added(registry: compat.Registry) -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_module_for_compat_tests"):
        registry.add_internal_module("no_such_module_for_compat_tests")


def test_default_internal_paths_are_the_three_packages_directories() -> None:
    paths = compat.Registry().internal_paths()
    root = Path(compat.__file__).resolve().parent.parent
    assert os.path.realpath(root / "compat") in paths
    for package in ("vfs", "posixbackend"):
        if module_paths(package):
            assert os.path.realpath(root / package) in paths


def test_missing_packages_are_tolerated() -> None:
    frames = InternalFrames(packages=["no_such_package_for_compat_tests", "compat"])
    assert frames.paths() == {os.path.realpath(Path(compat.__file__).parent)}
    assert frames.classify(__file__) is False


def test_module_paths_does_not_import_a_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "compat_tests_unimported"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    (tmp_path / "compat_tests_single.py").write_text("raise RuntimeError('nor this')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert module_paths("compat_tests_unimported") == (str(package),)
    assert module_paths("compat_tests_single") == (str(tmp_path / "compat_tests_single.py"),)
    assert "compat_tests_unimported" not in sys.modules
    assert "compat_tests_single" not in sys.modules
    assert module_paths("no_such_package_for_compat_tests") == ()
    assert module_paths("no_such_package_for_compat_tests.child") == ()


def test_compat_frames_are_internal_and_tests_are_not() -> None:
    frames = InternalFrames()
    assert frames.classify(compat.__file__) is True
    assert frames.classify(__file__) is False
    assert frames.classify("<string>") is False
    assert frames.cache[__file__] is False


def test_a_prefix_that_is_not_a_directory_boundary_is_not_internal(tmp_path: Path) -> None:
    frames = InternalFrames(packages=())
    frames.add_path(tmp_path / "lib")
    assert frames.classify(str(tmp_path / "lib" / "mod.py")) is True
    assert frames.classify(str(tmp_path / "lib")) is True
    assert frames.classify(str(tmp_path / "library" / "mod.py")) is False


def test_a_single_module_file_can_be_internal(tmp_path: Path) -> None:
    frames = InternalFrames(packages=())
    frames.add_path(tmp_path / "one.py")
    assert frames.classify(str(tmp_path / "one.py")) is True
    assert frames.classify(str(tmp_path / "one.pyc")) is False


def test_symlinked_paths_are_recognised(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    frames = InternalFrames(packages=())
    frames.add_path(tmp_path / "link")
    assert frames.classify(str(real / "mod.py")) is True


def test_code_from_exec_is_a_site(registry: compat.Registry) -> None:
    gap = declare(registry)
    exec(compile("\n\ngap.hit()\n", "<generated>", "exec"), {"gap": gap})
    assert first_site(registry) == compat.CallSite("<generated>", 3, "<module>")


def test_an_all_library_stack_has_no_site(registry: compat.Registry) -> None:
    registry.add_internal_path(threading.__file__)
    gap = declare(registry)
    thread = threading.Thread(target=gap.hit)
    thread.start()
    thread.join()
    assert first_site(registry) is None
    assert "(inside the library)" in registry.report().to_text()


def test_first_site_is_kept_when_later_hits_come_from_elsewhere(
    registry: compat.Registry,
) -> None:
    gap = declare(registry)
    line = sys._getframe().f_lineno + 1
    gap.hit()
    fakelib.open_file(gap, "/x")
    site = first_site(registry)
    assert site is not None
    assert site.line == line


def test_host_realpath_agrees_with_os_path_realpath_without_using_os(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compat.callsite import host_realpath

    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "l").symlink_to("a/b")
    (tmp_path / "up").symlink_to(tmp_path / "l" / ".." / "..")
    (tmp_path / "loop").symlink_to("loop")
    cases = [
        str(tmp_path / name)
        for name in ("l", "l/..", "up/x", "loop/z", "a/./b//", "missing/../a")
    ] + ["/", ".", "x/../y", "//usr", "/.."]
    expected = [os.path.realpath(case) for case in cases]

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("host_realpath went through os")

    for name in ("lstat", "stat", "readlink", "getcwd"):
        monkeypatch.setattr(os, name, refuse)
    assert [host_realpath(case) for case in cases] == expected
