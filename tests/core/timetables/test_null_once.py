"""NullTimetable (schedule=None) and OnceTimetable ("@once")."""

from __future__ import annotations

import pendulum

from windvane.core.timetables import DagRunInfo, DataInterval, NullTimetable, OnceTimetable, next_run_info

from ._helpers import utc


def test_null_never_schedules() -> None:
    t = NullTimetable()
    for catchup in (True, False):
        info = next_run_info(
            t,
            start_date=utc(2024, 1, 1),
            end_date=None,
            catchup=catchup,
            last_interval=None,
            now=utc(2024, 6, 1),
        )
        assert info is None
    assert t.summary == "None"
    assert not t.periodic
    assert not t.can_be_scheduled


def test_null_manual_run_is_an_instant() -> None:
    at = pendulum.datetime(2024, 1, 1, 12, tz="Europe/Amsterdam")
    got = NullTimetable().infer_manual_data_interval(run_after=at)
    assert got == DataInterval.exact(utc(2024, 1, 1, 11))
    assert got.start.timezone_name == "UTC"


def test_once_runs_once_at_start_date() -> None:
    t = OnceTimetable()
    first = next_run_info(
        t, start_date=utc(2024, 1, 1), end_date=None, catchup=False, last_interval=None, now=utc(2024, 6, 1)
    )
    assert first == DagRunInfo.exact(utc(2024, 1, 1))
    assert first is not None
    assert first.logical_date == first.run_after == utc(2024, 1, 1)
    again = next_run_info(
        t,
        start_date=utc(2024, 1, 1),
        end_date=None,
        catchup=False,
        last_interval=first.data_interval,
        now=utc(2024, 6, 1),
    )
    assert again is None


def test_once_respects_end_date_and_needs_start_date() -> None:
    t = OnceTimetable()
    assert (
        next_run_info(
            t,
            start_date=utc(2024, 2, 1),
            end_date=utc(2024, 1, 1),
            catchup=True,
            last_interval=None,
            now=utc(2024, 6, 1),
        )
        is None
    )
    assert (
        next_run_info(
            t, start_date=None, end_date=None, catchup=True, last_interval=None, now=utc(2024, 6, 1)
        )
        is None
    )


def test_once_flags_and_manual_interval() -> None:
    t = OnceTimetable()
    assert t.summary == "@once"
    assert not t.periodic
    assert t.can_be_scheduled
    assert t.infer_manual_data_interval(run_after=utc(2024, 3, 3)) == DataInterval.exact(utc(2024, 3, 3))
    assert t == OnceTimetable()
    assert t != NullTimetable()
