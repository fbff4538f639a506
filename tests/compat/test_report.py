"""The report: counts, call sites, examples; text, JSON against its schema, written at exit."""

from __future__ import annotations

import enum
import json
import math
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compat
from compat.recorder import normalize_details
from compat.report import resolve_report_format
from tests.compat.helpers import declare, run_python

SCHEMA_FILE = Path(compat.__file__).parent / "report.schema.json"


def validate(document: Any) -> None:
    """Fail unless ``document`` follows the shipped schema."""
    schema = compat.report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(document)


def test_schema_is_shipped_in_the_package_and_loaded_as_a_resource() -> None:
    assert compat.report_schema() == json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert compat.report_schema()["properties"]["version"] == {"const": compat.SCHEMA_VERSION}


def test_empty_report(registry: compat.Registry) -> None:
    declare(registry)
    report = registry.report()
    assert report.as_dict() == {
        "schema": "posixbackend.compat.report",
        "version": 1,
        "logger": registry.root_logger.name,
        "dedupe": "site",
        "declared_gaps": 1,
        "total_hits": 0,
        "gaps": [],
    }
    validate(json.loads(report.to_json()))
    assert "no gap hit, 1 declared" in report.to_text()


def test_report_counts_sites_and_examples(registry: compat.Registry) -> None:
    access = declare(registry, "os.access.effective_ids", function="os.access", level="FINE")
    umask = declare(registry, "os.umask.fixed", function="os.umask", level="CONFIG")
    declare(registry, "never.hit")
    line = sys._getframe().f_lineno + 1
    access.hit(path="/a", fd=3)
    for number in range(4):
        umask.hit(mask=number)
    document = json.loads(registry.report().to_json())
    validate(document)
    assert document["declared_gaps"] == 3
    assert document["total_hits"] == 5
    assert [gap["id"] for gap in document["gaps"]] == ["os.access.effective_ids", "os.umask.fixed"]
    first = document["gaps"][0]
    assert first["count"] == 1
    assert first["level"] == "FINE"
    assert first["level_number"] == 10
    assert first["logger"] == f"{registry.root_logger.name}.os"
    assert first["first_site"] == {
        "file": __file__,
        "line": line,
        "function": "test_report_counts_sites_and_examples",
    }
    assert first["examples"] == [{"fd": 3, "path": "/a"}]
    assert document["gaps"][1]["count"] == 4
    assert document["gaps"][1]["level"] == "CONFIG"


def test_examples_are_distinct_and_at_most_five(registry: compat.Registry) -> None:
    gap = declare(registry)
    for _ in range(3):
        for number in range(8):
            gap.hit(path=f"/p{number}", fd=number)
    gap.hit()
    entry = registry.report().gaps[0]
    assert entry.count == 25
    assert [dict(example) for example in entry.examples] == [
        {"fd": number, "path": f"/p{number}"} for number in range(5)
    ]


def test_examples_with_the_same_details_in_another_order_are_one(registry: compat.Registry) -> None:
    gap = declare(registry)
    gap.hit(path="/a", fd=1)
    gap.hit(fd=1, path="/a")
    assert len(registry.report().gaps[0].examples) == 1


class Color(enum.IntEnum):
    RED = 1


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def test_odd_detail_values_become_json_scalars(registry: compat.Registry) -> None:
    gap = declare(registry)
    gap.hit(
        raw=b"/bytes",
        path=PurePosixPath("/pure"),
        nan=math.nan,
        inf=-math.inf,
        huge=10**100,
        color=Color.RED,
        broken=BrokenRepr(),
        long="x" * 1000,
        items=[1, 2],
        none=None,
        flag=True,
        ratio=0.5,
    )
    document = json.loads(registry.report().to_json())
    validate(document)
    (example,) = document["gaps"][0]["examples"]
    assert example["raw"] == "b'/bytes'"
    assert example["path"] == "/pure"
    assert example["nan"] == "nan"
    assert example["inf"] == "-inf"
    assert example["huge"] == "<int of 333 bits>"
    assert example["color"] == "<Color.RED: 1>"
    assert example["broken"] == "<BrokenRepr object; repr raised RuntimeError>"
    assert len(example["long"]) == 200
    assert example["long"].endswith("...")
    assert example["items"] == "[1, 2]"
    assert (example["none"], example["flag"], example["ratio"]) == (None, True, 0.5)


def test_broken_repr_also_does_not_break_logging(registry: compat.Registry) -> None:
    registry.configure(level="ALL")
    registry.root_logger.propagate = False
    declare(registry).hit(broken=BrokenRepr())
    assert registry.report().gaps[0].count == 1


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=300),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
)
detail_sets = st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), scalars, max_size=4)


@settings(max_examples=60, deadline=None)
@given(st.lists(detail_sets, max_size=12))
def test_any_details_give_a_valid_document(hits: list[dict[str, object]]) -> None:
    registry = compat.Registry(logger_root="tests.compat.hypothesis")
    gap = declare(registry)
    for details in hits:
        gap.hit(**details)
    document = json.loads(registry.report().to_json())
    validate(document)
    distinct = list(dict.fromkeys(normalize_details(details) for details in hits if details))
    examples = document["gaps"][0]["examples"] if hits else []
    assert len(examples) == min(5, len(distinct))


def test_report_is_a_snapshot(registry: compat.Registry) -> None:
    gap = declare(registry)
    gap.hit()
    report = registry.report()
    gap.hit()
    assert report.gaps[0].count == 1
    assert registry.report().gaps[0].count == 2


def test_report_get(registry: compat.Registry) -> None:
    gap = declare(registry, "hit.me")
    declare(registry, "not.me")
    gap.hit()
    report = registry.report()
    entry = report.get("hit.me")
    assert entry is not None
    assert entry.count == 1
    assert report.get("not.me") is None
    assert report.get("unknown") is None


def test_text_report_is_a_table(registry: compat.Registry) -> None:
    gap = declare(
        registry,
        "os.access.effective_ids",
        function="os.access",
        aspect="effective_ids",
        explanation="effective ids are not supported",
    )
    declare(registry, "other")
    line = sys._getframe().f_lineno + 2
    for _ in range(12):
        gap.hit(path="/etc")
    lines = registry.report().to_text().splitlines()
    assert lines[0].startswith("Compatibility report: 1 of 2 declared gaps hit, 12 hits")
    assert lines[2].split() == ["GAP", "LEVEL", "HITS", "FIRST", "CALL", "SITE"]
    row = lines[3].split()
    assert row[:3] == ["os.access.effective_ids", "FINE", "12"]
    assert " ".join(row[3:]) == f"{__file__}:{line} in test_text_report_is_a_table"
    assert lines[4].strip() == "os.access (effective_ids): effective ids are not supported"
    assert lines[5].strip() == "examples: path='/etc'"


def test_json_document_has_no_nan(registry: compat.Registry) -> None:
    declare(registry).hit(value=math.nan)
    assert "NaN" not in registry.report().to_json()


@pytest.mark.parametrize(
    ("target", "requested", "chosen"),
    [
        ("-", None, "text"),
        ("report.txt", None, "text"),
        ("report.json", None, "json"),
        ("report.json", "text", "text"),
        ("-", "json", "json"),
    ],
)
def test_report_format_choice(target: str, requested: str | None, chosen: str) -> None:
    assert resolve_report_format(target, requested) == chosen


def test_bad_report_format_is_rejected(registry: compat.Registry) -> None:
    with pytest.raises(ValueError, match="'text' or 'json'"):
        registry.write_report_at_exit("-", format="xml")


EXIT_SCRIPT = """
import os, sys
import compat
gap = compat.declare(
    id="os.umask.fixed", function="os.umask", aspect="initial_value", level="CONFIG",
    explanation="umask starts at 0o022",
)
targets = sys.argv[1:]
for target in targets[:-1]:
    compat.write_report_at_exit(target)
final = targets[-1]
compat.write_report_at_exit(None if final == "none" else final)
os.chdir("/")
for number in range(3):
    gap.hit(mask=number)
"""


def test_report_written_to_a_json_file_at_exit(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    result = run_python("-c", EXIT_SCRIPT, str(target))
    assert result.returncode == 0, result.stderr
    document = json.loads(target.read_text(encoding="utf-8"))
    validate(document)
    assert document["gaps"][0]["count"] == 3
    assert document["gaps"][0]["first_site"]["file"] == "<string>"


def test_report_written_to_stderr_at_exit() -> None:
    result = run_python("-c", EXIT_SCRIPT, "-")
    assert result.returncode == 0, result.stderr
    assert "Compatibility report: 1 of 1 declared gaps hit, 3 hits" in result.stderr
    assert "os.umask.fixed" in result.stderr


def test_a_later_registration_replaces_the_earlier(tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.txt"
    result = run_python("-c", EXIT_SCRIPT, str(first), "-", str(second))
    assert result.returncode == 0, result.stderr
    assert not first.exists()
    assert result.stderr == ""
    assert second.read_text(encoding="utf-8").startswith("Compatibility report:")


def test_none_cancels_the_registration(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    result = run_python("-c", EXIT_SCRIPT, str(target), "none")
    assert result.returncode == 0, result.stderr
    assert not target.exists()


def test_relative_target_is_resolved_when_registered(tmp_path: Path) -> None:
    script = (
        "import os, sys, compat\n"
        f"os.chdir({str(tmp_path)!r})\n"
        "compat.write_report_at_exit('relative.json')\n"
        "os.chdir('/')\n"
    )
    result = run_python("-c", script)
    assert result.returncode == 0, result.stderr
    validate(json.loads((tmp_path / "relative.json").read_text(encoding="utf-8")))


def test_repeated_plain_details_are_normalized_once(
    registry: compat.Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    gap = declare(registry)
    calls: list[object] = []

    def counting(details: Any) -> Any:
        calls.append(details)
        return normalize_details(details)

    monkeypatch.setattr("compat.recorder.normalize_details", counting)
    for _ in range(4):
        gap.hit(module="_pytest.capture", fd=1)
    gap.hit(module="_pytest.capture", fd=2)
    gap.hit(path=PurePosixPath("/p"))  # not a plain value: normalized every time
    gap.hit(path=PurePosixPath("/p"))
    assert len(calls) == 4
    examples = [dict(example) for example in registry.report().gaps[0].examples]
    module = "_pytest.capture"
    assert examples == [{"fd": 1, "module": module}, {"fd": 2, "module": module}, {"path": "/p"}]
    registry.reset()
    gap.hit(module="_pytest.capture", fd=1)
    assert len(calls) == 5 and registry.report().gaps[0].examples
