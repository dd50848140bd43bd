"""DeltaDataIntervalTimetable: steps from the start date."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from windvane.core.timetables import DagRunInfo, DeltaDataIntervalTimetable, next_run_info
from windvane.errors import ScheduleError

from ._helpers import chain, interval, utc

SIX_HOURS = dt.timedelta(hours=6)


def test_steps_from_start_date() -> None:
    t = DeltaDataIntervalTimetable(SIX_HOURS)
    assert chain(t, utc(2024, 1, 1, 0, 30), 3) == [
        interval(utc(2024, 1, 1, 0, 30), utc(2024, 1, 1, 6, 30)),
        interval(utc(2024, 1, 1, 6, 30), utc(2024, 1, 1, 12, 30)),
        interval(utc(2024, 1, 1, 12, 30), utc(2024, 1, 1, 18, 30)),
    ]


def test_catchup_false_stays_on_the_start_date_grid() -> None:
    t = DeltaDataIntervalTimetable(dt.timedelta(hours=1))
    info = next_run_info(
        t,
        start_date=utc(2024, 1, 1, 0, 30),
        end_date=None,
        catchup=False,
        last_interval=None,
        now=utc(2024, 1, 1, 5),
    )
    assert info == DagRunInfo.interval(utc(2024, 1, 1, 3, 30), utc(2024, 1, 1, 4, 30))


def test_catchup_false_now_on_a_step() -> None:
    t = DeltaDataIntervalTimetable(dt.timedelta(hours=1))
    info = next_run_info(
        t,
        start_date=utc(2024, 1, 1),
        end_date=None,
        catchup=False,
        last_interval=None,
        now=utc(2024, 1, 1, 5),
    )
    assert info == DagRunInfo.interval(utc(2024, 1, 1, 4), utc(2024, 1, 1, 5))


def test_catchup_false_before_start_date() -> None:
    t = DeltaDataIntervalTimetable(SIX_HOURS)
    info = next_run_info(
        t, start_date=utc(2024, 1, 1), end_date=None, catchup=False, last_interval=None, now=utc(2023, 1, 1)
    )
    assert info is not None and info.logical_date == utc(2024, 1, 1)


def test_catchup_false_after_last_run() -> None:
    t = DeltaDataIntervalTimetable(SIX_HOURS)
    last = interval(utc(2024, 1, 1), utc(2024, 1, 1, 6))
    info = next_run_info(
        t,
        start_date=utc(2024, 1, 1),
        end_date=None,
        catchup=False,
        last_interval=last,
        now=utc(2024, 1, 10, 1),
    )
    assert info == DagRunInfo.interval(utc(2024, 1, 9, 18), utc(2024, 1, 10))


def test_end_date() -> None:
    t = DeltaDataIntervalTimetable(SIX_HOURS)
    starts = [i.start for i in chain(t, utc(2024, 1, 1), 10, end_date=utc(2024, 1, 1, 12))]
    assert starts == [utc(2024, 1, 1), utc(2024, 1, 1, 6), utc(2024, 1, 1, 12)]


def test_manual_interval_ends_at_run_after() -> None:
    t = DeltaDataIntervalTimetable(SIX_HOURS)
    assert t.infer_manual_data_interval(run_after=utc(2024, 1, 1, 7)) == interval(
        utc(2024, 1, 1, 1), utc(2024, 1, 1, 7)
    )


@pytest.mark.parametrize("delta", [dt.timedelta(0), dt.timedelta(hours=-1)])
def test_non_positive_delta_is_an_error(delta: dt.timedelta) -> None:
    with pytest.raises(ScheduleError, match="schedule interval must be positive"):
        DeltaDataIntervalTimetable(delta)


def test_summary_is_str_of_delta() -> None:
    assert DeltaDataIntervalTimetable(dt.timedelta(hours=1)).summary == "1:00:00"
    assert DeltaDataIntervalTimetable(dt.timedelta(days=1)).summary == "1 day, 0:00:00"


def test_pendulum_duration_is_accepted() -> None:
    t = DeltaDataIntervalTimetable(pendulum.duration(hours=2))
    assert t == DeltaDataIntervalTimetable(dt.timedelta(hours=2))
    assert type(t.delta) is dt.timedelta
