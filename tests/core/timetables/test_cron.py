"""CronDataIntervalTimetable: intervals, presets, names, catchup, end_date, manual runs."""

from __future__ import annotations

import pendulum
import pytest

from windvane.core.timetables import (
    CronDataIntervalTimetable,
    DagRunInfo,
    TimeRestriction,
    next_run_info,
)
from windvane.errors import CronExpressionError, ScheduleError

from ._helpers import chain, interval, utc

UTC = pendulum.UTC


def test_daily_intervals_from_start_date() -> None:
    t = CronDataIntervalTimetable("0 2 * * *", UTC)
    assert chain(t, utc(2024, 1, 1), 3) == [
        interval(utc(2024, 1, 1, 2), utc(2024, 1, 2, 2)),
        interval(utc(2024, 1, 2, 2), utc(2024, 1, 3, 2)),
        interval(utc(2024, 1, 3, 2), utc(2024, 1, 4, 2)),
    ]


def test_start_date_on_the_grid_is_the_first_logical_date() -> None:
    t = CronDataIntervalTimetable("@daily", UTC)
    first = chain(t, utc(2024, 1, 1), 1)[0]
    assert first == interval(utc(2024, 1, 1), utc(2024, 1, 2))


def test_run_info_fields() -> None:
    t = CronDataIntervalTimetable("@hourly", UTC)
    info = t.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=utc(2024, 1, 1, 0, 30), latest=None, catchup=True),
    )
    assert info == DagRunInfo.interval(utc(2024, 1, 1, 1), utc(2024, 1, 1, 2))
    assert info is not None
    assert info.logical_date == utc(2024, 1, 1, 1)
    assert info.run_after == utc(2024, 1, 1, 2)
    assert info.run_after.timezone_name == "UTC"


@pytest.mark.parametrize(
    ("preset", "expected_starts"),
    [
        ("@hourly", [utc(2024, 1, 1, 1), utc(2024, 1, 1, 2)]),
        ("@daily", [utc(2024, 1, 2), utc(2024, 1, 3)]),
        ("@weekly", [utc(2024, 1, 7), utc(2024, 1, 14)]),  # Sundays
        ("@monthly", [utc(2024, 2, 1), utc(2024, 3, 1)]),
        ("@quarterly", [utc(2024, 4, 1), utc(2024, 7, 1)]),
        ("@yearly", [utc(2025, 1, 1), utc(2026, 1, 1)]),
    ],
)
def test_presets(preset: str, expected_starts: list[pendulum.DateTime]) -> None:
    t = CronDataIntervalTimetable(preset, UTC)
    intervals = chain(t, utc(2024, 1, 1, 0, 0, 1), 2)
    assert [i.start for i in intervals] == expected_starts
    assert intervals[0].end == intervals[1].start
    assert t.summary == preset


def test_weekday_names_skip_the_weekend() -> None:
    t = CronDataIntervalTimetable("0 6 * * MON-FRI", UTC)
    # 2024-01-05 is a Friday: its interval runs until Monday 06:00.
    intervals = chain(t, utc(2024, 1, 4), 3)
    assert intervals == [
        interval(utc(2024, 1, 4, 6), utc(2024, 1, 5, 6)),
        interval(utc(2024, 1, 5, 6), utc(2024, 1, 8, 6)),
        interval(utc(2024, 1, 8, 6), utc(2024, 1, 9, 6)),
    ]


def test_month_names_and_lists() -> None:
    t = CronDataIntervalTimetable("0 0 1 JAN,JUL *", UTC)
    assert [i.start for i in chain(t, utc(2024, 1, 1), 3)] == [
        utc(2024, 1, 1),
        utc(2024, 7, 1),
        utc(2025, 1, 1),
    ]


def test_saturday_by_name() -> None:
    t = CronDataIntervalTimetable("30 23 * * SAT", UTC)
    assert [i.start for i in chain(t, utc(2024, 1, 1), 2)] == [
        utc(2024, 1, 6, 23, 30),
        utc(2024, 1, 13, 23, 30),
    ]


def test_steps_and_ranges() -> None:
    t = CronDataIntervalTimetable("*/20 9-10 * * *", UTC)
    starts = [i.start for i in chain(t, utc(2024, 1, 1), 7)]
    assert starts == [
        utc(2024, 1, 1, 9, 0),
        utc(2024, 1, 1, 9, 20),
        utc(2024, 1, 1, 9, 40),
        utc(2024, 1, 1, 10, 0),
        utc(2024, 1, 1, 10, 20),
        utc(2024, 1, 1, 10, 40),
        utc(2024, 1, 2, 9, 0),
    ]


def test_expression_in_local_time_gives_utc() -> None:
    t = CronDataIntervalTimetable("0 9 * * *", "Asia/Kolkata")
    first = chain(t, utc(2024, 1, 1), 1)[0]
    assert first.start == utc(2024, 1, 1, 3, 30)  # 09:00 IST


class TestCatchup:
    t = CronDataIntervalTimetable("@daily", UTC)

    def info(
        self, *, last: tuple[int, int] | None, now: pendulum.DateTime, catchup: bool
    ) -> DagRunInfo | None:
        last_interval = None if last is None else interval(utc(2024, *last), utc(2024, last[0], last[1] + 1))
        return next_run_info(
            self.t,
            start_date=utc(2024, 1, 1),
            end_date=None,
            catchup=catchup,
            last_interval=last_interval,
            now=now,
        )

    def test_catchup_true_runs_every_missed_interval(self) -> None:
        info = self.info(last=(1, 5), now=utc(2024, 3, 15, 10), catchup=True)
        assert info == DagRunInfo.interval(utc(2024, 1, 6), utc(2024, 1, 7))

    def test_catchup_false_first_run_is_latest_complete_interval(self) -> None:
        info = self.info(last=None, now=utc(2024, 3, 15, 10), catchup=False)
        assert info == DagRunInfo.interval(utc(2024, 3, 14), utc(2024, 3, 15))

    def test_catchup_false_now_on_a_boundary(self) -> None:
        info = self.info(last=None, now=utc(2024, 3, 15), catchup=False)
        assert info == DagRunInfo.interval(utc(2024, 3, 14), utc(2024, 3, 15))

    def test_catchup_false_skips_from_an_old_last_run(self) -> None:
        info = self.info(last=(1, 5), now=utc(2024, 3, 15, 10), catchup=False)
        assert info == DagRunInfo.interval(utc(2024, 3, 14), utc(2024, 3, 15))

    def test_catchup_false_up_to_date_continues_normally(self) -> None:
        info = self.info(last=(3, 14), now=utc(2024, 3, 15, 10), catchup=False)
        assert info == DagRunInfo.interval(utc(2024, 3, 15), utc(2024, 3, 16))

    def test_catchup_false_before_start_date(self) -> None:
        info = self.info(last=None, now=utc(2023, 12, 1), catchup=False)
        assert info == DagRunInfo.interval(utc(2024, 1, 1), utc(2024, 1, 2))

    def test_catchup_false_needs_now(self) -> None:
        restriction = TimeRestriction(earliest=utc(2024, 1, 1), latest=None, catchup=False)
        with pytest.raises(ScheduleError, match=r"needs TimeRestriction\.now"):
            self.t.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)


def test_end_date_bounds_the_logical_date() -> None:
    t = CronDataIntervalTimetable("@daily", UTC)
    intervals = chain(t, utc(2024, 1, 1), 10, end_date=utc(2024, 1, 3))
    # As in Airflow, the last run's logical date is end_date; its interval ends after it.
    assert [i.start for i in intervals] == [utc(2024, 1, 1), utc(2024, 1, 2), utc(2024, 1, 3)]


def test_end_date_before_start_date_means_no_runs() -> None:
    t = CronDataIntervalTimetable("@daily", UTC)
    assert chain(t, utc(2024, 1, 5), 3, end_date=utc(2024, 1, 1)) == []


def test_no_start_date_no_runs() -> None:
    t = CronDataIntervalTimetable("@daily", UTC)
    info = t.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
    )
    assert info is None


def test_schedule_change_realigns_the_last_interval() -> None:
    # The last run came from an hourly schedule; now it is daily at 00:00.
    t = CronDataIntervalTimetable("@daily", UTC)
    last = interval(utc(2024, 1, 1, 5), utc(2024, 1, 1, 6))
    info = next_run_info(
        t, start_date=utc(2024, 1, 1), end_date=None, catchup=True, last_interval=last, now=utc(2024, 1, 3)
    )
    assert info == DagRunInfo.interval(utc(2024, 1, 1), utc(2024, 1, 2))


class TestManualInterval:
    t = CronDataIntervalTimetable("@daily", UTC)

    def test_between_boundaries(self) -> None:
        assert self.t.infer_manual_data_interval(run_after=utc(2024, 1, 25, 1)) == interval(
            utc(2024, 1, 24), utc(2024, 1, 25)
        )

    def test_on_a_boundary(self) -> None:
        assert self.t.infer_manual_data_interval(run_after=utc(2024, 1, 25)) == interval(
            utc(2024, 1, 24), utc(2024, 1, 25)
        )

    def test_local_timezone(self) -> None:
        t = CronDataIntervalTimetable("0 2 * * *", "Europe/Amsterdam")
        got = t.infer_manual_data_interval(
            run_after=pendulum.datetime(2024, 6, 10, 12, tz="Europe/Amsterdam")
        )
        assert got == interval(utc(2024, 6, 9, 0), utc(2024, 6, 10, 0))


def test_summary_and_flags() -> None:
    t = CronDataIntervalTimetable("0 2 * * *", UTC)
    assert t.summary == "0 2 * * *"
    assert t.periodic
    assert t.can_be_scheduled
    assert t == CronDataIntervalTimetable("0 2 * * *", "UTC")
    assert t != CronDataIntervalTimetable("0 2 * * *", "Europe/Amsterdam")
    assert "0 2 * * *" in repr(t)


def test_bad_expression_raises_at_construction() -> None:
    with pytest.raises(CronExpressionError, match="minute field '61' is out of range 0-59"):
        CronDataIntervalTimetable("61 * * * *", UTC)


def test_unknown_timezone() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone 'Mars/Olympus'"):
        CronDataIntervalTimetable("@daily", "Mars/Olympus")


def test_croniter_is_only_built_when_fire_times_are_asked_for() -> None:
    """A DAG file being parsed needs the timetable's summary and serialized form, not its clock."""
    from windvane.core.timetables.cron import CronDataIntervalTimetable

    timetable = CronDataIntervalTimetable("*/15 * * * *", "UTC")
    assert timetable.summary == "*/15 * * * *" and timetable.serialize()
    assert "_clock" not in vars(timetable)
    restriction = TimeRestriction(earliest=utc(2024, 1, 1), latest=None, catchup=True)
    assert timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert "_clock" in vars(timetable)
