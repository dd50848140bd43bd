"""create_timetable: the DAG ``schedule`` argument to a Timetable."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from windvane.core.timetables import (
    CronDataIntervalTimetable,
    DeltaDataIntervalTimetable,
    NullTimetable,
    OnceTimetable,
    create_timetable,
)
from windvane.errors import CronExpressionError, ScheduleError

from ._helpers import AMS


def test_none_is_manual_only() -> None:
    assert create_timetable(None, AMS) == NullTimetable()


def test_once() -> None:
    assert create_timetable("@once", AMS) == OnceTimetable()


@pytest.mark.parametrize("schedule", ["@daily", "@hourly", "0 2 * * *", "*/5 * * * MON-FRI"])
def test_cron_strings_use_the_dag_timezone(schedule: str) -> None:
    t = create_timetable(schedule, AMS)
    assert t == CronDataIntervalTimetable(schedule, AMS)
    assert isinstance(t, CronDataIntervalTimetable)
    assert t.timezone == AMS
    assert t.summary == schedule


def test_timedelta() -> None:
    assert create_timetable(dt.timedelta(hours=1), AMS) == DeltaDataIntervalTimetable(dt.timedelta(hours=1))


def test_timetable_instance_is_kept() -> None:
    t = CronDataIntervalTimetable("@daily", pendulum.UTC)
    assert create_timetable(t, AMS) is t


@pytest.mark.parametrize(
    ("schedule", "type_name"),
    [(1, "int"), (True, "bool"), (1.5, "float"), (["@daily"], "list"), (b"@daily", "bytes")],
)
def test_anything_else_names_its_type(schedule: object, type_name: str) -> None:
    with pytest.raises(ScheduleError) as info:
        create_timetable(schedule, AMS)
    assert str(info.value) == (
        f"schedule must be None, a cron string, a preset, a timedelta or a Timetable, not {type_name}"
    )


def test_bad_cron_string() -> None:
    with pytest.raises(CronExpressionError, match="hour field '25' is out of range 0-23"):
        create_timetable("0 25 * * *", AMS)


def test_zero_timedelta() -> None:
    with pytest.raises(ScheduleError, match="must be positive"):
        create_timetable(dt.timedelta(0), AMS)


def test_timezone_by_name() -> None:
    t = create_timetable("@daily", "America/New_York")
    assert isinstance(t, CronDataIntervalTimetable)
    assert t.timezone.name == "America/New_York"
