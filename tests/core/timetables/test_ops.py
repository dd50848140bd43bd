"""Scheduler helpers: next_run_info, due, iter_intervals, interval_for."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from windvane.core.timetables import (
    CronDataIntervalTimetable,
    DagRunInfo,
    DataInterval,
    DeltaDataIntervalTimetable,
    NullTimetable,
    OnceTimetable,
    TimeRestriction,
    Timetable,
    due,
    interval_for,
    iter_intervals,
    next_run_info,
)
from windvane.errors import ScheduleError

from ._helpers import interval, utc

DAILY = CronDataIntervalTimetable("@daily", pendulum.UTC)


def test_next_run_may_lie_in_the_future_and_due_says_when() -> None:
    info = next_run_info(
        DAILY,
        start_date=utc(2024, 1, 1),
        end_date=None,
        catchup=True,
        last_interval=None,
        now=utc(2024, 1, 1, 12),
    )
    assert info == DagRunInfo.interval(utc(2024, 1, 1), utc(2024, 1, 2))
    assert not due(info, utc(2024, 1, 1, 12))
    assert due(info, utc(2024, 1, 2))
    assert due(info, utc(2024, 1, 3))
    assert not due(None, utc(2024, 1, 3))


def test_next_run_none_after_end_date() -> None:
    last = interval(utc(2024, 1, 3), utc(2024, 1, 4))
    info = next_run_info(
        DAILY,
        start_date=utc(2024, 1, 1),
        end_date=utc(2024, 1, 3),
        catchup=True,
        last_interval=last,
        now=utc(2024, 2, 1),
    )
    assert info is None


def test_iter_intervals_logical_dates_in_closed_range() -> None:
    got = list(iter_intervals(DAILY, start=utc(2024, 1, 1), end=utc(2024, 1, 3)))
    assert got == [
        interval(utc(2024, 1, 1), utc(2024, 1, 2)),
        interval(utc(2024, 1, 2), utc(2024, 1, 3)),
        interval(utc(2024, 1, 3), utc(2024, 1, 4)),
    ]


def test_iter_intervals_aligns_to_the_cron_grid() -> None:
    got = list(iter_intervals(DAILY, start=utc(2024, 1, 1, 12), end=utc(2024, 1, 3, 12)))
    assert [i.start for i in got] == [utc(2024, 1, 2), utc(2024, 1, 3)]


def test_iter_intervals_delta_steps_from_start() -> None:
    t = DeltaDataIntervalTimetable(dt.timedelta(hours=8))
    got = list(iter_intervals(t, start=utc(2024, 1, 1, 1), end=utc(2024, 1, 2)))
    assert [i.start for i in got] == [utc(2024, 1, 1, 1), utc(2024, 1, 1, 9), utc(2024, 1, 1, 17)]


def test_iter_intervals_once_and_null() -> None:
    assert list(iter_intervals(OnceTimetable(), start=utc(2024, 1, 1), end=utc(2024, 2, 1))) == [
        DataInterval.exact(utc(2024, 1, 1))
    ]
    assert list(iter_intervals(NullTimetable(), start=utc(2024, 1, 1), end=utc(2024, 2, 1))) == []


def test_iter_intervals_reversed_range() -> None:
    with pytest.raises(ScheduleError, match="backfill start"):
        list(iter_intervals(DAILY, start=utc(2024, 2, 1), end=utc(2024, 1, 1)))


class Stuck(Timetable):
    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        return DagRunInfo.interval(utc(2024, 1, 1), utc(2024, 1, 2))

    def infer_manual_data_interval(self, *, run_after: pendulum.DateTime) -> DataInterval:
        return DataInterval.exact(run_after)


def test_iter_intervals_stops_a_timetable_that_does_not_advance() -> None:
    with pytest.raises(ScheduleError, match="did not move forward"):
        list(iter_intervals(Stuck(), start=utc(2024, 1, 1), end=utc(2024, 2, 1)))


class TestIntervalFor:
    def test_on_the_grid(self) -> None:
        assert interval_for(DAILY, utc(2024, 1, 5), utc(2024, 1, 1)) == interval(
            utc(2024, 1, 5), utc(2024, 1, 6)
        )

    def test_off_the_grid_keeps_the_logical_date(self) -> None:
        assert interval_for(DAILY, utc(2024, 1, 5, 7), utc(2024, 1, 1)) == interval(
            utc(2024, 1, 5, 7), utc(2024, 1, 6)
        )

    def test_local_cron(self) -> None:
        t = CronDataIntervalTimetable("0 2 * * *", "Europe/Amsterdam")
        assert interval_for(t, utc(2024, 3, 30, 1)) == interval(utc(2024, 3, 30, 1), utc(2024, 3, 31, 1))

    def test_delta(self) -> None:
        t = DeltaDataIntervalTimetable(dt.timedelta(hours=6))
        assert interval_for(t, utc(2024, 1, 5, 7)) == interval(utc(2024, 1, 5, 7), utc(2024, 1, 5, 13))

    def test_non_periodic(self) -> None:
        assert interval_for(NullTimetable(), utc(2024, 1, 5)) == DataInterval.exact(utc(2024, 1, 5))
        assert interval_for(OnceTimetable(), utc(2024, 1, 5)) == DataInterval.exact(utc(2024, 1, 5))

    def test_before_start_date(self) -> None:
        with pytest.raises(ScheduleError, match="before the DAG's start_date"):
            interval_for(DAILY, utc(2023, 12, 31), utc(2024, 1, 1))
