"""Java level names in Python's logging, and parsing levels from user input."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

import compat
from compat.levels import MAX_LEVEL
from tests.compat.helpers import run_python

JAVA_ORDER = ["OFF", "SEVERE", "WARNING", "INFO", "CONFIG", "FINE", "FINER", "FINEST", "ALL"]


def test_java_order_from_severe_down_to_all() -> None:
    numbers = [compat.parse_level(name) for name in JAVA_ORDER]
    assert numbers == sorted(numbers, reverse=True)
    assert len(set(numbers)) == len(numbers)
    assert numbers[-1] > logging.NOTSET


def test_levels_sit_on_pythons_scale() -> None:
    assert int(compat.Level.SEVERE) == logging.ERROR
    assert int(compat.Level.WARNING) == logging.WARNING
    assert int(compat.Level.INFO) == logging.INFO
    assert int(compat.Level.FINE) == logging.DEBUG
    assert logging.INFO > compat.Level.CONFIG > logging.DEBUG
    assert compat.Level.OFF > logging.CRITICAL


@pytest.mark.parametrize("level", list(compat.Level))
def test_every_java_name_is_known_to_logging(level: compat.Level) -> None:
    assert logging.getLevelName(level.name) == int(level)
    assert logging.getLevelNamesMapping()[level.name] == int(level)


@pytest.mark.parametrize(
    ("number", "name"),
    [(10, "DEBUG"), (20, "INFO"), (30, "WARNING"), (40, "ERROR"), (50, "CRITICAL")],
)
def test_pythons_own_levels_keep_their_names(number: int, name: str) -> None:
    assert logging.getLevelName(number) == name


@pytest.mark.parametrize("name", ["CONFIG", "FINER", "FINEST", "OFF", "ALL"])
def test_new_levels_get_full_names(name: str) -> None:
    assert logging.getLevelName(int(compat.Level[name])) == name


def test_registration_is_idempotent() -> None:
    before = (dict(logging._levelToName), dict(logging._nameToLevel))
    compat.register_levels()
    compat.register_levels()
    assert (dict(logging._levelToName), dict(logging._nameToLevel)) == before


def test_registration_keeps_a_name_the_application_gave(monkeypatch: pytest.MonkeyPatch) -> None:
    level_to_name = {number: name for number, name in logging._levelToName.items() if number != 15}
    level_to_name[15] = "VERBOSE"
    name_to_level = {name: number for name, number in logging._nameToLevel.items()}
    del name_to_level["CONFIG"]
    monkeypatch.setattr(logging, "_levelToName", level_to_name)
    monkeypatch.setattr(logging, "_nameToLevel", name_to_level)
    compat.register_levels()
    assert logging.getLevelName(15) == "VERBOSE"
    assert logging.getLevelName("CONFIG") == 15


def test_import_alone_registers_the_levels() -> None:
    code = (
        "import logging, compat; "
        "print(logging.getLevelName('FINE'), logging.getLevelName(10), "
        "logging.getLevelName('FINER'), logging.getLevelName(8))"
    )
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["10", "DEBUG", "8", "FINER"]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("FINE", 10),
        ("fine", 10),
        ("Finest", 5),
        (" severe ", 40),
        ("config", 15),
        ("debug", 10),
        ("ERROR", 40),
        ("critical", 50),
        ("notset", 0),
        ("off", MAX_LEVEL),
        ("all", 1),
        ("25", 25),
        ("0", 0),
    ],
)
def test_parse_level_names_and_numbers_as_text(text: str, number: int) -> None:
    assert compat.parse_level(text) == number


@given(st.sampled_from(compat.LEVEL_NAMES), st.data())
def test_parse_level_ignores_case(name: str, data: st.DataObject) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    mixed = "".join(char.lower() if flip else char for char, flip in zip(name, flips, strict=True))
    assert compat.parse_level(mixed) == compat.parse_level(name)


@given(st.integers(min_value=0, max_value=MAX_LEVEL))
def test_parse_level_accepts_numbers_in_range(number: int) -> None:
    assert compat.parse_level(number) == number
    assert type(compat.parse_level(number)) is int


def test_parse_level_returns_plain_int_for_a_level() -> None:
    parsed = compat.parse_level(compat.Level.FINER)
    assert parsed == 8
    assert type(parsed) is int


class Opaque:
    """An object of no level-like type, with a stable repr (xdist compares test ids)."""

    def __repr__(self) -> str:
        return "Opaque()"


BAD_LEVELS: list[object] = [
    None,
    "",
    "   ",
    "LOUD",
    "FINE!",
    "WARN",
    "fatal",
    "-5",
    "1e3",
    "10.0",
    "\ufb01ne",  # the 'fi' ligature upper-cases to 'FI'
    "\u0661\u0660",  # Arabic-Indic digits for 10
    str(MAX_LEVEL + 1),
    -5,
    -1,
    MAX_LEVEL + 1,
    3.5,
    10.0,
    float("nan"),
    True,
    False,
    b"FINE",
    ["FINE"],
    {"level": 10},
    Opaque(),
]


@pytest.mark.parametrize("value", BAD_LEVELS, ids=repr)
def test_parse_level_rejects_anything_else_listing_valid_names(value: object) -> None:
    with pytest.raises(ValueError, match="invalid log level") as raised:
        compat.parse_level(value)
    message = str(raised.value)
    for name in ("SEVERE", "WARNING", "INFO", "CONFIG", "FINE", "FINER", "FINEST", "DEBUG"):
        assert name in message


@given(st.text())
def test_parse_level_on_any_text_is_a_number_or_value_error(text: str) -> None:
    try:
        number = compat.parse_level(text)
    except ValueError:
        return
    assert 0 <= number <= MAX_LEVEL
    assert text.strip().upper() in compat.LEVEL_NAMES or text.strip().isdigit()


def test_level_name_prefers_java_names() -> None:
    assert compat.level_name(10) == "FINE"
    assert compat.level_name(40) == "SEVERE"
    assert compat.level_name(50) == "CRITICAL"
    assert compat.level_name(12) == "Level 12"
