"""Shared helpers for the timetable tests."""

from __future__ import annotations

import pendulum
from pendulum import DateTime

from windvane.core.timetables import DataInterval, Timetable, next_run_info

AMS = pendulum.timezone("Europe/Amsterdam")
NYC = pendulum.timezone("America/New_York")
SYD = pendulum.timezone("Australia/Sydney")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> DateTime:
    return pendulum.datetime(year, month, day, hour, minute, second, tz="UTC")


def interval(start: DateTime, end: DateTime) -> DataInterval:
    return DataInterval(start=start, end=end)


def chain(
    timetable: Timetable,
    start_date: DateTime,
    count: int,
    *,
    end_date: DateTime | None = None,
    now: DateTime | None = None,
) -> list[DataInterval]:
    """The first *count* automated intervals with catchup=True (fewer if the schedule ends)."""
    result: list[DataInterval] = []
    last = None
    for _ in range(count):
        info = next_run_info(
            timetable,
            start_date=start_date,
            end_date=end_date,
            catchup=True,
            last_interval=last,
            now=now or utc(2100, 1, 1),
        )
        if info is None:
            break
        assert info.run_after == info.data_interval.end
        result.append(info.data_interval)
        last = info.data_interval
    return result
