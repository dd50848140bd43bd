"""The dataclasses of the timetable contract."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from windvane.core.timetables import DagRunInfo, DataInterval, TimeRestriction
from windvane.errors import ScheduleError

from ._helpers import utc


def test_data_interval_converts_to_utc_pendulum() -> None:
    start = dt.datetime(2024, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    got = DataInterval(start=start, end=pendulum.datetime(2024, 1, 2, tz="Asia/Kolkata"))  # type: ignore[arg-type]
    assert isinstance(got.start, pendulum.DateTime)
    assert got.start == utc(2024, 1, 1)
    assert got.start.timezone_name == got.end.timezone_name == "UTC"


def test_data_interval_rejects_reversed_bounds() -> None:
    with pytest.raises(ScheduleError, match="is after its end"):
        DataInterval(start=utc(2024, 1, 2), end=utc(2024, 1, 1))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ScheduleError, match="must be timezone-aware"):
        DataInterval(start=dt.datetime(2024, 1, 1), end=utc(2024, 1, 2))  # type: ignore[arg-type]
    with pytest.raises(ScheduleError, match="now must be timezone-aware"):
        TimeRestriction(earliest=None, latest=None, catchup=True, now=dt.datetime(2024, 1, 1))  # type: ignore[arg-type]


def test_dag_run_info() -> None:
    info = DagRunInfo.interval(utc(2024, 1, 1), utc(2024, 1, 2))
    assert info.logical_date == utc(2024, 1, 1)
    assert info.run_after == utc(2024, 1, 2)
    exact = DagRunInfo.exact(utc(2024, 1, 1))
    assert exact.data_interval == DataInterval(utc(2024, 1, 1), utc(2024, 1, 1))


def test_frozen() -> None:
    interval = DataInterval(utc(2024, 1, 1), utc(2024, 1, 2))
    with pytest.raises(AttributeError):
        interval.start = utc(2023, 1, 1)  # type: ignore[misc]
