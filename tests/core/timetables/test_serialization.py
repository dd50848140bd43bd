"""timetable_to_dict / timetable_from_dict, including a user-defined Timetable."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pendulum
import pytest
from pendulum import DateTime

from windvane.core.timetables import (
    CronDataIntervalTimetable,
    DagRunInfo,
    DataInterval,
    DeltaDataIntervalTimetable,
    NullTimetable,
    OnceTimetable,
    TimeRestriction,
    Timetable,
    interval_for,
    iter_intervals,
    next_run_info,
    timetable_from_dict,
    timetable_to_dict,
)
from windvane.errors import ScheduleError

from ._helpers import interval, utc


class WorkdayTimetable(Timetable):
    """A user timetable: one interval per working day, [day at `hour`, next day at `hour`) UTC."""

    def __init__(self, hour: int = 0) -> None:
        self.hour = hour

    @property
    def summary(self) -> str:
        return f"workdays at {self.hour:02d}:00"

    def serialize(self) -> dict[str, Any]:
        return {"hour": self.hour}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> WorkdayTimetable:
        return cls(hour=data["hour"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WorkdayTimetable) and other.hour == self.hour

    def __hash__(self) -> int:
        return hash(self.hour)

    def _first_workday_at_or_after(self, at: DateTime) -> DateTime:
        day = at.start_of("day").add(hours=self.hour)
        if day < at:
            day = day.add(days=1)
        while day.day_of_week in (pendulum.SATURDAY, pendulum.SUNDAY):
            day = day.add(days=1)
        return day

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            start = self._first_workday_at_or_after(last_automated_data_interval.end)
        elif restriction.earliest is not None:
            start = self._first_workday_at_or_after(restriction.earliest)
        else:
            return None
        if not restriction.catchup:
            now = restriction.require_now(self)
            start = max(start, self._first_workday_at_or_after(now.subtract(days=1)))
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.interval(start, start.add(days=1))

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        return DataInterval(run_after.subtract(days=1), run_after)


class NotATimetable:
    pass


@pytest.mark.parametrize(
    ("timetable", "type_name"),
    [
        (NullTimetable(), "null"),
        (OnceTimetable(), "once"),
        (CronDataIntervalTimetable("0 2 * * MON-FRI", "Europe/Amsterdam"), "cron"),
        (CronDataIntervalTimetable("@daily", pendulum.UTC), "cron"),
        (CronDataIntervalTimetable("@hourly", pendulum.FixedTimezone(-3 * 3600)), "cron"),
        (DeltaDataIntervalTimetable(dt.timedelta(days=1, microseconds=7)), "delta"),
        (WorkdayTimetable(hour=6), "tests.core.timetables.test_serialization:WorkdayTimetable"),
    ],
    ids=repr,
)
def test_round_trip_through_json(timetable: Timetable, type_name: str) -> None:
    data = timetable_to_dict(timetable)
    assert data["__type"] == type_name
    back = timetable_from_dict(json.loads(json.dumps(data)))
    assert back == timetable
    assert type(back) is type(timetable)
    assert back.summary == timetable.summary


def test_cron_keeps_preset_and_zone() -> None:
    data = timetable_to_dict(CronDataIntervalTimetable("@daily", "Europe/Amsterdam"))
    assert data == {"__type": "cron", "__var": {"expression": "@daily", "timezone": "Europe/Amsterdam"}}


def test_user_timetable_schedules_through_the_helpers() -> None:
    t = timetable_from_dict(timetable_to_dict(WorkdayTimetable(hour=6)))
    # 2024-01-05 is a Friday; the weekend is a hole between intervals.
    got = list(iter_intervals(t, start=utc(2024, 1, 5), end=utc(2024, 1, 9)))
    assert got == [
        interval(utc(2024, 1, 5, 6), utc(2024, 1, 6, 6)),
        interval(utc(2024, 1, 8, 6), utc(2024, 1, 9, 6)),
    ]
    assert interval_for(t, utc(2024, 1, 8, 6)) == interval(utc(2024, 1, 8, 6), utc(2024, 1, 9, 6))
    info = next_run_info(
        t,
        start_date=utc(2024, 1, 1),
        end_date=None,
        catchup=False,
        last_interval=None,
        now=utc(2024, 3, 6, 12),
    )
    assert info == DagRunInfo.interval(utc(2024, 3, 6, 6), utc(2024, 3, 7, 6))


def test_unknown_module_is_named() -> None:
    with pytest.raises(ScheduleError, match=r"cannot import timetable class 'no_such_pkg\.tables:Nightly'"):
        timetable_from_dict({"__type": "no_such_pkg.tables:Nightly", "__var": {}})


def test_missing_class_is_named() -> None:
    path = "tests.core.timetables.test_serialization:Missing"
    with pytest.raises(ScheduleError) as info:
        timetable_from_dict({"__type": path, "__var": {}})
    assert str(info.value) == f"cannot import timetable class '{path}': no attribute 'Missing'"


def test_not_a_timetable_class() -> None:
    path = "tests.core.timetables.test_serialization:NotATimetable"
    with pytest.raises(ScheduleError, match="is not a Timetable subclass"):
        timetable_from_dict({"__type": path})


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({}, "needs a string '__type'"),
        ({"__type": 3}, "needs a string '__type'"),
        ({"__type": "weekly"}, "unknown timetable type 'weekly'"),
        ({"__type": "cron", "__var": []}, "must be a dict"),
        ({"__type": "cron", "__var": {"expression": "@daily"}}, "lacks 'timezone'"),
        ({"__type": "cron", "__var": {"expression": "61 * * * *", "timezone": "UTC"}}, "minute field '61'"),
        ({"__type": "delta", "__var": {"days": 1}}, "bad serialized delta"),
        ({"__type": "tests.core.timetables.test_serialization:WorkdayTimetable", "__var": {}}, "'hour'"),
    ],
)
def test_bad_data(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ScheduleError) as info:
        timetable_from_dict(data)
    assert fragment in str(info.value)


def test_class_defined_in_a_function_cannot_be_serialized() -> None:
    class Local(NullTimetable):
        pass

    with pytest.raises(ScheduleError, match="defined inside a function"):
        timetable_to_dict(Local())
