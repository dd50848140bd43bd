"""Cron expression parsing: accepted syntax, presets, and error messages naming the field."""

from __future__ import annotations

import datetime as dt

import pytest
from croniter import croniter

from windvane.core.timetables._cron_spec import PRESETS, parse_cron
from windvane.errors import CronExpressionError, ScheduleError


@pytest.mark.parametrize(
    ("preset", "expression"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@quarterly", "0 0 1 1,4,7,10 *"),
        ("@yearly", "0 0 1 1 *"),
    ],
)
def test_presets_map_to_cron(preset: str, expression: str) -> None:
    spec = parse_cron(preset)
    assert spec.source == preset
    assert spec.expression == expression


@pytest.mark.parametrize(
    ("source", "canonical"),
    [
        ("0 2 * * *", "0 2 * * *"),
        ("*/15 * * * MON-FRI", "0,15,30,45 * * * 1,2,3,4,5"),
        ("0 9 * JAN,jul sat", "0 9 * 1,7 6"),
        ("0 0 * * 7", "0 0 * * 0"),
        ("5/20 1-5/2 * * *", "5,25,45 1,3,5 * * *"),
        ("0 22-2 * * FRI-MON", "0 0,1,2,22,23 * * 0,1,5,6"),
        ("0 0 L,15 * ?", "0 0 15,L * *"),
        ("0 0 * * MON#1,fri#3", "0 0 * * 1#1,5#3"),
        ("  0   0 * * *  ", "0 0 * * *"),
    ],
)
def test_canonical_form(source: str, canonical: str) -> None:
    assert parse_cron(source).expression == canonical


@pytest.mark.parametrize(
    "source",
    [
        "0 2 * * *",
        "*/15 * * * MON-FRI",
        "0 9 * JAN,jul sat",
        "0 0 1,15 * *",
        "5/20 1-5/2 * * *",
        "0 22-2 * * *",
        "0 0 15 * MON",  # day-of-month OR day-of-week
        "0 0 L * *",
        "0 0 * * MON#1",
        "30 4 */10 */2 *",
    ],
)
def test_canonical_form_fires_like_croniter(source: str) -> None:
    ours = croniter(parse_cron(source).expression, dt.datetime(2024, 1, 1))
    theirs = croniter(source, dt.datetime(2024, 1, 1))
    assert [ours.get_next(dt.datetime) for _ in range(40)] == [
        theirs.get_next(dt.datetime) for _ in range(40)
    ]


def test_hours_and_every_hour() -> None:
    assert parse_cron("*/5 * * * *").covers_every_hour
    assert parse_cron("0 0-23 * * *").covers_every_hour
    assert not parse_cron("0 */2 * * *").covers_every_hour
    assert parse_cron("0 22-2 * * *").hours == frozenset({22, 23, 0, 1, 2})


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("61 * * * *", "minute field '61' is out of range 0-59"),
        ("0 24 * * *", "hour field '24' is out of range 0-23"),
        ("0 0 0 * *", "day-of-month field '0' is out of range 1-31"),
        ("0 0 * 13 *", "month field '13' is out of range 1-12"),
        ("0 0 * * 8", "day-of-week field '8' is out of range 0-7"),
        ("0 5-70 * * *", "hour field '5-70': 70 is out of range 0-23"),
        ("0 0 * FOO *", "month field 'FOO': 'FOO' is not a number or a name JAN-DEC"),
        ("0 0 * * FUN", "day-of-week field 'FUN': 'FUN' is not a number or a name SUN-SAT"),
        ("x * * * *", "minute field 'x': 'x' is not a number"),
        ("*/0 * * * *", "minute field '*/0': step '0' must be a positive integer"),
        ("*/a * * * *", "minute field '*/a': step 'a' must be a positive integer"),
        ("1,,2 * * * *", "minute field '1,,2' has an empty list item"),
        ("50-10/5 * * * *", "minute field '50-10/5'"),
        ("0 0 * * MON#6", "day-of-week field 'MON#6'"),
        ("0 0 * * MON#1,FRI", "day-of-week field 'MON#1,FRI'"),
        ("0 0 30 2 *", "day-of-month field '30' never occurs in month field '2'"),
        ("0 0 31 APR,JUN *", "day-of-month field '31'"),
        ("0 0 L * 5L", "day-of-week field '5L'"),
        ("? * * * *", "minute field '?'"),
        ("0 0 * * * *", "expected 5 fields"),
        ("0 0 * * * 2024 x", "expected 5 fields"),
        ("0 0 * *", "got 4"),
        ("", "got 0"),
        ("@fortnightly", "unknown preset"),
    ],
)
def test_errors_name_the_field(source: str, fragment: str) -> None:
    with pytest.raises(CronExpressionError) as info:
        parse_cron(source)
    assert fragment in str(info.value)
    if source:
        assert repr(source) in str(info.value)
    assert isinstance(info.value, ScheduleError)


def test_seconds_field_is_rejected_clearly() -> None:
    with pytest.raises(CronExpressionError, match="seconds and year fields are not supported"):
        parse_cron("*/10 * * * * *")


def test_once_is_not_a_cron_expression() -> None:
    with pytest.raises(CronExpressionError, match="OnceTimetable"):
        parse_cron("@once")


def test_feb_29_is_fine() -> None:
    assert parse_cron("0 0 29 2 *").expression == "0 0 29 2 *"


def test_every_preset_parses() -> None:
    for preset in PRESETS:
        parse_cron(preset.upper())
